"""Pay Fairwheel's paid routes with the x402 Python SDK (PyPI ``x402``): the client side of the
``fairwheel-voucher`` scheme (docs/payments.md).

:class:`FairwheelVoucherScheme` is a ``SchemeNetworkClient`` of the SDK: register it with an
``x402ClientSync`` (or ``x402Client``) for the node's network, ``eip155:<chain id>``.
:func:`x402_session` builds a ``requests`` session that pays for you::

    from fairwheel.payment_scheme import x402_session

    session = x402_session(account, network="eip155:31337", asset=token, escrow=escrow)
    answer = session.post(f"{url}/v1/pools/1/search", json={"query": "card declined", "k": 3})
    answer.headers["PAYMENT-RESPONSE"]   # base64 JSON: chargedAmount, cumulativeAmount, seq

A payment is the pool's EIP-712 ``Voucher(payer, poolId, cumulativeAmount)``, signed locally
with :func:`fairwheel.domain.typed_data.sign_voucher`. The cumulative amount is what the payer
has spent in the pool plus the price; the node says what it counted (``extra.spent``) when the
request names its payer (the session sends ``X-Fairwheel-Payer``). The scheme remembers the
highest amount it signed per escrow and pool and refuses a node that claims more was spent, as
:class:`fairwheel.client.FairwheelClient` does: a node can never make it pay for calls it did
not serve. The SDK is optional: ``pip install "x402[clients]"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairwheel.errors import Conflict, SchemaError

__all__ = ["PAYER_HEADER", "SCHEME", "FairwheelVoucherScheme", "x402_session"]

SCHEME = "fairwheel-voucher"
PAYER_HEADER = "X-Fairwheel-Payer"
_DOMAIN = ("Fairwheel UsageEscrow", "1")


def _get(requirements: Any, key: str, attribute: str) -> Any:
    """A field of the SDK's ``PaymentRequirements`` model (or of its JSON object)."""
    if isinstance(requirements, Mapping):
        return requirements.get(key)
    return getattr(requirements, attribute, None)


class FairwheelVoucherScheme:
    """The ``fairwheel-voucher`` scheme for the x402 SDK's clients.

    Args:
        account: The payer's key: an ``eth_account`` ``LocalAccount`` (or anything with
            ``address`` and ``key``).
    """

    scheme = SCHEME

    def __init__(self, account: Any) -> None:
        self.account = account
        self.signed: dict[tuple[int, str, int], int] = {}

    def create_payment_payload(self, requirements: Any) -> dict[str, Any]:
        """The inner payload for one call: ``{voucher: {payer, poolId, cumulativeAmount},
        signature}``; the SDK wraps it into the ``PaymentPayload``.

        Raises:
            SchemaError: If the requirements are not this scheme's on an EVM chain.
            Conflict: If the node does not say what the payer spent and this client does not
                know, or says more was spent than this client ever signed.
        """
        from fairwheel.domain.typed_data import Eip712Domain, Voucher, sign_voucher

        extra = _get(requirements, "extra", "extra") or {}
        network = str(_get(requirements, "network", "network"))
        family, _, chain = network.partition(":")
        if family != "eip155" or not chain.isdigit():
            raise SchemaError(f"not an EVM network: {network}")
        if (extra.get("name"), extra.get("version")) != _DOMAIN:
            raise SchemaError(f"unexpected voucher domain {extra.get('name')!r}")
        escrow = str(_get(requirements, "payTo", "pay_to"))
        pool_id, price = int(extra["poolId"]), int(_get(requirements, "amount", "amount"))
        payer = str(self.account.address)
        key = (int(chain), escrow.lower(), pool_id)
        known = self.signed.get(key)
        said = extra.get("payer")
        if isinstance(said, str) and said.lower() == payer.lower() and "spent" in extra:
            spent = int(extra["spent"])
        elif known is not None:
            spent = known
        else:
            raise Conflict(f"the node did not say what {payer} spent: send {PAYER_HEADER}")
        if known is not None and spent > known:
            raise Conflict(f"the node says {spent} was spent, this client signed only {known}")
        voucher = Voucher(payer, pool_id, spent + price)
        domain = Eip712Domain(_DOMAIN[0], _DOMAIN[1], int(chain), escrow)
        signature = sign_voucher(voucher, domain, self.account.key)
        self.signed[key] = max(known or 0, voucher.cumulative_amount)
        return {
            "voucher": {
                "payer": voucher.payer,
                "poolId": str(pool_id),
                "cumulativeAmount": str(voucher.cumulative_amount),
            },
            "signature": "0x" + signature.hex(),
        }


def x402_session(
    account: Any,
    *,
    network: str,
    asset: str,
    escrow: str | None = None,
    max_amount_per_payment: int | None = None,
) -> Any:
    """A ``requests.Session`` that pays Fairwheel's 402s with the x402 SDK and this scheme.

    Args:
        account: The payer's key.
        network: The node's network, ``eip155:<chain id>`` (``GET /v1/chain``).
        asset: The pool's token: the SDK pays only assets it is told to.
        escrow: Pay only this UsageEscrow (the requirements' ``payTo``), if given.
        max_amount_per_payment: The most one call may cost, in token base units.

    Returns:
        The session; it names its payer in ``X-Fairwheel-Payer`` on every request.
    """
    from x402 import x402ClientSync
    from x402.http.clients.requests import x402_requests

    allowed: dict[str, Any] = {"network": network, "asset": asset}
    if max_amount_per_payment is not None:
        allowed["max_amount_per_payment"] = str(max_amount_per_payment)
    controls: Any = {"allowed_assets": [allowed]}  # the SDK's SpendControls
    client = x402ClientSync().register(network, FairwheelVoucherScheme(account))
    client.set_spend_controls(controls)
    if escrow is not None:
        client.register_policy(
            lambda _, reqs: [r for r in reqs if str(r.pay_to).lower() == escrow.lower()]
        )
    session = x402_requests(client)
    session.headers[PAYER_HEADER] = str(account.address)
    return session
