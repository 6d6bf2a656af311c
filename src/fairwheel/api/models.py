"""Pydantic models of the HTTP API: what each route accepts and returns.

Amounts of tokens are decimal strings of base units (they overflow JavaScript numbers and
64-bit integers); addresses are ``0x`` hex; hashes and roots are ``0x`` + 64 hex digits.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

U256 = 2**256 - 1
U64 = 2**64 - 1
MAX_ID = 2**62  # SQLite integers and path ids stay well inside 64 bits


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _uint256(value: str) -> str:
    if int(value) > U256:
        raise ValueError("must fit in a uint256")
    return value


Amount = Annotated[
    str,
    BeforeValidator(_int_to_str),
    AfterValidator(_uint256),
    Field(pattern=r"^[0-9]{1,78}$", description="Token base units as a decimal string."),
]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "ab" * 20])]
Hash32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature = Annotated[
    str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65 bytes r‖s‖v, 0x hex.")
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _only_digits(value: object) -> object:
    """Path ids are written in ASCII digits only: ``1.0``, ``+1``, ``1e0`` or ``１`` are not 1."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits (0-9)")
    return value


# An integer in a URL path: digits only, nothing pydantic would coerce.
PathInt = Annotated[int, BeforeValidator(_only_digits)]


class Model(BaseModel):
    """Base: unknown fields are refused, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Model):
    """Every error: a stable machine-readable code, a human message and details."""

    code: str = Field(examples=["replay"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


# ------------------------------------------------------------------ node, chain


class ComponentCheck(Model):
    ok: bool
    detail: str = Field(description="What the check saw, or why it failed.")


class Health(Model):
    status: Literal["ok", "unavailable"] = Field(
        description="ok, or unavailable (HTTP 503) when the chain, database or index fails."
    )
    version: str
    chain_id: int
    block: int | None
    pools: int | None
    embedded_chain: bool
    dev: bool
    checks: dict[str, ComponentCheck] = Field(
        default_factory=dict, description="chain, database and index, each checked by a real call."
    )


class TypedData(Model):
    """An ``eth_signTypedData_v4`` payload: what a wallet signs."""

    types: dict[str, list[dict[str, str]]]
    primaryType: str
    domain: dict[str, Any]
    message: dict[str, Any]


class ChainInfo(Model):
    chain_id: int
    embedded: bool
    now: int = Field(description="Timestamp of the latest block.")
    contracts: dict[str, str]
    consent_domain: dict[str, Any]
    voucher_domain: dict[str, Any]
    operator: str
    activation_delay: int
    thaw_period: int


class AccountView(Model):
    address: str
    nonce: int
    eth_balance: Amount
    token_balance: Amount
    chain_id: int
    max_fee_per_gas: Amount
    max_priority_fee_per_gas: Amount


class RawTransaction(Model):
    raw: str = Field(
        pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=262_144, description="A signed typed tx."
    )


class TxView(Model):
    tx_hash: str
    status: int
    gas_used: int
    block_number: int


# -------------------------------------------------------------------- login


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


# -------------------------------------------------------------------- pools


class PoolCreate(Model):
    name: str = Field(min_length=1, max_length=100)
    search_price: Amount
    predict_price: Amount
    operator_fee_bps: int = Field(ge=0, le=10_000)
    builder_share_bps: int = Field(ge=0, le=10_000)
    labels: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=1000
    )
    licence: str = Field("CC-BY-4.0", min_length=1, max_length=100)


class PoolView(Model):
    id: int
    name: str
    operator: str
    guardian: str
    search_price: Amount
    predict_price: Amount
    operator_fee_bps: int
    builder_share_bps: int
    labels: list[str]
    licence: str
    tx_hash: str
    created_at: float


class PoolStats(Model):
    pool_id: int
    records: dict[str, int]
    rejected_by_reason: dict[str, int]
    index_size: int
    calls: int
    revenue: Amount
    epochs: int
    models: int


# ------------------------------------------------------------ contributions


class ConsentIn(Model):
    """The fields of the EIP-712 ``Consent`` the contributor signed."""

    contributor: Address
    pool_id: Id
    content_hash: Hash32
    licence: str = Field(max_length=200)
    purposes: int = Field(ge=0, le=7)
    expiry: int = Field(ge=0, le=U64)
    nonce: Amount


class SubmissionIn(Model):
    text: str = Field(max_length=65_536)
    label: str | None = Field(None, max_length=200)
    consent: ConsentIn
    signature: Signature


# ContributionBatch (single and batch consents): fairwheel.api.models_contrib.


class SubmitResultView(Model):
    index: int
    record_id: int | None
    status: str
    score: float
    reasons: list[str]
    duplicate_of: int | None = None


class ContributionResult(Model):
    pool_id: int
    counts: dict[str, int]
    results: list[SubmitResultView]


class DraftRecord(Model):
    text: str = Field(max_length=65_536)
    label: str | None = Field(None, max_length=200)


class ConsentRequest(Model):
    records: list[DraftRecord] = Field(min_length=1, max_length=1000)
    licence: str | None = Field(None, min_length=1, max_length=200)
    purposes: int = Field(3, ge=1, le=7)
    lifetime: int = Field(365 * 24 * 3600, ge=60, le=10 * 365 * 24 * 3600)


class ConsentDraft(Model):
    consent: ConsentIn
    typed_data: TypedData


class ConsentDrafts(Model):
    items: list[ConsentDraft]


class RecordView(Model):
    """A record as its contributor sees it (never shown to anyone else)."""

    id: int
    pool_id: int
    record_hash: str
    status: str
    score: float
    reasons: list[str]
    duplicate_of: int | None
    label: str | None
    preview: str
    licence: str
    purposes: int
    expiry: int
    batch_id: int | None
    created_at: float


class ReceiptView(Model):
    record_id: int
    pool_id: int
    batch_id: int
    record_hash: str
    contributor: str
    root: str
    proof: list[str]
    tx_hash: str
    status: str = Field(description="The record's current verdict: accepted or quarantined.")
    score: float = Field(description="Quality score in [0, 1] (0 unless accepted).")
    reasons: list[str] = Field(description="Machine-readable reasons, the deciding one first.")
    verified: bool = Field(description="PoolRegistry.isAnchored answered true just now.")


class ReviewIn(Model):
    decision: Literal["release", "quarantine"] = Field(
        description="release: accepted, indexed and paid from the next call; quarantine: not."
    )
    note: str = Field("", max_length=500, description="Why; stored with the reasons.")


class StatusChangeView(Model):
    record_id: int
    before: str
    after: str
    reasons: list[str]


class EvidenceView(Model):
    record: int | None
    time: int
    status: str
    reason: str


class ReputationView(Model):
    contributor: str
    submissions: int = Field(description="Judged submissions (rate-limit rejections excluded).")
    bad_share: float = Field(description="Share rejected or quarantined.")
    suspect_share: float = Field(description="Share that were strict or loose near copies.")
    flagged: bool = Field(description="Rate-limited and judged without the benefit of doubt.")
    evidence: list[EvidenceView]


class RevocationIn(Model):
    signature: Signature


class RevocationOut(Model):
    record_id: int
    status: str
    tx_hash: str | None = Field(description="None when the record was never anchored.")


class AnchorOut(Model):
    pool_id: int
    anchored: int
    batch_id: int | None
    root: str | None
    tx_hash: str | None


# -------------------------------------------------------------- paid calls


class SearchIn(Model):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(5, ge=1, le=100)


class PredictIn(Model):
    text: str = Field(min_length=1, max_length=8192)
    arena: bool = Field(False, description="Also answer with a second model version, to compare.")


class HitView(Model):
    record_id: int
    score: float
    text: str
    label: str | None
    contributor: str


class Share(Model):
    account: str
    amount: Amount


class PaidCallView(Model):
    seq: int
    kind: str
    pool_id: int
    consumer: str
    price: Amount
    voucher_amount: Amount
    operator_fee: Amount
    builder_amount: Amount
    attribution: list[Share]
    hits: list[HitView] = Field(default_factory=list)
    prediction: str | None = None
    confidence: float | None = None
    model_hash: str | None = None
    model_version: int | None = None
    notice: str | None = Field(None, description="Set while the model used revoked records.")
    arena: list[dict[str, Any]] | None = Field(None, description="Two answers, random order.")


class Quote(Model):
    pool_id: int
    kind: str
    price: Amount
    payer: str
    spent: Amount
    next_cumulative: Amount
    typed_data: TypedData


class CallView(Model):
    """A usage-ledger entry (the same fields as in the published epoch file)."""

    seq: int
    time: int
    pool: int
    consumer: str
    kind: str
    price: Amount
    voucher_amount: Amount
    query_hash: str
    operator_fee: Amount
    builder: str | None
    builder_amount: Amount
    attribution: list[Share]
    dust_in: Amount
    dust_out: Amount
    prev_hash: str
    hash: str


class FeedbackIn(Model):
    kind: Literal["thumbs", "stars", "arena"] = Field(
        "stars", description="thumbs (-1/+1), stars (1–5), or arena (0: first answer, 1: second)."
    )
    value: int | None = Field(None, ge=-1, le=5, description="The rating of that kind.")
    rating: int | None = Field(None, ge=1, le=5, description="Shorthand for kind=stars.")
    receipt: str | None = Field(
        None, max_length=4096, description="The answer's X-Fairwheel-Receipt header, checked."
    )


class FeedbackView(Model):
    seq: int
    rater: str
    kind: str
    value: int
    rating: int = Field(description="The value again (stars: 1–5).")
    new: bool = Field(description="False when this exact rating was already recorded.")
    records_reweighted: int = 0


class EscrowView(Model):
    pool_id: int
    payer: str
    balance: Amount
    redeemed: Amount
    spent: Amount = Field(description="Cumulative amount of the latest accepted voucher.")
    unredeemed: Amount
    available: Amount = Field(description="What further vouchers may still spend.")
    pending_withdrawal: Amount
    withdraw_ready_at: int


# -------------------------------------------------------- epochs and claims


class EpochView(Model):
    pool_id: int
    epoch: int
    root: str
    total: Amount
    dust: Amount
    file_hash: str
    tx_hash: str
    closed_at: float
    active_at: int
    cancelled: bool


class EpochReportView(Model):
    pool_id: int
    epoch: int
    root: str
    total: Amount
    paid: Amount
    fees: Amount
    dust: Amount
    redeemed: Amount
    file_hash: str
    tx_hash: str
    entries: int
    debts: dict[str, Amount] = Field(
        default_factory=dict, description="Payer -> what it still owes after this close."
    )
    withheld: Amount = Field(
        default="0", description="Earnings and fees held back until those debts are collected."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Why unredeemed vouchers are at risk, if they are."
    )
    posted: bool = Field(
        default=True, description="False: nothing was collected to credit, no root was posted."
    )


class VerificationView(Model):
    pool_id: int
    epoch: int
    ok: bool
    recomputed_root: str
    chain_root: str
    file_hash: str
    chain_file_hash: str
    problem: str | None


class ClaimProof(Model):
    pool: int
    epoch: int
    account: str
    cumulative: Amount
    proof: list[str]
    claimed: Amount
    claimable: Amount
    active_at: int


class ClaimOut(Model):
    pool_id: int
    account: str
    epoch: int
    paid: Amount


class EpochEarning(Model):
    epoch: int
    cumulative: Amount


class PoolEarnings(Model):
    pool_id: int
    open: Amount = Field(description="Earned since the last closed epoch.")
    cumulative: Amount = Field(description="In the latest closed epoch's root.")
    claimed: Amount
    epochs: list[EpochEarning]


class Use(Model):
    seq: int
    time: int
    pool: int
    kind: str
    amount: Amount
    records: list[int] = Field(
        default_factory=list,
        description="Your records in that answer (the records a paid search served).",
    )


class EarningsView(Model):
    account: str
    total: Amount
    pools: list[PoolEarnings]
    uses: list[Use]


# ------------------------------------------------------------------- models


class ModelView(Model):
    pool_id: int
    version: int
    model_hash: str
    dataset_root: str
    metrics_hash: str
    registered_at: int
    uri: str
    builder: str | None = None
    metrics: dict[str, Any] | None = None
    tx_hash: str | None = None


class TrainIn(Model):
    builder: Address | None = Field(None, description="Default: the operator.")


# -------------------------------------------------------------- the loop


class VersionView(Model):
    id: int
    version: int
    trigger: str = Field(description="manual | new_data | feedback | revocation")
    serving: bool
    promoted_before: bool
    accuracy: float | None = Field(description="Held-out accuracy (the pool's fixed split).")
    dataset_root: str
    model_hash: str
    tx_hash: str
    report: dict[str, Any] = Field(description="Promotion report: decision, reason, accuracies.")
    arena_wins: int = Field(description="Arena wins against the serving version.")
    arena_games: int
    revoked_records: list[int] = Field(description="Records revoked since it was trained.")
    created_at: float


class UpkeepView(Model):
    trigger: str | None
    model_id: int | None
    promoted: bool | None


class RevocationStep(Model):
    step: str
    time: float
    detail: str


class RevocationStatus(Model):
    record_id: int
    tx_hash: str
    steps: list[RevocationStep]


class GoldIn(Model):
    good: bool = Field(description="Arena: true means the second answer is the better one.")


class BudgetIn(Model):
    per_epoch: Amount


class BudgetView(Model):
    pool_id: int
    per_epoch: Amount
    dust: Amount


class RaterPayView(Model):
    paid: list[Share]
    dust: Amount
    spammy: list[str]
    ratings: int
