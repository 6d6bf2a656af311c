"""EIP-712 consent, voucher and revocation messages: signing, recovery and refusals."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from fairwheel.chain import Protocol
from fairwheel.domain.typed_data import (
    PURPOSE_RESALE,
    PURPOSE_SEARCH,
    PURPOSE_TRAINING,
    Consent,
    Revocation,
    Voucher,
    consent_digest,
    consent_domain,
    recover_consent_signer,
    recover_revocation_signer,
    recover_voucher_signer,
    revocation_digest,
    sign_consent,
    sign_revocation,
    sign_voucher,
    verify_consent,
    verify_revocation,
    verify_voucher,
    voucher_digest,
    voucher_domain,
)
from fairwheel.errors import SchemaError, SignatureError
from tests.chain_fixtures import anvil_url, chain, chain_url, deployer, protocol

# fixtures, re-exported for pytest
__all__ = ["anvil_url", "chain", "chain_url", "deployer", "protocol"]

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
REGISTRY = "0x" + "ab" * 20
ESCROW = "0x" + "cd" * 20
KEY = Account.from_key(b"\x42" * 32)
OTHER = Account.from_key(b"\x43" * 32)


def _consent(**overrides: Any) -> Consent:
    fields: dict[str, Any] = {
        "contributor": KEY.address,
        "pool_id": 3,
        "content_hash": b"\x11" * 32,
        "licence": "CC-BY-4.0",
        "purposes": PURPOSE_SEARCH | PURPOSE_TRAINING,
        "expiry": 2_000_000_000,
        "nonce": 9,
    }
    fields.update(overrides)
    return Consent(**fields)


def _eth_account_digest(typed: dict[str, Any]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=typed)))


def malleate(signature: bytes) -> bytes:
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (N - s).to_bytes(32, "big") + bytes([55 - v])


def test_constants_and_domains() -> None:
    assert (PURPOSE_SEARCH, PURPOSE_TRAINING, PURPOSE_RESALE) == (1, 2, 4)
    d = consent_domain(5, REGISTRY)
    assert (d.name, d.version, d.chain_id) == ("Fairwheel PoolRegistry", "1", 5)
    assert d.verifying_contract == to_checksum_address(REGISTRY)
    v = voucher_domain(5, ESCROW)
    assert (v.name, v.version) == ("Fairwheel UsageEscrow", "1")
    assert _consent().allows(PURPOSE_SEARCH) and not _consent().allows(PURPOSE_RESALE)


def test_consent_round_trip() -> None:
    domain = consent_domain(1337, REGISTRY)
    consent = _consent()
    signature = sign_consent(consent, domain, KEY)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert recover_consent_signer(consent, domain, signature) == KEY.address
    verify_consent(consent, domain, signature)
    verify_consent(consent, domain, "0x" + signature.hex())  # hex works too
    # raw key bytes, a hex key and the LocalAccount sign identically (RFC 6979)
    assert sign_consent(consent, domain, KEY.key) == signature
    assert sign_consent(consent, domain, "0x" + bytes(KEY.key).hex()) == signature
    # the same signature eth_account gives for the typed-data payload
    typed = consent.to_typed_data(domain)
    assert bytes(Account.sign_typed_data(KEY.key, full_message=typed).signature) == signature
    assert consent_digest(consent, domain) == _eth_account_digest(typed)


def test_voucher_and_revocation_round_trip() -> None:
    domain = voucher_domain(1337, ESCROW)
    voucher = Voucher(KEY.address, 3, 12345)
    signature = sign_voucher(voucher, domain, KEY)
    assert recover_voucher_signer(voucher, domain, signature) == KEY.address
    verify_voucher(voucher, domain, signature)
    assert voucher_digest(voucher, domain) == _eth_account_digest(voucher.to_typed_data(domain))
    assert voucher.to_message() == {"payer": KEY.address, "poolId": 3, "cumulativeAmount": 12345}
    rdomain = consent_domain(1337, REGISTRY)
    revocation = Revocation(KEY.address, 3, b"\x22" * 32)
    rsig = sign_revocation(revocation, rdomain, KEY)
    assert recover_revocation_signer(revocation, rdomain, rsig) == KEY.address
    verify_revocation(revocation, rdomain, rsig)
    assert revocation_digest(revocation, rdomain) == _eth_account_digest(
        revocation.to_typed_data(rdomain)
    )


def test_forged_signature_is_refused() -> None:
    domain = consent_domain(1337, REGISTRY)
    consent = _consent()
    forged = sign_consent(consent, domain, OTHER)
    with pytest.raises(SignatureError) as info:
        verify_consent(consent, domain, forged)
    assert info.value.details["recovered"] == OTHER.address
    vdomain = voucher_domain(1337, ESCROW)
    voucher = Voucher(KEY.address, 1, 5)
    with pytest.raises(SignatureError):
        verify_voucher(voucher, vdomain, sign_voucher(voucher, vdomain, OTHER))


def test_high_s_signature_is_refused() -> None:
    domain = voucher_domain(1337, ESCROW)
    voucher = Voucher(KEY.address, 1, 5)
    good = sign_voucher(voucher, domain, KEY)
    twin = malleate(good)
    # the twin is a valid secp256k1 signature by the same key ...
    assert Account._recover_hash(voucher_digest(voucher, domain), signature=twin) == KEY.address
    # ... which the contracts (OpenZeppelin ECDSA) and this module refuse
    with pytest.raises(SignatureError, match="lower half"):
        verify_voucher(voucher, domain, twin)
    with pytest.raises(SignatureError):
        recover_voucher_signer(voucher, domain, twin)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:64],
        lambda s: s + b"\x00",
        lambda s: b"",
        lambda s: s[:64] + b"\x00",
        lambda s: s[:64] + b"\x01",
        lambda s: s[:64] + b"\x1d",
        lambda s: bytes(32) + s[32:],
        lambda s: s[:32] + bytes(32) + s[64:],
        lambda s: N.to_bytes(32, "big") + s[32:],
        lambda s: "0xnothex",
    ],
    ids=["64-bytes", "66-bytes", "empty", "v0", "v1", "v29", "r0", "s0", "r=n", "not-hex"],
)
def test_malformed_signatures_are_refused(mutate: Any) -> None:
    domain = consent_domain(1337, REGISTRY)
    consent = _consent()
    with pytest.raises(SignatureError):
        verify_consent(consent, domain, mutate(sign_consent(consent, domain, KEY)))


@pytest.mark.parametrize(
    "change",
    [
        {"contributor": OTHER.address},
        {"pool_id": 4},
        {"content_hash": b"\x12" * 32},
        {"licence": "CC0"},
        {"purposes": PURPOSE_SEARCH},
        {"expiry": 2_000_000_001},
        {"nonce": 10},
    ],
    ids=lambda c: next(iter(c)),
)
def test_tampered_field_is_refused(change: dict[str, Any]) -> None:
    domain = consent_domain(1337, REGISTRY)
    signature = sign_consent(_consent(), domain, KEY)
    with pytest.raises(SignatureError):
        verify_consent(_consent(**change), domain, signature)


def test_other_domain_is_refused() -> None:
    consent = _consent()
    signature = sign_consent(consent, consent_domain(1337, REGISTRY), KEY)
    for domain in (consent_domain(1338, REGISTRY), consent_domain(1337, ESCROW)):
        with pytest.raises(SignatureError):
            verify_consent(consent, domain, signature)
    wrong_name = dataclasses.replace(consent_domain(1337, REGISTRY), name="Other")
    with pytest.raises(SignatureError):
        verify_consent(consent, wrong_name, signature)


def test_schema_is_checked() -> None:
    with pytest.raises(SchemaError):
        _consent(contributor="not-an-address")
    with pytest.raises(SchemaError):
        _consent(purposes=8)
    with pytest.raises(SchemaError):
        _consent(content_hash=b"short")
    with pytest.raises(SchemaError):
        _consent(expiry=2**64)
    with pytest.raises(SchemaError):
        Voucher(KEY.address, 1, -1)
    # lower-case addresses and hex hashes are normalised
    c = _consent(contributor=KEY.address.lower(), content_hash="0x" + "11" * 32)
    assert c.contributor == KEY.address and c.content_hash == b"\x11" * 32


@settings(max_examples=25, deadline=None)
@given(
    pool_id=st.integers(min_value=0, max_value=2**256 - 1),
    content_hash=st.binary(min_size=32, max_size=32),
    licence=st.text(max_size=40),
    purposes=st.integers(min_value=0, max_value=7),
    expiry=st.integers(min_value=0, max_value=2**64 - 1),
    nonce=st.integers(min_value=0, max_value=2**256 - 1),
    chain_id=st.integers(min_value=1, max_value=2**64),
)
def test_consent_digest_matches_eth_account(
    pool_id: int,
    content_hash: bytes,
    licence: str,
    purposes: int,
    expiry: int,
    nonce: int,
    chain_id: int,
) -> None:
    consent = Consent(KEY.address, pool_id, content_hash, licence, purposes, expiry, nonce)
    domain = consent_domain(chain_id, REGISTRY)
    assert consent_digest(consent, domain) == _eth_account_digest(consent.to_typed_data(domain))


# -------------------------------------------------------------- against chain


def test_digests_match_the_contracts(protocol: Protocol) -> None:
    consent = _consent(pool_id=1, content_hash=os.urandom(32), licence="Apache-2.0 ✓", nonce=2**200)
    assert protocol.onchain_consent_digest(consent) == consent_digest(
        consent, protocol.consent_domain()
    )
    voucher = Voucher(KEY.address, 7, 10**30)
    assert protocol.onchain_voucher_digest(voucher) == voucher_digest(
        voucher, protocol.voucher_domain()
    )
    assert protocol.consent_domain().chain_id == protocol.chain.chain_id
    assert protocol.voucher_domain().verifying_contract == protocol.escrow_address
