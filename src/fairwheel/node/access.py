"""Sign-in nonces, sessions and idempotent responses of the node's HTTP edge, in its database.

The HTTP edge is the only user; the state lives in the store (not in a server's memory) so that
every worker of ``fairwheel serve --workers N`` shares one sign-in and one idempotency record,
and so that a restart signs nobody out. Tokens are random and stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from fairwheel.domain.rows import SessionRow, StoredResponseRow
from fairwheel.node.ports import NodePorts
from fairwheel.node.service import Service

__all__ = ["AccessService", "token_digest"]


def token_digest(token: str) -> str:
    """What the store keeps of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


class AccessService(Service):
    """The edge's shared state over the store (``AccessStore``); ``clock`` is for tests."""

    def __init__(self, ports: NodePorts, clock: Callable[[], float] = time.time) -> None:
        super().__init__(ports)
        self.clock = clock

    # -- login nonces ----------------------------------------------------------
    def issue_nonce(self, ttl: float) -> tuple[str, float]:
        """A fresh 16-character hex nonce and its expiry (unix seconds)."""
        nonce, now = secrets.token_hex(8), self.clock()
        self.store.put_nonce(nonce, now + ttl, now)
        return nonce, now + ttl

    def consume_nonce(self, nonce: str) -> bool:
        """Spend a nonce: True once if it was issued and has not expired, then never again."""
        return self.store.take_nonce(nonce, self.clock())

    def nonce_count(self) -> int:
        return self.store.nonce_count(self.clock())

    # -- sessions ----------------------------------------------------------------
    def create_session(
        self, address: str, *, is_operator: bool, ttl: float, capacity: int
    ) -> tuple[str, SessionRow]:
        """A new session for ``address``; the token is returned once and never stored."""
        token, now = secrets.token_urlsafe(32), self.clock()
        session = SessionRow(address=address, is_operator=is_operator, expires=now + ttl)
        self.store.put_session(token_digest(token), session, now, capacity)
        return token, session

    def session(self, token: str) -> SessionRow | None:
        """The live session of a token, or None (unknown or expired)."""
        return self.store.session(token_digest(token), self.clock())

    def end_session(self, token: str) -> bool:
        """End a session; True if it existed."""
        return self.store.drop_session(token_digest(token))

    def session_count(self) -> int:
        return self.store.session_count(self.clock())

    # -- idempotency ---------------------------------------------------------------
    def claim_response(self, slot: str) -> StoredResponseRow | str | None:
        """The stored response of ``slot``, ``"in-progress"``, or None once claimed."""
        return self.store.claim_slot(slot, self.clock())

    def keep_response(
        self, slot: str, response: StoredResponseRow, capacity: int, max_bytes: int
    ) -> None:
        """Store the response of a claimed slot (oldest records dropped beyond the budget)."""
        self.store.finish_slot(slot, response, self.clock(), capacity, max_bytes)

    def release_response(self, slot: str) -> None:
        """Give a claimed slot back: the request had no effect."""
        self.store.release_slot(slot)

    def response_count(self) -> int:
        return self.store.slot_count()
