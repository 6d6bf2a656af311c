"""The API's own state: sign-in, sessions and idempotency in the node's database; rate limits
per process.

- **login nonces** (single use, 10 minutes by default);
- **sessions** (opaque random tokens, stored only as their SHA-256, 12 hours by default, at most
  10,000; the oldest is dropped first);
- **idempotency records** (the response to a ``POST`` carrying an ``Idempotency-Key``, 24 hours,
  at most 10,000 records and 64 MiB of bodies);
- **rate-limit buckets** (a token bucket per client, at most 10,000 clients), in this process's
  memory: each worker of ``fairwheel serve --workers N`` limits on its own, so a client gets up
  to N times the rate across workers.

The first three are the node's (``node.access``, tables ``api_*`` in its database), so every
worker shares them and a restart keeps them: a session token works on any worker, and a retried
``POST`` with the same key is answered once whichever worker it reaches. Nothing here carries
money or rights: which records each paid call served is written with the call's ledger entry.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fairwheel.node.access import AccessService

__all__ = [
    "ApiState",
    "IdempotencyStore",
    "NonceStore",
    "RateLimiter",
    "Session",
    "SessionStore",
    "StoredResponse",
]

Clock = Callable[[], float]


class _Bounded(OrderedDict[str, Any]):
    """An insertion-ordered dict that drops its oldest entries beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class NonceStore:
    """Server-issued login nonces: each is good for one login attempt before its expiry."""

    def __init__(self, access: AccessService, ttl: float = 600) -> None:
        self.ttl = ttl
        self._access = access

    def issue(self) -> tuple[str, float]:
        """A fresh 16-character hex nonce and its expiry (unix seconds)."""
        return self._access.issue_nonce(self.ttl)

    def consume(self, nonce: str) -> bool:
        """Spend a nonce: True once if it was issued and has not expired, then never again."""
        return self._access.consume_nonce(nonce)

    def __len__(self) -> int:
        return self._access.nonce_count()


@dataclass(frozen=True)
class Session:
    """A signed-in wallet."""

    address: str
    expires_at: float
    is_operator: bool


class SessionStore:
    """Opaque bearer tokens; only their SHA-256 is kept (in the node's database)."""

    def __init__(
        self, access: AccessService, ttl: float = 12 * 3600, capacity: int = 10_000
    ) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._access = access

    def create(self, address: str, *, is_operator: bool) -> tuple[str, Session]:
        """A new session for ``address``; returns the token (shown once) and the session."""
        token, row = self._access.create_session(
            address, is_operator=is_operator, ttl=self.ttl, capacity=self.capacity
        )
        return token, Session(row["address"], row["expires"], row["is_operator"])

    def get(self, token: str) -> Session | None:
        """The live session of a token, or None (unknown or expired)."""
        row = self._access.session(token)
        return None if row is None else Session(row["address"], row["expires"], row["is_operator"])

    def revoke(self, token: str) -> bool:
        """End a session; True if it existed."""
        return self._access.end_session(token)

    def __len__(self) -> int:
        return self._access.session_count()


@dataclass(frozen=True)
class StoredResponse:
    """A response remembered for an idempotency key."""

    fingerprint: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    expires_at: float


class IdempotencyStore:
    """Responses by (caller, idempotency key), with a time-to-live and a byte budget."""

    def __init__(
        self,
        access: AccessService,
        ttl: float = 24 * 3600,
        capacity: int = 10_000,
        max_bytes: int = 64 * 2**20,
    ) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._access = access

    def begin(self, slot: str) -> StoredResponse | str | None:
        """Look a slot up and claim it if free.

        Returns:
            The stored response, ``"in-progress"`` if another request (on any worker) holds
            the slot, or None once the slot is claimed for the caller (who must :meth:`finish`
            or :meth:`release` it).
        """
        found = self._access.claim_response(slot)
        if found is None or isinstance(found, str):
            return found
        return StoredResponse(
            found["fingerprint"], found["status"], found["headers"], found["body"], found["expires"]
        )

    def finish(self, slot: str, response: StoredResponse) -> None:
        """Store the response of a claimed slot (dropping the oldest beyond the budget)."""
        self._access.keep_response(
            slot,
            {
                "fingerprint": response.fingerprint,
                "status": response.status,
                "headers": response.headers,
                "body": response.body,
                "expires": response.expires_at,
            },
            self.capacity,
            self.max_bytes,
        )

    def release(self, slot: str) -> None:
        """Give a claimed slot back without storing anything (the request had no effect)."""
        self._access.release_response(slot)

    def new_response(
        self, fingerprint: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> StoredResponse:
        """A response record that expires after the store's time-to-live."""
        return StoredResponse(fingerprint, status, headers, body, self._access.clock() + self.ttl)

    def __len__(self) -> int:
        return self._access.response_count()


class RateLimiter:
    """A token bucket per client key: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(
        self, rate: float, burst: float, capacity: int = 10_000, clock: Clock = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets = _Bounded(capacity)

    def allow(self, key: str) -> float:
        """Take one token; returns 0 if allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets.put(key, (tokens - 1, now))
                return 0.0
            self._buckets.put(key, (tokens, now))
            return (1 - tokens) / self.rate


@dataclass
class ApiState:
    """Everything the API keeps in memory (see the module docstring for the limits)."""

    nonces: NonceStore
    sessions: SessionStore
    idempotency: IdempotencyStore
    limiter: RateLimiter
