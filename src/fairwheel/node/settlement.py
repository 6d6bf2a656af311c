"""Epoch settlement: redeem vouchers, fold the ledger, post the root, claim, verify."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import checksum_address
from fairwheel.domain.rows import EarningUse, EpochRow
from fairwheel.errors import ChainError, Conflict, NotFound, VerificationError
from fairwheel.node.ledger import LEDGER_LOCK
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.settlement.epoch import EpochFold

log = logging.getLogger(__name__)

ZERO_ROOT = "0x" + "00" * 32
REDEEM_BATCH = 100


@dataclass(frozen=True)
class EpochReport:
    """What closing an epoch did."""

    pool_id: int
    epoch: int
    root: str
    total: int  # cumulative earnings over all epochs: what the distributor has been funded
    paid: int  # consumers' payments folded into this epoch
    fees: int
    dust: int  # carried to the next epoch
    redeemed: int  # tokens moved from escrow to the operator by this close
    file_path: str
    file_hash: str
    tx_hash: str
    entries: int
    earnings: dict[str, int] = field(default_factory=dict)
    debts: dict[str, int] = field(default_factory=dict)  # payer -> still owed after this close
    withheld: int = 0  # earnings and fees held back until those debts are collected
    warnings: list[str] = field(default_factory=list)  # why unredeemed vouchers are at risk
    posted: bool = True  # False: nothing was collected to credit yet, so no root was posted


@dataclass(frozen=True)
class Verification:
    """The outcome of recomputing an epoch from its published file and the chain."""

    pool_id: int
    epoch: int
    ok: bool
    recomputed_root: str
    chain_root: str
    file_hash: str
    chain_file_hash: str
    problem: str | None = None


class SettlementService(Service):
    """Epoch close, claims and verification."""

    def has_open_calls(self, pool_id: int) -> bool:
        """Whether the pool has paid calls an epoch close would settle (new or still unpaid)."""
        return self.store.open_fold(pool_id) is not None or self.store.has_unsettled(pool_id)

    def close_epoch(self, pool_id: int) -> EpochReport:
        """Close the pool's open epoch and post its root of cumulative earnings.

        Each payer is collected on its own (one payer whose escrow fell short cannot block the
        close): up to the largest voucher its escrow still covers. Entries it has not paid for
        stay unsettled: their earnings are withheld and their price is recorded as the payer's
        debt, in the store and the epoch file, until a later close collects it.

        Safe to retry, and to kill at any point: vouchers already redeemed pay nothing again;
        what the close will record is committed (``pending_closes``) before its root is posted,
        so a close interrupted after that is finished from it — posting the same root if it
        is not on-chain yet — rather than recomputed over a ledger that has grown since. Paid
        calls may arrive meanwhile (another worker, or after a restart): they stay open for
        the next epoch.
        """
        pending = self.store.pending_close(pool_id)
        if pending is not None:
            return self._post_and_record(pool_id, json.loads(pending["body"]))
        return self._close_epoch(pool_id)

    def _close_epoch(self, pool_id: int) -> EpochReport:
        from fairwheel.settlement.epoch import FILE_FORMAT, earnings_tree, write_epoch_file

        # The ledger's running fold (kept by every paid call) gives the totals when every payer
        # paid in full; otherwise the entries are folded again with what each payer paid.
        running = self.store.open_fold(pool_id)
        if running is None and not self.store.has_unsettled(pool_id):
            raise Conflict(f"pool {pool_id} has no paid calls since its last epoch")
        warnings = self.settlement_warnings(pool_id)
        for warning in warnings:
            log.warning("pool %s: %s", pool_id, warning)
        redeemed, collected = self._redeem_vouchers(pool_id)
        last = self.store.last_epoch(pool_id)
        epoch = 1 if last is None else int(last["epoch"]) + 1
        previous = {} if last is None else self.store.earnings(pool_id, int(last["epoch"]))
        dust_in = int(running["dust_in"]) if running else self.store.pool_dust(pool_id)
        folded = self._fold_open(pool_id, previous, dust_in, collected)
        earnings = {a: v for a, v in folded.earnings.items() if v > 0}
        if not earnings:  # nobody has earned anything yet: there is no root to post
            return self._nothing_to_post(pool_id, last, redeemed, folded, warnings)
        total = sum(earnings.values())
        root = earnings_tree(earnings).root_hex if earnings else ZERO_ROOT
        header = {
            "format": FILE_FORMAT,
            "pool": pool_id,
            "epoch": epoch,
            "chain_id": self.chain.chain_id,
            "distributor": self.protocol.addresses["RewardDistributor"],
            "contracts": dict(self.protocol.addresses),
            "previous_leaves": {a: str(v) for a, v in sorted(previous.items())},
            "dust_in": str(dust_in),
            "first_prev_hash": running["first_prev_hash"] if running else None,
            "collected": {a: str(v) for a, v in sorted(collected.items())},
        }
        path = self.settings.home / "epochs" / f"pool-{pool_id}-epoch-{epoch}.jsonl"
        seqs: list[int] = []
        file_hash = write_epoch_file(
            path, header, self._epoch_lines(pool_id, seqs), earnings, folded.debts
        )
        if len(seqs) != (int(running["entries"]) if running else 0):
            raise Conflict("paid calls arrived while the epoch was closing; close it again")
        debts = {
            payer: {**debt, "collected": collected.get(payer, 0)}
            for payer, debt in folded.debts.items()
        }
        body = {
            "epoch": epoch, "root": root, "total": str(total), "file_path": str(path),
            "file_hash": file_hash, "dust": str(self.store.pool_dust(pool_id)),
            "last_seq": seqs[-1] if seqs else None,
            "earnings": {a: str(v) for a, v in earnings.items()},
            "unsettled": list(folded.unsettled),
            "debts": {p: {k: str(v) for k, v in d.items()} for p, d in debts.items()},
            "collected": {a: str(v) for a, v in collected.items()},
            "report": {"paid": str(folded.paid), "fees": str(folded.fees),
                       "redeemed": str(redeemed), "entries": len(seqs),
                       "withheld": str(folded.withheld), "warnings": warnings},
        }  # fmt: skip
        with self.store.transaction():
            self.store.put_pending_close(pool_id, epoch, root, file_hash, json.dumps(body))
        return self._post_and_record(pool_id, body)

    def _post_and_record(self, pool_id: int, body: dict[str, Any]) -> EpochReport:
        """Post a close's root (unless it is on-chain already) and record the close."""
        epoch, root, total = int(body["epoch"]), str(body["root"]), int(body["total"])
        tx_hash = self._post_root(pool_id, epoch, root, total, body["file_hash"])
        earnings = {a: int(v) for a, v in body["earnings"].items()}
        debts = {p: {k: int(v) for k, v in d.items()} for p, d in body["debts"].items()}
        with self.store.transaction():
            self.store.lock(LEDGER_LOCK)  # no entry lands between sealing and refolding
            self.store.insert_epoch(
                {"pool_id": pool_id, "epoch": epoch, "root": root, "total": total,
                 "dust": int(body["dust"]), "file_path": body["file_path"],
                 "file_hash": body["file_hash"], "tx_hash": tx_hash},
                earnings,
            )  # fmt: skip
            if body["last_seq"] is not None:
                self.store.seal_open_epoch(pool_id, epoch, int(body["last_seq"]))
            self.store.set_unsettled(pool_id, epoch, body["unsettled"])
            self.store.insert_debts(pool_id, epoch, debts)
            self.store.prune_vouchers(pool_id, {a: int(v) for a, v in body["collected"].items()})
            self.store.drop_pending_close(pool_id)
        r = body["report"]
        return EpochReport(
            pool_id, epoch, root, total, int(r["paid"]), int(r["fees"]), int(body["dust"]),
            int(r["redeemed"]), body["file_path"], body["file_hash"], tx_hash, int(r["entries"]),
            earnings, {p: d["owed"] for p, d in debts.items()}, int(r["withheld"]),
            list(r["warnings"]),
        )  # fmt: skip

    def _nothing_to_post(
        self,
        pool_id: int,
        last: EpochRow | None,
        redeemed: int,
        folded: EpochFold,
        warnings: list[str],
    ) -> EpochReport:
        """The close of a pool whose every paid call so far is unpaid: the distributor takes no
        empty root, so nothing is posted or recorded; the calls stay open, their prices owed,
        until a payer's voucher is collected."""
        owed = {payer: debt["owed"] for payer, debt in folded.debts.items()}
        note = f"nothing collected to credit yet; no root posted; still owed: {owed}"
        log.warning("pool %s: %s", pool_id, note)
        return EpochReport(
            pool_id, 0 if last is None else int(last["epoch"]), ZERO_ROOT, 0, 0, 0,
            self.store.pool_dust(pool_id), redeemed, "", "", "", 0, {}, owed,
            folded.withheld, [*warnings, note], posted=False,
        )  # fmt: skip

    def _fold_open(
        self, pool_id: int, previous: dict[str, int], dust_in: int, collected: dict[str, int]
    ) -> EpochFold:
        """Fold the open epoch: from the running fold when every payer paid in full and no
        earlier entry is waiting, else entry by entry with what each payer paid."""
        from fairwheel.settlement.epoch import EpochFold, EpochFolder

        running = self.store.open_fold(pool_id)
        short = any(
            cumulative > collected.get(payer, 0)
            for payer, cumulative, _ in self.store.vouchers(pool_id)
        )
        if running is not None and not short and not self.store.has_unsettled(pool_id):
            earnings = dict(previous)
            for account, amount in running["earnings"].items():
                earnings[account] = earnings.get(account, 0) + amount
            return EpochFold(
                earnings, int(running["paid"]), int(running["fees"]),
                self.store.pool_dust(pool_id), sum(earnings.values()),
            )  # fmt: skip
        folder = EpochFolder(previous, dust_in, collected)
        for _, body, digest in self.store.unsettled_lines(pool_id):
            folder.add({**json.loads(body), "hash": digest}, chained=False)
        for _, body, digest in self.store.open_entry_lines(pool_id):
            folder.add({**json.loads(body), "hash": digest})
        return folder.result()

    def _epoch_lines(self, pool_id: int, seqs: list[int]) -> Iterator[str]:
        """The epoch file's entry lines, streamed: earlier unsettled entries, then the epoch's."""
        from fairwheel.settlement.epoch import entry_line

        for _, body, digest in self.store.unsettled_lines(pool_id):
            yield entry_line(body, digest, "deferred")
        for seq, body, digest in self.store.open_entry_lines(pool_id):
            seqs.append(seq)
            yield entry_line(body, digest)

    def settlement_warnings(self, pool_id: int) -> list[str]:
        """Why the pool's unredeemed vouchers are at risk, if they are.

        A voucher is protected from a consumer's withdrawal only while it is younger than the
        thaw period; the node promises to redeem within ``epoch_length + redemption_window``.
        """
        now = int(self.chain.now())
        warnings: list[str] = []
        running = self.store.open_fold(pool_id)
        if running is not None:
            first = int(self.store.ledger_entry(int(running["first_seq"]))["time"])
            age = now - first
            window = self.settings.epoch_length + self.settings.redemption_window
            if age > self.settings.thaw_period:
                warnings.append(
                    f"the oldest unredeemed voucher is {age}s old, past the thaw period "
                    f"({self.settings.thaw_period}s): consumers may have withdrawn what backs it"
                )
            elif age > window:
                warnings.append(
                    f"the open epoch is {age}s old, past epoch_length + redemption_window "
                    f"({window}s): close it now, before thawed withdrawals front-run it"
                )
        for payer, cumulative, _ in self.store.vouchers(pool_id):
            pending = self.protocol.pending_withdrawal(pool_id, payer)
            if (
                int(pending.amount)
                and int(pending.ready_at) <= now
                and (cumulative > int(self.protocol.redeemed(pool_id, payer)))
            ):
                warnings.append(
                    f"{payer} has a thawed withdrawal of {pending.amount} and unredeemed "
                    "vouchers: close the epoch now"
                )
        return warnings

    def _post_root(self, pool_id: int, epoch: int, root: str, total: int, file_hash: str) -> str:
        """Fund and post the root, or adopt it if an interrupted earlier close posted it."""
        if int(self.protocol.last_epoch(pool_id)) >= epoch:
            posted = self.protocol.epoch_root(pool_id, epoch)
            if "0x" + bytes(posted.root).hex() == root and (
                "0x" + bytes(posted.epoch_file_hash).hex() == file_hash
            ):
                return "already-posted"
            raise Conflict(
                f"epoch {epoch} of pool {pool_id} is on-chain with another root; "
                "the database and the chain disagree"
            )
        to_fund = total - int(self.protocol.funded(pool_id))
        if to_fund > 0:
            distributor = self.protocol.addresses["RewardDistributor"]
            self._record_gas(
                "approve", self.protocol.approve(distributor, to_fund, sender=self.operator)
            )
        tx = self.protocol.post_root(
            pool_id,
            epoch,
            bytes.fromhex(root[2:]),
            total,
            bytes.fromhex(file_hash[2:]),
            sender=self.operator,
        )
        self._record_gas("post_root", tx)
        return str(tx.tx_hash)

    def _redeem_vouchers(self, pool_id: int) -> tuple[int, dict[str, int]]:
        """Redeem each payer's latest voucher its escrow covers, each payer on its own.

        Returns:
            The amount redeemed now, and every payer's redeemed cumulative amount after it.
        """
        from fairwheel.domain.typed_data import Voucher

        due: list[tuple[Voucher, bytes]] = []
        collected: dict[str, int] = {}
        for payer, cumulative, signature in self.store.vouchers(pool_id):
            redeemed = int(self.protocol.redeemed(pool_id, payer))
            collected[payer] = redeemed
            if cumulative <= redeemed:
                continue
            balance = int(self.protocol.escrow_balance(pool_id, payer))
            if cumulative - redeemed > balance:  # collect what the escrow still covers
                best = self.store.best_voucher(pool_id, payer, redeemed, redeemed + balance)
                if best is None:
                    continue
                cumulative, signature = best
            due.append((Voucher(checksum_address(payer), pool_id, cumulative), signature))
        total = 0
        # Batches keep one transaction well under a block's gas limit (~45k gas a voucher).
        for start in range(0, len(due), REDEEM_BATCH):
            batch = due[start : start + REDEEM_BATCH]
            try:
                total += self._redeem_batch(batch)
                paid = batch
            except ChainError:  # one payer's escrow moved since it was read: go one by one
                paid = []
                for item in batch:
                    try:
                        total += self._redeem_batch([item])
                        paid.append(item)
                    except ChainError as exc:
                        log.warning("pool %s: voucher of %s not redeemed: %s",
                                    pool_id, item[0].payer, exc.message)  # fmt: skip
            for voucher, _ in paid:
                collected[voucher.payer.lower()] = voucher.cumulative_amount
        return total, collected

    def _redeem_batch(self, batch: list[tuple[Any, bytes]]) -> int:
        if len(batch) == 1:
            tx = self.protocol.redeem(*batch[0], sender=self.operator)
        else:
            tx = self.protocol.redeem_many(batch, sender=self.operator)
        self._record_gas(f"redeem_vouchers(x{len(batch)})", tx)
        return int(tx.value)

    def claim_proof(self, pool_id: int, account: str, epoch: int | None = None) -> dict[str, Any]:
        """The leaf and proof an account needs to claim (latest epoch by default)."""
        from fairwheel.settlement.epoch import earnings_tree

        if epoch is None:
            last = self.store.last_epoch(pool_id)
            if last is None:
                raise NotFound(f"pool {pool_id} has no closed epoch yet")
            epoch = int(last["epoch"])
        earnings = self.store.earnings(pool_id, epoch)
        amount = earnings.get(account.lower())
        if not amount:
            raise NotFound(f"{account} earned nothing in pool {pool_id} up to epoch {epoch}")
        tree = earnings_tree(earnings)
        value = [checksum_address(account), amount]
        return {
            "pool": pool_id,
            "epoch": epoch,
            "account": checksum_address(account),
            "cumulative": amount,
            "proof": ["0x" + p.hex() for p in tree.proof(tree.index_of(value))],
        }

    def claim(self, pool_id: int, account: str, *, sender: Any, epoch: int | None = None) -> int:
        """Claim an account's earnings on-chain; anyone may send it, the account is paid."""
        info = self.claim_proof(pool_id, account, epoch)
        tx = self.protocol.claim(
            pool_id,
            info["epoch"],
            info["account"],
            info["cumulative"],
            [bytes.fromhex(p[2:]) for p in info["proof"]],
            sender=sender,
        )
        self._record_gas("claim", tx)
        return int(tx.value)

    def verify_epoch(self, pool_id: int, epoch: int, file: Path | None = None) -> Verification:
        """Recompute an epoch's root from its published file and compare it with the chain."""
        return verify_against_chain(
            self.protocol, pool_id, epoch, file or self._epoch_file(pool_id, epoch)
        )

    def _epoch_file(self, pool_id: int, epoch: int) -> Path:
        return Path(self.store.epoch(pool_id, epoch)["file_path"])

    def earnings_of(self, account: str) -> list[EarningUse]:
        """Every paid use that earned the account something: when, pool, kind, amount, and
        which of the account's records the call served (searches; from the store, so the
        answer is the same on every worker and after a restart)."""
        account = account.lower()
        uses: list[EarningUse] = []
        for entry in self.store.ledger():
            amount = sum(int(v) for a, v in entry["attribution"] if a == account)
            if entry["builder"] == account:
                amount += int(entry["builder_amount"])
            if amount:
                uses.append(
                    EarningUse(seq=entry["seq"], time=entry["time"], pool=entry["pool"],
                               kind=entry["kind"], amount=amount, records=[])
                )  # fmt: skip
        hits = self.store.call_hits([u["seq"] for u in uses])
        owners = self.store.record_owners(sorted({r for ids in hits.values() for r in ids}))
        for use in uses:
            use["records"] = [
                r for r in hits[use["seq"]] if r in owners and owners[r]["contributor"] == account
            ]
        return uses


def verify_file_on_chain(chain_url: str, pool_id: int, epoch: int, file: Path) -> Verification:
    """Verify a published epoch file against the chain at ``chain_url``, with no database.

    The contract addresses are read from the file's header; the root, total and
    file hash are read from the RewardDistributor at that address.
    """
    from fairwheel.chain import connect_chain
    from fairwheel.chain.protocol import Protocol

    try:
        header = json.loads(file.read_text().splitlines()[0])
        contracts = dict(header["contracts"])
        chain_id = int(header["chain_id"])
    except (OSError, IndexError, KeyError, ValueError) as exc:
        raise VerificationError(f"{file}: not an epoch file ({exc})") from exc
    chain = connect_chain(chain_url)
    if chain.chain_id != chain_id:
        raise VerificationError(f"{file} is for chain {chain_id}, {chain_url} is {chain.chain_id}")
    protocol = Protocol.bind(chain, contracts)
    return verify_against_chain(protocol, pool_id, epoch, file)


def verify_against_chain(protocol: Any, pool_id: int, epoch: int, file: Path) -> Verification:
    """Check a published epoch file against the chain alone (no node database)."""
    from fairwheel.settlement.epoch import verify_epoch_file

    info = protocol.epoch_root(pool_id, epoch)
    chain_root = "0x" + bytes(info.root).hex()
    chain_hash = "0x" + bytes(info.epoch_file_hash).hex()
    try:
        check = verify_epoch_file(file)
    except (VerificationError, ValueError, KeyError, json.JSONDecodeError, OSError) as exc:
        if isinstance(exc, VerificationError):
            reason = exc.message
        elif isinstance(exc, OSError):
            reason = f"unreadable file: {exc.strerror or exc}"
        else:
            reason = f"malformed file: {exc}"
        return Verification(pool_id, epoch, False, "", chain_root, "", chain_hash, reason)
    problem: str | None = None
    if (check.pool, check.epoch) != (pool_id, epoch):
        problem = f"file is for pool {check.pool} epoch {check.epoch}"
    elif (
        epoch > 1
        and check.previous_root != "0x" + bytes(protocol.epoch_root(pool_id, epoch - 1).root).hex()
    ):
        problem = f"previous leaves in the header differ from epoch {epoch - 1}'s root on-chain"
    elif check.root != chain_root:
        problem = "recomputed root differs from the root on-chain"
    elif check.total != int(info.total_cumulative):
        problem = "leaf total differs from the funded total on-chain"
    elif check.file_hash != chain_hash:
        problem = "file hash differs from the hash recorded on-chain"
    return Verification(
        pool_id, epoch, problem is None, check.root, chain_root, check.file_hash, chain_hash,
        problem,
    )  # fmt: skip
