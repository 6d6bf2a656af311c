"""Sign-In with Ethereum (EIP-4361): build, parse and verify the login message.

The message is a small, line-oriented text format that a wallet shows to its user and signs
with ``personal_sign`` (EIP-191)::

    127.0.0.1:8000 wants you to sign in with your Ethereum account:
    0xAbC…(EIP-55 checksummed address)

    Sign in to Fairwheel.

    URI: http://127.0.0.1:8000
    Version: 1
    Chain ID: 1337
    Nonce: 32891756abcdef01
    Issued At: 2025-01-01T00:00:00Z
    Expiration Time: 2025-01-01T00:10:00Z

This module follows the ABNF of EIP-4361: an optional scheme before the domain, an optional
statement (one line, no newline), the required fields in order, then the optional
``Expiration Time``, ``Not Before``, ``Request ID`` and ``Resources``. Parsing is strict: the
parsed message must print back to exactly the signed text, so nothing outside the grammar can
ride along, and no field may hold a control character (C0, DEL or C1: a NUL or an ESC would
let a wallet or a terminal show the user other text than the one signed). Verification checks
what the PyPI ``siwe`` package leaves to its caller: the domain, the URI's authority, the chain
id, the nonce, the issued-at, expiration and not-before times, and that the signature (EOA
only; EIP-1271 contract wallets are not supported) recovers to the message's address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fairwheel.errors import SiweError

__all__ = [
    "SiweError",
    "SiweMessage",
    "format_time",
    "parse_message",
    "parse_time",
    "recover_address",
    "verify_message",
]

_HEADER = " wants you to sign in with your Ethereum account:"
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# RFC 3986 authority: host (reg-name, IPv4 or [IPv6]) with an optional port and userinfo.
_AUTHORITY = re.compile(
    r"^(?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@)?"  # userinfo
    r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)"  # host
    r"(?::\d{1,5})?$"  # port
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@%]*$")


def parse_time(value: str, name: str) -> datetime:
    """Parse an RFC 3339 date-time (with a zone) into an aware ``datetime``.

    Raises:
        SiweError: If ``value`` is not an RFC 3339 date-time with a zone.
    """
    if not _TIME.match(value):
        raise SiweError(f"{name} must be an RFC 3339 date-time with a zone", field=name)
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    if "." in text:  # Python accepts at most 6 fractional digits
        head, rest = text.split(".", 1)
        digits = re.match(r"\d+", rest)
        assert digits is not None
        text = head + "." + digits.group(0)[:6].ljust(6, "0") + rest[len(digits.group(0)) :]
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise SiweError(f"{name} is not a valid date-time: {exc}", field=name) from None


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and whole seconds (what this server issues)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _control_character(text: str) -> int | None:
    """The offset of the first C0 control, DEL or C1 control in ``text`` (``None``: none).

    A signer's wallet may show such a message differently from what is signed (NUL truncation,
    ESC sequences that rewrite the screen).
    """
    for at, char in enumerate(text):
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            return at
    return None


def _refuse_controls(text: str, name: str) -> None:
    """Raise if ``text`` (the field or line ``name``) holds a control character.

    Raises:
        SiweError: Naming the field, the character's code point and its offset.
    """
    at = _control_character(text)
    if at is not None:
        point = f"U+{ord(text[at]):04X}"
        raise SiweError(
            f"{name} contains a control character ({point} at offset {at})",
            field=name,
            codepoint=point,
            offset=at,
        )


@dataclass(frozen=True)
class SiweMessage:
    """The fields of an EIP-4361 message; :meth:`to_text` is the exact text that is signed."""

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    version: str = "1"
    statement: str | None = None
    scheme: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.scheme is not None and not _SCHEME.match(self.scheme):
            raise SiweError("scheme is not an RFC 3986 scheme")
        if not _AUTHORITY.match(self.domain):
            raise SiweError("domain must be an RFC 3986 authority (host[:port])")
        if not _ADDRESS.match(self.address):
            raise SiweError("address must be 0x and 40 hex digits")
        if self.statement is not None and ("\n" in self.statement or "\r" in self.statement):
            raise SiweError("statement must be one line")
        for name in ("domain", "address", "uri", "nonce", "issued_at", "version", "statement",
                     "scheme", "expiration_time", "not_before", "request_id"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, str):
                _refuse_controls(value, name)
        for resource in self.resources:
            _refuse_controls(resource, "resources")
        if not _URI.match(self.uri):
            raise SiweError("URI must be an RFC 3986 URI")
        if self.version != "1":
            raise SiweError("only version 1 is supported")
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise SiweError("chain id must be an integer")
        if not 1 <= self.chain_id < 2**63:
            raise SiweError("chain id out of range")
        if not _NONCE.match(self.nonce):
            raise SiweError("nonce must be at least 8 alphanumeric characters")
        for name in ("issued_at", "expiration_time", "not_before"):
            value = getattr(self, name)
            if value is not None:
                parse_time(value, name)
        if self.request_id is not None and not _REQUEST_ID.match(self.request_id):
            raise SiweError("request id has characters outside RFC 3986 pchar")
        for resource in self.resources:
            if not _URI.match(resource):
                raise SiweError("every resource must be an RFC 3986 URI")

    def to_text(self) -> str:
        """The message exactly as the wallet signs it (LF line ends, no trailing newline)."""
        prefix = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [prefix + _HEADER, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)


def _take(lines: list[str], at: int, tag: str, required: bool) -> tuple[str | None, int]:
    prefix = f"{tag}: "
    if at < len(lines) and lines[at].startswith(prefix):
        return lines[at][len(prefix) :], at + 1
    if required:
        raise SiweError(f"missing or misplaced field {tag!r}", field=tag)
    return None, at


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly.

    Raises:
        SiweError: If the text does not follow the grammar, or does not print back to itself.
    """
    if not isinstance(text, str) or "\r" in text:
        raise SiweError("message must be text with LF line ends")
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        _refuse_controls(line, f"line {number}")
    if len(lines) < 9 or not lines[0].endswith(_HEADER):
        raise SiweError("not a Sign-In with Ethereum message")
    origin = lines[0][: -len(_HEADER)]
    scheme: str | None = None
    if "://" in origin:
        scheme, origin = origin.split("://", 1)
    address = lines[1]
    if lines[2] != "":
        raise SiweError("expected an empty line after the address")
    at = 3
    statement: str | None = None
    if lines[at] != "":
        statement, at = lines[at], at + 1
    if at >= len(lines) or lines[at] != "":
        raise SiweError("expected an empty line before the URI")
    at += 1
    uri, at = _take(lines, at, "URI", True)
    version, at = _take(lines, at, "Version", True)
    chain, at = _take(lines, at, "Chain ID", True)
    nonce, at = _take(lines, at, "Nonce", True)
    issued, at = _take(lines, at, "Issued At", True)
    expiration, at = _take(lines, at, "Expiration Time", False)
    not_before, at = _take(lines, at, "Not Before", False)
    request_id, at = _take(lines, at, "Request ID", False)
    resources: list[str] = []
    if at < len(lines) and lines[at] == "Resources:":
        at += 1
        while at < len(lines) and lines[at].startswith("- "):
            resources.append(lines[at][2:])
            at += 1
    if at != len(lines):
        raise SiweError(f"unexpected text on line {at + 1}")
    assert uri is not None and version is not None and chain is not None
    assert nonce is not None and issued is not None
    if not chain.isdigit() or (len(chain) > 1 and chain.startswith("0")):
        raise SiweError("chain id must be a decimal number")
    message = SiweMessage(
        domain=origin,
        address=address,
        uri=uri,
        chain_id=int(chain),
        nonce=nonce,
        issued_at=issued,
        version=version,
        statement=statement,
        scheme=scheme,
        expiration_time=expiration,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
    )
    if message.to_text() != text:
        raise SiweError("message does not round-trip (stray characters or spacing)")
    return message


def recover_address(text: str, signature: str) -> str:
    """The checksum address that ``personal_sign``-ed ``text`` (EIP-191 version 0x45).

    Raises:
        SignatureError: If the signature is malformed or does not recover.
    """
    from eth_account import Account
    from eth_account.messages import encode_defunct

    raw = signature[2:] if signature.startswith("0x") else signature
    if not re.fullmatch(r"[0-9a-fA-F]{130}", raw):
        raise SiweError("signature must be 65 bytes of hex")
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=bytes.fromhex(raw)))
    except Exception as exc:  # eth_keys raises its own errors for a bad v, r or s
        raise SiweError(f"signature does not recover: {exc}") from None


def verify_message(
    text: str,
    signature: str,
    *,
    domains: tuple[str, ...],
    chain_id: int,
    now: datetime,
    max_age: int,
    skew: int = 60,
) -> SiweMessage:
    """Parse and check a signed login message; the caller then consumes its nonce.

    Args:
        text: The message as signed.
        signature: ``0x`` + 65 bytes hex (``personal_sign``).
        domains: The authorities (``host:port``) this server answers for.
        chain_id: The chain the node settles on.
        now: The current time (aware).
        max_age: Seconds an ``Issued At`` may lie in the past.
        skew: Seconds of clock difference tolerated for future ``Issued At``/``Not Before``.

    Returns:
        The parsed message.

    Raises:
        SiweError: If anything does not check out; the message says what.
    """
    from eth_utils import to_checksum_address

    message = parse_message(text)
    if message.domain.lower() not in {d.lower() for d in domains}:
        raise SiweError(f"message is for domain {message.domain!r}, not this server")
    if urlsplit(message.uri).netloc.lower() != message.domain.lower():
        raise SiweError("URI must point at the signing domain")
    if message.scheme is not None and message.scheme not in ("http", "https"):
        raise SiweError("scheme must be http or https")
    if message.chain_id != chain_id:
        raise SiweError(f"message is for chain {message.chain_id}, this node is on {chain_id}")
    if to_checksum_address(message.address) != message.address:
        raise SiweError("address must be EIP-55 checksummed")
    issued = parse_time(message.issued_at, "issued_at")
    age = (now - issued).total_seconds()
    if age < -skew:
        raise SiweError("issued-at lies in the future")
    if age > max_age:
        raise SiweError("message is too old; ask for a new nonce")
    expiry = message.expiration_time
    if expiry is not None and parse_time(expiry, "expiration_time") <= now:
        raise SiweError("message has expired")
    start = message.not_before
    if start is not None and (parse_time(start, "not_before") - now).total_seconds() > skew:
        raise SiweError("message is not valid yet (not-before)")
    signer = recover_address(text, signature)
    if signer != message.address:
        raise SiweError(f"message signed by {signer}, not by {message.address}")
    return message
