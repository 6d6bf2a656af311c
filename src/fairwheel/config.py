"""One typed settings object for the whole node, read once.

Values come, in order of precedence, from keyword arguments, environment
variables prefixed ``FAIRWHEEL_`` (``FAIRWHEEL_CHAIN_URL=http://127.0.0.1:8545``),
a TOML file named by ``FAIRWHEEL_CONFIG``, then the embedded defaults below.
Every port's backend is chosen by the scheme of its URL.

The HTTP edge's settings are the nested section ``api`` (:class:`ApiSettings`): the
``[fairwheel.api]`` table of the file, or ``FAIRWHEEL_API__RATE_PER_SECOND=10`` in the
environment (two underscores enter a section).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from fairwheel.errors import ConfigError


def default_home() -> Path:
    """The node's home folder: ``$FAIRWHEEL_HOME`` or ``~/.fairwheel``."""
    return Path(os.environ.get("FAIRWHEEL_HOME", Path.home() / ".fairwheel"))


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/fairwheel`` or ``~/.cache/fairwheel``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fairwheel"


class ApiSettings(BaseModel):
    """Settings of the HTTP edge (``fairwheel serve``): the ``api`` section of :class:`Settings`.

    Attributes:
        host: Interface ``serve`` listens on.
        port: TCP port ``serve`` listens on.
        public_url: The URL people reach this server at; its authority is the Sign-In with
            Ethereum domain and the login URI (empty: ``http://HOST:PORT``).
        extra_domains: Other authorities accepted in login messages (e.g. ``localhost:8000``).
        dev: Development mode: the built-in test wallets and the ``/v1/dev`` routes.
        statement: The statement of login messages.
        nonce_ttl: Seconds a login nonce stays valid (and the oldest accepted issued-at).
        session_ttl: Seconds a session lasts.
        max_body_bytes: Largest JSON body.
        max_stream_bytes: Largest streamed (NDJSON) contribution upload.
        max_stream_records: Most records in one streamed upload.
        rate_per_second: Requests per second per client (0 turns the limiter off).
        rate_burst: Burst size of the limiter.
        secure_cookies: Mark the dashboard's session cookie ``Secure`` (behind HTTPS).
        cors_origins: Origins whose browser apps may call the API (``https://app.example``;
            ``*`` for any); empty: same origin only. Cross-origin calls authenticate with a
            bearer token, never the session cookie (credentials are not allowed), so the
            cookie's CSRF defence stands.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""
    extra_domains: tuple[str, ...] = ()
    dev: bool = False
    statement: str = "Sign in to Fairwheel."
    nonce_ttl: int = Field(default=600, gt=0)
    session_ttl: int = Field(default=12 * 3600, gt=0)
    max_body_bytes: int = Field(default=4 * 2**20, gt=0)
    max_stream_bytes: int = Field(default=64 * 2**20, gt=0)
    max_stream_records: int = Field(default=20_000, gt=0)
    rate_per_second: float = Field(default=50.0, ge=0)
    rate_burst: float = Field(default=500.0, ge=0)
    secure_cookies: bool = False
    cors_origins: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _default_public_url(self) -> ApiSettings:
        if not self.public_url:
            # Wildcard interfaces are reached on the loopback address from this machine.
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
            object.__setattr__(self, "public_url", f"http://{host}:{self.port}")
        return self

    @property
    def domain(self) -> str:
        """The Sign-In with Ethereum domain: the public URL's authority."""
        return urlsplit(self.public_url).netloc

    @property
    def domains(self) -> tuple[str, ...]:
        """Every authority accepted in a login message."""
        main = self.domain
        out = [main, *self.extra_domains]
        host, _, port = main.rpartition(":")
        if host in ("127.0.0.1", "[::1]") and port:
            out.append(f"localhost:{port}")
        elif host == "localhost" and port:
            out.append(f"127.0.0.1:{port}")
        return tuple(dict.fromkeys(out))


class JobSettings(BaseModel):
    """Settings of the background jobs (``fairwheel worker``, ``serve --jobs``): the ``jobs``
    section of :class:`Settings`.

    Attributes:
        interval: Seconds between two passes over the jobs.
        lease_seconds: How long a job's lease lasts; a runner that died loses it after this,
            and another runner takes the job over.
        redeem_threshold: Close a pool's epoch early (which redeems its vouchers on-chain) once
            the value of unredeemed vouchers reaches this many token base units; 0: only on
            the epoch schedule.
        rescore_growth: Rescore a pool once its accepted records grew by this fraction since
            the last rescore (at least 20 records).
        inline_rescore: Rescore inside ``submit`` whenever the pool grew by a quarter (for a
            node without jobs). ``fairwheel serve --jobs`` turns it off: there the rescore job
            does it in the background and a submission pays only for its own checks. A newly
            flagged contributor's records are rescored inline either way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: float = Field(default=60.0, gt=0)
    lease_seconds: float = Field(default=900.0, gt=0)
    redeem_threshold: int = Field(default=0, ge=0)
    rescore_growth: float = Field(default=0.1, gt=0)
    inline_rescore: bool = True


def _operator_key_from_env() -> SecretStr | None:
    """The default of :attr:`Settings.operator_key`: ``$FAIRWHEEL_OPERATOR_KEY`` (empty: none).

    Settings built the usual way get the same value from the environment source; this default
    is for settings rebuilt from JSON (``Settings.model_validate_json``, as each worker of
    ``fairwheel serve --workers`` does), which never carries the key (it is excluded from every
    dump), so that a worker reads it from the environment it inherited, as the parent did.
    """
    key = from_environment("operator_key")
    return key if key else None


class Settings(BaseSettings):
    """Node settings. Empty URLs are derived from ``home`` (see :meth:`resolved`).

    Every field is also read from ``FAIRWHEEL_<NAME>`` (``FAIRWHEEL_CHAIN_URL``); among them:

    Attributes:
        operator_key: The operator's private key (``0x`` hex) from ``FAIRWHEEL_OPERATOR_KEY``;
            unset or empty: the key in ``home/operator.key`` (made on the first open). A
            secret: never dumped (``fairwheel settings`` leaves it out) nor shown in a repr,
            and refused in the config file.
        anvil: The anvil executable of the default chain (``anvil://``), from
            ``FAIRWHEEL_ANVIL``; empty: the project's npm package, then ``PATH``
            (:func:`fairwheel.chain.local.find_anvil`, which runs without settings, reads it
            from the environment with :func:`from_environment`).
    """

    model_config = SettingsConfigDict(
        env_prefix="FAIRWHEEL_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Field(default_factory=default_home)
    # A local EVM the node runs with its state in home/chain (survives restarts).
    chain_url: str = "anvil://"
    database_url: str = ""
    index_url: str = ""
    blobs_url: str = ""
    embedder_url: str = "minilm://onnx"
    # Derived model files (the exported ONNX graph), shared by every node of this user.
    cache_dir: Path = Field(default_factory=default_cache_dir)
    # Seconds between an epoch root being posted and it becoming claimable.
    activation_delay: int = 3600
    # Seconds a consumer waits between requesting and completing an escrow withdrawal. It must
    # exceed epoch_length + redemption_window: a voucher accepted at the start of an epoch is
    # redeemed by then, before any withdrawal requested after it can complete.
    thaw_period: int = 7 * 24 * 3600
    # Longest time between two epoch closes of a pool (the scheduler closes within it).
    epoch_length: int = 24 * 3600
    # Grace after an epoch's end by which its vouchers are redeemed (a slow or retried close).
    redemption_window: int = 24 * 3600
    max_record_bytes: int = 8192
    min_record_chars: int = 3
    # Submissions per contributor and pool per hour; a flagged contributor gets the second.
    rate_limit_per_hour: int = 1000
    flagged_rate_limit_per_hour: int = 10
    # A revocation retrains the serving model without the record at once.
    retrain_on_revoke: bool = True
    # The loss cap (token base units, 0: none): a payer whose unredeemed vouchers would pass it
    # is not served until the next redemption; pair it with jobs.redeem_threshold below it.
    max_unredeemed: int = Field(default=0, ge=0)
    # Ratings a rater may give per hour; a rater judged spammy gets the second.
    ratings_per_hour: int = 200
    spammy_ratings_per_hour: int = 5
    # The HTTP edge (``fairwheel serve``).
    api: ApiSettings = Field(default_factory=ApiSettings)
    # The background jobs (``fairwheel worker``).
    jobs: JobSettings = Field(default_factory=JobSettings)
    # The operator key (``FAIRWHEEL_OPERATOR_KEY``); None: ``home/operator.key``.
    operator_key: SecretStr | None = Field(default_factory=_operator_key_from_env, exclude=True)
    # The anvil executable (``FAIRWHEEL_ANVIL``); empty: the npm package, then ``PATH``.
    anvil: str = ""

    @field_validator("operator_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        """An empty ``FAIRWHEEL_OPERATOR_KEY`` means no key, as it always has."""
        if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()):
            return None
        return value

    @field_validator("chain_url")
    @classmethod
    def _known_chain(cls, value: str) -> str:
        if not value.startswith(("anvil://", "embedded://", "http://", "https://")):
            raise ValueError(
                f"chain_url must be anvil://, embedded:// or http(s)://, not {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _thaw_covers_redemption(self) -> Settings:
        if min(self.thaw_period, self.epoch_length, self.redemption_window) < 0:
            raise ValueError("thaw_period, epoch_length and redemption_window must be >= 0")
        if self.thaw_period <= self.epoch_length + self.redemption_window:
            raise ValueError(
                f"thaw_period ({self.thaw_period}s) must exceed epoch_length + "
                f"redemption_window ({self.epoch_length}s + {self.redemption_window}s): "
                "otherwise a consumer can withdraw escrow that backs vouchers not yet redeemed"
            )
        return self

    @property
    def voucher_window(self) -> int:
        """Longest time from accepting a voucher to redeeming it: the escrow contract's
        ``redemptionWindow``."""
        return self.epoch_length + self.redemption_window

    def resolved(self) -> Settings:
        """A copy with every empty URL filled in from ``home``."""
        home = self.home.expanduser().resolve()
        chain_url = self.chain_url
        if chain_url in ("anvil://", "anvil:///"):
            chain_url = f"anvil://{home / 'chain'}"
        return self.model_copy(
            update={
                "home": home,
                "chain_url": chain_url,
                "database_url": self.database_url or f"sqlite:///{home / 'fairwheel.db'}",
                "index_url": self.index_url or f"hnsw://{home / 'index'}",
                "blobs_url": self.blobs_url or f"file://{home / 'blobs'}",
            }
        )


def _file_values() -> dict[str, Any]:
    """The ``[fairwheel]`` table of the TOML file named by ``FAIRWHEEL_CONFIG`` ({} if none)."""
    config_path = os.environ.get("FAIRWHEEL_CONFIG")
    if not config_path:
        return {}
    try:
        with open(config_path, "rb") as fh:
            return dict(tomllib.load(fh).get("fairwheel", {}))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}") from exc


def from_environment(name: str) -> Any:
    """Setting ``name`` as the environment alone gives it (``FAIRWHEEL_<NAME>``, through the
    same pydantic-settings source as :class:`Settings`), validated as that field's type; None
    when the variable is unset.

    For code that runs where no :class:`Settings` object exists (the chain port locating anvil
    for a bare ``anvil://`` URL, a test's skip marker): it reads no other setting and no config
    file, so nothing else can make it fail.
    """
    field = Settings.model_fields[name]
    value, _, _ = EnvSettingsSource(Settings).get_field_value(field, name)
    if value is None:
        return None
    return TypeAdapter(field.annotation or str).validate_python(value)


#: Settings the config file may not hold: secrets belong in the environment (or a key file).
_NOT_IN_FILE = ("operator_key",)


def _env_names() -> set[str]:
    return {name for name in Settings.model_fields if f"FAIRWHEEL_{name.upper()}" in os.environ}


def _env_section_names(section: str) -> set[str]:
    prefix = f"FAIRWHEEL_{section.upper()}__"
    return {name[len(prefix) :].lower() for name in os.environ if name.startswith(prefix)}


def configured(name: str) -> bool:
    """Whether setting ``name`` is given by the environment or the config file (not a default).

    Raises:
        ConfigError: the TOML file is unreadable.
    """
    return name in _env_names() or name in _file_values()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from overrides, the environment and an optional TOML file.

    Overrides that are ``None`` are ignored, so CLI flags left unset fall through to the
    environment, then the file, then the defaults. A section (``api={"port": 9000}``) merges
    key by key in the same order.

    Raises:
        ConfigError: the TOML file is unreadable or a value is invalid.
    """
    env_names = _env_names()
    merged: dict[str, Any] = {}
    file_values = _file_values()
    secrets = sorted(set(file_values) & set(_NOT_IN_FILE))
    if secrets:
        raise ConfigError(
            f"invalid settings: {', '.join(secrets)} may not be in the config file (a secret): "
            "set FAIRWHEEL_OPERATOR_KEY, or let the node keep home/operator.key"
        )
    for key, value in file_values.items():
        if isinstance(value, dict):
            # Keys the environment sets win over the file's (pydantic merges the rest).
            env_keys = _env_section_names(key)
            merged[key] = {k: v for k, v in value.items() if k not in env_keys}
        elif key not in env_names:
            merged[key] = value
    for key, value in overrides.items():
        if isinstance(value, dict):
            section = {k: v for k, v in value.items() if v is not None}
            merged[key] = {**merged.get(key, {}), **section}
        elif value is not None:
            merged[key] = value
    try:
        return Settings(**merged).resolved()
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


def redact_url(url: str) -> str:
    """``url`` fit for a message or a log: a PostgreSQL URL keeps only its host, port and
    database (no user, password or options); any other URL is returned as it is."""
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{host}{port}{parts.path or '/'}"
