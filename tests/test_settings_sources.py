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
    # Only an embedded chain needs a fresh home; the default anvil:// reopens one.
    home = tmp_path / "used"
    home.mkdir()
    (home / "fairwheel.db").write_bytes(b"")
    body = f'home = "{home}"\nchain_url = "embedded://"\n'
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(_config(tmp_path, body)))
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


def test_the_api_section_merges_key_by_key_flags_env_file(tmp_path, monkeypatch) -> None:
    path = _config(tmp_path, "[fairwheel.api]\nport = 9001\nrate_per_second = 3.0\ndev = true\n")
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(path))
    monkeypatch.setenv("FAIRWHEEL_API__RATE_PER_SECOND", "7")
    api = load_settings(home=tmp_path).api
    assert (api.port, api.rate_per_second, api.dev) == (9001, 7.0, True)
    assert api.public_url == "http://127.0.0.1:9001"  # derived from host and port
    flagged = load_settings(home=tmp_path, api={"port": 9002, "dev": None}).api
    assert (flagged.port, flagged.rate_per_second, flagged.dev) == (9002, 7.0, True)


def test_a_bad_api_setting_is_a_config_error(tmp_path, monkeypatch) -> None:
    from fairwheel.errors import ConfigError

    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(_config(tmp_path, "[fairwheel.api]\nport = 0\n")))
    with pytest.raises(ConfigError, match="port"):
        load_settings(home=tmp_path)
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(_config(tmp_path, "[fairwheel.api]\nprot = 1\n")))
    with pytest.raises(ConfigError, match="prot"):
        load_settings(home=tmp_path)


def test_serve_listens_where_the_config_file_says(tmp_path, monkeypatch) -> None:
    import uvicorn

    seen: dict[str, object] = {}

    def capture(app: object, **kwargs: object) -> None:
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", capture)
    body = 'embedder_url = "fake-hash://8"\n[fairwheel.api]\nport = 9137\nrate_per_second = 0\n'
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(_config(tmp_path, body)))
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 9137)
    assert "http://127.0.0.1:9137" in result.output
    ctx = seen["app"].state.ctx  # type: ignore[attr-defined]
    assert ctx.config.rate_per_second == 0


# ------------------------------------------ variables once read by hand, now settings (#13)


def test_fairwheel_operator_key_sets_the_secret_operator_key_setting(tmp_path, monkeypatch) -> None:
    from fairwheel.config import Settings

    key = "0x" + "ab" * 32
    assert load_settings(home=tmp_path).operator_key is None  # none: home/operator.key
    monkeypatch.setenv("FAIRWHEEL_OPERATOR_KEY", key)
    settings = load_settings(home=tmp_path)
    assert settings.operator_key is not None
    assert settings.operator_key.get_secret_value() == key
    assert key not in settings.model_dump_json() and key not in repr(settings)
    # A worker of `serve --workers` rebuilds the parent's settings from JSON, which never holds
    # the key: it reads the key from the environment it inherited, as the parent did.
    rebuilt = Settings.model_validate_json(settings.model_dump_json()).operator_key
    assert rebuilt is not None and rebuilt.get_secret_value() == key
    monkeypatch.setenv("FAIRWHEEL_HOME", str(tmp_path))
    printed = CliRunner().invoke(app, ["settings"])
    assert printed.exit_code == 0 and key not in printed.output
    monkeypatch.setenv("FAIRWHEEL_OPERATOR_KEY", "")  # empty means unset, as it always did
    assert load_settings(home=tmp_path).operator_key is None


def test_the_config_file_may_not_hold_the_operator_key(tmp_path, monkeypatch) -> None:
    from fairwheel.errors import ConfigError

    body = 'operator_key = "0x' + "ab" * 32 + '"\n'
    monkeypatch.setenv("FAIRWHEEL_CONFIG", str(_config(tmp_path, body)))
    with pytest.raises(ConfigError, match="operator_key"):
        load_settings(home=tmp_path)


def test_the_node_signs_with_the_operator_key_setting(node_factory, monkeypatch) -> None:
    from eth_account import Account

    account = Account.create()
    monkeypatch.setenv("FAIRWHEEL_OPERATOR_KEY", "0x" + bytes(account.key).hex())
    node = node_factory()
    assert node.operator.address == account.address
    assert not (node.settings.home / "operator.key").exists()


def test_fairwheel_anvil_sets_the_anvil_setting_find_anvil_reads(tmp_path, monkeypatch) -> None:
    from fairwheel.chain.local import find_anvil
    from fairwheel.config import from_environment

    fake = str(tmp_path / "bin" / "anvil")
    monkeypatch.setenv("FAIRWHEEL_ANVIL", fake)
    assert load_settings(home=tmp_path).anvil == fake
    assert from_environment("anvil") == fake and find_anvil() == fake
    monkeypatch.setenv("FAIRWHEEL_ANVIL", "")  # empty: the npm package, then PATH
    assert load_settings(home=tmp_path).anvil == "" and find_anvil() != ""
    monkeypatch.delenv("FAIRWHEEL_ANVIL")
    assert from_environment("anvil") is None
