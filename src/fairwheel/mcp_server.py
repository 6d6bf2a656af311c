"""A paid MCP server over an open node: list pools, quote, search and predict, paid with x402.

Built on the official ``mcp`` Python SDK (:class:`mcp.server.mcpserver.MCPServer`) and served by
``fairwheel mcp`` over stdio or streamable HTTP. The paid tools follow the x402 MCP transport
(the ``x402`` package's ``x402.mcp``): a call without payment is answered with a tool error
(``isError``) whose ``structuredContent`` (and text content, as JSON) is the x402 v2
``PaymentRequired`` object; the client pays by calling again with the ``PaymentPayload`` in the
request's ``_meta["x402/payment"]``; the answer carries the ``SettlementResponse`` in the
result's ``_meta["x402/payment-response"]``. The payment is the node's EIP-712 cumulative
voucher (scheme ``fairwheel-voucher``), checked and stored by the node exactly as for the HTTP
API (docs/payments.md, "Paying over MCP").

This module is an edge: it calls only the node's use cases and read models, through the same
translations as the HTTP API (:mod:`fairwheel.api.x402`, :mod:`fairwheel.api.usecases`). The
node is not thread-safe and the SDK runs synchronous tools in worker threads, so every tool
holds one lock while it uses the node.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from fairwheel.api import models as m
from fairwheel.api import usecases as uc
from fairwheel.api import x402
from fairwheel.errors import FairwheelError, InsufficientFunds, InvalidInput, SchemaError

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = ["PAYMENT_META_KEY", "PAYMENT_RESPONSE_META_KEY", "RECEIPT_META_KEY", "build_server"]

#: The request ``_meta`` key that carries the x402 ``PaymentPayload`` (x402 MCP transport).
PAYMENT_META_KEY = "x402/payment"
#: The result ``_meta`` key that carries the x402 ``SettlementResponse``.
PAYMENT_RESPONSE_META_KEY = "x402/payment-response"
#: The result ``_meta`` key that carries the node's signed call receipt (docs/payments.md).
RECEIPT_META_KEY = "fairwheel/receipt"

_INSTRUCTIONS = (
    "A Fairwheel node: paid search and prediction over consented data pools. list_pools and "
    "quote are free; search and predict cost the pool's price, paid per call with x402 "
    "(scheme fairwheel-voucher): call without payment to get the PaymentRequired object, sign "
    "the cumulative EIP-712 voucher it describes and call again with the PaymentPayload in "
    "_meta['x402/payment']."
)


def _result(
    data: Any, *, error: bool = False, meta: dict[str, Any] | None = None
) -> CallToolResult:
    """A tool result whose structured content is ``data`` and text content its JSON."""
    structured = data if isinstance(data, dict) else {"result": data}
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data, separators=(",", ":")))],
        structured_content=structured,
        is_error=error,
        _meta=meta,
    )


def _failure(exc: FairwheelError) -> CallToolResult:
    return _result({"error": exc.to_dict()}, error=True)


def _payment_of(ctx: Context | None) -> dict[str, Any] | None:
    """The ``PaymentPayload`` the request carried in ``_meta["x402/payment"]``, if any.

    Raises:
        SchemaError: If it is there but not a JSON object, or too large.
    """
    meta = None if ctx is None else ctx.request_context.meta
    payload = None if meta is None else meta.get(PAYMENT_META_KEY)
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise SchemaError(f"_meta[{PAYMENT_META_KEY!r}] must be a PaymentPayload object")
    if len(json.dumps(payload)) > x402.MAX_HEADER_CHARS:
        raise SchemaError(f"_meta[{PAYMENT_META_KEY!r}] is larger than {x402.MAX_HEADER_CHARS}")
    return payload


def _payer_in(payload: dict[str, Any]) -> str | None:
    inner = payload.get("payload")
    voucher = inner.get("voucher") if isinstance(inner, dict) else None
    payer = voucher.get("payer") if isinstance(voucher, dict) else None
    return payer if isinstance(payer, str) and len(payer) == 42 else None


class _PaidTools:
    """The paid calls over one node, serialised by one lock."""

    def __init__(self, node: Node, lock: threading.Lock) -> None:
        self.node = node
        self.lock = lock

    def _required(
        self, pool_id: int, kind: str, payer: str | None, error: str | None = None
    ) -> dict[str, Any]:
        url = f"mcp://tool/{kind}"
        if error is None:
            error = f"payment required: send an x402 PaymentPayload in _meta[{PAYMENT_META_KEY!r}]"
        return x402.payment_required(self.node, pool_id, kind, url, payer=payer, error=error)

    def call(
        self, ctx: Context | None, kind: str, pool_id: int, payer: str | None, run: Any
    ) -> CallToolResult:
        """Serve one paid call: unpaid, the PaymentRequired error; paid, the answer."""
        with self.lock:
            node = self.node
            try:
                payload = _payment_of(ctx)
                if payload is None:
                    return _result(self._required(pool_id, kind, payer), error=True)
            except FairwheelError as exc:
                return _failure(exc)
            try:
                voucher, signature = x402.to_voucher(node, pool_id, kind, payload)
                result = run(node, voucher, signature)
            except (InsufficientFunds, InvalidInput) as exc:
                return self._refused(pool_id, kind, exc, _payer_in(payload) or payer)
            except FairwheelError as exc:
                return _failure(exc)
            view = uc.paid_view(node, pool_id, result, voucher).model_dump(
                mode="json", by_alias=True
            )
            paid = x402.settlement(node, pool_id, voucher, charged=result.price, seq=result.seq)
            receipt = node.serving.receipt(result.seq, view)
        return _result(view, meta={PAYMENT_RESPONSE_META_KEY: paid, RECEIPT_META_KEY: receipt})

    def _refused(
        self, pool_id: int, kind: str, exc: FairwheelError, payer: str | None
    ) -> CallToolResult:
        """A refused payment: the corrective PaymentRequired plus a failed settlement."""
        failed: dict[str, Any] = {
            "success": False,
            "errorReason": exc.code,
            "errorMessage": exc.message,
            "transaction": "",
            "network": x402.network_of(self.node.voucher_domain().chain_id),
        }
        if payer is not None:
            failed["payer"] = payer
        try:
            required = self._required(pool_id, kind, payer, error=exc.message)
        except FairwheelError:  # e.g. a payer the node cannot read: the error alone
            required = {"x402Version": x402.X402_VERSION, "error": exc.message}
        required[PAYMENT_RESPONSE_META_KEY] = failed
        required["code"] = exc.code
        return _result(required, error=True, meta={PAYMENT_RESPONSE_META_KEY: failed})


def build_server(node: Node, *, lock: threading.Lock | None = None, **settings: Any) -> MCPServer:
    """The MCP server of ``node``: tools ``list_pools``, ``quote``, ``search``, ``predict``.

    Args:
        node: An open node; the caller keeps it open while the server runs and closes it.
        lock: The lock that serialises node access (default: a new one). Share it with any
            other user of the same node in this process.
        **settings: Passed to :class:`~mcp.server.mcpserver.MCPServer` (``log_level``…).

    Returns:
        The server; run it with ``server.run("stdio")`` or ``server.run("streamable-http")``.
    """
    lock = lock or threading.Lock()
    paid = _PaidTools(node, lock)
    server: MCPServer = MCPServer(
        "fairwheel", instructions=_INSTRUCTIONS, version=_version(), **settings
    )

    @server.tool()
    def list_pools() -> CallToolResult:
        """The node's data pools: id, name, prices (token base units), labels and status."""
        with lock:
            pools = [uc.pool_view(p).model_dump(mode="json") for p in node.queries.pools()]
        return _result({"pools": pools})

    @server.tool()
    def quote(pool_id: int, payer: str, kind: str = "search") -> CallToolResult:
        """The price of one call (kind search or predict) in the pool and the voucher the payer
        signs for it: next_cumulative (what they spent plus the price) and its EIP-712 typed
        data. A wallet must never sign more than its own running total plus the price."""
        if kind not in ("search", "predict"):
            return _failure(SchemaError("kind must be search or predict"))
        try:
            with lock:
                out = uc.quote(node, pool_id, kind, payer).model_dump(mode="json", by_alias=True)
        except FairwheelError as exc:
            return _failure(exc)
        return _result(out)

    @server.tool()
    def search(
        pool_id: int, query: str, ctx: Context, k: int = 5, payer: str | None = None
    ) -> CallToolResult:
        """A paid top-k search of the pool: the hits with their provenance, the price and the
        split. Paid with x402 (PaymentPayload in _meta['x402/payment']); without payment the
        error result is the PaymentRequired object (give payer to learn your next amount)."""
        try:
            body = m.SearchIn(query=query, k=k)
        except ValidationError as exc:
            return _failure(SchemaError(str(exc)))
        return paid.call(
            ctx, "search", pool_id, payer,
            lambda n, v, s: n.search(pool_id, body.query, body.k, v, s),
        )  # fmt: skip

    @server.tool()
    def predict(pool_id: int, text: str, ctx: Context, payer: str | None = None) -> CallToolResult:
        """A paid prediction by the pool's serving model, with the model hash and the split.
        Paid like search (x402, PaymentPayload in _meta['x402/payment'])."""
        try:
            body = m.PredictIn(text=text, arena=False)
        except ValidationError as exc:
            return _failure(SchemaError(str(exc)))
        return paid.call(
            ctx, "predict", pool_id, payer, lambda n, v, s: n.predict(pool_id, body.text, v, s)
        )

    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fairwheel")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
