"""The FastAPI application: routers, JSON errors, middleware and the dashboard."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fairwheel.api import models as m
from fairwheel.api.context import ApiConfig, ApiContext
from fairwheel.errors import ChainError, FairwheelError

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = ["create_app", "error_status"]

log = logging.getLogger("fairwheel.api")

#: Every route may answer with these; all errors share the ``ErrorBody`` shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": m.ErrorBody, "description": "Refused input (bad signature, replay, …)."},
    401: {"model": m.ErrorBody, "description": "No valid session."},
    403: {"model": m.ErrorBody, "description": "Not allowed for this session."},
    404: {"model": m.ErrorBody, "description": "No such resource (or not yours)."},
    409: {"model": m.ErrorBody, "description": "The current state forbids it."},
    413: {"model": m.ErrorBody, "description": "Request body too large."},
    422: {"model": m.ErrorBody, "description": "A field is missing, malformed or out of range."},
    429: {"model": m.ErrorBody, "description": "Too many requests."},
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
# Reverts that mean "not now" or "not like this" rather than "the chain is down".
_CHAIN_DOWN = {"Unreachable", "RpcError"}


def error_status(exc: FairwheelError) -> int:
    """The HTTP status of a Fairwheel error (a contract revert is a 409 conflict)."""
    if isinstance(exc, ChainError):
        return 502 if exc.details.get("reason", "Unreachable") in _CHAIN_DOWN else 409
    return int(exc.http_status)


def _json_details(details: dict[str, Any]) -> dict[str, Any]:
    return jsonable_encoder(details, custom_encoder={bytes: lambda b: "0x" + b.hex()})


async def _fairwheel_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FairwheelError)
    status = error_status(exc)
    if status >= 500:
        log.warning("%s %s -> %s %s", request.method, request.url.path, exc.code, exc.message)
    body = {"code": exc.code, "message": exc.message, "details": _json_details(exc.details)}
    headers = {"Retry-After": str(exc.details.get("retry_after", 1))} if status == 429 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return JSONResponse(
        {
            "code": "schema_error",
            "message": f"{where}: {first['msg']}",
            "details": {"errors": errors},
        },
        status_code=422,
    )


# FastAPI answers 400 with this detail when reading the body fails for another reason than
# bad JSON syntax; when the cause is bytes that are not UTF-8, that is a malformed field like
# any other, so 422 with the reason (RFC 8259 requires UTF-8).
_UNREADABLE_BODY = "There was an error parsing the body"


def _utf8_error(exc: BaseException) -> UnicodeDecodeError | None:
    """The ``UnicodeDecodeError`` behind ``exc`` (its chain of causes), if any."""
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        if isinstance(item, UnicodeDecodeError):
            return item
        seen.add(id(item))
        item = item.__cause__ or item.__context__
    return None


def _not_utf8(error: UnicodeDecodeError) -> JSONResponse:
    """422 ``schema_error`` for a body that is not UTF-8, saying at which byte it breaks."""
    bad = bytes(error.object[error.start : error.start + 1]).hex()
    message = (
        f"body: not valid UTF-8 JSON (RFC 8259 requires UTF-8): byte 0x{bad} at offset "
        f"{error.start} ({error.reason})"
    )
    return JSONResponse(
        {
            "code": "schema_error",
            "message": message,
            "details": {
                "errors": [{"loc": ["body", error.start], "msg": message, "type": "utf8_invalid"}]
            },
        },
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
        not_utf8 = _utf8_error(exc)
        if not_utf8 is not None:
            return _not_utf8(not_utf8)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        {"code": code, "message": str(exc.detail), "details": {}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {
            "code": "internal_error",
            "message": "the server failed; it has been logged",
            "details": {},
        },
        status_code=500,
    )


def create_app(node: Node, config: ApiConfig | None = None, *, metrics: bool = True) -> FastAPI:
    """Build the HTTP API and the dashboard around an open node.

    Args:
        node: The node to serve (the app does not close it).
        config: The HTTP edge's settings (public URL, dev mode, limits).
        metrics: Collect Prometheus metrics (``GET /metrics``).

    Returns:
        The ASGI application; run it with one worker (``uvicorn.run(app, workers=1)``).
    """
    from fairwheel.api import (
        routes_auth,
        routes_data,
        routes_loop,
        routes_paid,
        routes_pools,
        routes_quality,
    )
    from fairwheel.api.metrics import ApiMetrics
    from fairwheel.api.middleware import IdempotencyMiddleware, LimitsMiddleware, MetricsMiddleware
    from fairwheel.api.routes_paid import _version

    config = config or ApiConfig()
    ctx = ApiContext.create(node, config)
    if metrics:
        ctx.metrics = ApiMetrics(ctx)
    app = FastAPI(
        title="Fairwheel node API",
        version=_version(),
        description=(
            "A Fairwheel node over HTTP: pools, consented contributions, paid search and "
            "prediction with EIP-712 vouchers, epochs and claims. Sign in with Ethereum "
            "(EIP-4361) for your own records and earnings. Amounts are decimal strings of token "
            "base units. Errors are `{code, message, details}`."
        ),
        responses=ERROR_RESPONSES,
    )
    app.state.ctx = ctx
    # No 307 to a "corrected" path: `/v1/pools%2F1` or a stray trailing slash is a 404 with a
    # JSON body, not a redirect a client might follow somewhere it did not mean to go.
    app.router.redirect_slashes = False
    app.add_exception_handler(FairwheelError, _fairwheel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    for router in (
        routes_auth.router,
        routes_pools.router,
        routes_data.router,
        routes_quality.router,
        routes_loop.router,
        routes_paid.router,
        routes_paid.meta_router,
    ):
        app.include_router(router)
    if config.dev:
        from fairwheel.api.dev import check_test_chain, dev_keys
        from fairwheel.api.dev import router as dev_router

        check_test_chain(node)
        ctx.dev_wallets = dev_keys(node)
        app.include_router(dev_router)
    from fairwheel.web import mount_dashboard

    mount_dashboard(app)
    # Outermost first: metrics see every answer, limits run before any work.
    app.add_middleware(IdempotencyMiddleware, ctx=ctx)
    app.add_middleware(LimitsMiddleware, ctx=ctx)
    app.add_middleware(MetricsMiddleware, ctx=ctx)
    return app
