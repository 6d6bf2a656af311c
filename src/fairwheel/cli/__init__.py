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
* :mod:`~fairwheel.cli.preview` — ``pool preview`` and ``remote preview`` (a dry run of the gate);
* :mod:`~fairwheel.cli.mcp` — ``mcp`` (the paid MCP server);
* :mod:`~fairwheel.cli.serve` — ``serve`` (the HTTP API and dashboard);
* :mod:`~fairwheel.cli.remote` — ``remote …`` (a node by URL).

The groups share :mod:`~fairwheel.cli._shared` (``fail``, ``run_or_exit``, ``open_node``) and
import nothing else of the CLI; nothing outside this package imports it. The root command is a
:class:`~fairwheel.cli._usage.FairwheelGroup`: a usage error is one line and exit code 2, and an
exception no verb handled one line and exit code 1, never a traceback.
"""

from __future__ import annotations

import typer

from fairwheel.cli import (
    epoch,
    init,
    labels,
    loop,
    ops,
    pools,
    quality,
    remote,
    root,
    valuation,
    worker,
)
from fairwheel.cli import mcp as mcp_cmd
from fairwheel.cli import preview as preview_cmd
from fairwheel.cli import serve as serve_cmd
from fairwheel.cli._shared import fail, open_node, run_or_exit
from fairwheel.cli._usage import FairwheelGroup

__all__ = ["app", "fail", "main", "open_node", "run_or_exit"]

app = typer.Typer(
    name="fairwheel",
    cls=FairwheelGroup,
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
pools.pool_app.command("preview")(preview_cmd.pool_preview)
app.add_typer(pools.pool_app, name="pool")
app.add_typer(epoch.epoch_app, name="epoch")
app.add_typer(labels.labels_app, name="labels")
app.add_typer(quality.quality_app, name="quality")
app.add_typer(loop.models_app, name="models")
app.add_typer(loop.export_app, name="export")


app.command("serve")(serve_cmd.serve)
remote.remote_app.command("preview")(preview_cmd.remote_preview)
app.add_typer(remote.remote_app, name="remote")


def main() -> None:
    """Entry point of the ``fairwheel`` script."""
    app(prog_name="fairwheel")
