"""Development mode (``fairwheel serve --dev``): test wallets, a seeded demo pool, dev routes.

THE KEYS HERE ARE TEST KEYS. They are derived from public strings, printed on the dashboard
and served by ``GET /v1/dev/wallets``: anyone can spend what they hold. They exist so that the
dashboard works at once on the embedded chain (which no outside wallet can reach) and in
tests. The dev routes are mounted only with ``--dev``; signing on the server happens only for
these keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from fairwheel.api import models as m
from fairwheel.api.context import ApiContext, get_ctx
from fairwheel.api.models import Address, Amount, Id, Model
from fairwheel.errors import NotFound, SchemaError

if TYPE_CHECKING:
    from fairwheel.node import Node

TOKEN = 10**18
DEV_NAMES = (
    ("alice", "contributor"),
    ("bob", "contributor"),
    ("carol", "consumer"),
    ("dave", "consumer"),
    ("erin", "builder"),
)


@dataclass(frozen=True)
class DevKey:
    """A named test key (``account`` is an eth_account ``LocalAccount``)."""

    name: str
    role: str
    account: Any

    @property
    def address(self) -> str:
        return str(self.account.address)


def dev_keys(node: Node) -> dict[str, DevKey]:
    """The test keys by lower-case address: five named wallets, and on the embedded chain
    (which lives and dies with this process) the node's operator key too."""
    from eth_account import Account
    from eth_utils import keccak

    keys = [
        DevKey(name, role, Account.from_key(keccak(f"fairwheel dev wallet {name}".encode())))
        for name, role in DEV_NAMES
    ]
    if node.onchain.is_embedded:
        keys.append(DevKey("operator", "operator", node.operator))
    return {k.address.lower(): k for k in keys}


def fund(node: Node, address: str, tokens: int, eth: int) -> None:
    """Give an address test ETH (for gas) and test tokens (the operator mints them)."""
    node.testchain.faucet(address, tokens, eth)


def seed(node: Node, keys: dict[str, DevKey], *, records: int = 60, seed_value: int = 7) -> int:
    """Fund the test wallets and build a demo pool; returns its id.

    Alice and Bob contribute (a few of Bob's records are copies or junk, so the rejection
    reasons have something to show), Erin builds two model versions, Carol and Dave pay for
    searches and predictions over two settled epochs, and the chain's clock is moved past the
    activation delay so that the earnings are claimable at once.
    """
    from fairwheel.sim.data import synthetic_support_queries
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    named = {k.name: k for k in keys.values()}
    for key in named.values():
        if key.role != "operator":
            fund(node, key.address, 1000 * TOKEN, 10**19)
    examples = synthetic_support_queries(records, seed=seed_value)
    pool = node.create_pool(
        "support-demo",
        search_price=TOKEN // 100,
        predict_price=TOKEN // 50,
        operator_fee_bps=1000,
        builder_share_bps=2000,
        labels=sorted({e.label for e in examples}),
    )
    pid = int(pool["id"])
    now = node.onchain.now()
    writers = [ContributorWallet(named[n].account, node.consent_domain()) for n in ("alice", "bob")]
    first = examples[: records * 2 // 3]
    subs = [writers[i % 2].submission(pid, e.text, e.label, now=now) for i, e in enumerate(first)]
    junk = [
        (first[0].text.upper(), first[0].label),
        (first[2].text, first[2].label),
        ("ok", None),
        ("??", None),
        (first[5].text + " ", "no_such_label"),
    ]
    subs += [writers[1].submission(pid, text, label, now=now) for text, label in junk]
    node.submit(pid, subs)
    node.anchor(pid)
    node.train(pid, named["erin"].address)
    for epoch in range(2):
        if epoch == 1:  # more data, then a second model version
            rest = examples[len(first) :]
            node.submit(
                pid,
                [
                    writers[i % 2].submission(pid, e.text, e.label, now=now)
                    for i, e in enumerate(rest)
                ],
            )
            node.anchor(pid)
            node.train(pid, named["erin"].address)
        for i, name in enumerate(("carol", "dave")):
            wallet = ConsumerWallet(named[name].account, node.voucher_domain())
            wallet.spent[pid] = node.spent(pid, wallet.address)
            if epoch == 0:
                node.testchain.deposit(pid, 100 * TOKEN, wallet.account)
            for j in range(3 + epoch * 2):
                text = examples[(i * 7 + j * 3 + epoch) % len(examples)].text
                kind = "predict" if j % 2 else "search"
                voucher, sig = wallet.pay(pid, node.price_of(pid, kind))
                if kind == "search":
                    node.search(pid, text, 3, voucher, sig)
                else:
                    node.predict(pid, text, voucher, sig)
                wallet.confirm(voucher)
        node.close_epoch(pid)
    node.testchain.activate_epochs()
    return pid


# ------------------------------------------------------------------ dev models


class DevWallet(Model):
    name: str
    role: str
    address: str
    private_key: str = Field(description="A TEST KEY, public by design: never send real funds.")


class DevSignIn(Model):
    kind: Literal["personal", "typed_data"]
    message: str | None = Field(None, max_length=65_536)
    typed_data: dict[str, Any] | None = None


class DevSignOut(Model):
    signature: str


class DevDepositIn(Model):
    pool_id: Id
    amount: Amount


class FaucetIn(Model):
    address: Address
    tokens: Amount = "1000000000000000000000"
    eth: Amount = "1000000000000000000"


router = APIRouter(prefix="/v1/dev", tags=["dev (test keys only)"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]


def _key(ctx: ApiContext, address: str) -> DevKey:
    key: DevKey | None = ctx.dev_wallets.get(address.lower())
    if key is None:
        raise NotFound("not a built-in test wallet: the server signs only for its test keys")
    return key


@router.get("/wallets", response_model=list[DevWallet])
def wallets(ctx: Ctx) -> list[DevWallet]:
    """The built-in TEST wallets with their (public, worthless) private keys."""
    return [
        DevWallet(
            name=k.name,
            role=k.role,
            address=k.address,
            private_key="0x" + bytes(k.account.key).hex(),
        )
        for k in ctx.dev_wallets.values()
    ]


@router.post("/wallets/{address}/signature", response_model=DevSignOut)
def sign(ctx: Ctx, address: AddressPath, body: DevSignIn) -> DevSignOut:
    """Sign with a TEST key: ``personal`` (EIP-191, for login) or ``typed_data`` (EIP-712)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct, encode_typed_data

    key = _key(ctx, address)
    try:
        if body.kind == "personal":
            if body.message is None:
                raise SchemaError("personal signing needs a message")
            signable = encode_defunct(text=body.message)
        else:
            if body.typed_data is None:
                raise SchemaError("typed_data signing needs typed_data")
            signable = encode_typed_data(full_message=body.typed_data)
    except SchemaError:
        raise
    except Exception as exc:  # eth_account raises many kinds for bad typed data
        raise SchemaError(f"cannot encode the message: {exc}") from None
    signed = Account.sign_message(signable, key.account.key)
    return DevSignOut(signature="0x" + bytes(signed.signature).hex())


@router.post("/wallets/{address}/deposit", response_model=m.TxView)
def deposit(ctx: Ctx, address: AddressPath, body: DevDepositIn) -> m.TxView:
    """Approve and deposit into the pool's escrow from a TEST wallet."""
    key = _key(ctx, address)
    amount = int(body.amount)
    if amount <= 0:
        raise SchemaError("amount must be positive")
    with ctx.use() as node:
        tx = node.testchain.deposit(body.pool_id, amount, key.account)
    return m.TxView(
        tx_hash=tx.tx_hash, status=1, gas_used=tx.gas_used, block_number=tx.block_number
    )


@router.post("/faucet", status_code=204)
def faucet(ctx: Ctx, body: FaucetIn) -> None:
    """Send test ETH and test tokens to any address (embedded or local test chains only)."""
    tokens, eth = int(body.tokens), int(body.eth)
    if tokens > 10**30 or eth > 10**24:
        raise SchemaError("the faucet gives at most 10**30 token units and 10**24 wei")
    with ctx.use() as node:
        fund(node, body.address, tokens, eth)


@router.post("/advance-time", response_model=m.ChainInfo)
def advance_time(ctx: Ctx, seconds: int = 3601) -> m.ChainInfo:
    """Move the test chain's clock forward (for example past an epoch's activation delay)."""
    from fairwheel.api import settled as st

    if not 0 <= seconds <= 10**8:
        raise SchemaError("seconds must be between 0 and 10**8")
    with ctx.use() as node:
        node.testchain.advance_time(seconds)
        return st.chain_info(node)
