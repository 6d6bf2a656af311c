"""The node: a thin facade over one service per use case, sharing typed ports.

``Node.open(settings)`` connects the chain, store, index, blobs and embedder chosen by the
settings' URLs into one :class:`~fairwheel.node.ports.NodePorts` and builds the services on it,
each given explicitly the services it calls (the graph has no cycle)::

    contributions -> feedback -> ledger
    versions      -> feedback
    revocation    -> pools, contributions, versions, serving
    serving       -> ledger, feedback, versions
    labeling      -> ledger, contributions
    previews      -> contributions
    onchain       -> ledger
    pools, settlement, queries, testchain: ports only

Every public method of a use case is also a method of ``Node`` (``node.search`` is
``node.serving.search``), so scripts call one object. The read models are reached by their
attribute: ``node.queries`` (the store's facts) and ``node.onchain`` (the chain's), and
``node.testchain`` holds the tools that play other parties on a test chain. The edges use only
these, never a port (``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from fairwheel.chain.escrow_cache import EscrowCache
from fairwheel.config import Settings, load_settings, redact_url
from fairwheel.errors import ConfigError
from fairwheel.node._forward import forward
from fairwheel.node.access import AccessService
from fairwheel.node.contributions import ContributionService
from fairwheel.node.feedback import FeedbackService
from fairwheel.node.jobs import JobService
from fairwheel.node.labeling import LabelingService
from fairwheel.node.ledger import LedgerService
from fairwheel.node.onchain import OnchainService
from fairwheel.node.pools import PoolService
from fairwheel.node.ports import NodePorts
from fairwheel.node.preview import PreviewService
from fairwheel.node.queries import QueryService
from fairwheel.node.revocation import RevocationService
from fairwheel.node.service import Service
from fairwheel.node.serving import ServingService
from fairwheel.node.settlement import SettlementService
from fairwheel.node.testchain import TestChainService
from fairwheel.node.versions import VersionService
from fairwheel.store import open_store

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.chain import Chain, Protocol
    from fairwheel.store import Store


__all__ = ["Node"]


class Node(Service):
    """One Fairwheel node: its ports (the views every service has) and one service per use case."""

    def __init__(self, ports: NodePorts) -> None:
        super().__init__(ports)
        self.pools = PoolService(ports)
        self.ledger = LedgerService(ports)
        self.feedback = FeedbackService(ports, self.ledger)
        self.contributions = ContributionService(ports, self.feedback)
        self.previews = PreviewService(ports, self.contributions)
        self.versions = VersionService(ports, self.feedback)
        self.serving = ServingService(ports, self.ledger, self.feedback, self.versions)
        self.settlement = SettlementService(ports)
        self.labeling = LabelingService(ports, self.ledger, self.contributions)
        self.revocation = RevocationService(
            ports, self.pools, self.contributions, self.versions, self.serving
        )
        self.queries = QueryService(ports)
        self.onchain = OnchainService(ports, self.ledger)
        self.testchain = TestChainService(ports)
        self.access = AccessService(ports)
        self.jobs = JobService(
            ports, self.pools, self.contributions, self.versions, self.settlement
        )

    # -- opening ------------------------------------------------------------
    @classmethod
    def open(
        cls, settings: Settings | None = None, *, operator: LocalAccount | None = None
    ) -> Node:
        """Open (or create) a node at ``settings.home`` and connect its ports.

        On a fresh database the contracts are deployed; afterwards the node attaches to the
        recorded deployment. The default chain (``anvil://``) is a local EVM the node runs
        itself with its state in the home, so it reopens across restarts; a fresh local chain
        funds the operator from its dev account. The embedded chain lives only in this
        process, so an embedded node cannot be reopened on an existing database.

        Raises:
            ConfigError: an embedded chain with a database from an earlier process; a chain
                that lost the recorded deployment or has another chain id; an operator with
                no gas on a real chain (the message says what to fund).
        """
        from eth_account import Account

        from fairwheel.chain import connect_chain

        settings = (settings or load_settings()).resolved()
        settings.home.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.database_url)
        try:
            chain = connect_chain(
                settings.chain_url,
                activation_delay=settings.activation_delay,
                thaw_period=settings.thaw_period,
                redemption_window=settings.voucher_window,
            )
        except BaseException:
            store.close()
            raise
        try:
            if operator is None:
                operator = Account.from_key(_operator_key(settings))
            protocol = _deployment(settings, store, chain, operator)
        except BaseException:
            chain.close()
            store.close()
            raise
        return cls(NodePorts(settings, store, chain, protocol, operator, EscrowCache(protocol)))

    def close(self) -> None:
        """Save the open indexes, close the store and stop a local chain (it saves its state)."""
        try:
            self.ports.save_indexes()
            self.store.close()
        finally:
            self.chain.close()

    # -- the ports: read-only views inherited from Service, for edges, scripts and tests ---
    @property
    def gas(self) -> dict[str, list[int]]:
        return self.ports.gas

    record_preview = forward("ports", NodePorts.record_preview)
    record_gas = forward("ports", NodePorts.record_gas)

    # -- the use cases, one line each: ``node.x`` is ``node.<service>.x`` -----------------
    # pools
    create_pool = forward("pools", PoolService.create_pool)
    anchor = forward("pools", PoolService.anchor)
    receipt = forward("pools", PoolService.receipt)
    verify_receipt = forward("pools", PoolService.verify_receipt)
    pool_stats = forward("pools", PoolService.pool_stats)
    # queries
    health = forward("queries", QueryService.health)
    # ledger
    price_of = forward("ledger", LedgerService.price_of)
    spent = forward("ledger", LedgerService.spent)
    # contributions
    gate_policy = forward("contributions", ContributionService.gate_policy)
    pool_gate = forward("contributions", ContributionService.pool_gate)
    submit = forward("contributions", ContributionService.submit)
    rescore = forward("contributions", ContributionService.rescore)
    review_queue = forward("contributions", ContributionService.review_queue)
    review = forward("contributions", ContributionService.review)
    reputation = forward("contributions", ContributionService.reputation)
    slash_report = forward("contributions", ContributionService.slash_report)
    preview = forward("previews", PreviewService.preview)
    # serving
    search = forward("serving", ServingService.search)
    predict = forward("serving", ServingService.predict)
    # settlement
    close_epoch = forward("settlement", SettlementService.close_epoch)
    settlement_warnings = forward("settlement", SettlementService.settlement_warnings)
    claim_proof = forward("settlement", SettlementService.claim_proof)
    claim = forward("settlement", SettlementService.claim)
    verify_epoch = forward("settlement", SettlementService.verify_epoch)
    earnings_of = forward("settlement", SettlementService.earnings_of)
    # labeling
    open_labeling_job = forward("labeling", LabelingService.open_labeling_job)
    take_labeling_tasks = forward("labeling", LabelingService.take_labeling_tasks)
    submit_labels = forward("labeling", LabelingService.submit_labels)
    close_labeling_job = forward("labeling", LabelingService.close_labeling_job)
    # versions
    train = forward("versions", VersionService.train)
    promote = forward("versions", VersionService.promote)
    rollback = forward("versions", VersionService.rollback)
    model_versions = forward("versions", VersionService.model_versions)
    serving_notice = forward("versions", VersionService.serving_notice)
    retrain_trigger = forward("versions", VersionService.retrain_trigger)
    reconsider = forward("versions", VersionService.reconsider)
    upkeep = forward("versions", VersionService.upkeep)
    revoke = forward("revocation", RevocationService.revoke)
    revoke_signed = forward("revocation", RevocationService.revoke_signed)
    propagate_revocation = forward("revocation", RevocationService.propagate_revocation)
    revocation_status = forward("revocation", RevocationService.revocation_status)
    export_contributions = forward("versions", VersionService.export_contributions)
    # feedback
    rate = forward("feedback", FeedbackService.rate)
    feedback_suspects = forward("feedback", FeedbackService.feedback_suspects)
    set_gold = forward("feedback", FeedbackService.set_gold)
    challenger = forward("feedback", FeedbackService.challenger)
    arena_record = forward("feedback", FeedbackService.arena_record)
    arena_wins = forward("feedback", FeedbackService.arena_wins)
    prediction_goodness = forward("feedback", FeedbackService.prediction_goodness)
    set_feedback_budget = forward("feedback", FeedbackService.set_feedback_budget)
    pay_raters = forward("feedback", FeedbackService.pay_raters)
    export_preferences = forward("feedback", FeedbackService.export_preferences)
    export_training = forward("feedback", FeedbackService.export_training)


def _deployment(settings: Settings, store: Store, chain: Chain, operator: LocalAccount) -> Protocol:
    """Deploy the contracts on a fresh database, else attach to the recorded deployment."""
    recorded = store.get_meta("deployment")
    if recorded is None:
        if chain.is_local_dev:
            chain.fund(operator.address, 10**21)
        elif int(chain.w3.eth.get_balance(operator.address)) == 0:
            raise ConfigError(
                f"the operator {operator.address} has no ETH on chain {chain.chain_id} "
                f"({settings.chain_url}) to deploy the contracts with: send it enough for five "
                "contract deployments (gas figures in docs/protocol.md), then run this again; "
                f"its key is {settings.home / 'operator.key'} (or $FAIRWHEEL_OPERATOR_KEY)",
                operator=operator.address, chain_id=chain.chain_id,
            )  # fmt: skip
        protocol = chain.deploy(operator)
        with store.transaction():
            store.set_meta("deployment", json.dumps(protocol.addresses))
            store.set_meta("chain_id", str(chain.chain_id))
        return protocol
    if settings.chain_url.startswith("embedded://"):
        raise ConfigError(
            f"{redact_url(settings.database_url)} belongs to an earlier embedded chain, which "
            "lived only in that process; use a fresh home or a persistent chain (the default "
            "anvil://, or chain_url=http://…)"
        )
    expected = store.get_meta("chain_id")
    if expected is not None and int(expected) != chain.chain_id:
        raise ConfigError(
            f"{redact_url(settings.database_url)} was deployed on chain {expected}, but "
            f"{settings.chain_url} is chain {chain.chain_id}",
            expected=int(expected), found=chain.chain_id,
        )  # fmt: skip
    try:
        return chain.attach(json.loads(recorded))
    except ConfigError as exc:
        raise ConfigError(
            f"the chain at {settings.chain_url} no longer holds this node's contracts "
            f"({exc.message}); its state was lost or reset. Restore the home from a backup "
            "(the database and chain state belong together), or start a new home",
        ) from exc


def _operator_key(settings: Settings) -> str:
    """The operator key: ``settings.operator_key`` (``$FAIRWHEEL_OPERATOR_KEY``) or
    ``home/operator.key`` (made 0600)."""
    if settings.operator_key is not None:
        return settings.operator_key.get_secret_value()
    path = settings.home / "operator.key"
    if not path.exists():
        import secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("0x" + secrets.token_hex(32))
    return path.read_text().strip()
