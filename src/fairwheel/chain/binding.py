"""Plumbing shared by the typed client: addresses, one-RPC reads, signed writes, events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fairwheel.chain.abi import ContractAbi, contract_abi
from fairwheel.chain.artifacts import CONTRACT_NAMES
from fairwheel.chain.types import TxResult

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.chain.client import Chain

__all__ = ["Binding", "as_bytes32", "as_proof", "as_signature"]


def as_bytes32(value: bytes | str, what: str) -> bytes:
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("0x") else value
    if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return bytes(raw)


def as_signature(value: bytes | str) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def as_proof(proof: Sequence[bytes | str]) -> list[bytes]:
    return [as_bytes32(node, "proof node") for node in proof]


class Binding:
    """The four contracts' addresses on one chain, with encode/send/decode helpers."""

    def __init__(self, chain: Chain, addresses: dict[str, str]) -> None:
        """Bind to ``addresses`` (contract name to address); see :meth:`bind`."""
        from eth_utils import to_checksum_address

        self.chain = chain
        self._addresses = {
            name: str(to_checksum_address(addresses[name])) for name in CONTRACT_NAMES
        }
        self._by_address: dict[str, ContractAbi] = {
            addr.lower(): contract_abi(name) for name, addr in self._addresses.items()
        }

    # ----------------------------------------------------------------- plumbing

    @property
    def addresses(self) -> dict[str, str]:
        """Contract name to checksum address."""
        return dict(self._addresses)

    @property
    def token_address(self) -> str:
        """Address of the FairToken."""
        return self._addresses["FairToken"]

    @property
    def registry_address(self) -> str:
        """Address of the PoolRegistry."""
        return self._addresses["PoolRegistry"]

    @property
    def escrow_address(self) -> str:
        """Address of the UsageEscrow."""
        return self._addresses["UsageEscrow"]

    @property
    def distributor_address(self) -> str:
        """Address of the RewardDistributor."""
        return self._addresses["RewardDistributor"]

    def _read(self, contract: str, fn: str, *args: Any, at: str | None = None) -> Any:
        abi = contract_abi(contract)
        address = at or self._addresses[contract]
        raw = self.chain.call(address, abi.encode_call(fn, args), action=f"{contract}.{fn}")
        return abi.decode_output(fn, raw)

    def _write(
        self,
        contract: str,
        fn: str,
        args: Sequence[Any],
        sender: LocalAccount,
        value_of: Callable[[list[dict[str, Any]]], Any] | None = None,
        *,
        at: str | None = None,
    ) -> TxResult:
        abi = contract_abi(contract)
        address = at or self._addresses[contract]
        receipt = self.chain.send_transaction(
            sender, address, abi.encode_call(fn, args), action=f"{contract}.{fn}"
        )
        events = self._events(receipt)
        tx_hash = receipt["transactionHash"]
        return TxResult(
            tx_hash="0x" + bytes(tx_hash).hex(),
            gas_used=int(receipt["gasUsed"]),
            block_number=int(receipt["blockNumber"]),
            value=value_of(events) if value_of else None,
            events=events,
        )

    def _events(self, receipt: dict[str, Any]) -> list[dict[str, Any]]:
        from eth_utils import to_checksum_address

        out: list[dict[str, Any]] = []
        for log in receipt.get("logs", []):
            abi = self._by_address.get(str(log["address"]).lower())
            if abi is None:
                continue
            decoded = abi.decode_log([bytes(t) for t in log["topics"]], bytes(log["data"]))
            if decoded is None:
                continue
            out.append(
                {
                    "event": decoded[0],
                    "address": str(to_checksum_address(log["address"])),
                    "args": decoded[1],
                    "log_index": int(log["logIndex"]),
                }
            )
        return out

    @staticmethod
    def _pick(event: str, field: str) -> Callable[[list[dict[str, Any]]], Any]:
        def pick(events: list[dict[str, Any]]) -> Any:
            for ev in events:
                if ev["event"] == event:
                    return ev["args"][field]
            return None

        return pick

    @staticmethod
    def _sum(event: str, field: str) -> Callable[[list[dict[str, Any]]], Any]:
        def total(events: list[dict[str, Any]]) -> int:
            return sum(int(ev["args"][field]) for ev in events if ev["event"] == event)

        return total

    def _addr(self, address: str) -> str:
        from eth_utils import to_checksum_address

        return str(to_checksum_address(address))
