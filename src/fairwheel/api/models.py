"""Pydantic models of the HTTP API: what each route accepts and returns.

Amounts of tokens are decimal strings of base units (they overflow JavaScript numbers and
64-bit integers); addresses are ``0x`` hex; hashes and roots are ``0x`` + 64 hex digits.

The models live in one module per resource, and every name is importable from here
(``from fairwheel.api import models as m``):

* :mod:`~fairwheel.api.models_base`: amounts, addresses, hashes, ids, ``Model``, ``ErrorBody``,
  ``TypedData``;
* :mod:`~fairwheel.api.models_chain`: the node's health, the chain, accounts, transactions;
* :mod:`~fairwheel.api.models_auth`: sign-in nonces, logins, sessions;
* :mod:`~fairwheel.api.models_pools`: pools and their statistics;
* :mod:`~fairwheel.api.models_records`: contributions, records, receipts, review, revocation;
* :mod:`~fairwheel.api.models_contrib`: contribution uploads with batch consents (not
  re-exported here: ``from fairwheel.api import models_contrib``);
* :mod:`~fairwheel.api.models_paid`: paid calls, quotes, the usage ledger, feedback, escrow;
* :mod:`~fairwheel.api.models_epochs`: epochs, verification, claims, earnings;
* :mod:`~fairwheel.api.models_loop`: model versions, upkeep, rater pay.
"""

from __future__ import annotations

from fairwheel.api.models_auth import (
    LoginRequest,
    LoginResponse,
    NonceRequest,
    NonceResponse,
    SessionView,
)
from fairwheel.api.models_base import (
    MAX_ID,
    U64,
    U256,
    Address,
    Amount,
    ErrorBody,
    Hash32,
    Id,
    Model,
    PathInt,
    Signature,
    TypedData,
)
from fairwheel.api.models_chain import (
    AccountView,
    ChainInfo,
    ComponentCheck,
    Health,
    RawTransaction,
    TxView,
)
from fairwheel.api.models_epochs import (
    ClaimOut,
    ClaimProof,
    EarningsView,
    EpochEarning,
    EpochReportView,
    EpochView,
    PoolEarnings,
    Use,
    VerificationView,
)
from fairwheel.api.models_loop import (
    BudgetIn,
    BudgetView,
    GoldIn,
    ModelView,
    RaterPayView,
    RevocationStatus,
    RevocationStep,
    TrainIn,
    UpkeepView,
    VersionView,
)
from fairwheel.api.models_paid import (
    CallView,
    EscrowView,
    FeedbackIn,
    FeedbackView,
    HitView,
    PaidCallView,
    PredictIn,
    Quote,
    SearchIn,
    Share,
)
from fairwheel.api.models_pools import PoolCreate, PoolStats, PoolView
from fairwheel.api.models_records import (
    AnchorOut,
    ConsentDraft,
    ConsentDrafts,
    ConsentIn,
    ConsentRequest,
    ContributionResult,
    DraftRecord,
    EvidenceView,
    ReceiptView,
    RecordView,
    ReputationView,
    ReviewIn,
    RevocationIn,
    RevocationOut,
    StatusChangeView,
    SubmissionIn,
    SubmitResultView,
)

__all__ = [
    "MAX_ID",
    "U64",
    "U256",
    "AccountView",
    "Address",
    "Amount",
    "AnchorOut",
    "BudgetIn",
    "BudgetView",
    "CallView",
    "ChainInfo",
    "ClaimOut",
    "ClaimProof",
    "ComponentCheck",
    "ConsentDraft",
    "ConsentDrafts",
    "ConsentIn",
    "ConsentRequest",
    "ContributionResult",
    "DraftRecord",
    "EarningsView",
    "EpochEarning",
    "EpochReportView",
    "EpochView",
    "ErrorBody",
    "EscrowView",
    "EvidenceView",
    "FeedbackIn",
    "FeedbackView",
    "GoldIn",
    "Hash32",
    "Health",
    "HitView",
    "Id",
    "LoginRequest",
    "LoginResponse",
    "Model",
    "ModelView",
    "NonceRequest",
    "NonceResponse",
    "PaidCallView",
    "PathInt",
    "PoolCreate",
    "PoolEarnings",
    "PoolStats",
    "PoolView",
    "PredictIn",
    "Quote",
    "RaterPayView",
    "RawTransaction",
    "ReceiptView",
    "RecordView",
    "ReputationView",
    "ReviewIn",
    "RevocationIn",
    "RevocationOut",
    "RevocationStatus",
    "RevocationStep",
    "SearchIn",
    "SessionView",
    "Share",
    "Signature",
    "StatusChangeView",
    "SubmissionIn",
    "SubmitResultView",
    "TrainIn",
    "TxView",
    "TypedData",
    "UpkeepView",
    "Use",
    "VerificationView",
    "VersionView",
]
