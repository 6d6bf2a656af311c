"""The FastAPI application: routers, JSON errors, middleware and the dashboard."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fairwheel.api import models as m
from fairwheel.api.context import ApiConfig, ApiContext
from fairwheel.errors import (
    ApiError,
    ChainError,
    FairwheelError,
    InternalError,
    SchemaError,
    error_classes,
    for_status,
)

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = ["create_app", "error_response", "error_status", "install_error_handlers"]

log = logging.getLogger("fairwheel.api")


def _summary(cls: type[FairwheelError]) -> str:
    """The first line of the class's docstring, in Markdown."""
    return (cls.__doc__ or "").strip().splitlines()[0].replace("``", "`")


def _error_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI: each 4xx status a class of the tree answers with, and its codes."""
    by_status: dict[int, list[str]] = {}
    for cls in error_classes():
        if 400 <= cls.http_status < 500:
            by_status.setdefault(cls.http_status, []).append(f"`{cls.code}`: {_summary(cls)}")
    # A ChainError is a 502 when the chain is down, a 409 when a contract refused.
    by_status[409].append(f"`{ChainError.code}`: a contract reverted (`details.reason`).")
    return {
        status: {"model": m.ErrorBody, "description": " ".join(lines)}
        for status, lines in sorted(by_status.items())
    }


#: Every route may answer with these; all errors share the ``ErrorBody`` shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = _error_responses()


def error_status(exc: FairwheelError) -> int:
    """The HTTP status of a Fairwheel error: its ``http_status`` (a contract revert's is 409)."""
    return int(exc.http_status)


def _json_details(details: dict[str, Any]) -> dict[str, Any]:
    return jsonable_encoder(details, custom_encoder={bytes: lambda b: "0x" + b.hex()})


def error_response(exc: FairwheelError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The API's answer to ``exc``: ``{code, message, details}`` with its ``http_status``.

    A 429 also says ``Retry-After`` (``details['retry_after']`` seconds, rounded up; else 1).
    """
    status = error_status(exc)
    sent = dict(headers or {})
    if status == 429:
        wait = exc.details.get("retry_after", 1)
        seconds = math.ceil(wait) if isinstance(wait, int | float) else 1
        sent.setdefault("Retry-After", str(max(1, seconds)))
    body = {"code": exc.code, "message": exc.message, "details": _json_details(exc.details)}
    return JSONResponse(body, status_code=status, headers=sent or None)


async def _fairwheel_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FairwheelError)
    response = error_response(exc)
    if response.status_code >= 500:
        log.warning("%s %s -> %s %s", request.method, request.url.path, exc.code, exc.message)
    return response


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
    return error_response(SchemaError(f"{where}: {first['msg']}", errors=errors))


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
    where = {"loc": ["body", error.start], "msg": message, "type": "utf8_invalid"}
    return error_response(SchemaError(message, errors=[where]))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
        not_utf8 = _utf8_error(exc)
        if not_utf8 is not None:
            return _not_utf8(not_utf8)
    # The class that stands for the status (404 not_found, 405 method_not_allowed, …), else
    # ApiError (http_error) carrying the status.
    cls = for_status(exc.status_code)
    message = str(exc.detail)
    error = ApiError(message, status=exc.status_code) if cls is ApiError else cls(message)
    return error_response(error, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(InternalError("the server failed; it has been logged"))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as JSON ``{code, message, details}`` from the one tree of
    :mod:`fairwheel.errors`: Fairwheel's own, FastAPI's validation errors (``schema_error``),
    the framework's HTTP errors (:func:`fairwheel.errors.for_status`) and anything unexpected
    (``internal_error``)."""
    app.add_exception_handler(FairwheelError, _fairwheel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


# What a browser app on another origin may send and read (docs/api.md, "Browsers").
CORS_REQUEST_HEADERS = (
    "Authorization", "Content-Type", "Idempotency-Key", "X-Fairwheel-Voucher",
    "X-Fairwheel-Signature", "X-Fairwheel-Payer", "PAYMENT-SIGNATURE",
)  # fmt: skip
CORS_RESPONSE_HEADERS = (
    "PAYMENT-REQUIRED",
    "PAYMENT-RESPONSE",
    "Retry-After",
    "Idempotent-Replayed",
)


def create_app(node: Node, config: ApiConfig | None = None, *, metrics: bool = True) -> FastAPI:
    """Build the HTTP API and the dashboard around an open node.

    Args:
        node: The node to serve (the app does not close it).
        config: The HTTP edge's settings (default: the node's ``settings.api`` section).
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
        routes_preview,
        routes_quality,
        routes_usage,
    )
    from fairwheel.api.docs import mount_docs
    from fairwheel.api.metrics import ApiMetrics
    from fairwheel.api.middleware import IdempotencyMiddleware, LimitsMiddleware, MetricsMiddleware
    from fairwheel.api.routes_paid import _version

    config = config or node.settings.api
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
        docs_url=None,  # FastAPI's pages load from a CDN: ours load from the node (api/docs.py)
        redoc_url=None,
    )
    mount_docs(app)
    app.state.ctx = ctx
    # No 307 to a "corrected" path: `/v1/pools%2F1` or a stray trailing slash is a 404 with a
    # JSON body, not a redirect a client might follow somewhere it did not mean to go.
    app.router.redirect_slashes = False
    install_error_handlers(app)
    for router in (
        routes_auth.router,
        routes_pools.router,
        routes_data.router,
        routes_preview.router,
        routes_quality.router,
        routes_loop.router,
        routes_paid.router,
        routes_paid.meta_router,
        *routes_usage.routers(config.dev),
    ):
        app.include_router(router)
    if config.dev:
        from fairwheel.api.dev import dev_keys
        from fairwheel.api.dev import router as dev_router

        node.testchain.require_test_chain()
        ctx.dev_wallets = dev_keys(node)
        app.include_router(dev_router)
    from fairwheel.web import mount_dashboard

    mount_dashboard(app)
    # Outermost first: metrics see every answer, limits run before any work.
    app.add_middleware(IdempotencyMiddleware, ctx=ctx)
    app.add_middleware(LimitsMiddleware, ctx=ctx)
    app.add_middleware(MetricsMiddleware, ctx=ctx)
    if config.cors_origins:  # outermost: a preflight is answered before any limit or route
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_RESPONSE_HEADERS),
            allow_credentials=False,
            max_age=600,
        )
    return app
