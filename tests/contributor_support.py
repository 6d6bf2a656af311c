"""Contributors for node tests."""

from __future__ import annotations

from typing import Any

from fairwheel.wallet import ContributorWallet


def new_contributor(node: Any) -> ContributorWallet:
    """A wallet of a fresh account on the node's test chain."""
    return ContributorWallet(node.testchain.new_account(), node.consent_domain())
