"""Plumbing shared by the typed client: addresses, one-RPC reads, signed writes, events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fairwheel.chain.abi import ContractAbi, contract_abi
from fairwheel.chain.artifacts import CONTRACT_NAMES
from fairwheel.chain.types import TxResult
from fairwheel.errors import ConfigError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.chain.client import Chain

__all__ = ["OPTIONAL_CONTRACTS", "Binding", "as_bytes32", "as_proof", "as_signature"]

#: Contracts a deployment may lack (deployments recorded before Staking existed).
OPTIONAL_CONTRACTS: tuple[str, ...] = ("Staking",)


def as_bytes32(value: bytes | str, what: str) -> bytes:
    """32 bytes from bytes or 0x-hex.

    Raises:
        ValueError: If ``value`` is not 32 bytes long.
    """
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("0x") else value
    if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return bytes(raw)


def as_signature(value: bytes | str) -> bytes:
    """Signature bytes from bytes or (0x-)hex."""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def as_proof(proof: Sequence[bytes | str]) -> list[bytes]:
    """A Merkle proof as a list of 32-byte nodes."""
    return [as_bytes32(node, "proof node") for node in proof]


class Binding:
    """The protocol's contract addresses on one chain, with encode/send/decode helpers."""

    def __init__(self, chain: Chain, addresses: dict[str, str]) -> None:
        """Bind to ``addresses`` (contract name to address); see :meth:`bind`."""
        from eth_utils import to_checksum_address

        self.chain = chain
        self._addresses = {
            name: str(to_checksum_address(addresses[name]))
            for name in CONTRACT_NAMES
            if addresses.get(name)
        }
        self._by_address: dict[str, ContractAbi] = {
            addr.lower(): contract_abi(name) for name, addr in self._addresses.items()
        }
        # facts that never change for a deployment, cached on first read
        self._pool_tokens: dict[int, str] = {}
        self._token_domains: dict[str, Any] = {}

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

    @property
    def staking_address(self) -> str:
        """Address of the Staking contract.

        Raises:
            ConfigError: If this deployment has no Staking contract (an older deployment).
        """
        address = self._addresses.get("Staking")
        if address is None:
            raise ConfigError("this deployment has no Staking contract", contract="Staking")
        return address

    def _address_of(self, contract: str) -> str:
        if contract == "Staking":
            return self.staking_address
        return self._addresses[contract]

    def _read(self, contract: str, fn: str, *args: Any, at: str | None = None) -> Any:
        abi = contract_abi(contract)
        address = at or self._address_of(contract)
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
        address = at or self._address_of(contract)
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
        return self._decode_logs(receipt.get("logs", []))

    def _decode_logs(self, logs: Sequence[Any]) -> list[dict[str, Any]]:
        from eth_utils import to_checksum_address

        out: list[dict[str, Any]] = []
        for log in logs:
            abi = self._by_address.get(str(log["address"]).lower())
            if abi is None:
                continue
            decoded = abi.decode_log([_raw(t) for t in log["topics"]], _raw(log["data"]))
            if decoded is None:
                continue
            out.append(
                {
                    "event": decoded[0],
                    "contract": abi.name,
                    "address": str(to_checksum_address(log["address"])),
                    "args": decoded[1],
                    "block_number": int(log["blockNumber"]),
                    "log_index": int(log["logIndex"]),
                }
            )
        return out

    def logs(self, from_block: int = 0, to_block: int | None = None) -> list[dict[str, Any]]:
        """Every decoded event of the deployment's contracts in a block range, in chain order.

        Args:
            from_block: First block (default: genesis).
            to_block: Last block (default: the latest).

        Returns:
            Events shaped like :attr:`TxResult.events`, plus ``contract`` and ``block_number``.
        """
        raw = self.chain.get_logs(list(self._addresses.values()), from_block, to_block)
        events = self._decode_logs(raw)
        events.sort(key=lambda ev: (ev["block_number"], ev["log_index"]))
        return events

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


def _raw(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)
