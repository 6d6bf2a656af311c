"""Where settings come from: flags, then ``FAIRWHEEL_*``, then the ``FAIRWHEEL_CONFIG`` file.

``fairwheel serve`` once read ``chain_url`` from the environment by hand and ignored the
config file; and a developer's ``FAIRWHEEL_DATABASE_URL`` leaked into the test suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairwheel.cli import app
from fairwheel.config import configured, load_settings


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fairwheel.toml"
    path.write_text("[fairwheel]\n" + body)
    return path


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a serve that got as far as starting its HTTP server fail instead of blocking."""
    import uvicorn

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise SystemExit("the server would have started")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_serve_honours_the_config_files_chain_url(tmp_path, monkeypatch, no_server) -> None:
    monkeypatch.setenv(
        "FAIRWHEEL_CONFIG", str(_config(tmp_path, 'chain_url = "http://127.0.0.1:9"\n'))
    )
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path / "home")])
    assert result.exit_code != 0
    assert "127.0.0.1:9" in result.output  # it tried the configured chain, not embedded://


def test_serve_refuses_a_used_home_named_by_the_config_file(tmp_path, monkeypatch) -> None:
    home = tmp_path / "used"
    home.mkdir()
    (home / "fairwheel.db").write_bytes(b"")
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(_config(tmp_path, f'home = "{home}"\n')))
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code != 0 and "not empty" in result.output
    assert str(home) in result.output


def test_flags_beat_the_environment_which_beats_the_file(tmp_path, monkeypatch) -> None:
    path = _config(tmp_path, 'chain_url = "http://file:1"\nembedder_url = "fake-hash://8"\n')
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(path))
    monkeypatch.setenv("FAIRWHEEL_CHAIN_URL", "http://env:2")
    assert configured("chain_url") and configured("embedder_url") and not configured("home")
    settings = load_settings(home=tmp_path)
    assert settings.chain_url == "http://env:2" and settings.embedder_url == "fake-hash://8"
    assert load_settings(home=tmp_path, chain_url="http://flag:3").chain_url == "http://flag:3"


def test_node_settings_in_the_environment_do_not_reach_tests() -> None:
    """The autouse fixture of conftest.py cleared them before this test started."""
    node_settings = ("FAIRWHEEL_DATABASE", "FAIRWHEEL_HOME", "FAIRWHEEL_CHAIN", "FAIRWHEEL_CONFIG")
    leaked = [name for name in os.environ if name.startswith(node_settings)]
    assert leaked == []
