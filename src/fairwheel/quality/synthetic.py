"""Synthetic attacks on a pool, to measure the gate and to calibrate its thresholds.

Every generator is deterministic given its :class:`random.Random`. The attacks are the ones the
gate must stop (DESIGN.md, "Contribution and proof of contribution"):

* :func:`near_copy` — another contributor's text with one to three edits: typos, a dropped
  word, changed casing, a suffix or prefix, changed punctuation;
* :func:`junk_text` — random letters, keyboard mashing, repeated characters, symbols, lorem
  ipsum, salad of the pool's own words, spam, and plausible sentences in other languages;
* :func:`flip_label` — a label replaced by another class of the pool.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence

_SUFFIXES = (
    " thanks",
    " thank you!",
    " please help",
    " asap",
    "??",
    "!!",
    " :)",
    " pls",
    " any idea?",
    " Thanks in advance.",
)
_PREFIXES = ("Hi, ", "Hello ", "Hey! ", "Quick question: ", "Please, ", "Urgent: ")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
_LOREM_TEXT = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco"
)
_LOREM = tuple(_LOREM_TEXT.split(" "))
_SPAM = (
    "BUY CHEAP {x} NOW at www.{y}-deals.example !!!",
    "Click here http://{y}.example/win to claim your FREE {x}",
    "$$$ make money fast $$$ {x} {x} {x} call 555-0100",
    "100% FREE {x}!!! limited offer >>> {y}.example <<<",
)
_SPAM_WORDS = ("watches", "pills", "crypto", "followers", "iphones", "loans", "casino", "bitcoin")
# Short everyday sentences in other languages (no external data): wrong language for the pool.
_FOREIGN = (
    "¿Dónde está mi {es}? No la encuentro desde ayer.",
    "Necesito ayuda con mi {es}, por favor.",
    "Wo ist meine {de}? Ich warte seit einer Woche.",
    "Ich möchte meine {de} sofort sperren lassen.",
    "Où est ma {fr} ? Je l'attends depuis lundi.",
    "Je voudrais annuler ma {fr}, s'il vous plaît.",
    "Dov'è la mia {it}? Non è ancora arrivata.",
    "Waar is mijn {nl}? Ik wacht al twee weken.",
    "Onde está o meu {pt}? Ainda não chegou.",
    "Di mana {id} saya? Sudah seminggu belum sampai.",
)
_FOREIGN_SLOTS = {
    "es": ("tarjeta", "transferencia", "cuenta", "contraseña"),
    "de": ("Karte", "Überweisung", "Rückerstattung", "Zahlung"),
    "fr": ("carte", "commande", "facture", "livraison"),
    "it": ("carta", "fattura", "consegna", "ricarica"),
    "nl": ("kaart", "betaling", "bestelling", "rekening"),
    "pt": ("cartão", "pagamento", "pedido", "reembolso"),
    "id": ("kartu", "pembayaran", "pesanan", "rekening"),
}
JUNK_KINDS = (
    "letters",
    "keyboard",
    "repeated",
    "symbols",
    "lorem",
    "word_salad",
    "spam",
    "foreign",
)


def typo(text: str, rng: random.Random) -> str:
    """One keyboard slip inside a word: swap, drop, double or replace a letter."""
    # Positions of letters followed by a letter, so a swap stays inside a word.
    positions = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not positions:
        return text + rng.choice(string.ascii_lowercase)
    i = rng.choice(positions)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]


def drop_word(text: str, rng: random.Random) -> str:
    """Remove one word (texts of fewer than four words are returned unchanged)."""
    words = text.split()
    if len(words) < 4:
        return text
    del words[rng.randrange(len(words))]
    return " ".join(words)


def recase(text: str, rng: random.Random) -> str:
    """Upper, lower, title or swapped case."""
    return rng.choice((str.upper, str.lower, str.title, str.swapcase))(text)


def add_affix(text: str, rng: random.Random) -> str:
    """Append a suffix or prepend a prefix."""
    if rng.random() < 0.7:
        return text.rstrip() + rng.choice(_SUFFIXES)
    return rng.choice(_PREFIXES) + text[:1].lower() + text[1:]


def repunctuate(text: str, rng: random.Random) -> str:
    """Strip the final punctuation, or add some."""
    stripped = text.rstrip(".?!")
    return stripped if stripped != text else text + rng.choice(("?", ".", "!", "..."))


NEAR_COPY_EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "typo": typo,
    "drop_word": drop_word,
    "recase": recase,
    "affix": add_affix,
    "repunctuate": repunctuate,
}


def near_copy(text: str, rng: random.Random, max_edits: int = 2) -> str:
    """A near copy: one to ``max_edits`` edits drawn from :data:`NEAR_COPY_EDITS`.

    A near copy is never an exact copy after normalisation: if the edits happen to change only
    case or whitespace, a typo is added.
    """
    from fairwheel.domain.records import normalize_text

    out = text
    for _ in range(rng.randint(1, max_edits)):
        out = NEAR_COPY_EDITS[rng.choice(sorted(NEAR_COPY_EDITS))](out, rng)
    while normalize_text(out) == normalize_text(text):
        out = typo(out, rng)
    return out


def junk_text(rng: random.Random, vocabulary: Sequence[str] = (), kind: str | None = None) -> str:
    """One piece of junk of the given kind (random kind if None).

    Args:
        rng: The random source.
        vocabulary: The pool's words, for ``word_salad`` (falls back to lorem ipsum).
        kind: One of :data:`JUNK_KINDS`.
    """
    kind = kind or rng.choice(JUNK_KINDS)
    n = rng.randint(3, 12)
    if kind == "letters":
        return " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(n)
        )
    if kind == "keyboard":
        row = rng.choice(_KEYBOARD_ROWS[:3])
        start = rng.randrange(len(row) - 3)
        chunk = row[start : start + rng.randint(3, len(row) - start)]
        return " ".join(chunk * rng.randint(1, 3) for _ in range(rng.randint(1, 4)))
    if kind == "repeated":
        return rng.choice("a!?.xz0") * rng.randint(8, 40)
    if kind == "symbols":
        pool = string.digits + string.punctuation
        return " ".join("".join(rng.choices(pool, k=rng.randint(2, 6))) for _ in range(n))
    if kind == "lorem":
        start = rng.randrange(len(_LOREM) - n)
        return " ".join(_LOREM[start : start + n]).capitalize() + "."
    if kind == "word_salad":
        words = list(vocabulary) or _LOREM
        return " ".join(rng.choices(words, k=n)).capitalize() + rng.choice((".", "?", ""))
    if kind == "spam":
        return rng.choice(_SPAM).format(
            x=rng.choice(_SPAM_WORDS), y=rng.choice(_SPAM_WORDS).upper()
        )
    if kind == "foreign":
        template = rng.choice(_FOREIGN)
        slot = template.split("{")[1].split("}")[0]
        return template.format(**{slot: rng.choice(_FOREIGN_SLOTS[slot])})
    raise ValueError(f"unknown junk kind {kind!r}; expected one of {JUNK_KINDS}")


def flip_label(label: str, labels: Sequence[str], rng: random.Random) -> str:
    """A label of another class, drawn uniformly from ``labels``."""
    others = [x for x in labels if x != label]
    if not others:
        raise ValueError("flipping a label needs at least two classes")
    return rng.choice(others)
