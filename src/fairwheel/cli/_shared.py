"""What every command group shares: one way to fail, to run node work, to open the node, to read
ids and CSV files, and to show progress.

Every refusal is one ``error: …`` line on stderr saying what is wrong, where, and how to fix it,
and exit code 1 (usage errors of the option parser: exit code 2, from :mod:`fairwheel.cli`).
Nothing here imports a heavy library; the node is imported when a command opens it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from fairwheel.errors import CsvError, FairwheelError

if TYPE_CHECKING:
    from fairwheel.config import Settings
    from fairwheel.node import Node

T = TypeVar("T")

HomeOption = Annotated[
    Path | None, typer.Option(help="The node's home (default: FAIRWHEEL_HOME, ~/.fairwheel).")
]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="A progress bar on stderr (default: only when stderr is a terminal).",
        show_default=False,
    ),
]

_WHOLE = re.compile(r"[+-]?[0-9]+")
_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
#: Longest CSV field the verbs read, in characters: far above any record the gate takes
#: (``max_record_bytes``, 8 KB by default), so a longer one is a broken file (often a quote
#: that is never closed) rather than data.
MAX_FIELD_CHARS = 1 << 20
_SNIFF_BYTES = 1 << 16
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


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


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(value, indent=1, default=str))


# ----------------------------------------------------------------------------- reading ids


def whole(value: str, where: str, *, what: str = "a whole number") -> int:
    """``value`` as an int, or exit with one line naming ``where`` and what was expected."""
    text = value.strip().replace("_", "")
    if not _WHOLE.fullmatch(text):
        fail(f"{where} {value!r} is not {what} (e.g. 1000)")
    return int(text)


def pool_id(value: str) -> int:
    """A pool id: a whole number >= 1."""
    number = whole(value, "pool id")
    if number < 1:
        fail(f"pool id {value}: pool ids start at 1 (see `fairwheel pool list`)")
    return number


# ------------------------------------------------------------------------------ the node


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


def check_operator_key(settings: Settings) -> None:
    """Exit with one line if the operator key the node would load is not a private key."""
    secret = settings.operator_key
    if secret is not None:
        where, key = "FAIRWHEEL_OPERATOR_KEY", secret.get_secret_value().strip()
    else:
        path = settings.home / "operator.key"
        if not path.is_file():
            return  # made on first open
        where = str(path)
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{where} cannot be read ({exc}): restore the operator key from a backup")
    if not _KEY.fullmatch(key):
        fail(f"{where} is not a private key (0x and 64 hex digits): restore the operator key "
             "from a backup (`fairwheel restore`), or unset FAIRWHEEL_OPERATOR_KEY to use "
             "HOME/operator.key")  # fmt: skip


@contextmanager
def node_at(home: Path | None) -> Iterator[Node]:
    """The node at ``home`` (else the configured one), closed on exit.

    A home an older ``fairwheel demo --keep`` left behind (on the embedded chain, which lived
    only in the demo's process; today's demo keeps its homes on anvil) is refused here with what
    it still holds, before a chain is started for it; so is a malformed operator key.
    """
    from fairwheel.node import Node

    settings = settings_or_exit(home=home)
    kept_demo = any((settings.home / n).is_file() for n in ("demo-report.json",
                                                             "market-report.html"))  # fmt: skip
    if kept_demo and not (settings.home / "chain" / "state.json").exists():
        fail(f"{settings.home} is a home kept by `fairwheel demo`, which runs on the embedded "
             "chain: that chain lived only in the demo's process, so no verb can reopen the "
             "node; read its fairwheel.db, epochs/ and demo-report.json, or make a home the "
             "verbs open with `fairwheel init --home NEW`")  # fmt: skip
    check_operator_key(settings)
    node = run_or_exit(lambda: Node.open(settings))
    try:
        yield node
    finally:
        node.close()


@contextmanager
def open_node() -> Iterator[Node]:
    """The node at the configured home (``FAIRWHEEL_HOME``, settings), closed on exit."""
    with node_at(None) as node:
        yield node


@contextmanager
def pool_node(pid: int) -> Iterator[Node]:
    """The configured node, after checking it has pool ``pid`` (else one line and exit 1)."""
    with open_node() as node:
        known_pool(node, pid)
        yield node


def address(value: str, where: str) -> str:
    """``value`` if it is an address (0x and 40 hex digits), else one line and exit 1."""
    if not _ADDRESS.fullmatch(value.strip()):
        fail(f"{where} {value!r} is not an address (0x and 40 hex digits)")
    return value.strip()


def known_pool(node: Node, pid: int) -> None:
    """Exit with one line if the node has no pool ``pid``."""
    from fairwheel.errors import NotFound

    try:
        node.queries.pool(pid)
    except NotFound:
        fail(f"pool {pid}: no such pool on this node (`fairwheel pool list` shows its pools)")


# ------------------------------------------------------------------------------ CSV files


def text_file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable UTF-8 text file, judged from its start; None if it may be.

    Names a missing file, a folder, an unreadable file, a UTF-16 or UTF-32 file (by its
    byte-order mark) and a binary one (a NUL byte), each with the fix.
    """
    if not path.exists():
        return f"{path}: no such file (check the path)"
    if path.is_dir():
        return f"{path} is a folder, not a file: give the path of the file"
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    for bom, name in _BOMS:
        if head.startswith(bom):
            return (f"{path} is {name} text, not UTF-8: save it as UTF-8 (e.g. `iconv -f "
                    f"{name} -t UTF-8 {path.name} > fixed.csv`)")  # fmt: skip
    nul = head.find(b"\x00")
    if nul >= 0:
        return (f"{path} is not a text file (a NUL byte at byte {nul}: binary data, or UTF-16 "
                "without a byte-order mark): give a UTF-8 CSV file")  # fmt: skip
    return None


def read_text_file(path: Path) -> str:
    """The whole of a UTF-8 text file (a byte-order mark is dropped).

    Raises:
        CsvError: Missing, a folder, unreadable, UTF-16/32, binary or not UTF-8 — the line and
            byte of the first bad byte named.
    """
    problem = text_file_problem(path)
    if problem is not None:
        raise CsvError(problem)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CsvError(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvError(
            f"{path}, line {line}: not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}): "
            f"save it as UTF-8 (from Latin-1: `iconv -f LATIN1 -t UTF-8 {path.name} > fixed.csv`)"
        ) from None


def read_csv_rows(
    path: Path,
    columns: Sequence[str],
    *,
    hint: str = "",
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a UTF-8 CSV with a header row: its header, and ``(line, row)`` per data row.

    ``line`` is the file's line number where the row ends (the header is line 1). Blank lines
    are skipped; a missing cell reads as ``""``.

    Args:
        path: The file.
        columns: Columns the header must name.
        hint: Appended to a missing-column message (e.g. which flag names the columns).

    Raises:
        CsvError: The file cannot be read as UTF-8 text, is empty, is not CSV, has a field over
            :data:`MAX_FIELD_CHARS` characters, or lacks a column — one line saying where.
    """
    text = read_text_file(path)
    old_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if header is None:
                raise CsvError(f"{path} is empty: it needs a header row naming its columns "
                               f"({','.join(columns)})")  # fmt: skip
            names = [h.strip() for h in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise CsvError(f"{path} has no column(s) {', '.join(missing)}; its header is "
                               f"{','.join(header)}{hint}")  # fmt: skip
            rows: list[tuple[int, dict[str, str]]] = []
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                rows.append((reader.line_num,
                             {n: (record[i] if i < len(record) else "")
                              for i, n in enumerate(names)}))  # fmt: skip
        except csv.Error as exc:
            line = reader.line_num
            if "field larger than field limit" in str(exc):
                raise CsvError(
                    f"{path}, line {line}: a field is over {MAX_FIELD_CHARS:,} characters, "
                    "longer than any record: fix the quote that is never closed, or split the "
                    "text"
                ) from None
            raise CsvError(f"{path}, line {line}: not a readable CSV ({exc})") from None
    finally:
        csv.field_size_limit(old_limit)
    return header, rows


def read_text_rows(
    path: Path, text_col: str, label_col: str, verb: str
) -> tuple[list[int], list[tuple[str, str | None]]]:
    """The file's ``(text, label)`` rows (``label_col`` ``""``: no labels) and the line each
    ends on; one line and exit 1 if the file cannot be used or has no rows to ``verb``."""
    wanted = [text_col] + ([label_col] if label_col else [])
    hint = " (name them with --text-col and --label-col; --label-col '' for no labels)"
    try:
        _, rows = read_csv_rows(path, wanted, hint=hint)
    except CsvError as exc:
        fail(f"{exc.code}: {exc.message}")
    if not rows:
        fail(f"{path} has a header but no rows: nothing to {verb}")
    lines = [line for line, _ in rows]
    pairs = [(row[text_col], (row[label_col] or None) if label_col else None) for _, row in rows]
    return lines, pairs


# -------------------------------------------------------------------------------- remote


def read_key_file(path: Path) -> str:
    """The private key in ``path`` (``remote --key-file``); one line and exit 1 if unreadable."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        fail(f"--key-file {path}: no such file (write your 0x… private key into it)")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--key-file {path}: cannot be read ({exc.__class__.__name__}: {exc})")


def checked_key(key: str) -> str:
    """``key`` stripped, if it is a private key (0x and 64 hex digits); else one line, exit 1."""
    if not _KEY.fullmatch(key.strip()):
        fail("your key (--key-file or FAIRWHEEL_KEY) is not a private key: it must be 0x and 64 "
             "hex digits")  # fmt: skip
    return key.strip()


def call_remote(url: str, key: str | None, action: Callable[[Any], T], *, login: bool) -> T:
    """Run ``action`` with a client of the node at ``url``; every failure is one line, exit 1.

    Args:
        url: The node's base URL (``--url`` / ``FAIRWHEEL_URL``).
        key: The user's private key (``--key-file`` / ``FAIRWHEEL_KEY``), if any.
        action: Called with the client; its answer is returned.
        login: Sign in with ``key`` first (a verb that acts as the key's account).
    """
    import httpx
    from eth_account import Account

    from fairwheel.client import FairwheelClient

    if login and not key:
        fail("this command signs: give --key-file or set FAIRWHEEL_KEY")
    account = Account.from_key(checked_key(key)) if key else None
    try:
        with FairwheelClient(url, account) as client:
            if login:
                client.login()
            return action(client)
    except FairwheelError as exc:
        fail(f"{exc.code}: {exc.message}")
    except (httpx.HTTPError, OSError) as exc:
        fail(http_error_line(exc, url))


def http_error_line(exc: Exception, url: str) -> str:
    """One line for a failed request to the node at ``url`` (httpx's errors, or an OSError)."""
    import httpx

    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"--url {url!r} is not a node's address: give http(s)://HOST:PORT (FAIRWHEEL_URL)"
    if isinstance(exc, httpx.TransportError | OSError):
        return (f"cannot reach the node at {url} ({exc or type(exc).__name__}): is it running? "
                "(check --url or FAIRWHEEL_URL)")  # fmt: skip
    return f"the node at {url} answered with an error: {' '.join(str(exc).split())}"


# ------------------------------------------------------------------------------ progress


@contextmanager
def progress(description: str, enabled: bool | None) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, as ``update(done, total)``; a no-op unless ``enabled`` (None:
    when stderr is a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def working(description: str, enabled: bool | None) -> Iterator[None]:
    """A spinner with the elapsed time on stderr while one long call runs that reports no
    steps (an epoch close, a training run); nothing unless ``enabled`` (None: stderr is a
    terminal)."""
    with progress(description, enabled):
        yield
