"""Fairwheel: a data flywheel that pays contributors for every use of their data.

The public API::

    import fairwheel
    node = fairwheel.connect()          # settings from FAIRWHEEL_* / FAIRWHEEL_CONFIG
    node = fairwheel.connect(home="./node", chain_url="http://127.0.0.1:8545")

Everything else is reached from the :class:`~fairwheel.node.Node` it returns.
Exceptions all derive from :class:`fairwheel.errors.FairwheelError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fairwheel.errors import FairwheelError

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = ["FairwheelError", "connect"]
__version__ = "0.1.0"


def connect(**settings: Any) -> Node:
    """Open a node with settings from keyword arguments, the environment and defaults."""
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    return Node.open(load_settings(**settings))
