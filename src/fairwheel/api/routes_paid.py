"""Paid search and prediction (voucher headers or x402), feedback, escrow, the chain, health."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api import x402
from fairwheel.api.context import ApiContext, RequiredSession, get_ctx
from fairwheel.api.jsonlimits import loads_bounded
from fairwheel.errors import InsufficientFunds, InvalidInput, NotFound, SchemaError

router = APIRouter(prefix="/v1", tags=["paid calls"])
meta_router = APIRouter(tags=["node"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Pool id.")]
AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]
VoucherHeader = Annotated[
    str | None,
    Header(
        alias="X-Fairwheel-Voucher",
        max_length=1024,
        description='JSON {"payer", "pool_id", "cumulative_amount"}: the EIP-712 Voucher signed '
        "(with X-Fairwheel-Signature; or pay with x402's PAYMENT-SIGNATURE instead).",
    ),
]
SignatureHeader = Annotated[
    str | None,
    Header(
        alias="X-Fairwheel-Signature",
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="The payer's 65-byte EIP-712 signature of the voucher, 0x hex.",
    ),
]
PaymentSignatureHeader = Annotated[
    str | None,
    Header(
        alias=x402.PAYMENT_SIGNATURE,
        max_length=x402.MAX_HEADER_CHARS,
        description="x402 v2: base64 of the JSON PaymentPayload, scheme `fairwheel-voucher`, "
        "whose payload is {voucher: {payer, poolId, cumulativeAmount}, signature} "
        "(docs/payments.md). Used when the X-Fairwheel-Voucher headers are absent.",
    ),
]
PayerHeader = Annotated[
    str | None,
    Header(
        alias=x402.PAYER_HEADER,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="Optional: the payer, so that an unpaid call's 402 says the cumulative "
        "amount their next voucher must carry (PAYMENT-REQUIRED accepts[0].extra).",
    ),
]


def parse_voucher(raw: str) -> Any:
    """The voucher from its header (``cumulative_amount`` may be a number or a decimal string).

    Raises:
        SchemaError: If the header is not such a JSON object.
    """
    from fairwheel.domain.typed_data import Voucher

    try:
        data = loads_bounded(raw, "X-Fairwheel-Voucher")
    except ValueError:
        raise SchemaError("X-Fairwheel-Voucher is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"payer", "pool_id", "cumulative_amount"}:
        raise SchemaError("X-Fairwheel-Voucher needs exactly payer, pool_id, cumulative_amount")
    amount, pool = data["cumulative_amount"], data["pool_id"]
    if isinstance(amount, str) and amount.isdigit() and len(amount) <= 78:
        amount = int(amount)
    if isinstance(pool, str) and pool.isdigit() and len(pool) <= 20:
        pool = int(pool)
    return Voucher(data["payer"], pool, amount)


@dataclass(frozen=True)
class Payment:
    """What a paid call's request carried: the voucher headers, x402's, the payer's name."""

    voucher: str | None
    signature: str | None
    x402: str | None
    payer: str | None


def _paid(
    ctx: ApiContext,
    request: Request,
    response: Response,
    kind: str,
    pool_id: int,
    payment: Payment,
    call: Any,
) -> Any:
    """Serve a paid call paid by the voucher headers, else by x402; unpaid, a 402 that says how."""
    url = str(request.url)
    legacy = payment.voucher is not None or payment.signature is not None
    if legacy and (payment.voucher is None or payment.signature is None):
        raise SchemaError("send both X-Fairwheel-Voucher and X-Fairwheel-Signature")
    with ctx.use() as node:
        if legacy:
            assert payment.voucher is not None and payment.signature is not None
            voucher = parse_voucher(payment.voucher)
            result = call(node, voucher, bytes.fromhex(payment.signature[2:]))
        elif payment.x402 is not None:
            try:
                voucher, signature = x402.to_voucher(
                    node, pool_id, kind, x402.decode_header(payment.x402)
                )
                result = call(node, voucher, signature)
            except (InsufficientFunds, InvalidInput) as exc:
                payer = x402.payer_of(payment.x402) or payment.payer
                return x402.refusal_response(node, pool_id, kind, url, exc, payer)
        else:
            return x402.unpaid_response(node, pool_id, kind, url, payment.payer)
        view = uc.paid_view(node, pool_id, result, voucher)
        paid = x402.settlement(node, pool_id, voucher, charged=result.price, seq=result.seq)
        # The node's signature over (seq, request hash, hash of this very body).
        receipt = node.serving.receipt(result.seq, view.model_dump(mode="json", by_alias=True))
    response.headers[x402.PAYMENT_RESPONSE] = x402.encode_header(paid)
    response.headers[RECEIPT_HEADER] = x402.encode_header(receipt)
    if ctx.metrics is not None:
        ctx.metrics.paid_calls.labels(str(pool_id), kind).inc()
        ctx.metrics.revenue.labels(str(pool_id)).inc(float(result.price))
    return view


RECEIPT_HEADER = "X-Fairwheel-Receipt"

_PAID_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            RECEIPT_HEADER: {
                "description": "base64 of the JSON call receipt `{seq, requestHash, "
                "responseHash, signer, signature}`: the node's EIP-712 `CallReceipt` signature "
                "over the ledger entry, its query hash and keccak-256 of this body's canonical "
                "JSON (docs/payments.md). Send it with a rating to prove the answer.",
                "schema": {"type": "string"},
            },
            x402.PAYMENT_RESPONSE: {
                "description": "x402 v2: base64 of the JSON SettlementResponse. `transaction` "
                "is empty (the voucher is redeemed at the next epoch close); `extra` has "
                "`chargedAmount`, `cumulativeAmount` and `seq` (the ledger entry).",
                "schema": {"type": "string"},
            }
        }
    },
    402: {
        "model": m.ErrorBody,
        "description": "No payment (`payment_required`), or the voucher or the escrow does not "
        "cover the price (`insufficient_funds`).",
        "headers": {
            x402.PAYMENT_REQUIRED: {
                "description": "x402 v2: base64 of the JSON PaymentRequired object: the price, "
                "the asset, the escrow (`payTo`), the network `eip155:<chain id>` and, when the "
                "payer is known, `accepts[0].extra.cumulativeAmount`.",
                "schema": {"type": "string"},
            },
            x402.PAYMENT_RESPONSE: {
                "description": "x402 v2, after a refused PAYMENT-SIGNATURE: base64 of the JSON "
                "SettlementResponse with `success` false and the `errorReason` code.",
                "schema": {"type": "string"},
            },
        },
    },
}


@router.get("/pools/{pool_id}/quote", response_model=m.Quote)
def get_quote(
    ctx: Ctx,
    pool_id: PoolId,
    payer: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
    kind: Annotated[Literal["search", "predict"], Query()] = "search",
) -> m.Quote:
    """The price of a call and the voucher (typed data) the payer signs for it.

    Wallets should check ``next_cumulative`` against their own running total: never sign
    more than you have spent plus this call's price.
    """
    with ctx.use() as node:
        return uc.quote(node, pool_id, kind, payer)


@router.post("/pools/{pool_id}/search", response_model=m.PaidCallView, responses=_PAID_ERRORS)
def search(
    ctx: Ctx,
    request: Request,
    response: Response,
    pool_id: PoolId,
    body: m.SearchIn,
    voucher: VoucherHeader = None,
    signature: SignatureHeader = None,
    payment: PaymentSignatureHeader = None,
    payer: PayerHeader = None,
) -> Any:
    """A paid top-k search: the hits with their provenance, the price and the split.

    Pay with the voucher headers or with x402 (``PAYMENT-SIGNATURE``, docs/payments.md);
    without either the answer is 402 ``payment_required`` with a ``PAYMENT-REQUIRED`` header.
    The voucher must raise the payer's cumulative amount by exactly the search price; a
    replayed voucher is refused (400 ``replay``).
    """
    return _paid(
        ctx,
        request,
        response,
        "search",
        pool_id,
        Payment(voucher, signature, payment, payer),
        lambda node, v, s: node.search(pool_id, body.query, body.k, v, s),
    )


@router.post("/pools/{pool_id}/predict", response_model=m.PaidCallView, responses=_PAID_ERRORS)
def predict(
    ctx: Ctx,
    request: Request,
    response: Response,
    pool_id: PoolId,
    body: m.PredictIn,
    voucher: VoucherHeader = None,
    signature: SignatureHeader = None,
    payment: PaymentSignatureHeader = None,
    payer: PayerHeader = None,
) -> Any:
    """A paid prediction by the pool's latest model, with the model hash and the split.

    Paid like a search (the voucher headers or x402's ``PAYMENT-SIGNATURE``).
    """
    return _paid(
        ctx,
        request,
        response,
        "predict",
        pool_id,
        Payment(voucher, signature, payment, payer),
        lambda node, v, s: node.predict(pool_id, body.text, v, s, arena=body.arena),
    )


@router.post("/calls/{seq}/feedback", response_model=m.FeedbackView, tags=["feedback"])
def give_feedback(
    ctx: Ctx,
    seq: Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID)],
    body: m.FeedbackIn,
    session: RequiredSession,
) -> m.FeedbackView:
    """Rate a paid answer: the consumer who paid for it, or a staked rater. Ratings re-weight
    the records behind the answer and are paid from the pool's feedback budget; retrying the
    same rating is harmless, a different one is refused (409). With ``receipt`` (the answer's
    ``X-Fairwheel-Receipt``) the rating is checked to refer to an answer this node signed."""
    kind, value = (body.kind, body.value) if body.rating is None else ("stars", body.rating)
    if value is None:
        raise SchemaError("give value (or rating for stars)")
    with ctx.use() as node:
        if body.receipt is not None:  # the answer's X-Fairwheel-Receipt: proof of the answer
            node.serving.check_receipt(seq, x402.decode_header(body.receipt, RECEIPT_HEADER))
        out = node.rate(seq, session.address, kind, value)
    return m.FeedbackView(
        seq=seq, rater=out["rater"], kind=kind, value=value, rating=value, new=out["new"],
        records_reweighted=out.get("records_reweighted", 0),
    )  # fmt: skip


@router.get("/pools/{pool_id}/escrow/{payer}", response_model=m.EscrowView, tags=["escrow"])
def get_escrow(ctx: Ctx, pool_id: PoolId, payer: AddressPath) -> m.EscrowView:
    """A payer's escrow in the pool: balance, redeemed, spent, what vouchers may still spend."""
    with ctx.use() as node:
        return uc.escrow_view(node, pool_id, payer)


# ----------------------------------------------------------------------- chain


@router.get("/chain", response_model=m.ChainInfo, tags=["chain"])
def chain_info(ctx: Ctx) -> m.ChainInfo:
    """Chain id, contract addresses and the EIP-712 domains that clients sign against."""
    with ctx.use() as node:
        return st.chain_info(node)


@router.get("/chain/accounts/{address}", response_model=m.AccountView, tags=["chain"])
def chain_account(ctx: Ctx, address: AddressPath) -> m.AccountView:
    """What a wallet needs to sign a transaction locally: nonce, balances and fees."""
    with ctx.use() as node:
        return st.account_view(node, address)


@router.post("/chain/transactions", response_model=m.TxView, tags=["chain"])
def relay_transaction(ctx: Ctx, body: m.RawTransaction) -> m.TxView:
    """Relay a transaction you signed (approve, deposit, withdraw, claim…) to the node's chain.

    Only typed transactions to this deployment's contracts are accepted. On the embedded
    chain, which lives inside the server, this is how wallets reach it. A transaction that
    reverts is a 409 ``chain_error`` whose ``details.reason`` names the contract's error
    (``WithdrawalNotReady``, ``InsufficientEscrow``…) and ``details.tx_hash`` the mined
    transaction; a 200 always means ``status`` 1.
    """
    with ctx.use() as node:
        return st.relay(node, body.raw)


# ------------------------------------------------------------------ node meta


def _version() -> str:
    try:
        return version("fairwheel")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


@meta_router.get(
    "/v1/health",
    response_model=m.Health,
    responses={503: {"model": m.Health, "description": "A part of the node fails (see checks)."}},
)
def health(ctx: Ctx) -> Any:
    """The node's parts, each checked by a real call: the chain (latest block), the database
    and the indexes; 503 with the failing part's reason when one fails (never a 500)."""
    with ctx.use() as node:
        report = node.health()
    body = m.Health(
        status="ok" if report.ok else "unavailable",
        version=_version(),
        chain_id=report.chain_id,
        block=report.block,
        pools=report.pools,
        embedded_chain=report.embedded_chain,
        dev=ctx.config.dev,
        checks={k: m.ComponentCheck(ok=c.ok, detail=c.detail) for k, c in report.checks.items()},
    )
    if report.ok:
        return body
    return JSONResponse(body.model_dump(mode="json"), status_code=503)


@meta_router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics(ctx: Ctx) -> Response:
    """Prometheus metrics: requests, latency, paid calls, revenue, records by status."""
    if ctx.metrics is None:
        raise NotFound("metrics are off")
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)
