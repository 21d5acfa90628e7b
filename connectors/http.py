"""GET a JSON document with retries: the one HTTP path of the connectors that call web APIs (stdlib urllib)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from connectors.base import RetryPolicy, SourceError


def fetch_json(
    url: str,
    *,
    source_kind: str,
    source_name: str,
    headers: Mapping[str, str],
    timeout: float,
    retry: RetryPolicy,
    credentials_hint: str | None = None,
) -> Any:
    """GET ``url`` and parse its body, retrying what may pass (timeouts, lost connections, HTTP 5xx and 429).

    Errors are SourceErrors that start with "``source_kind`` source ``source_name``" and say what failed;
    ``credentials_hint`` (where the credentials are set) is added to HTTP 401 and 403.
    """
    request = urllib.request.Request(url, headers=dict(headers))
    what = f"{source_kind} source {source_name}"
    return retry.call(lambda: _get_once(request, timeout, what, credentials_hint), f"{source_name}: GET {url}")


def _get_once(request: urllib.request.Request, timeout: float, what: str, credentials_hint: str | None) -> Any:
    """One attempt; SourceError says what failed and whether trying again may help."""
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        message = f"{what}: HTTP {error.code} {error.reason} from GET {url}"
        if credentials_hint and error.code in (401, 403):
            message += f": check the credentials ({credentials_hint})"
        # 5xx and 429 are the server's trouble and may pass; other 4xx mean this request is wrong.
        retryable = error.code >= 500 or error.code == 429
        raise SourceError(message, retryable=retryable) from error
    except TimeoutError as error:
        raise SourceError(f"{what}: no answer within {timeout:g} s from GET {url}") from error
    except urllib.error.URLError as error:
        # urllib wraps a timeout while connecting in a URLError; it is as retryable as one while reading.
        if isinstance(error.reason, TimeoutError | socket.timeout):
            raise SourceError(f"{what}: no answer within {timeout:g} s from GET {url}") from error
        raise SourceError(f"{what}: cannot reach GET {url}: {error.reason}") from error
    except (ConnectionError, OSError) as error:
        raise SourceError(f"{what}: connection failed for GET {url}: {error}") from error
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        # The same body would come back: trying again cannot help.
        raise SourceError(f"{what}: invalid JSON from GET {url}: {error}", retryable=False) from error
