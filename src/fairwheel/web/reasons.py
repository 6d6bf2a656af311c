"""What each gate reason means to a contributor, and how to fix the record.

The gate's reasons are machine-readable strings whose first word is the code
(:func:`fairwheel.node.queries.reason_code`); the dashboard groups an upload's results by it and
says, per code, what to change. Fixes that depend on the pool (its labels, its size limits, its
rate limit) are filled in from the pool's terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["REASON_TITLES", "fix_for", "fixes_for_pool"]

#: A short title per reason code.
REASON_TITLES: dict[str, str] = {
    "accepted": "Accepted",
    "bad_signature": "Signature does not match",
    "consent_expired": "Consent expired",
    "consent_replayed": "Consent used twice",
    "consent_mismatch": "Consent signs something else",
    "schema": "Malformed record",
    "too_large": "Too large",
    "too_short": "Too short",
    "unknown_label": "Unknown label",
    "duplicate": "Exact duplicate",
    "near_duplicate": "Near duplicate",
    "near_duplicate_suspect": "Near duplicate (under review)",
    "rate_limited": "Rate limited",
    "junk": "Junk",
    "wrong_language": "Wrong language",
    "outlier": "Outlier (under review)",
    "label_issue": "Label looks wrong (under review)",
    "feedback_review": "Behind badly rated answers (under review)",
    "review": "Decided by a reviewer",
}

_FIXES: dict[str, str] = {
    "accepted": "Nothing to fix: the record is indexed, anchored in the next batch and paid "
    "for every use.",
    "bad_signature": "The consent was not signed by the wallet you are signed in with: sign "
    "again with that wallet.",
    "consent_expired": "The consent expired before the node saw it: submit again (a fresh "
    "consent is drafted for you).",
    "consent_replayed": "That consent's nonce was used already: submit again, so that a new "
    "consent is signed.",
    "consent_mismatch": "The consent signs another pool or other content: sign again for this "
    "pool, with exactly this text and label.",
    "schema": "Text and label must be plain strings: check the CSV's text and label columns.",
    "too_large": "Shorten the text to at most {max_bytes} bytes (UTF-8).",
    "too_short": "Write at least {min_chars} characters of text.",
    "unknown_label": "Use one of: {labels} — or leave the label empty.",
    "duplicate": "The same text (ignoring case and spacing) is in the pool already: its first "
    "submitter owns it, and a copy earns nothing. Submit new content.",
    "near_duplicate": "Too close to another contributor's record: rewording or small edits of "
    "someone else's text are refused. Submit your own content.",
    "near_duplicate_suspect": "Close to another contributor's record: a reviewer decides. "
    "Nothing to do unless it is a copy.",
    "rate_limited": "More than {rate_limit} records per hour: submit the rest later.",
    "junk": "Mostly non-letters or repeated characters: submit real sentences.",
    "wrong_language": "Mostly words the pool does not know: submit text in the pool's language.",
    "outlier": "Far from the rest of the pool: a reviewer decides. Check that it belongs to "
    "this pool's topic.",
    "label_issue": "The pool's model would give it another label: check the label; if it is "
    "wrong, revoke this record and submit it with the right one.",
    "feedback_review": "Answers it was behind were rated badly: a reviewer checks it.",
    "review": "A reviewer decided; their note is in the reasons.",
}


def fix_for(code: str | None, terms: Mapping[str, Any]) -> str:
    """How to fix a record with reason ``code`` in a pool with these ``terms``.

    Args:
        code: The reason code (None: an accepted record).
        terms: The pool's terms: ``labels``, ``max_bytes``, ``min_chars``, ``rate_limit``.

    Returns:
        A sentence; for an unknown code, where the reasons are explained.
    """
    template = _FIXES.get(code or "accepted")
    if template is None:
        return "See the reasons; docs/quality.md explains each check."
    labels: Sequence[str] = terms.get("labels") or ()
    return template.format(
        labels=", ".join(labels) if labels else "any label",
        max_bytes=terms.get("max_bytes", "?"),
        min_chars=terms.get("min_chars", "?"),
        rate_limit=terms.get("rate_limit", "?"),
    )


def fixes_for_pool(terms: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Every code's title and fix for one pool (the page's JSON data, for grouping uploads)."""
    return {
        code: {"title": REASON_TITLES.get(code, code), "fix": fix_for(code, terms)}
        for code in sorted(set(_FIXES) | set(REASON_TITLES))
    }
