"""The API's own state, kept in memory with hard limits; it resets when the server restarts.

What lives here is short-lived by nature and owned by this process, not by the node's
database:

- **login nonces** (single use, 10 minutes by default, at most 10,000 outstanding);
- **sessions** (opaque random tokens, stored only as their SHA-256, 12 hours by default, at most
  10,000; the oldest is dropped first);
- **idempotency records** (the response to a ``POST`` carrying an ``Idempotency-Key``, 24 hours,
  at most 10,000 records and 64 MiB of bodies);
- **rate-limit buckets** (a token bucket per client, at most 10,000 clients).

Nothing here carries money or rights: which records each paid call served is written with the
call's ledger entry, in the node's database.

After a restart everyone signs in again and idempotency keys are forgotten (a retried call that
already took effect is then refused by the node's own replay rules: a spent voucher or consent
nonce). Feedback is the node's: it lives in its database.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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

    def __init__(self, ttl: float = 600, capacity: int = 10_000, clock: Clock = time.time):
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._items = _Bounded(capacity)

    def issue(self) -> tuple[str, float]:
        """A fresh 16-character alphanumeric nonce and its expiry (unix seconds)."""
        nonce = secrets.token_hex(8)
        expires = self._clock() + self.ttl
        with self._lock:
            self._items.put(nonce, expires)
        return nonce, expires

    def consume(self, nonce: str) -> bool:
        """Spend a nonce: True once if it was issued and has not expired, then never again."""
        with self._lock:
            expires = self._items.pop(nonce, None)
        return expires is not None and expires > self._clock()

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Session:
    """A signed-in wallet."""

    address: str
    expires_at: float
    is_operator: bool


class SessionStore:
    """Opaque bearer tokens; only their SHA-256 is kept."""

    def __init__(self, ttl: float = 12 * 3600, capacity: int = 10_000, clock: Clock = time.time):
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._items = _Bounded(capacity)

    def create(self, address: str, *, is_operator: bool) -> tuple[str, Session]:
        """A new session for ``address``; returns the token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        session = Session(address, self._clock() + self.ttl, is_operator)
        with self._lock:
            self._items.put(_digest(token), session)
        return token, session

    def get(self, token: str) -> Session | None:
        """The live session of a token, or None (unknown or expired)."""
        key = _digest(token)
        with self._lock:
            session: Session | None = self._items.get(key)
            if session is not None and session.expires_at <= self._clock():
                del self._items[key]
                session = None
        return session

    def revoke(self, token: str) -> bool:
        """End a session; True if it existed."""
        with self._lock:
            return self._items.pop(_digest(token), None) is not None

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class StoredResponse:
    """A response remembered for an idempotency key."""

    fingerprint: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    expires_at: float


_IN_PROGRESS = "in-progress"


class IdempotencyStore:
    """Responses by (caller, idempotency key), with a time-to-live and a byte budget."""

    def __init__(
        self,
        ttl: float = 24 * 3600,
        capacity: int = 10_000,
        max_bytes: int = 64 * 2**20,
        clock: Clock = time.time,
    ) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._items = _Bounded(capacity)
        self._bytes = 0

    def begin(self, slot: str) -> StoredResponse | str | None:
        """Look a slot up and claim it if free.

        Returns:
            The stored response, ``"in-progress"`` if another request holds the slot,
            or None once the slot is claimed for the caller (who must :meth:`finish` or
            :meth:`release` it).
        """
        with self._lock:
            found = self._items.get(slot)
            if isinstance(found, StoredResponse) and found.expires_at <= self._clock():
                self._drop(slot)
                found = None
            if found is not None:
                return found if isinstance(found, StoredResponse) else _IN_PROGRESS
            self._items.put(slot, _IN_PROGRESS)
            return None

    def finish(self, slot: str, response: StoredResponse) -> None:
        """Store the response of a claimed slot (dropping the oldest beyond the budget)."""
        with self._lock:
            self._drop(slot)
            self._items.put(slot, response)
            self._bytes += len(response.body)
            while self._bytes > self.max_bytes and self._items:
                oldest = next(iter(self._items))
                self._drop(oldest)

    def release(self, slot: str) -> None:
        """Give a claimed slot back without storing anything (the request had no effect)."""
        with self._lock:
            if self._items.get(slot) == _IN_PROGRESS:
                del self._items[slot]

    def new_response(
        self, fingerprint: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> StoredResponse:
        """A response record that expires after the store's time-to-live."""
        return StoredResponse(fingerprint, status, headers, body, self._clock() + self.ttl)

    def _drop(self, slot: str) -> None:
        found = self._items.pop(slot, None)
        if isinstance(found, StoredResponse):
            self._bytes -= len(found.body)

    def __len__(self) -> int:
        return len(self._items)


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
