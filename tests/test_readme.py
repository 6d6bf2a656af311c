"""The README stays true: its first commands exist, and every verb it names is a real command."""

from __future__ import annotations

import os
import re
from pathlib import Path

from typer.testing import CliRunner

from fairwheel.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_first_lines_give_the_two_commands() -> None:
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["./scripts/demo.sh", "./scripts/test.sh"]
    for command in commands:
        script = ROOT / command
        assert script.is_file() and os.access(script, os.X_OK), command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test.sh" in ci


def test_every_fairwheel_verb_in_the_readme_exists() -> None:
    verbs = set(re.findall(r"`fairwheel ([a-z]+(?: [a-z]+)?)", README))
    assert verbs, "the README names no fairwheel command"
    runner = CliRunner()
    for verb in sorted(verbs):
        words = verb.split()
        result = runner.invoke(app, [*words, "--help"])
        if result.exit_code != 0 and len(words) == 2:  # "demo --data" style: first word only
            result = runner.invoke(app, [words[0], "--help"])
        assert result.exit_code == 0, f"`fairwheel {verb}` is in the README but not a command"


def test_documents_linked_from_the_readme_exist() -> None:
    for target in re.findall(r"\]\((docs/[^)]+)\)", README):
        assert (ROOT / target).is_file(), target
