"""A Python client of a Fairwheel node's HTTP API that signs everything locally.

The private key never leaves the process: the client signs the Sign-In with Ethereum message,
each record's EIP-712 consent (or one ``BatchConsent`` for a whole batch: :meth:`submit_batch`),
each voucher and each revocation itself, and sends only signatures. It keeps its own running
total of what it has spent per pool and never signs a voucher above that total plus the call's
price (the node's figure is trusted only on the first call per pool, and only downward
afterwards)::

    from eth_account import Account
    from fairwheel.client import FairwheelClient

    with FairwheelClient("http://127.0.0.1:8000", Account.from_key(KEY)) as fw:
        fw.login()
        fw.submit(1, [("my card was stolen", "card_lost")])
        answer = fw.search(1, "lost card", k=3)

Errors come back as the same exception classes the node raises (``ReplayError``,
``InsufficientFunds``, ``NotFound``, ``Unauthorized``…), chosen by the error's ``code`` from the
one tree in :mod:`fairwheel.errors` (``details["status"]`` is the HTTP status); unknown codes
raise :class:`ApiError` with the server's code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from fairwheel import errors as E
from fairwheel.client_wire import (
    account_address,
    deposit_transactions,
    signed_records,
    voucher_headers,
)
from fairwheel.client_wire import raise_for as _raise_for
from fairwheel.errors import ApiError  # re-exported: it used to be defined here

__all__ = ["ApiError", "FairwheelClient"]

Json = Any


class FairwheelClient:
    """A session with one node, as one account (``eth_account`` ``LocalAccount``) or anonymous.

    Args:
        url: The node's base URL (``http://127.0.0.1:8000``).
        account: The key that signs; None for public reads only.
        timeout: Seconds per request.
        transport: An ``httpx`` transport (tests pass an ASGI transport).
    """

    def __init__(
        self,
        url: str,
        account: Any = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.token: str | None = None
        self.spent: dict[int, int] = {}
        self._chain: dict[str, Any] | None = None
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> FairwheelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ----------------------------------------------------------------- plumbing
    @property
    def address(self) -> str:
        return account_address(self.account)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Json = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        content: Any = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one request with the session token; raise the API's error as an exception."""
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            sent["Idempotency-Key"] = idempotency_key
        kwargs: dict[str, Any] = {"headers": sent, "params": params}
        if content is not None:
            kwargs["content"] = content
        elif json_body is not None:
            kwargs["json"] = json_body
        response = self._http.request(method, path, **kwargs)
        _raise_for(response)
        return response

    def get(self, path: str, **params: Any) -> Json:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean or None).json()

    def post(self, path: str, body: Json = None, **kwargs: Any) -> Json:
        response = self.request("POST", path, json_body=body, **kwargs)
        return response.json() if response.content else None

    def chain(self) -> dict[str, Any]:
        """Chain id, contracts and EIP-712 domains (cached)."""
        if self._chain is None:
            self._chain = self.get("/v1/chain")
        return self._chain

    def _domain(self, which: str) -> Any:
        from fairwheel.domain.typed_data import Eip712Domain

        d = self.chain()[which]
        return Eip712Domain(d["name"], d["version"], int(d["chainId"]), d["verifyingContract"])

    # -------------------------------------------------------------------- login
    def login(self) -> dict[str, Any]:
        """Sign in with Ethereum: fetch a nonce, sign the EIP-4361 message locally, log in."""
        from eth_account.messages import encode_defunct

        from fairwheel.api.siwe import parse_message

        nonce = self.post("/v1/auth/nonce", {"address": self.address})
        message = nonce["message"]
        parsed = parse_message(message)  # check what we sign before signing it
        if parsed.address != self.address or parsed.nonce != nonce["nonce"]:
            raise E.SignatureError("the server's login message is not for this account")
        signed = self.account.sign_message(encode_defunct(text=message))
        session = self.post(
            "/v1/auth/login",
            {"message": message, "signature": "0x" + bytes(signed.signature).hex()},
        )
        self.token = session["token"]
        return dict(session)

    def logout(self) -> None:
        self.request("POST", "/v1/auth/logout")
        self.token = None

    # -------------------------------------------------------------------- reads
    def health(self) -> Json:
        return self.get("/v1/health")

    def pools(self) -> Json:
        return self.get("/v1/pools")

    def pool(self, pool_id: int) -> Json:
        return self.get(f"/v1/pools/{pool_id}")

    def pool_stats(self, pool_id: int) -> Json:
        return self.get(f"/v1/pools/{pool_id}/stats")

    def models(self, pool_id: int) -> Json:
        return self.get(f"/v1/pools/{pool_id}/models")

    def calls(self, pool_id: int, after: int = 0, limit: int = 100) -> Json:
        return self.get(f"/v1/pools/{pool_id}/calls", after=after, limit=limit)

    def epochs(self, pool_id: int) -> Json:
        return self.get(f"/v1/pools/{pool_id}/epochs")

    def epoch_file(self, pool_id: int, epoch: int) -> bytes:
        return self.request("GET", f"/v1/pools/{pool_id}/epochs/{epoch}/file").content

    def verify_epoch(self, pool_id: int, epoch: int) -> Json:
        return self.get(f"/v1/pools/{pool_id}/epochs/{epoch}/verification")

    def claim_proof(
        self, pool_id: int, account: str | None = None, epoch: int | None = None
    ) -> Json:
        return self.get(f"/v1/pools/{pool_id}/claims/{account or self.address}", epoch=epoch)

    def escrow(self, pool_id: int, payer: str | None = None) -> Json:
        return self.get(f"/v1/pools/{pool_id}/escrow/{payer or self.address}")

    # ------------------------------------------------------- me (signed in)
    def my_records(self, pool_id: int | None = None, status: str | None = None) -> Json:
        return self.get("/v1/me/records", pool_id=pool_id, status=status)

    def earnings(self) -> Json:
        return self.get("/v1/me/earnings")

    def my_calls(self) -> Json:
        return self.get("/v1/me/calls")

    def record(self, record_id: int) -> Json:
        return self.get(f"/v1/contributions/{record_id}")

    def receipt(self, record_id: int) -> Json:
        return self.get(f"/v1/contributions/{record_id}/receipt")

    # ------------------------------------------------------------ contributing
    def sign_records(
        self,
        pool_id: int,
        records: Iterable[tuple[str, str | None]],
        *,
        licence: str = "CC-BY-4.0",
        purposes: int = 3,
        lifetime: int = 365 * 24 * 3600,
    ) -> list[dict[str, Any]]:
        """Sign an EIP-712 consent for each (text, label) locally; returns the request records."""
        domain = self._domain("consent_domain")
        expiry = int(self.chain()["now"]) + lifetime
        return signed_records(
            self.account, domain, pool_id, records,
            licence=licence, purposes=purposes, expiry=expiry,
        )  # fmt: skip

    def submit(
        self,
        pool_id: int,
        records: Iterable[tuple[str, str | None]],
        *,
        idempotency_key: str | None = None,
        **consent: Any,
    ) -> Json:
        """Sign and submit records (up to 1,000); the gate's verdict for each."""
        body = {"records": self.sign_records(pool_id, records, **consent)}
        return self.post(
            f"/v1/pools/{pool_id}/contributions",
            body,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def sign_batch(
        self,
        pool_id: int,
        records: Iterable[tuple[str, str | None]],
        *,
        licence: str = "CC-BY-4.0",
        purposes: int = 3,
        lifetime: int = 365 * 24 * 3600,
    ) -> dict[str, Any]:
        """Sign ONE EIP-712 ``BatchConsent`` over all the (text, label) records, locally.

        Returns the request's ``batches`` entry: the consent, its signature and each record
        with its inclusion proof (docs/protocol.md, "Batch consent").
        """
        from fairwheel.wallet import ContributorWallet, batch_json

        domain = self._domain("consent_domain")
        wallet = ContributorWallet(self.account, domain, licence, purposes, lifetime)
        now = int(self.chain()["now"])
        return batch_json(wallet.batch_submission(pool_id, list(records), now=now))

    def submit_batch(
        self,
        pool_id: int,
        records: Iterable[tuple[str, str | None]],
        *,
        idempotency_key: str | None = None,
        **consent: Any,
    ) -> Json:
        """Sign one consent for all the records (up to 1,000) and submit them; the gate's
        verdict for each, in order."""
        body = {"batches": [self.sign_batch(pool_id, records, **consent)]}
        return self.post(
            f"/v1/pools/{pool_id}/contributions",
            body,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def submit_stream(
        self,
        pool_id: int,
        records: Iterable[tuple[str, str | None]],
        *,
        chunk: int = 500,
        **consent: Any,
    ) -> Json:
        """Sign and stream a large upload as JSON Lines (signed in chunks as it is sent)."""
        source = iter(records)

        def lines() -> Iterator[bytes]:
            while True:
                part = [r for _, r in zip(range(chunk), source, strict=False)]
                if not part:
                    return
                for item in self.sign_records(pool_id, part, **consent):
                    yield (json.dumps(item) + "\n").encode()

        response = self.request(
            "POST",
            f"/v1/pools/{pool_id}/contributions/stream",
            content=lines(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        return response.json()

    def revoke(self, record_id: int) -> Json:
        """Sign the record's EIP-712 revocation locally; the node relays it on-chain."""
        from fairwheel.domain.typed_data import Revocation, sign_revocation

        row = self.record(record_id)
        revocation = Revocation(self.address, int(row["pool_id"]), row["record_hash"])
        signature = sign_revocation(revocation, self._domain("consent_domain"), self.account.key)
        return self.post(
            f"/v1/contributions/{record_id}/revocation",
            {"signature": "0x" + signature.hex()},
            idempotency_key=str(uuid.uuid4()),
        )

    # -------------------------------------------------------------- paying
    def _voucher(self, pool_id: int, kind: str) -> tuple[dict[str, str], int]:
        quote = self.get(f"/v1/pools/{pool_id}/quote", payer=self.address, kind=kind)
        price, server_spent = int(quote["price"]), int(quote["spent"])
        if int(self.pool(pool_id)[f"{kind}_price"]) != price:
            raise E.Conflict("the quote's price differs from the pool's published price")
        known = self.spent.get(pool_id)
        if known is None:
            known = server_spent  # first call per pool: adopt the node's running total
        elif server_spent > known:
            raise E.Conflict(
                f"the node says {server_spent} was spent in pool {pool_id}, this "
                f"client signed only {known}: refusing to sign more"
            )
        cumulative = known + price
        domain = self._domain("voucher_domain")
        return voucher_headers(self.account, domain, pool_id, cumulative), cumulative

    def _pay(self, pool_id: int, kind: str, body: Json) -> Json:
        headers, cumulative = self._voucher(pool_id, kind)
        # A refused call leaves the running total where it was.
        result = self.post(
            f"/v1/pools/{pool_id}/{kind}", body, headers=headers, idempotency_key=str(uuid.uuid4())
        )
        self.spent[pool_id] = cumulative
        return result

    def search(self, pool_id: int, query: str, k: int = 5) -> Json:
        """A paid search: signs the next voucher locally and sends it in the headers."""
        return self._pay(pool_id, "search", {"query": query, "k": k})

    def predict(self, pool_id: int, text: str, *, arena: bool = False) -> Json:
        """A paid prediction by the pool's serving model version (with ``arena``, a second
        version answers too, for you to compare with :meth:`feedback` kind ``arena``)."""
        return self._pay(pool_id, "predict", {"text": text, "arena": arena})

    def feedback(self, seq: int, rating: int | None = None, *, kind: str = "stars",
                 value: int | None = None) -> Json:  # fmt: skip
        """Rate a paid answer: ``rating`` 1–5 stars, or ``kind`` thumbs/arena with ``value``."""
        body = {"rating": rating} if rating is not None else {"kind": kind, "value": value}
        return self.post(f"/v1/calls/{seq}/feedback", body)

    def deposit(self, pool_id: int, amount: int) -> list[Json]:
        """Approve and deposit into escrow with transactions signed here, relayed by the node."""
        chain = self.chain()
        info = self.get(f"/v1/chain/accounts/{self.address}")
        raws = deposit_transactions(self.account, chain, info, pool_id, amount)
        return [self.post("/v1/chain/transactions", {"raw": raw}) for raw in raws]

    # ------------------------------------------------------- earnings, operator
    def claim(self, pool_id: int, account: str | None = None) -> Json:
        return self.post(
            f"/v1/pools/{pool_id}/claims/{account or self.address}",
            idempotency_key=str(uuid.uuid4()),
        )

    def close_epoch(self, pool_id: int) -> Json:
        return self.post(f"/v1/pools/{pool_id}/epochs", idempotency_key=str(uuid.uuid4()))

    def anchor(self, pool_id: int) -> Json:
        return self.post(f"/v1/pools/{pool_id}/anchor")

    # ------------------------------------------------------- the loop
    def versions(self, pool_id: int) -> Json:
        return self.get(f"/v1/pools/{pool_id}/versions")

    def rollback(self, pool_id: int) -> Json:
        """Serve the previously promoted model version again (operator)."""
        return self.post(f"/v1/pools/{pool_id}/versions/rollback")

    def promote(self, pool_id: int, model_id: int) -> Json:
        return self.post(f"/v1/pools/{pool_id}/versions/{model_id}/promote")

    def upkeep(self, pool_id: int) -> Json:
        return self.post(f"/v1/pools/{pool_id}/upkeep")

    def revocation_status(self, record_id: int) -> Json:
        return self.get(f"/v1/contributions/{record_id}/revocation-status")

    def my_export(self) -> Json:
        """Everything you contributed, decrypted (download it before revoking)."""
        return self.get("/v1/me/export")

    def set_feedback_budget(self, pool_id: int, per_epoch: int) -> Json:
        body = {"per_epoch": str(per_epoch)}
        return self.request("PUT", f"/v1/pools/{pool_id}/feedback-budget", json_body=body).json()

    def pay_raters(self, pool_id: int) -> Json:
        return self.post(f"/v1/pools/{pool_id}/raters/pay")

    def export(self, pool_id: int, name: str) -> bytes:
        """``training.parquet`` or ``preferences.jsonl`` of the pool, as bytes."""
        return self.request("GET", f"/v1/pools/{pool_id}/exports/{name}").content

    # ------------------------------------------------------- quality review
    def review_queue(self, pool_id: int) -> Json:
        """Quarantined records of the pool (operator)."""
        return self.get(f"/v1/pools/{pool_id}/review")

    def review(self, record_id: int, decision: str, note: str = "") -> Json:
        """``decision``: ``release`` or ``quarantine`` (operator)."""
        return self.post(f"/v1/records/{record_id}/review", {"decision": decision, "note": note})

    def rescore(self, pool_id: int) -> Json:
        return self.post(f"/v1/pools/{pool_id}/rescore")

    def reputation(self, pool_id: int, account: str | None = None) -> Json:
        return self.get(f"/v1/pools/{pool_id}/reputation/{account or self.address}")

    def train(self, pool_id: int, builder: str | None = None) -> Json:
        return self.post(f"/v1/pools/{pool_id}/models", {"builder": builder})

    def create_pool(self, name: str, **fields: Any) -> Json:
        body = {
            "name": name,
            **{k: str(v) if k.endswith("price") else v for k, v in fields.items()},
        }
        return self.post("/v1/pools", body)
