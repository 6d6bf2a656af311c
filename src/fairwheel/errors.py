"""The one exception tree of Fairwheel.

Every error Fairwheel raises on purpose is a :class:`FairwheelError`, and every class of the
tree lives in this module (others re-export it: ``fairwheel.api.context.Unauthorized``,
``fairwheel.api.siwe.SiweError``, ``fairwheel.blobs.BlobDestroyed``,
``fairwheel.cli.labels.CsvError``, ``fairwheel.client.ApiError``). Each class carries a stable
machine-readable ``code`` (the CLI's exit messages, the HTTP API's JSON errors, the Python
client's choice of class) and the HTTP ``http_status`` the API answers it with::

    FairwheelError                 500 fairwheel_error          no more specific class
    ├── ConfigError                500 config_error             bad settings or an unknown backend
    ├── InvalidInput               400 invalid_input            the caller sent something we refuse
    │   ├── BadRequest             400 bad_request              the request cannot be read at all
    │   ├── MethodNotAllowed       405 method_not_allowed       the path exists, not this method
    │   ├── PayloadTooLarge        413 payload_too_large        the body is over the route's limit
    │   ├── SchemaError            422 schema_error             a field missing, mistyped, off range
    │   │   └── CsvError           422 csv_error                an answers CSV is unusable (CLI)
    │   ├── IdempotencyKeyReused   422 idempotency_key_reused   the key served another request
    │   ├── SignatureError         400 bad_signature            does not recover to the signer
    │   │   └── SiweError          401 siwe_refused             a Sign-In with Ethereum refusal
    │   ├── ReplayError            400 replay                   a nonce or voucher already used
    │   └── RateLimited            429 rate_limited             too many requests; see Retry-After
    ├── Unauthorized               401 unauthorized             no valid session: sign in first
    ├── Forbidden                  403 forbidden                not yours, or operator only
    ├── NotFound                   404 not_found                no such pool, record, epoch, path …
    │   └── BlobDestroyed          404 blob_destroyed           its key was destroyed: unreadable
    ├── Conflict                   409 conflict                 the state forbids it
    │   └── IdempotencyInProgress  409 idempotency_in_progress  the same key is still running
    ├── InsufficientFunds          402 insufficient_funds       escrow or voucher below the price
    │   └── PaymentRequired        402 payment_required         unpaid: see PAYMENT-REQUIRED
    ├── VerificationError          422 verification_failed      a proof, root or hash fails to check
    ├── ChainError                 502 chain_error              chain down; 409 for a revert
    ├── BackendError               503 backend_error            a port's backend failed
    ├── InternalError              500 internal_error           an unexpected failure (logged)
    └── ApiError                   500 http_error               an answer with no class of its own

Two statuses depend on the instance: a :class:`ChainError` whose ``details["reason"]`` names a
contract's revert is a 409 (the state forbids it), and an :class:`ApiError` carries the status
it was answered with (``details["status"]``). :func:`error_classes` and :func:`by_code` walk
the tree; :func:`for_status` names the class a bare HTTP error of the web framework (an unknown
path, a wrong method, an unreadable body) is answered with. ``tests/test_errors.py`` checks
that the drawing above matches the classes and round-trips every code through the API's error
handler and the client.

Rejections by the contribution gate are *results* (a record with status ``rejected`` and a
reason, such as an expired consent), not exceptions: a batch with some bad records still
accepts the good ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

__all__ = [
    "ApiError",
    "BackendError",
    "BadRequest",
    "BlobDestroyed",
    "ChainError",
    "ConfigError",
    "Conflict",
    "CsvError",
    "FairwheelError",
    "Forbidden",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InsufficientFunds",
    "InternalError",
    "InvalidInput",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "RateLimited",
    "ReplayError",
    "SchemaError",
    "SignatureError",
    "SiweError",
    "Unauthorized",
    "VerificationError",
    "by_code",
    "error_classes",
    "for_status",
]


class FairwheelError(Exception):
    """Base class of every error Fairwheel raises on purpose."""

    code: str = "fairwheel_error"
    http_status: int = 500

    def __init__(self, message: str, /, **details: Any) -> None:
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


class BadRequest(InvalidInput):
    """The request cannot be read at all (the web framework refused it before any route)."""

    code = "bad_request"
    http_status = 400


class MethodNotAllowed(InvalidInput):
    """The path exists, but not with this HTTP method."""

    code = "method_not_allowed"
    http_status = 405


class PayloadTooLarge(InvalidInput):
    """The request body is over the route's size limit (``details['limit']`` bytes, if given)."""

    code = "payload_too_large"
    http_status = 413


class SchemaError(InvalidInput):
    """A field is missing, of the wrong type, or out of range."""

    code = "schema_error"
    http_status = 422


class CsvError(SchemaError):
    """An answers CSV file cannot be used: missing, empty, a column or a value lacking."""

    code = "csv_error"


class IdempotencyKeyReused(InvalidInput):
    """The ``Idempotency-Key`` was used before for a different request."""

    code = "idempotency_key_reused"
    http_status = 422


class SignatureError(InvalidInput):
    """A signature is malformed or recovers to someone other than the claimed signer."""

    code = "bad_signature"
    http_status = 400


class SiweError(SignatureError):
    """A Sign-In with Ethereum message was malformed or refused, or its signature was."""

    code = "siwe_refused"
    http_status = 401


class ReplayError(InvalidInput):
    """A nonce, consent or voucher was already used."""

    code = "replay"
    http_status = 400


class RateLimited(InvalidInput):
    """Too many requests: from one client, or ratings by one rater this hour.

    ``details['retry_after']`` (seconds), when given, is also sent as ``Retry-After``.
    """

    code = "rate_limited"
    http_status = 429


class Unauthorized(FairwheelError):
    """No valid session (sign in first)."""

    code = "unauthorized"
    http_status = 401


class Forbidden(FairwheelError):
    """The session may not do this (another contributor's record, an operator-only route)."""

    code = "forbidden"
    http_status = 403


class NotFound(FairwheelError):
    """No such pool, record, model, epoch, account or path."""

    code = "not_found"
    http_status = 404


class BlobDestroyed(NotFound):
    """The blob existed but its key was destroyed: it can never be read again."""

    code = "blob_destroyed"


class Conflict(FairwheelError):
    """The current state forbids the operation."""

    code = "conflict"
    http_status = 409


class IdempotencyInProgress(Conflict):
    """A request with the same ``Idempotency-Key`` is still running."""

    code = "idempotency_in_progress"


class InsufficientFunds(FairwheelError):
    """The consumer's escrow or voucher does not cover the price of a call."""

    code = "insufficient_funds"
    http_status = 402


class PaymentRequired(InsufficientFunds):
    """A paid route was called without a payment (x402: see the ``PAYMENT-REQUIRED`` header).

    The header says how to pay: the price, the asset, the escrow, the network and, when the
    request names its payer, the cumulative amount the payer's next voucher must carry.
    """

    code = "payment_required"
    http_status = 402


class VerificationError(FairwheelError):
    """A Merkle proof, root, hash chain or artifact does not check out."""

    code = "verification_failed"
    http_status = 422


#: The ``details['reason']`` of a :class:`ChainError` that means the chain is down (HTTP 502),
#: not that a contract refused (HTTP 409). No reason at all counts as down.
CHAIN_DOWN = frozenset({"Unreachable", "RpcError"})


class ChainError(FairwheelError):
    """The chain is unreachable (HTTP 502), or a transaction reverted (HTTP 409).

    ``details['reason']`` names the contract's error of a revert (``EpochNotActive``, …), or
    ``Unreachable`` / ``RpcError`` when the chain itself failed.
    """

    code = "chain_error"
    http_status = 502

    def __init__(self, message: str, /, **details: Any) -> None:
        super().__init__(message, **details)
        if details.get("reason", "Unreachable") not in CHAIN_DOWN:
            self.http_status = 409


class BackendError(FairwheelError):
    """A port's backend (store, index, blobs, embedder) failed."""

    code = "backend_error"
    http_status = 503


class InternalError(FairwheelError):
    """The server failed unexpectedly; the failure is in its log, not in the answer."""

    code = "internal_error"
    http_status = 500


class ApiError(FairwheelError):
    """An HTTP answer with no class of its own; ``http_status`` is ``details['status']``.

    The API answers ``http_error`` for a status of the web framework no class stands for; the
    client raises this class for a code it does not know (``code`` is then the server's) or an
    answer that is not a JSON error at all.
    """

    code = "http_error"
    http_status = 500

    def __init__(self, message: str, /, **details: Any) -> None:
        super().__init__(message, **details)
        status = details.get("status")
        if isinstance(status, int) and 400 <= status <= 599:
            self.http_status = status

    @property
    def status(self) -> int:
        """The HTTP status of the answer."""
        return self.http_status


# ----------------------------------------------------------------------- the registry


@cache
def error_classes() -> tuple[type[FairwheelError], ...]:
    """Every class of the tree, the root first, then depth first in the order defined.

    Only classes of this module count (a test's own subclass is not part of the tree).

    Raises:
        RuntimeError: If two classes share a ``code`` or a class does not define its own.
    """
    found: list[type[FairwheelError]] = []

    def walk(cls: type[FairwheelError]) -> None:
        if cls.__module__ != __name__:
            return
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(FairwheelError)
    codes: dict[str, str] = {}
    for cls in found:
        if "code" not in vars(cls):
            raise RuntimeError(f"{cls.__name__} does not define its own code")
        if cls.code in codes:
            raise RuntimeError(f"{cls.__name__} and {codes[cls.code]} share code {cls.code!r}")
        codes[cls.code] = cls.__name__
    return tuple(found)


@cache
def by_code() -> Mapping[str, type[FairwheelError]]:
    """Every class of the tree by its ``code`` (the codes are unique); read-only."""
    return MappingProxyType({cls.code: cls for cls in error_classes()})


#: The classes a bare HTTP error of the web framework (an unknown path, a wrong method, an
#: unreadable or oversized body) is answered with, one per status.
_FOR_STATUS: tuple[type[FairwheelError], ...] = (
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    RateLimited,
)


@cache
def _status_table() -> dict[int, type[FairwheelError]]:
    table = {cls.http_status: cls for cls in _FOR_STATUS}
    if len(table) != len(_FOR_STATUS):
        raise RuntimeError("two classes stand for the same HTTP status")
    return table


def for_status(status: int) -> type[FairwheelError]:
    """The class that stands for a bare HTTP ``status``; :class:`ApiError` for the others."""
    return _status_table().get(status, ApiError)
