"""Every verb answers bad input with one clear line and a non-zero exit, never a traceback
(issue #18).

A table of verbs × bad inputs — files in Latin-1, UTF-16 or binary, a 20 MB field, a missing
file, epoch files that are not JSON, a node or chain that is down, malformed keys, an unknown
pool, bad numbers and addresses — each must end with exit code 1 and exactly one ``error: …``
line on stderr that names what is wrong (and, for a file, which one). Usage errors of the option
parser (unknown option or command, missing argument, a value of the wrong type) are exit code 2
with one line naming the command and its ``--help``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fairwheel.chain.local import find_anvil
from fairwheel.cli import app

EMBEDDER = "fake-hash://384"
DOWN = "http://127.0.0.1:1"  # nothing listens on port 1
ADDRESS = "0x" + "11" * 20
runner = CliRunner()

needs_anvil = pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Bad files, key files, and (with anvil) a home made by ``fairwheel init`` with pool 1."""
    root = tmp_path_factory.mktemp("bad-input")
    files = {
        "latin1": ("text,label,task,worker\ncaf\xe9 cr\xe8me question,a,t1,w1\n".encode("latin-1")),
        "utf16": "text,label,task,worker\nhello there friend,a,t1,w1\n".encode("utf-16"),
        "binary": bytes(range(256)) * 16,
        "bigfield": b'text,label,task,worker\n"' + b"x" * (20 * 2**20) + b'",a,t1,w1\n',
        "good": b"text,label\nhow do I reset the pin of my card,a\n",
        "notjson": b"this is not json\n",
        "jsonlist": b"[1, 2, 3]\n",
        "empty": b"",
        "badkey": b"not a key\n",
        "key": b"0x" + b"ab" * 32 + b"\n",
    }
    paths = {name: root / f"{name}.csv" for name in files}
    for name, data in files.items():
        paths[name].write_bytes(data)
    paths["missing"] = root / "missing.csv"
    paths["out"] = root / "out.csv"
    paths["badhome"] = root / "badhome"
    paths["badhome"].mkdir()
    (paths["badhome"] / "operator.key").write_text("garbage\n")
    paths["home"] = root / "home"
    if find_anvil() is not None:
        env = {"FAIRWHEEL_HOME": str(paths["home"]), "FAIRWHEEL_EMBEDDER_URL": EMBEDDER}
        made = runner.invoke(app, ["init"], env=env)
        assert made.exit_code == 0, made.output
        create = ["pool", "create", "p", "--search-price", "1", "--predict-price", "1",
                  "--operator-fee-bps", "0", "--builder-share-bps", "0", "--labels", "a,b"]
        made = runner.invoke(app, create, env=env)
        assert made.exit_code == 0, made.output
    yield paths


def fw(world: dict[str, Path], args: list[str], **env: str) -> Result:
    filled = [a.format(**{k: str(v) for k, v in world.items()}) for a in args]
    return runner.invoke(
        app, filled,
        env={"FAIRWHEEL_HOME": str(world["home"]), "FAIRWHEEL_EMBEDDER_URL": EMBEDDER, **env},
    )  # fmt: skip


def one_line(result: Result, code: int) -> str:
    """The result exits with ``code`` and one ``error: …`` line on stderr; that line."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    err = result.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), result.stderr
    return err[0]


# ------------------------------------------------------------------------ bad files × verbs

NODE = "node"  # the verb opens the node: needs anvil
FILE_VERBS: list[tuple[str, list[str], str]] = [
    ("value", ["value", "{f}", "--valid", "{f}", "--out", "{out}"], ""),
    ("labels aggregate", ["labels", "aggregate", "{f}", "--out", "{out}"], ""),
    ("quality audit", ["quality", "audit", "{f}", "--out", "{out}", "--embedder", EMBEDDER], ""),
    ("demo --data", ["demo", "--data", "{f}", "--embedder", EMBEDDER], ""),
    ("pool preview", ["pool", "preview", "1", "{f}", "--home", "{home}"], NODE),
    ("remote preview", ["remote", "--url", DOWN, "preview", "1", "{f}"], ""),
    ("remote submit", ["remote", "--url", DOWN, "--key-file", "{key}", "submit", "1", "{f}"], ""),
    ("epoch check", ["epoch", "check", "{f}"], ""),
    ("epoch verify", ["epoch", "verify", "1", "1", "--file", "{f}", "--chain-url", DOWN], ""),
]
BAD_FILES = {
    "latin1": "UTF-8",
    "utf16": "UTF-16|UTF-8",
    "binary": "not a text file|UTF-8",
    "bigfield": "field",
    "missing": "no such file",
}
# An epoch file is JSON lines: a CSV of any kind is "not JSON" there.
EPOCH_FILES = {**BAD_FILES, "bigfield": "not JSON", "latin1": "UTF-8"}
CASES = [
    pytest.param(verb, args, kind, needs, id=f"{verb}: {kind}")
    for verb, args, needs in FILE_VERBS
    for kind in BAD_FILES
    if not (verb == "quality audit" and kind == "bigfield")  # judged per row, below
]


@pytest.mark.parametrize(("verb", "args", "kind", "needs"), CASES)
def test_a_bad_file_is_one_line(
    world: dict[str, Path], verb: str, args: list[str], kind: str, needs: str
) -> None:
    if needs == NODE and find_anvil() is None:
        pytest.skip("anvil missing: ./scripts/setup.sh")
    filled = [a.replace("{f}", str(world[kind])) for a in args]
    line = one_line(fw(world, filled), 1)
    wanted = EPOCH_FILES[kind] if verb.startswith("epoch") else BAD_FILES[kind]
    assert re.search(wanted, line, re.IGNORECASE), line
    if "cannot reach" not in line:
        assert world[kind].name in line, f"the line does not say which file: {line}"


def test_the_audit_judges_a_huge_field_as_a_row(world: dict[str, Path]) -> None:
    """The offline audit reports per row: a 20 MB text is a row rejected too_large, not a
    broken file."""
    result = fw(world, ["quality", "audit", "{bigfield}", "--out", "{out}", "--embedder",
                        EMBEDDER, "--text-col", "text"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "too_large" in world["out"].read_text()


# ------------------------------------------------------------------------- everything else

OTHER: list[tuple[list[str], dict[str, str], str, str]] = [
    # epoch files
    (["epoch", "check", "{notjson}"], {}, "line 1: not JSON", ""),
    (["epoch", "check", "{jsonlist}"], {}, "line 1: not a JSON object", ""),
    (["epoch", "check", "{empty}"], {}, "is empty", ""),
    (["epoch", "verify", "1", "1", "--file", "{missing}"], {}, "no such file", ""),
    # a node that is down, and malformed URLs and keys
    (["remote", "--url", DOWN, "health"], {}, f"cannot reach the node at {DOWN}", ""),
    (["remote", "--url", DOWN, "pools"], {}, "is it running", ""),
    (["remote", "--url", DOWN, "stats", "1"], {}, "cannot reach", ""),
    (["remote", "--url", DOWN, "preview", "1", "{good}"], {}, "cannot reach the node", ""),
    (["remote", "--url", "not a url", "health"], {}, "is not a node's address", ""),
    (["remote", "--url", DOWN, "--key-file", "{missing}", "records"], {}, "no such file", ""),
    (["remote", "--url", DOWN, "--key-file", "{badkey}", "records"], {}, "private key", ""),
    (["remote", "--url", DOWN, "records"], {"FAIRWHEEL_KEY": "0x12"}, "private key", ""),
    (["remote", "--url", DOWN, "--key-file", "{badkey}", "preview", "1", "{good}"], {},
     "your key (--key-file or FAIRWHEEL_KEY) is not a private key", ""),
    (["pool", "list", "--home", "{badhome}"], {}, "operator.key is not a private key", ""),
    (["pool", "list"], {"FAIRWHEEL_OPERATOR_KEY": "garbage"},
     "FAIRWHEEL_OPERATOR_KEY is not a private key", NODE),
    # unknown pools
    (["pool", "show", "99"], {}, "pool 99: no such pool", NODE),
    (["pool", "preview", "99", "{good}"], {}, "pool 99: no such pool", NODE),
    (["epoch", "close", "99"], {}, "pool 99: no such pool", NODE),
    (["models", "list", "99"], {}, "pool 99: no such pool", NODE),
    (["models", "retrain", "99", "--builder", ADDRESS], {}, "pool 99: no such pool", NODE),
    (["export", "training", "99", "--out", "{out}"], {}, "pool 99: no such pool", NODE),
    (["claim", "99", ADDRESS], {}, "pool 99: no such pool", NODE),
    # bad numbers and addresses
    (["pool", "show", "x"], {}, "pool id 'x' is not a whole number", ""),
    (["pool", "preview", "0", "{good}"], {}, "pool ids start at 1", ""),
    (["pool", "preview", "1", "{good}", "--contributor", "0x12"], {}, "not an address", ""),
    (["pool", "preview", "1", "{good}", "--label-col", "kind"], {}, "no column(s) kind", ""),
    (["pool", "create", "p", "--search-price", "-5", "--predict-price", "1",
      "--operator-fee-bps", "0", "--builder-share-bps", "0"], {}, "cannot be negative", ""),
    (["claim", "1", "nope"], {}, "ACCOUNT 'nope' is not an address", ""),
    (["earnings", "nope"], {}, "ACCOUNT 'nope' is not an address", ""),
    (["models", "retrain", "1", "--builder", "nope"], {}, "--builder 'nope' is not an address",
     ""),
]


@pytest.mark.parametrize(("args", "env", "message", "needs"), OTHER,
                         ids=[" ".join(a[:3]) + f": {m[:30]}" for a, _, m, _ in OTHER])  # fmt: skip
def test_bad_input_is_one_line(
    world: dict[str, Path], args: list[str], env: dict[str, str], message: str, needs: str
) -> None:
    if needs == NODE and find_anvil() is None:
        pytest.skip("anvil missing: ./scripts/setup.sh")
    line = one_line(fw(world, args, **env), 1)
    assert message.lower() in line.lower(), line


USAGE: list[tuple[list[str], str, str]] = [
    (["pool", "create", "--foo"], "no such option: --foo", "fairwheel pool create"),
    (["pool", "show"], "missing argument 'pool'", "fairwheel pool show"),
    (["epoch", "close", "x"], "invalid value for 'pool'", "fairwheel epoch close"),
    (["claim", "x", ADDRESS], "invalid value for 'pool'", "fairwheel claim"),
    (["value", "{good}", "--valid", "{good}", "--out", "{out}", "--k", "0"],
     "invalid value for '--k'", "fairwheel value"),
    (["remote", "preview"], "missing argument 'pool'", "fairwheel remote preview"),
    (["nosuch"], "no such command 'nosuch'", "fairwheel"),
    (["--foo"], "no such option: --foo", "fairwheel"),
]


@pytest.mark.parametrize(("args", "message", "command"), USAGE,
                         ids=[" ".join(a[:2]) for a, _, _ in USAGE])  # fmt: skip
def test_usage_errors_are_one_line_and_exit_2(
    world: dict[str, Path], args: list[str], message: str, command: str
) -> None:
    line = one_line(fw(world, args), 2)
    assert line == f"error: {message} for `{command}`; see `{command} --help`" or (
        line.startswith(f"error: {message}") and line.endswith(f"`{command} --help`")
    ), line


def test_a_group_without_its_verb_prints_its_help_and_exits_2() -> None:
    result = runner.invoke(app, ["pool"])
    assert result.exit_code == 2 and "preview" in result.stdout and result.stderr == ""


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pool", "create", "--foo"], 2, "error: no such option: --foo for `fairwheel pool "
         "create`; see `fairwheel pool create --help`"),
        (["epoch", "check", "/nonexistent/e.jsonl"], 1, "/nonexistent/e.jsonl: no such file"),
    ],
)
def test_the_installed_script_answers_the_same(args: list[str], code: int, message: str) -> None:
    """Through ``main()`` in a fresh process, as the ``fairwheel`` script runs."""
    done = subprocess.run(
        [sys.executable, "-c", "from fairwheel.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_an_unexpected_failure_is_one_line_unless_debugging(
    world: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The net under the verbs: an exception none of them expected is one ``internal_error``
    line; ``FAIRWHEEL_DEBUG=1`` lets it through with its traceback."""
    import fairwheel.cli.root as root

    def broken() -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(root, "load_settings", broken, raising=False)
    monkeypatch.setattr("fairwheel.config.load_settings", broken)
    line = one_line(fw(world, ["settings"]), 1)
    assert line.startswith("error: internal_error: RuntimeError: a bug") and "DEBUG" in line
    debug = runner.invoke(app, ["settings"], env={"FAIRWHEEL_DEBUG": "1"})
    assert isinstance(debug.exception, RuntimeError)
