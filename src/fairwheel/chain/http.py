"""The ``http(s)://`` backend of the chain port: JSON-RPC over one kept-alive connection.

web3's ``HTTPProvider`` sends each request through ``requests`` (~2.5 ms of client overhead per
call on a loopback node); this provider keeps web3's encoding, decoding and caching but posts
through a persistent ``http.client`` connection (~0.4 ms), which makes a local node such as
anvil as fast to drive as the embedded chain. A dropped connection is reopened and the request
sent again once; a node that still does not answer is a ``ChainError`` (reason
``Unreachable``), never a bare ``OSError``.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from typing import Any

from web3 import HTTPProvider

from fairwheel.errors import ChainError

__all__ = ["KeepAliveHTTPProvider"]


class KeepAliveHTTPProvider(HTTPProvider):
    """An ``HTTPProvider`` that reuses one HTTP/1.1 connection (thread-safe)."""

    def __init__(self, endpoint_uri: str, timeout: float = 30.0, **kwargs: Any) -> None:
        """Connect lazily to ``endpoint_uri`` (``http://`` or ``https://``)."""
        super().__init__(endpoint_uri, request_kwargs={"timeout": timeout}, **kwargs)
        parts = urllib.parse.urlsplit(endpoint_uri)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {endpoint_uri!r}")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._headers = {**dict(self.get_request_headers()), "Connection": "keep-alive"}
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._netloc, timeout=self._timeout)
        return http.client.HTTPConnection(self._netloc, timeout=self._timeout)

    def _make_request(self, method: Any, request_data: bytes) -> bytes:
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None:
                    self._conn = self._connect()
                try:
                    self._conn.request("POST", self._path, request_data, self._headers)
                    response = self._conn.getresponse()
                    body = response.read()
                except (http.client.HTTPException, OSError) as exc:
                    self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        # The chain is down, not refusing: HTTP 502 at the API, 503 at health.
                        # The path is left out: it can hold a provider's API key.
                        raise ChainError(
                            f"chain node {self._netloc} unreachable: {exc}", reason="Unreachable"
                        ) from exc
                    continue
                if response.status >= 400:
                    raise ChainError(
                        f"HTTP {response.status} from chain node {self._netloc}: {body[:200]!r}",
                        reason="RpcError",
                    )
                return body
        raise AssertionError("unreachable")  # pragma: no cover
