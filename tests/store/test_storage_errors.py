"""An object store without credentials, or one that cannot be reached, is one error line naming
the cause and what to check, for every command that touches it, never a traceback."""

from __future__ import annotations

import pytest

from helpers import assert_usage_error, free_port, invoke


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("EMBERCAST_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize(
    "args",
    [
        ("generate", "-n", "1", "--frames", "none", "--out", "s3://bucket/ds"),
        ("validate", "s3://bucket/ds"),
        ("features", "s3://bucket/ds", "--out", "s3://bucket/f"),
        ("catalog", "add", "s3://bucket/ds"),
    ],
    ids=lambda a: a[0] if isinstance(a, tuple) else a,
)
def test_no_credentials(no_credentials: None, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert_usage_error(result, "NoCredentialsError", "set AWS_ACCESS_KEY_ID")


def test_unreachable_endpoint(no_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = invoke("validate", "s3://bucket/ds")
    assert_usage_error(result, "EndpointConnectionError", "check the s3_endpoint_url setting")
