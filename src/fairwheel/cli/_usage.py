"""How the ``fairwheel`` command answers what its verbs do not: usage errors and surprises.

:class:`FairwheelGroup` is the root command's class. It runs the command line in click's
non-standalone mode and answers, on stderr, in one line each:

* a usage error of the option parser (an unknown option or command, a missing argument, a
  value of the wrong type) — ``error: no such option: --foo for `fairwheel pool create`; see
  `fairwheel pool create --help```, exit code 2 (click's convention);
* any other exception no verb turned into its own message — a file that is missing or not
  UTF-8, a CSV field over the reader's limit, a node that cannot be reached, a malformed private
  key — with what is wrong, where and the fix, exit code 1; anything else as ``internal_error``
  with its type (``FAIRWHEEL_DEBUG=1`` re-raises it, traceback and all).

Verbs still say their own refusals through :func:`fairwheel.cli._shared.fail`; this is the net
under them, so that no bad input ever ends in a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from fairwheel.cli._shared import http_error_line

__all__ = ["FairwheelGroup", "unexpected_line", "usage_line"]


def _base(name: str) -> type[Exception]:
    """A base class of typer's own (vendored) click exceptions, found through the public
    ``typer.BadParameter`` so that nothing private of typer is imported."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


UsageError = _base("UsageError")
ClickException = _base("ClickException")

_KEY_MODULES = ("eth_keys", "eth_account")
_UTF8_CHECK_BYTES = 1 << 26


class FairwheelGroup(TyperGroup):
    """The root command: usage errors and unexpected failures in one line each (see above)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; exit (or, not standalone, return) with its exit code."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(
                args=argv, prog_name=prog_name, complete_var=complete_var,
                standalone_mode=False, windows_expand_args=windows_expand_args, **extra,
            )  # fmt: skip
        except UsageError as exc:
            if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help
                typer.echo(usage_line(exc), err=True)
            code = 2
        except ClickException as exc:
            typer.echo(f"error: {_one_line(exc.format_message())}", err=True)  # type: ignore[attr-defined]
            code = exc.exit_code  # type: ignore[attr-defined]
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        except Exception as exc:
            if os.environ.get("FAIRWHEEL_DEBUG"):
                raise
            typer.echo(f"error: {unexpected_line(exc, argv)}", err=True)
            code = 1
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def usage_line(exc: Exception) -> str:
    """``error: <what> for `<command>`; see `<command> --help``` — one line, for a usage
    error of the option parser."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "fairwheel"
    message = _one_line(exc.format_message())  # type: ignore[attr-defined]
    message = message[:1].lower() + message[1:]
    return f"error: {message} for `{path}`; see `{path} --help`"


def _files(argv: Sequence[str]) -> list[Path]:
    """The arguments (and ``--option=value`` values) that name existing files."""
    found: list[Path] = []
    for arg in argv:
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        try:
            path = Path(value)
            if value and path.is_file() and path not in found:
                found.append(path)
        except (OSError, ValueError):
            continue
    return found


def _not_utf8(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.read(_UTF8_CHECK_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < _UTF8_CHECK_BYTES - 4  # not a character cut at the end
    except OSError:
        return False
    return False


def _from_key_library(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(_KEY_MODULES):
            return True
        tb = tb.tb_next
    return False


def _http_line(exc: Exception) -> str | None:
    httpx = sys.modules.get("httpx")
    if httpx is None or not isinstance(exc, httpx.HTTPError):
        return None
    try:
        url = str(exc.request.url)
    except RuntimeError:  # no request attached
        url = "the node"
    return http_error_line(exc, url)


def unexpected_line(exc: Exception, argv: Sequence[str]) -> str:
    """One line for an exception no verb handled: what is wrong, where, and the fix."""
    http = _http_line(exc)
    if http is not None:
        return http
    files = _files(argv)
    if isinstance(exc, UnicodeDecodeError):
        bad = next((f for f in files if _not_utf8(f)), None)
        where = str(bad) if bad is not None else "a file it read"
        return f"{where} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
    if isinstance(exc, OSError) and exc.filename:
        name = exc.filename
        if isinstance(exc, FileNotFoundError):
            return f"{name}: no such file or folder (check the path)"
        if isinstance(exc, IsADirectoryError):
            return f"{name} is a folder, not a file: give the path of a file"
        if isinstance(exc, PermissionError):
            return f"{name}: permission denied (check its owner and mode)"
        return f"{name}: {exc.strerror or exc}"
    where = str(files[0]) if len(files) == 1 else "a file it read"
    if isinstance(exc, csv.Error):
        if "field larger than field limit" in str(exc):
            return (f"{where}: a CSV field is longer than the reader's limit "
                    f"({csv.field_size_limit():,} characters): fix a quote that is never "
                    "closed, or split the text")  # fmt: skip
        return f"{where} is not a readable CSV ({exc})"
    if isinstance(exc, json.JSONDecodeError):
        return f"{where} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if isinstance(exc, ValueError) and _from_key_library(exc):
        return ("a private key (--key-file, FAIRWHEEL_KEY or FAIRWHEEL_OPERATOR_KEY) is not one: "
                f"it must be 0x and 64 hex digits ({_one_line(str(exc))})")  # fmt: skip
    return (f"internal_error: {type(exc).__name__}: {_one_line(str(exc))} (unexpected: "
            "FAIRWHEEL_DEBUG=1 shows the traceback; please report it)")  # fmt: skip
