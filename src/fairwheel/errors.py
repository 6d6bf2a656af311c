"""The one exception tree of Fairwheel.

Every error the node raises on purpose is a :class:`FairwheelError`. Each class
carries a stable machine-readable ``code`` (used by the CLI's exit messages and
by the HTTP API's JSON errors) and a human message::

    FairwheelError
    ├── ConfigError                 bad settings or an unknown backend URL
    ├── InvalidInput                the caller sent something we refuse (HTTP 400/422)
    │   ├── SchemaError             a field is missing, of the wrong type or out of range
    │   ├── SignatureError          a signature does not recover to the claimed signer
    │   ├── ReplayError             a nonce or voucher was already used
    │   ├── ConsentError            consent expired, or does not allow this purpose
    │   └── RateLimited             too many requests of one kind this hour (HTTP 429)
    ├── NotFound                    no such pool, record, model, epoch … (HTTP 404)
    ├── Conflict                    state forbids it: duplicate, already closed … (HTTP 409)
    ├── InsufficientFunds           escrow or voucher does not cover the price (HTTP 402)
    ├── VerificationError           a proof, root or hash chain does not check out
    ├── ChainError                  a transaction reverted or the chain is unreachable
    └── BackendError                a port's backend (store, index, blobs, embedder) failed

Rejections by the contribution gate are *results* (a record with status
``rejected`` and a reason), not exceptions: a batch with some bad records still
accepts the good ones.
"""

from __future__ import annotations

from typing import Any


class FairwheelError(Exception):
    """Base class of every error Fairwheel raises on purpose."""

    code: str = "fairwheel_error"
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the HTTP API returns for this error."""
        return {"code": self.code, "message": self.message, "details": self.details}


class ConfigError(FairwheelError):
    """Settings are invalid or name a backend that does not exist."""

    code = "config_error"
    http_status = 500


class InvalidInput(FairwheelError):
    """The caller sent something Fairwheel refuses."""

    code = "invalid_input"
    http_status = 400


class SchemaError(InvalidInput):
    """A field is missing, of the wrong type, or out of range."""

    code = "schema_error"
    http_status = 422


class SignatureError(InvalidInput):
    """A signature is malformed or recovers to someone other than the claimed signer."""

    code = "bad_signature"


class ReplayError(InvalidInput):
    """A nonce, consent or voucher was already used."""

    code = "replay"


class ConsentError(InvalidInput):
    """Consent has expired, was revoked, or does not allow the requested purpose."""

    code = "consent_refused"
    http_status = 403


class RateLimited(InvalidInput):
    """Too many requests of one kind (ratings, for example) by one caller this hour."""

    code = "rate_limited"
    http_status = 429


class NotFound(FairwheelError):
    """No such pool, record, model, epoch or account."""

    code = "not_found"
    http_status = 404


class Conflict(FairwheelError):
    """The current state forbids the operation."""

    code = "conflict"
    http_status = 409


class InsufficientFunds(FairwheelError):
    """The consumer's escrow or voucher does not cover the price of a call."""

    code = "insufficient_funds"
    http_status = 402


class VerificationError(FairwheelError):
    """A Merkle proof, root, hash chain or artifact does not check out."""

    code = "verification_failed"
    http_status = 422


class ChainError(FairwheelError):
    """A transaction reverted (``details['reason']`` names the error) or the chain failed."""

    code = "chain_error"
    http_status = 502


class BackendError(FairwheelError):
    """A port's backend (store, index, blobs, embedder) failed."""

    code = "backend_error"
    http_status = 503
