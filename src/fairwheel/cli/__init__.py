"""The ``fairwheel`` command line. Heavy libraries are imported inside commands,
so ``fairwheel --help`` is instant.

One module per command group, composed here into :data:`app`:

* :mod:`~fairwheel.cli.root` — ``demo``, ``claim``, ``earnings``, ``settings``, ``version``;
* :mod:`~fairwheel.cli.valuation` — ``value``;
* :mod:`~fairwheel.cli.epoch` — ``epoch close|check|verify``;
* :mod:`~fairwheel.cli.labels` — ``labels aggregate``;
* :mod:`~fairwheel.cli.quality` — ``quality audit``;
* :mod:`~fairwheel.cli.loop` — ``models …`` and ``export …``;
* :mod:`~fairwheel.cli.ops` — ``backup``, ``restore``;
* :mod:`~fairwheel.cli.worker` — ``worker`` (the background jobs);
* :mod:`~fairwheel.cli.init` — ``init`` (a node's home, key and deployment);
* :mod:`~fairwheel.cli.pools` — ``pool create|list|show|update|pause|unpause|review``;
* :mod:`~fairwheel.cli.mcp` — ``mcp`` (the paid MCP server);
* ``serve`` and ``remote …`` come from :mod:`fairwheel.api.cli`.

The groups share :mod:`~fairwheel.cli._shared` (``fail``, ``run_or_exit``, ``open_node``) and
import nothing else of the CLI; nothing outside this package imports it.
"""

from __future__ import annotations

import typer

from fairwheel.cli import epoch, init, labels, loop, ops, pools, quality, root, valuation, worker
from fairwheel.cli import mcp as mcp_cmd
from fairwheel.cli._shared import fail, open_node, run_or_exit

__all__ = ["app", "fail", "main", "open_node", "run_or_exit"]

app = typer.Typer(
    name="fairwheel",
    help="Fairwheel: a data flywheel that pays contributors for every use of their data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Commands are listed in --help in this order, then the groups in theirs.
for _command in (root.demo, root.claim, root.earnings, root.settings, root.version):
    app.command()(_command)
app.command("value")(valuation.value)
app.command()(ops.backup)
app.command()(ops.restore)
app.command()(worker.worker)
app.command()(init.init)
app.command()(mcp_cmd.mcp)
app.add_typer(pools.pool_app, name="pool")
app.add_typer(epoch.epoch_app, name="epoch")
app.add_typer(labels.labels_app, name="labels")
app.add_typer(quality.quality_app, name="quality")
app.add_typer(loop.models_app, name="models")
app.add_typer(loop.export_app, name="export")


def _register_api_commands() -> None:
    # serve and remote live in fairwheel.api (to move here under #13); their heavy imports
    # stay inside their commands.
    from fairwheel.api.cli import remote_app, serve

    app.command("serve")(serve)
    app.add_typer(remote_app, name="remote")


_register_api_commands()


def main() -> None:
    """Entry point of the ``fairwheel`` script."""
    app(prog_name="fairwheel")
