"""The API's context (node, lock, settings, state) and the request dependencies.

The node is not thread-safe: FastAPI runs the synchronous routes in a thread pool, and every
route touches the node only inside ``with ctx.use() as node:``, which holds one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fairwheel.api.state import (
    ApiState,
    IdempotencyStore,
    NonceStore,
    RateLimiter,
    Session,
    SessionStore,
)
from fairwheel.config import ApiSettings

# The API's own refusals live in the one tree; re-exported here, where they used to be.
from fairwheel.errors import Forbidden, PayloadTooLarge, RateLimited, Unauthorized

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "ApiConfig",
    "ApiContext",
    "Forbidden",
    "OperatorSession",
    "OptionalSession",
    "PayloadTooLarge",
    "RateLimited",
    "RequiredSession",
    "Unauthorized",
    "get_ctx",
]

COOKIE = "fairwheel_session"
CSRF_HEADER = "x-fairwheel-csrf"


# The HTTP edge's settings are the ``api`` section of the node's one Settings object.
ApiConfig = ApiSettings


@dataclass
class ApiContext:
    """What every route needs: the node behind its lock, the settings and the state."""

    node: Node
    config: ApiConfig
    state: ApiState
    lock: threading.RLock = field(default_factory=threading.RLock)
    dev_wallets: dict[str, Any] = field(default_factory=dict)  # address (lower) -> DevKey
    metrics: Any = None

    @classmethod
    def create(cls, node: Node, config: ApiConfig) -> ApiContext:
        """A context over the node's shared state (sessions, nonces, idempotency), sized by
        ``config``."""
        state = ApiState(
            nonces=NonceStore(node.access, ttl=config.nonce_ttl),
            sessions=SessionStore(node.access, ttl=config.session_ttl),
            idempotency=IdempotencyStore(node.access),
            limiter=RateLimiter(config.rate_per_second, config.rate_burst),
        )
        return cls(node=node, config=config, state=state)

    @contextmanager
    def use(self) -> Iterator[Node]:
        """Hold the node's lock for the block."""
        with self.lock:
            yield self.node

    @property
    def operator_address(self) -> str:
        return str(self.node.operator.address)


def get_ctx(request: Request) -> ApiContext:
    """The context of the app serving ``request``."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


bearer_scheme = HTTPBearer(
    auto_error=False, description="A session token from POST /v1/auth/login."
)


def token_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        return None
    # A cookie rides along on cross-site requests; a custom header cannot (no CORS here).
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.headers.get(CSRF_HEADER) != "1":
        raise Unauthorized(f"a cookie session needs the {CSRF_HEADER} header on {request.method}")
    return cookie


def session_of(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Session | None:
    """The caller's live session, if any (an unknown or expired token counts as none)."""
    token = token_of(request, credentials)
    if token is None:
        return None
    return get_ctx(request).state.sessions.get(token)


def optional_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Session | None:
    """Dependency: the session if the caller has one."""
    return session_of(request, credentials)


def required_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Session:
    """Dependency: the caller's session, or 401."""
    session = session_of(request, credentials)
    if session is None:
        raise Unauthorized("sign in first (POST /v1/auth/nonce, then POST /v1/auth/login)")
    return session


def operator_session(session: Annotated[Session, Depends(required_session)]) -> Session:
    """Dependency: a session of the node's operator key, or 403."""
    if not session.is_operator:
        raise Forbidden("only the node's operator may do this")
    return session


OptionalSession = Annotated[Session | None, Depends(optional_session)]
RequiredSession = Annotated[Session, Depends(required_session)]
OperatorSession = Annotated[Session, Depends(operator_session)]
