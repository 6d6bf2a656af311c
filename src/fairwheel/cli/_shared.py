"""What every command group shares: one way to fail, to run node work, and to open the node.

Nothing here imports a heavy library; the node is imported when a command opens it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from fairwheel.errors import FairwheelError

if TYPE_CHECKING:
    from fairwheel.config import Settings
    from fairwheel.node import Node

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Print ``error: MESSAGE`` on stderr and exit with code 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def run_or_exit(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn a FairwheelError into a one-line message and exit code 1."""
    try:
        return fn()
    except FairwheelError as exc:
        fail(f"{exc.code}: {exc.message}")


@contextmanager
def open_node() -> Iterator[Node]:
    """The node at the configured home (``FAIRWHEEL_HOME``, settings), closed on exit."""
    from fairwheel.node import Node

    node = Node.open()
    try:
        yield node
    finally:
        node.close()


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings with these overrides; an invalid value is one line naming the setting."""
    from fairwheel.config import load_settings
    from fairwheel.errors import ConfigError

    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        errors = getattr(exc.__cause__, "errors", None)
        if not callable(errors):
            fail(f"{exc.code}: {exc.message}")
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()]
        fail(f"{exc.code}: invalid settings: {'; '.join(parts)} (from a flag, its FAIRWHEEL_* "
             "variable or the FAIRWHEEL_CONFIG file)")  # fmt: skip
