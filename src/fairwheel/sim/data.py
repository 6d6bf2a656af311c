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
        "how can I change the postal address on my account",
        "please set my new home address, I live {where} now",
        "where do I edit my address details",
        "my address is wrong on the statements, can you fix it",
        "updating my residence after moving {where}",
    ],
    "exchange_rate": [
        "what rate do you use to convert {currency}",
        "why was my {currency} payment converted at a bad rate",
        "how much is the fee for exchanging {currency}",
        "is the {currency} exchange rate fixed when I pay abroad",
        "which exchange rate applies to {currency} top ups",
        "the {currency} conversion cost more than expected",
    ],
    "account_locked": [
        "my account is locked after too many attempts {when}",
        "I can't log in, the app says my account is blocked",
        "how do I unlock my profile, I typed the wrong PIN",
        "access denied to my account since {when}",
        "you suspended my account and I don't know why",
        "locked out of online banking, please help",
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
    labels = sorted(_INTENTS)
    seen: set[str] = set()
    out: list[Example] = []
    attempts = 0
    while len(out) < n and attempts < n * 50:
        attempts += 1
        label = labels[len(out) % len(labels)]
        template = rng.choice(_INTENTS[label])
        body = template.format(**{k: rng.choice(v) for k, v in _SLOTS.items()})
        text = f"{rng.choice(_OPENERS)}{body}{rng.choice(_CLOSERS)}".strip()
        text = text[0].upper() + text[1:]
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append(Example(text, label))
    return out


def load_csv(path: Path, text_col: str = "text", label_col: str = "label") -> list[Example]:
    """Load ``text,label`` rows from a CSV file.

    Raises:
        SchemaError: the file lacks one of the columns or has no rows.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        if text_col not in columns or label_col not in columns:
            raise SchemaError(
                f"{path} needs columns {text_col!r} and {label_col!r}; it has {columns}"
            )
        rows = [Example(r[text_col] or "", r[label_col] or "") for r in reader]
    if not rows:
        raise SchemaError(f"{path} has no rows")
    return rows
