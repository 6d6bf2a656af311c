"""``fairwheel init``: make a node's home, its operator key and its deployment, and say so.

A plain function; :mod:`fairwheel.cli` registers it on the app. The node is imported when the
command runs (``--help`` stays fast).
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairwheel.cli._shared import fail, settings_or_exit

if TYPE_CHECKING:
    from fairwheel.config import Settings
    from fairwheel.node import Node


def init(
    home: Annotated[
        Path | None, typer.Option(help="The node's home (default: FAIRWHEEL_HOME, ~/.fairwheel).")
    ] = None,
    chain_url: Annotated[
        str | None,
        typer.Option(help="anvil:// (default: a local chain in HOME/chain), or http(s)://…"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="The node's database (default: sqlite:///HOME/fairwheel.db)."),
    ] = None,
) -> None:
    """Make a node's home (mode 0700) and operator key (0600), deploy the contracts on a fresh
    database, and print the node as JSON: home, operator, chain, contract addresses.

    On the default chain (anvil://) the node funds its own operator. On an http(s):// chain an
    operator with no ETH is not sent anything: init prints what to send (address, chain id,
    the gas of the deployments from docs/protocol.md and its price at the chain's fees) and
    exits 1; send it, then run init again. Running init again on a home reports the same node.
    """
    settings = settings_or_exit(home=home, chain_url=chain_url, database_url=database_url)
    path = settings.home
    if path.exists() and not path.is_dir():
        fail(f"--home {path} is a file, not a folder: name a new or existing folder")
    created = not path.exists()
    if created:
        try:
            path.mkdir(mode=0o700, parents=True)
            path.chmod(0o700)  # whatever the umask
        except OSError as exc:
            fail(f"cannot create the home {path}: {exc.strerror}")
    node, problem, keep = open_or_advise(settings)
    if node is None:
        if created and not keep:  # nothing in it is worth keeping: leave no half-made home
            shutil.rmtree(path, ignore_errors=True)
        fail(problem)
    try:
        typer.echo(json.dumps({"created": created, **describe(node, settings)}, indent=1))
    finally:
        node.close()


def open_or_advise(settings: Settings) -> tuple[Node | None, str, bool]:
    """Open the node: ``(node, "", False)``, or ``(None, why, keep the home)``.

    An operator with no ETH on a real chain is not an error of the home: what to fund is
    printed as JSON, and the home (with the key to fund) is kept.
    """
    from fairwheel.errors import ConfigError, FairwheelError
    from fairwheel.node import Node

    try:
        return Node.open(settings), "", False
    except ConfigError as exc:
        if exc.details.get("operator") is None:
            return None, f"{exc.code}: {exc.message}", False
        unfunded = exc
    except FairwheelError as exc:
        return None, f"{exc.code}: {exc.message}", False
    from fairwheel.node.pools import deployment_funding

    advice = deployment_funding(settings, str(unfunded.details["operator"]))
    chain_id = advice.get("chain_id", unfunded.details.get("chain_id"))
    wei = advice.get("estimate_wei")
    typer.echo(json.dumps({"home": str(settings.home), "funded": False, "fund": advice},
                          indent=1))  # fmt: skip
    return None, (
        f"the operator {advice['address']} has no ETH on chain {chain_id} "
        f"({settings.chain_url}): send it enough for {advice['gas_reserved']:,} gas"
        + (f" (about {wei / 10**18:.6f} ETH at the chain's fees now)" if wei else "")
        + ", the five deployments and a first pool, then run `fairwheel init` again"
    ), True


def describe(node: Node, settings: Settings) -> dict[str, Any]:
    """The node as init reports it: the same on every run against the same home."""
    from fairwheel.config import redact_url

    key_file = settings.home / "operator.key"
    from_env = settings.operator_key is not None  # FAIRWHEEL_OPERATOR_KEY
    facts = node.onchain.account(node.operator.address)
    return {
        "home": str(settings.home),
        "home_mode": oct(stat.S_IMODE(settings.home.stat().st_mode)),
        "operator": node.operator.address,
        "operator_key": "$FAIRWHEEL_OPERATOR_KEY" if from_env else str(key_file),
        "chain_id": node.onchain.chain_id,
        "chain_url": settings.chain_url,
        "database_url": redact_url(settings.database_url),
        "contracts": node.onchain.contracts(),
        "operator_eth_wei": facts.eth_balance,
        "pools": len(node.queries.pools()),
    }
