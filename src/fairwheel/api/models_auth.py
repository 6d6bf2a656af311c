"""Models of signing in: Sign-In with Ethereum nonces, logins and sessions."""

from __future__ import annotations

from pydantic import Field

from fairwheel.api.models_base import Address, Model, Signature


class NonceRequest(Model):
    address: Address | None = Field(
        None, description="If given, the full message to sign is returned."
    )


class NonceResponse(Model):
    nonce: str
    expires_at: str
    domain: str
    uri: str
    chain_id: int
    statement: str
    message: str | None = None


class LoginRequest(Model):
    message: str = Field(max_length=4096)
    signature: Signature


class SessionView(Model):
    address: str
    expires_at: str
    is_operator: bool


class LoginResponse(SessionView):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
