"""The chain port: one :class:`Chain` over an embedded EVM or any JSON-RPC node.

``connect_chain("embedded://")`` runs py-evm in-process through eth-tester (Prague rules, a
100M block gas limit, instant mining); ``connect_chain("http://127.0.0.1:8545")`` talks to a node
such as anvil. Transactions are always signed locally by ``LocalAccount`` objects and sent raw;
gas comes from ``eth_estimateGas`` with a 20% margin (an estimate that reverts is decoded into a
:class:`~fairwheel.errors.ChainError` without spending gas) and fees are EIP-1559.

web3 and eth-tester are imported lazily, so importing this module is cheap.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from fairwheel.chain.reverts import revert_error
from fairwheel.chain.sending import call_fields, submit
from fairwheel.errors import ChainError, ConfigError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from fairwheel.chain.escrow_cache import Head
    from fairwheel.chain.local import LocalChain
    from fairwheel.chain.protocol import Protocol

__all__ = [
    "EMBEDDED_GAS_LIMIT",
    "EMBEDDED_TX_GAS",
    "GAS_MARGIN",
    "Chain",
    "connect_chain",
    "revert_error",
]

#: Block gas limit of the embedded chain.
EMBEDDED_GAS_LIMIT = 100_000_000
#: Gas limit of calls on the embedded chain (after a successful ``eth_call`` preflight).
EMBEDDED_TX_GAS = 8_000_000
#: Safety margin applied to gas estimates.
GAS_MARGIN = 1.2
#: Anvil's and Hardhat's first dev key (public knowledge, dev chains only).
_ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
_ANVIL_CHAIN_IDS = (31337,)
#: eth-tester's first genesis account holds key 0x...01.
_TESTER_DEV_KEY = "0x" + "00" * 31 + "01"


class Chain:
    """A connection to an EVM chain with the helpers the node and the tests need.

    Attributes:
        w3: The ``web3.Web3`` instance.
        url: The URL it was opened with.
        activation_delay: Delay of epoch roots given to :meth:`deploy`.
        thaw_period: Escrow withdrawal thaw given to :meth:`deploy`.
        redemption_window: Longest delay between accepting and redeeming a voucher, given to
            :meth:`deploy` (always shorter than ``thaw_period``).
        unstake_delay: Staking's unstake delay given to :meth:`deploy` (always longer than
            ``activation_delay``).
    """

    def __init__(
        self,
        w3: Web3,
        *,
        url: str,
        activation_delay: int,
        thaw_period: int,
        funder: LocalAccount | None,
        tester: Any = None,
        redemption_window: int | None = None,
        unstake_delay: int | None = None,
        local: LocalChain | None = None,
    ) -> None:
        """Wrap a connected ``Web3``; use :func:`connect_chain` instead."""
        self.w3 = w3
        self.url = url
        self.activation_delay = activation_delay
        self.thaw_period = thaw_period
        from fairwheel.chain.deployment import protocol_delays

        self.redemption_window, self.unstake_delay = protocol_delays(
            activation_delay, thaw_period, redemption_window, unstake_delay
        )
        self._funder = funder
        self._caller = funder.address if funder is not None else "0x" + "00" * 20
        self._tester = tester
        self._lock = threading.RLock()
        self._chain_id: int = int(w3.eth.chain_id)
        self._tip: int | None = None
        self._local = local  # the anvil process this chain runs (anvil://), stopped by close()

    @property
    def rpc_url(self) -> str | None:
        """The JSON-RPC endpoint another process can reach this chain at (for a local anvil,
        its loopback port); None for the embedded chain, which lives in this process only."""
        endpoint = getattr(self.w3.provider, "endpoint_uri", None)
        return None if endpoint is None else str(endpoint)

    def close(self) -> None:
        """Stop the local EVM this chain runs, if any (anvil saves its state); else nothing."""
        if self._local is not None:
            self._local.stop()
            self._local = None

    @property
    def is_local_dev(self) -> bool:
        """Whether this chain is a development chain the node runs itself (embedded or
        anvil://), whose dev account may fund the operator."""
        return self.is_embedded or self._local is not None

    # ------------------------------------------------------------------ facts

    @property
    def chain_id(self) -> int:
        """The chain id (what ``block.chainid`` returns, and what EIP-712 domains carry)."""
        return self._chain_id

    @property
    def is_embedded(self) -> bool:
        """Whether this is the in-process eth-tester chain."""
        return self._tester is not None

    @property
    def funder(self) -> LocalAccount | None:
        """The dev account that funds :meth:`new_account` (``None`` on a node without one)."""
        return self._funder

    def now(self) -> int:
        """Timestamp of the latest block."""
        with self._lock:
            return int(self.w3.eth.get_block("latest")["timestamp"])

    def block_number(self) -> int:
        """Number of the latest block."""
        return int(self.w3.eth.block_number)

    def head(self) -> Head:
        """The latest block's number, hash and timestamp, in one request."""
        from fairwheel.chain.escrow_cache import Head

        with self._lock:
            if self._tester is not None:  # in process: py-evm's head header, no formatting
                top = self._tester.backend.chain.get_canonical_head()
                return Head(int(top.block_number), bytes(top.hash).hex(), int(top.timestamp))
            block = self.w3.eth.get_block("latest")
        return Head(int(block["number"]), bytes(block["hash"]).hex(), int(block["timestamp"]))

    def eth_balance(self, address: str) -> int:
        """Ether balance of ``address`` in wei."""
        return int(self.w3.eth.get_balance(self._checksum(address)))  # type: ignore[arg-type]

    # ---------------------------------------------------------------- accounts

    def new_account(self, eth: int = 10**18) -> LocalAccount:
        """A fresh key, funded with ``eth`` wei for gas by the dev account.

        Raises:
            ChainError: If this chain has no funding account and ``eth`` > 0.
        """
        from eth_account import Account

        account: LocalAccount = Account.create()
        if eth > 0:
            self.fund(account.address, eth)
        return account

    def fund(self, address: str, wei: int) -> None:
        """Send ``wei`` from the dev account to ``address``.

        Raises:
            ChainError: If there is no funding account or the transfer fails.
        """
        funder = self._funder
        if funder is None:
            raise ChainError("this chain has no funding account", reason="NoFunder")
        self.send_transaction(funder, self._checksum(address), b"", value=wei, gas=21_000)

    # -------------------------------------------------------------------- time

    def advance_time(self, seconds: int) -> int:
        """Move chain time forward by at least ``seconds`` and mine a block.

        On a node the new block is stamped exactly ``now() + seconds``
        (``evm_setNextBlockTimestamp``), however much wall-clock time passed since the latest
        block, so the same steps give the same times on a fast or a slow machine (and on an
        anvil whose ``anvil_setBlockTimestampInterval`` ignores ``evm_increaseTime``); a node
        without that method gets ``evm_increaseTime``. The embedded chain stamps the block at
        least one second later than ``now() + seconds``.

        Returns:
            The new latest block timestamp.
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            if self._tester is not None:
                pending = int(self._tester.get_block_by_number("pending")["timestamp"])
                target = max(self.now() + seconds + 1, pending + 1)
                self._tester.time_travel(target)
            else:
                try:
                    self._rpc("evm_setNextBlockTimestamp", [self.now() + int(seconds)])
                except ChainError:
                    self._rpc("evm_increaseTime", [int(seconds)])
                self._rpc("evm_mine", [])
            return self.now()

    def mine(self, blocks: int = 1) -> None:
        """Mine empty blocks."""
        with self._lock:
            if self._tester is not None:
                self._tester.mine_blocks(blocks)
            else:
                for _ in range(blocks):
                    self._rpc("evm_mine", [])

    def snapshot(self) -> Any:
        """Take a state snapshot (eth-tester snapshot or ``evm_snapshot``)."""
        with self._lock:
            if self._tester is not None:
                return self._tester.take_snapshot()
            return self._rpc("evm_snapshot", [])

    def revert(self, snapshot: Any) -> None:
        """Return to a snapshot taken by :meth:`snapshot`."""
        with self._lock:
            if self._tester is not None:
                self._tester.revert_to_snapshot(snapshot)
            elif not self._rpc("evm_revert", [snapshot]):
                raise ChainError("evm_revert refused the snapshot", reason="SnapshotNotFound")

    def get_logs(
        self, addresses: list[str], from_block: int = 0, to_block: int | None = None
    ) -> list[Any]:
        """Raw logs emitted by ``addresses`` in a block range (``eth_getLogs``); an empty or
        future range gives no logs."""
        with self._lock:
            last = self.block_number() if to_block is None else to_block
            if from_block > last:
                return []
            query: dict[str, Any] = {
                "address": [self._checksum(a) for a in addresses],
                "fromBlock": from_block,
                "toBlock": last,
            }
            return list(self.w3.eth.get_logs(query))  # type: ignore[arg-type]

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}", reason="RpcError")
        return response.get("result")

    # ------------------------------------------------------------ transactions

    @staticmethod
    def _checksum(address: str) -> str:
        from eth_utils import to_checksum_address

        return str(to_checksum_address(address))

    def _priority_fee(self) -> int:
        if self._tip is None:
            try:
                self._tip = int(self.w3.eth.max_priority_fee)
            except Exception:
                self._tip = 10**9
        return self._tip

    def call(
        self, to: str, data: bytes, *, sender: str | None = None, action: str = "call"
    ) -> bytes:
        """``eth_call`` raw calldata against the latest block.

        Raises:
            ChainError: With the decoded custom error if the call reverts.
        """
        # an explicit "from" spares web3 an eth_accounts round trip per call
        caller = self._checksum(sender) if sender is not None else self._caller
        tx: dict[str, Any] = {"from": caller, "to": self._checksum(to), "data": "0x" + data.hex()}
        try:
            with self._lock:  # eth-tester is not thread-safe
                return bytes(self.w3.eth.call(tx))  # type: ignore[arg-type]
        except Exception as exc:
            raise revert_error(exc, action) from exc

    def send_transaction(
        self,
        sender: LocalAccount,
        to: str | None,
        data: bytes,
        *,
        value: int = 0,
        gas: int | None = None,
        action: str = "transaction",
    ) -> dict[str, Any]:
        """Sign locally, send raw and wait for the receipt.

        Args:
            sender: The signing account.
            to: Target address, or ``None`` to create a contract.
            data: Calldata (or creation code).
            value: Wei to send.
            gas: Gas limit; estimated (+20%) when ``None``.
            action: A label for error messages.

        Returns:
            The receipt as a plain dict (``status``, ``gasUsed``, ``blockNumber``,
            ``transactionHash``, ``contractAddress``, ``logs``).

        Raises:
            ChainError: If the transaction would revert (decoded custom error) or reverted.
        """
        w3 = self.w3
        tx: dict[str, Any] = {
            "from": sender.address,
            "data": "0x" + data.hex(),
            "value": value,
            "chainId": self._chain_id,
            "type": 2,
        }
        if to is not None:
            tx["to"] = self._checksum(to)
        with self._lock:
            try:
                base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
                tip = self._priority_fee()
                tx["maxPriorityFeePerGas"] = tip
                tx["maxFeePerGas"] = 2 * base_fee + tip
                tx["nonce"] = int(w3.eth.get_transaction_count(sender.address, "pending"))
            except Exception as exc:
                raise ChainError(
                    f"{action}: chain unreachable: {exc}", reason="Unreachable"
                ) from exc
            if gas is None:
                gas = self._gas_for(tx, action)
            tx["gas"] = gas
            signed = sender.sign_transaction(tx)
            return submit(self, bytes(signed.raw_transaction), tx, action)

    def send_raw(self, raw: bytes, action: str = "relayed transaction") -> dict[str, Any]:
        """Send a typed (EIP-2718) transaction someone else signed and wait for its receipt.

        Checked like :meth:`send_transaction` (both end in
        :func:`~fairwheel.chain.sending.submit`): a receipt with ``status`` 0 never comes back.

        Returns:
            The receipt, of a transaction that succeeded.

        Raises:
            ChainError: ``reason="Refused"`` if the bytes are not a signed typed transaction or
                the chain refuses them without revert data; if it reverted,
                ``details["reason"]`` is the decoded custom error (``WithdrawalNotReady``…) and
                ``details["tx_hash"]`` is set when it was mined.
        """
        tx = call_fields(raw, action)
        with self._lock:
            return submit(self, raw, tx, action, refused="Refused")

    def _gas_for(self, tx: dict[str, Any], action: str) -> int:
        """Gas limit for ``tx``; raises the decoded revert if it would fail.

        On a node: ``eth_estimateGas`` + 20%. On the embedded chain py-evm's estimator
        binary-searches (~15 executions per estimate), so a single ``eth_call`` preflight checks
        that the call succeeds and a fixed generous limit is used; ``gas_used`` in the receipt is
        exact either way.
        """
        try:
            if self.is_embedded and "to" in tx:
                call = {k: tx[k] for k in ("from", "to", "data", "value")}
                self.w3.eth.call(call)  # type: ignore[arg-type]
                return EMBEDDED_TX_GAS
            estimate = int(self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except Exception as exc:
            raise revert_error(exc, action) from exc
        return int(estimate * GAS_MARGIN) + 1

    # -------------------------------------------------------------- protocol

    def deploy(self, deployer: LocalAccount) -> Protocol:
        """Deploy FairToken, PoolRegistry, UsageEscrow, RewardDistributor and Staking.

        The escrow gets this chain's ``thaw_period`` and ``redemption_window``, the distributor
        its ``activation_delay``, Staking its ``unstake_delay``; ``deployer`` owns the token
        (may mint).
        """
        from fairwheel.chain.deployment import deploy_protocol

        return deploy_protocol(self, deployer)

    def attach(self, addresses: dict[str, str]) -> Protocol:
        """Bind to an existing deployment.

        Args:
            addresses: ``{"FairToken", "PoolRegistry", "UsageEscrow", "RewardDistributor",
                "Staking"}`` to addresses (``"token"``, ``"registry"``, ``"escrow"``,
                ``"distributor"``, ``"staking"`` also work). ``"Staking"`` may be absent (a
                deployment made before it existed); the staking calls then raise ``ConfigError``.

        Raises:
            ConfigError: If an address is missing or has no code.
        """
        from fairwheel.chain.protocol import Protocol

        return Protocol.bind(self, addresses)


def _embedded_w3() -> tuple[Web3, Any]:
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": EMBEDDED_GAS_LIMIT})
    backend = PyEVMBackend(genesis_parameters=params)  # latest fork py-evm supports (Prague)
    tester = EthereumTester(backend=backend)
    w3 = Web3(EthereumTesterProvider(tester))
    return w3, tester


def connect_chain(
    url: str,
    *,
    activation_delay: int = 3600,
    thaw_period: int = 604800,
    funder_key: str | None = None,
    redemption_window: int | None = None,
    unstake_delay: int | None = None,
) -> Chain:
    """Open a chain.

    Args:
        url: ``anvil:///FOLDER`` for a local anvil the chain runs with its state in FOLDER
            (stopped by :meth:`Chain.close`), ``embedded://`` for the in-process EVM, or an
            ``http(s)://`` JSON-RPC endpoint.
        activation_delay: Seconds an epoch root waits before claims (used by ``deploy``).
        thaw_period: Seconds an escrow withdrawal thaws (used by ``deploy``).
        redemption_window: Longest delay between accepting and redeeming a voucher (used by
            ``deploy``; default ``thaw_period // 2``; must be shorter than ``thaw_period``).
        unstake_delay: Staking's unstake delay (used by ``deploy``; default
            ``max(thaw_period, 2 * activation_delay, 1)``; must exceed ``activation_delay``).
        funder_key: Private key that funds :meth:`Chain.new_account`; defaults to the dev key of
            eth-tester (embedded) or anvil/hardhat (chain id 31337).

    Returns:
        The connected :class:`Chain`.

    Raises:
        ConfigError: For an unknown URL scheme.
        ChainError: If the node cannot be reached.
    """
    from eth_account import Account

    if activation_delay < 0 or thaw_period < 0:
        raise ConfigError("activation_delay and thaw_period must be >= 0")
    from fairwheel.chain.deployment import protocol_delays

    protocol_delays(activation_delay, thaw_period, redemption_window, unstake_delay)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "embedded":
        w3, tester = _embedded_w3()
        funder = Account.from_key(funder_key or _TESTER_DEV_KEY)
        return Chain(
            w3,
            url=url,
            activation_delay=activation_delay,
            thaw_period=thaw_period,
            funder=funder,
            tester=tester,
            redemption_window=redemption_window,
            unstake_delay=unstake_delay,
        )
    local, rpc_url = None, url
    if scheme == "anvil":
        from fairwheel.chain.local import start_local_chain

        local, rpc_url, scheme = *start_local_chain(url), "http"
    if scheme in ("http", "https"):
        from web3 import Web3

        from fairwheel.chain.http import KeepAliveHTTPProvider

        w3 = Web3(KeepAliveHTTPProvider(rpc_url, timeout=30))
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as exc:
            if local is not None:
                local.stop()
            raise ChainError(f"cannot reach chain at {url}: {exc}", reason="Unreachable") from exc
        key = funder_key or (_ANVIL_DEV_KEY if chain_id in _ANVIL_CHAIN_IDS else None)
        return Chain(
            w3,
            url=url,
            activation_delay=activation_delay,
            thaw_period=thaw_period,
            funder=Account.from_key(key) if key else None,
            redemption_window=redemption_window,
            unstake_delay=unstake_delay,
            local=local,
        )
    raise ConfigError(
        f"unknown chain URL {url!r}: use anvil://, embedded:// or http(s)://", url=url
    )
