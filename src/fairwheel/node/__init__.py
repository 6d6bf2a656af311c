"""The node: one service per use case over typed ports, behind the :class:`Node` facade.

* :mod:`~fairwheel.node.facade` — :class:`Node` (``Node.open``), which builds the services;
* :mod:`~fairwheel.node.ports` — :class:`NodePorts`, the settings, ports and operator key;
* one module per service: :mod:`~.pools`, :mod:`~.ledger`, :mod:`~.contributions`,
  :mod:`~.serving`, :mod:`~.settlement`, :mod:`~.labeling`, :mod:`~.versions`,
  :mod:`~.feedback`.
"""

from fairwheel.node.contributions import StatusChange, SubmitResult
from fairwheel.node.facade import Node
from fairwheel.node.pools import CONTRIBUTION_LEAF, Receipt
from fairwheel.node.ports import NodePorts
from fairwheel.node.serving import Hit, PaidResult
from fairwheel.node.settlement import EpochReport, Verification

__all__ = [
    "CONTRIBUTION_LEAF",
    "EpochReport",
    "Hit",
    "Node",
    "NodePorts",
    "PaidResult",
    "Receipt",
    "StatusChange",
    "SubmitResult",
    "Verification",
]
