"""Wallet login with Sign-In with Ethereum (EIP-4361): nonce, login, session, logout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from fairwheel.api import models as m
from fairwheel.api.context import (
    COOKIE,
    ApiContext,
    RequiredSession,
    bearer_scheme,
    get_ctx,
    token_of,
)
from fairwheel.api.siwe import SiweError, SiweMessage, format_time, verify_message

router = APIRouter(prefix="/v1/auth", tags=["login"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]


def _iso(ts: float) -> str:
    return format_time(datetime.fromtimestamp(ts, UTC))


@router.post("/nonce", response_model=m.NonceResponse)
def issue_nonce(ctx: Ctx, body: m.NonceRequest | None = None) -> m.NonceResponse:
    """Issue a single-use login nonce (valid for 10 minutes by default).

    With an ``address``, the full EIP-4361 message to sign is returned as well; otherwise
    build it from ``domain``, ``uri``, ``chain_id`` and ``nonce``.
    """
    nonce, expires = ctx.state.nonces.issue()
    with ctx.use() as node:
        chain_id = node.onchain.chain_id
    cfg = ctx.config
    out = m.NonceResponse(
        nonce=nonce,
        expires_at=_iso(expires),
        domain=cfg.domain,
        uri=cfg.public_url,
        chain_id=chain_id,
        statement=cfg.statement,
    )
    if body is not None and body.address is not None:
        from eth_utils import to_checksum_address

        message = SiweMessage(
            domain=cfg.domain,
            address=str(to_checksum_address(body.address)),
            uri=cfg.public_url,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=format_time(datetime.now(UTC)),
            statement=cfg.statement,
            expiration_time=_iso(expires),
        )
        out.message = message.to_text()
    return out


@router.post(
    "/login",
    response_model=m.LoginResponse,
    responses={401: {"model": m.ErrorBody, "description": "The message or signature is refused."}},
)
def login(ctx: Ctx, body: m.LoginRequest, response: Response) -> m.LoginResponse:
    """Exchange a signed EIP-4361 message for a session token.

    Checked: the grammar, the domain (this server's), the URI (on that domain), the chain id
    (the node's), the issued-at (not in the future, not older than the nonce lifetime), the
    expiration and not-before times, the signature (EIP-191 ``personal_sign`` by the message's
    address) and the nonce (issued here, unexpired, never used — it is spent by this attempt).
    The token also comes back as an HttpOnly cookie for the dashboard.
    """
    metrics = ctx.metrics
    with ctx.use() as node:
        chain_id = node.onchain.chain_id
    try:
        message = verify_message(
            body.message,
            body.signature,
            domains=ctx.config.domains,
            chain_id=chain_id,
            now=datetime.now(UTC),
            max_age=ctx.config.nonce_ttl,
        )
        if not ctx.state.nonces.consume(message.nonce):
            raise SiweError("unknown, expired or already used nonce; ask for a new one")
    except SiweError:
        if metrics is not None:
            metrics.logins.labels("refused").inc()
        raise
    is_operator = message.address.lower() == ctx.operator_address.lower()
    token, session = ctx.state.sessions.create(message.address, is_operator=is_operator)
    response.set_cookie(
        COOKIE,
        token,
        max_age=ctx.config.session_ttl,
        httponly=True,
        samesite="strict",
        secure=ctx.config.secure_cookies,
        path="/",
    )
    if metrics is not None:
        metrics.logins.labels("ok").inc()
    return m.LoginResponse(
        token=token,
        address=session.address,
        expires_at=_iso(session.expires_at),
        is_operator=is_operator,
    )


@router.get("/session", response_model=m.SessionView)
def whoami(session: RequiredSession) -> m.SessionView:
    """The signed-in address, whether it is the operator, and when the session ends."""
    return m.SessionView(
        address=session.address,
        expires_at=_iso(session.expires_at),
        is_operator=session.is_operator,
    )


@router.post("/logout", status_code=204, response_class=Response)
def logout(
    ctx: Ctx,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Response:
    """End the session (the token stops working at once).

    A cookie session (the dashboard) must send the ``X-Fairwheel-CSRF: 1`` header.
    """
    token = token_of(request, credentials)
    if token:
        ctx.state.sessions.revoke(token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
