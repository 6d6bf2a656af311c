"""Demo data: a small synthetic vertical of labelled customer-support queries, or a user's CSV.

The generator is deterministic for a seed and produces varied phrasings per
intent, so that a classifier has something to learn and near-duplicate
detection has honest work to do.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from fairwheel.errors import SchemaError

_INTENTS: dict[str, list[str]] = {
    "card_lost": [
        "I lost my {card} {when}",
        "my {card} was stolen {where}",
        "can't find my {card} anywhere, what should I do",
        "someone took my wallet with the {card} inside {where}",
        "how do I block a {card} I misplaced {when}",
        "please freeze my {card}, I think it is gone",
    ],
    "refund_request": [
        "I want my money back for the {item} I returned {when}",
        "how long does a refund for {item} take",
        "the shop accepted my return of the {item} but no refund yet",
        "please refund the {item} order, it arrived broken",
        "I cancelled the {item} and still have not been refunded",
        "where is the refund for my {item}",
    ],
    "transfer_failed": [
        "my transfer to {person} failed {when}",
        "why was the payment to {person} declined",
        "sending money to {person} keeps getting rejected",
        "the bank transfer to {person} bounced back",
        "I tried to pay {person} but the transfer did not go through",
        "transfer to {person} is stuck as failed",
    ],
    "change_address": [
        "I moved and need to update my address {when}",
        "how can I change the postal address on my account from my {device}",
        "please set my new home address, I live {where} now",
        "where do I edit my address details in the {device}",
        "my address is wrong on the statements since {when}, can you fix it",
        "updating my residence after moving {where}",
        "the {device} won't let me save my new address",
    ],
    "exchange_rate": [
        "what rate do you use to convert {currency}",
        "why was my {currency} payment {where} converted at a bad rate",
        "how much is the fee for exchanging {currency} on the {device}",
        "is the {currency} exchange rate fixed when I pay abroad",
        "which exchange rate applies to {currency} top ups made {when}",
        "the {currency} conversion {when} cost more than expected",
    ],
    "account_locked": [
        "my account is locked after too many attempts {when}",
        "I can't log in on my {device}, it says my account is blocked",
        "how do I unlock my profile, I typed the wrong PIN on the {device}",
        "access denied to my account since {when}",
        "you suspended my account {when} and I don't know why",
        "locked out of online banking on my {device}, please help",
        "the {device} keeps rejecting my password {when}",
    ],
}
_SLOTS: dict[str, list[str]] = {
    "card": ["debit card", "credit card", "virtual card", "card", "contactless card", "bank card"],
    "when": ["yesterday", "this morning", "last week", "two days ago", "on Friday", "tonight",
             "an hour ago", "at the weekend"],
    "where": ["on the train", "at the airport", "in a taxi", "downtown", "at the gym",
              "in another city", "abroad", "near the station"],
    "item": ["jacket", "headphones", "laptop", "flight ticket", "concert ticket", "phone case",
             "subscription", "coffee machine"],
    "person": ["my landlord", "my sister", "a friend", "the plumber", "my business partner",
               "an online shop", "my daughter", "a colleague"],
    "device": ["phone", "laptop", "tablet", "banking app", "website", "work computer",
               "new phone", "smartwatch"],
    "currency": ["euro", "dollar", "yen", "pound", "swiss franc", "peso", "rupee", "krona"],
}  # fmt: skip
_OPENERS = ["", "", "hi, ", "hello, ", "urgent: ", "quick question: ", "please help, ", "hey, "]
_CLOSERS = ["", "", "", " thanks", " asap", " please", " thank you", " - regards"]


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def synthetic_support_queries(n: int = 360, seed: int = 7) -> list[Example]:
    """``n`` distinct labelled queries spread evenly over six support intents."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Example] = []
    counts = dict.fromkeys(sorted(_INTENTS), 0)
    misses = dict.fromkeys(counts, 0)
    while len(out) < n:
        open_labels = [lab for lab in counts if misses[lab] < 500]
        if not open_labels:
            break  # every intent's phrasings are used up
        label = min(open_labels, key=lambda lab: (counts[lab], lab))
        template = rng.choice(_INTENTS[label])
        body = template.format(**{k: rng.choice(v) for k, v in _SLOTS.items()})
        # One phrasing per body: greetings alone would make near copies, not new data.
        if body.lower() in seen:
            misses[label] += 1
            continue
        counts[label] += 1
        seen.add(body.lower())
        text = f"{rng.choice(_OPENERS)}{body}{rng.choice(_CLOSERS)}".strip()
        out.append(Example(text[0].upper() + text[1:], label))
    return out


def load_csv(path: Path, text_col: str = "text", label_col: str | None = None) -> list[Example]:
    """Load labelled text rows from a CSV file.

    Args:
        path: the CSV file.
        text_col: the column holding the text.
        label_col: the column holding the label; by default ``label``, or the only
            other column of a two-column file (banking77's ``text,category``).

    Raises:
        SchemaError: the file lacks one of the columns or has no rows.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        if label_col is None:
            others = [c for c in columns if c != text_col]
            label_col = "label" if "label" in columns or len(others) != 1 else others[0]
        if text_col not in columns or label_col not in columns:
            raise SchemaError(
                f"{path} needs columns {text_col!r} and {label_col!r}; it has {columns}"
            )
        rows = [Example(r[text_col] or "", r[label_col] or "") for r in reader]
    if not rows:
        raise SchemaError(f"{path} has no rows")
    return rows
