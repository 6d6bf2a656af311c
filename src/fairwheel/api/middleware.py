"""ASGI middleware of the API: request metrics, rate limits, body limits, idempotency.

Each is a plain ASGI wrapper (no response buffering except for idempotent replays). A JSON body
is read whole (it is under the size limit) to bound its nesting before anything parses it; a
streamed upload stays streamed, its lines bounded one by one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException

from fairwheel.api.context import COOKIE
from fairwheel.api.jsonlimits import check_depth
from fairwheel.api.state import StoredResponse
from fairwheel.errors import (
    FairwheelError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SchemaError,
)

if TYPE_CHECKING:
    from fairwheel.api.context import ApiContext

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

IDEMPOTENCY_HEADER = b"idempotency-key"
STREAM_SUFFIX = "/contributions/stream"
_EXEMPT = ("/metrics", "/v1/health", "/static/")
_MAX_REPLAY_BODY = 4 * 2**20


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete JSON response from middleware."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def send_error(
    send: Send, error: FairwheelError, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer ``error`` from middleware: its ``to_dict()`` body with its ``http_status``."""
    await send_json(send, error.http_status, error.to_dict(), headers)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class MetricsMiddleware:
    """Counts requests by route template and status, and times them."""

    def __init__(self, app: App, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.ctx.metrics is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.ctx.metrics.observe_request(
                scope["method"], route, status[0], time.perf_counter() - start
            )


class LimitsMiddleware:
    """Per-client rate limit (429) and request body size limit (413)."""

    def __init__(self, app: App, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw = bytes(scope.get("raw_path") or b"").lower()
        if b"%2f" in raw or b"%5c" in raw:
            # An encoded slash (or backslash) is decoded into the path by the server, so
            # `/v1/pools%2F1` would reach `/v1/pools/1`: an id never holds one, and a proxy's
            # path rules must see the path the API routes.
            message = "no such path (an encoded / or \\ is never part of one)"
            await send_error(send, NotFound(message))
            return
        if not path.startswith(_EXEMPT):
            client = scope.get("client")
            key = client[0] if client else "unknown"
            wait = self.ctx.state.limiter.allow(key)
            if wait > 0:
                retry = str(max(1, round(wait)))
                await send_error(
                    send,
                    RateLimited("too many requests; slow down", retry_after=float(retry)),
                    [(b"retry-after", retry.encode())],
                )
                return
        cfg = self.ctx.config
        limit = cfg.max_stream_bytes if path.endswith(STREAM_SUFFIX) else cfg.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(
                send,
                PayloadTooLarge(
                    f"request body of {int(declared)} bytes is over the limit of {limit}",
                    limit=limit,
                ),
            )
            return
        seen = [0]

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged.
                    raise HTTPException(413, f"request body is over the limit of {limit} bytes")
            return message

        if path.endswith(STREAM_SUFFIX) or not _is_json(scope):
            await self.app(scope, counted, send)  # streamed lines are bounded one by one
            return
        await self._bounded_json(scope, counted, send)

    async def _bounded_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a JSON body whole (it is under the size limit) and refuse one nested too deep."""
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                replay: list[Message] = [message]
                break
            chunks.append(bytes(message.get("body", b"")))
            more = bool(message.get("more_body", False))
        else:
            body = b"".join(chunks)
            try:
                check_depth(body, "body")
            except SchemaError as exc:
                await send_error(send, exc)
                return
            replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse the body as JSON: ``application/json``, ``…+json``, or no
    content type at all (FastAPI then reads JSON too)."""
    declared = _header(scope, b"content-type")
    if declared is None:
        return True
    kind = declared.split(b";")[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


class IdempotencyMiddleware:
    """Replays the stored response of a ``POST`` retried with the same ``Idempotency-Key``.

    The key is scoped to the caller (the signed-in address, else anonymous) and bound to a
    fingerprint of the request (method, path, query, voucher headers and the body's SHA-256):
    the same key with a different request is refused (422 ``idempotency_key_reused``), and a
    retry that arrives while the first is still running gets 409 ``idempotency_in_progress``.
    Responses under 500 are stored for 24 hours; a 5xx leaves nothing to replay.
    """

    def __init__(self, app: App, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    def _principal(self, scope: Scope) -> str:
        sessions = self.ctx.state.sessions
        auth = _header(scope, b"authorization") or b""
        token = None
        if auth[:7].lower() == b"bearer ":
            token = auth[7:].decode("latin-1").strip()
        else:
            cookies = (_header(scope, b"cookie") or b"").decode("latin-1")
            for part in cookies.split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    token = value
        session = sessions.get(token) if token else None
        return session.address.lower() if session else "anonymous"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, IDEMPOTENCY_HEADER) if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 200 or not all(33 <= c <= 126 for c in key):
            await send_error(
                send, SchemaError("Idempotency-Key must be 1-200 visible ASCII characters")
            )
            return
        head = hashlib.sha256()
        for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode()):
            head.update(part.encode() + b"\0")
        for name in (b"x-fairwheel-voucher", b"x-fairwheel-signature", b"payment-signature"):
            head.update((_header(scope, name) or b"") + b"\0")
        # The slot is stored in the node's database: a digest, of fixed size and plain text.
        slot = hashlib.sha256(self._principal(scope).encode() + b"\0" + key).hexdigest()
        store = self.ctx.state.idempotency
        found = store.begin(slot)
        if found == "in-progress":
            await send_error(
                send, IdempotencyInProgress("a request with this Idempotency-Key is still running")
            )
            return
        body_hash = hashlib.sha256()
        complete = [False]

        async def hashed() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body_hash.update(message.get("body", b""))
                complete[0] = not message.get("more_body", False)
            return message

        if isinstance(found, StoredResponse):
            while not complete[0]:  # read (and hash) the retry's body to compare it
                if (await hashed())["type"] != "http.request":
                    break
            if found.fingerprint != _fingerprint(head, body_hash):
                await send_error(
                    send,
                    IdempotencyKeyReused("this Idempotency-Key was used for a different request"),
                )
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": found.status,
                    "headers": [*found.headers, (b"idempotent-replayed", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": found.body})
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = int(message["status"])
                captured["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, hashed, capture)
        except BaseException:
            store.release(slot)
            raise
        # A 402 asks the client to pay and retry: its paid retry (same key, now with a payment
        # header) must reach the route, not get the stored 402 back.
        if (
            captured["status"] >= 500
            or captured["status"] == 402
            or not complete[0]
            or len(captured["body"]) > _MAX_REPLAY_BODY
        ):
            store.release(slot)
            return
        store.finish(
            slot,
            store.new_response(
                _fingerprint(head, body_hash),
                captured["status"],
                captured["headers"],
                bytes(captured["body"]),
            ),
        )


def _fingerprint(head: Any, body: Any) -> str:
    return str(head.hexdigest()) + ":" + str(body.hexdigest())
