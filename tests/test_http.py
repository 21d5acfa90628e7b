"""The shared JSON fetch of the HTTP connectors: what is retried, what is not, and what each error says."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import RetryPolicy, SourceError
from connectors.http import fetch_json
from tests.json_http_server import GopyServer
from tests.local_http import Fault

HEADERS = {"Accept": "application/json", "User-Agent": "ioc-test"}


@pytest.fixture
def gopy() -> Iterator[GopyServer]:
    server = GopyServer().start()
    yield server
    server.stop()


def fetch(server: GopyServer, sleeps: list[float], **options: Any) -> Any:
    """``fetch_json`` of the server's first page as a source "demo", two attempts, sleeps recorded instead of waited."""
    settings: dict[str, Any] = {
        "source_kind": "Demo",
        "source_name": "demo",
        "headers": HEADERS,
        "timeout": 2.0,
        "retry": RetryPolicy(attempts=2, sleep=sleeps.append),
    }
    settings.update(options)
    return fetch_json(server.url, **settings)


def test_fetch_json_parses_the_body_and_sends_the_headers(gopy: GopyServer) -> None:
    body = fetch(gopy, [])
    assert len(body["data"]["items"]) == 12
    assert gopy.headers[-1]["User-Agent"] == "ioc-test"
    assert gopy.headers[-1]["Accept"] == "application/json"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_fetch_json_retries_a_busy_or_failing_server(gopy: GopyServer, status: int) -> None:
    sleeps: list[float] = []
    gopy.faults.append(Fault(page=1, kind="status", status=status))
    assert len(fetch(gopy, sleeps)["data"]["items"]) == 12
    assert sleeps == [1.0]  # the policy's first backoff, then the second attempt succeeded

    gopy.faults.append(Fault(page=1, kind="status", status=status, times=2))
    with pytest.raises(SourceError, match=rf"^Demo source demo: HTTP {status} .* from GET .*gave up after 2 attempts\)$"):
        fetch(gopy, sleeps)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_fetch_json_does_not_retry_a_wrong_request(gopy: GopyServer, status: int) -> None:
    sleeps: list[float] = []
    gopy.faults.append(Fault(page=1, kind="status", status=status, times=2))
    with pytest.raises(SourceError, match=rf"^Demo source demo: HTTP {status} ") as raised:
        fetch(gopy, sleeps)
    assert not raised.value.retryable
    assert sleeps == []
    assert "check the credentials" not in str(raised.value)  # no hint was given


@pytest.mark.parametrize(("status", "hinted"), [(401, True), (403, True), (404, False)])
def test_fetch_json_names_where_credentials_are_set_when_refused(gopy: GopyServer, status: int, hinted: bool) -> None:
    gopy.faults.append(Fault(page=1, kind="status", status=status))
    with pytest.raises(SourceError) as raised:
        fetch(gopy, [], credentials_hint="token_env in the sources file")
    assert str(raised.value).endswith(": check the credentials (token_env in the sources file)") == hinted
    assert not raised.value.retryable


def test_fetch_json_reports_invalid_json_without_retrying(gopy: GopyServer) -> None:
    sleeps: list[float] = []
    gopy.faults.append(Fault(page=1, kind="invalid_json", times=2))
    with pytest.raises(SourceError, match=r"^Demo source demo: invalid JSON from GET http://.*/api/gopy: ") as raised:
        fetch(gopy, sleeps)
    assert not raised.value.retryable
    assert sleeps == []
    assert len(gopy.log) == 1


def test_fetch_json_reports_a_timeout_and_retries_it(gopy: GopyServer) -> None:
    sleeps: list[float] = []
    gopy.faults.append(Fault(page=1, kind="slow", seconds=1.0, times=2))
    with pytest.raises(SourceError, match=r"^Demo source demo: no answer within 0.3 s from GET .*gave up after 2 attempts\)$"):
        fetch(gopy, sleeps, timeout=0.3)
    assert sleeps == [1.0]


def test_fetch_json_reports_a_server_that_cannot_be_reached() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError, match=r"^Demo source demo: cannot reach GET .*gave up after 2 attempts\)$"):
        fetch_json(
            f"http://127.0.0.1:{port}/api",
            source_kind="Demo",
            source_name="demo",
            headers=HEADERS,
            timeout=2.0,
            retry=RetryPolicy(attempts=2, sleep=lambda _: None),
        )
