"""The REST API fuzzed from its own OpenAPI document (schemathesis): requests generated for every
operation but the live event stream (which never ends), valid and invalid, with an admin key,
never get a server error, and every answer matches the schema of its status code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance


@pytest.fixture
def api(service_env: Path) -> Iterator[tuple[Any, str]]:
    """The service's schema (started app) and an admin key."""
    from embercast.config import get_settings
    from embercast.service.app import create_app

    app = create_app(get_settings())
    key = app.state.service.keys.create("fuzz", "admin")[1]
    with TestClient(app):  # runs the app's start-up: model loaded, ingest started
        yield schemathesis.openapi.from_asgi("/openapi.json", app), key


def test_no_operation_answers_a_server_error(api: tuple[Any, str]) -> None:
    schema, key = api
    headers = {"Authorization": f"Bearer {key}"}
    fuzzed = []
    for found in schema.get_all_operations():
        operation = found.ok()
        if operation.path == "/v1/live/events":
            continue  # a stream that never ends by design (tests/service/test_dashboard.py)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def call(case: Any) -> None:
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        call()
        fuzzed.append(operation.label)
    assert len(fuzzed) >= 25, fuzzed  # every operation of the document was fuzzed
