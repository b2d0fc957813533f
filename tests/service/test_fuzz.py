"""The REST API fuzzed from its own OpenAPI document (schemathesis): requests generated for every
operation but the live event stream (which never ends), valid and invalid, with an admin key,
never get a server error, and every answer matches the schema of its status code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from components import serve
from helpers import free_port


@pytest.fixture
def api(service_env: Path) -> Iterator[tuple[Any, str]]:
    """The schema of ``embercast serve`` running on loopback, and an admin key."""
    import os
    import signal

    from embercast.service.db import DB_FILE, ServiceDB
    from embercast.service.keys import KeyStore

    db = ServiceDB(str(service_env / DB_FILE))
    key = KeyStore(db).create("fuzz", "admin")[1]
    db.close()
    port = free_port()
    process = serve(dict(os.environ), port)
    try:
        yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json"), key
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


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
