"""Card number (PAN) handling: checks, detection in any other text, and the only two forms a PAN may be kept in.

The clear PAN lives only in memory during a request. What is stored, logged or returned is
its last four digits and a keyed HMAC-SHA256 fingerprint: without the key, the hash of a
PAN cannot be brute-forced from its BIN and last four digits.

Detection (`contains_pan`, `redact_pans`) looks for a card number however it was written:
- digits of any script (full-width, Arabic-Indic, Devanagari, ...) and compatibility forms
  (circled, superscript), read as their NFKC / Unicode decimal value;
- grouped by any number of separators: whitespace of any kind (tab, NBSP, ideographic space),
  zero-width and other format characters, dashes of any kind, dots, underscores, slashes,
  bullets and middle dots (and their full-width forms).
A *chain* is a run of digit groups joined only by separators; any stretch of whole consecutive
groups holding 12-19 digits that passes Luhn is a card number. Groups are whole: "94111 1111 1111
1111" is a 17-digit number, not a card number, while "9 4111 1111 1111 1111" holds one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

PAN_MIN_DIGITS = 12
PAN_MAX_DIGITS = 19
REDACTED = "[REDACTED-PAN]"

# The card field itself: ASCII digits, optionally grouped by single spaces or dashes ("4111 1111 1111 1111").
_CARD_FIELD = re.compile(r"[0-9]+(?:[ -][0-9]+)*", re.ASCII)
_CARD_FIELD_SEPARATORS = re.compile(r"[ -]")

# Ids the logs correlate by: UUIDs (request and transaction ids) and X-Ray trace ids. About 1 UUID in 300
# holds a Luhn-valid 12-19 digit stretch between its dashes; no PAN has their shape (8-4-4-4-12 hex digits
# is 32), so they are masked before the scan and kept whole.
_HEX = "[0-9a-fA-F]"
# A dash may join them to a prefix ("key-<uuid>"): masking the id still leaves any PAN before it whole.
_CORRELATION_ID = re.compile(
    rf"(?<![0-9a-zA-Z]){_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![0-9a-zA-Z])"
    rf"|(?<![0-9a-zA-Z])1-{_HEX}{{8}}-{_HEX}{{24}}(?![0-9a-zA-Z])"
)

# Canonical form for the scan: ASCII digits, " " for a separator, anything else as itself (or "x").
_ASCII_SEPARATORS = str.maketrans({char: " " for char in "\t\n\v\f\r-._/\\"})
_EXTRA_SEPARATORS = frozenset("\u00b7\u2022\u2027\u2043\u2044\u2215\u2212\u30fb\uff65")  # bullets, slashes, minus
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cf", "Pd"})  # spaces, zero-width/format chars, dashes
_CHAIN = re.compile(r"[0-9]+(?: +[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_grouped_digits(text: str) -> bool:
    """Only ASCII digits, optionally grouped by single spaces or dashes: the card field's format."""
    return bool(_CARD_FIELD.fullmatch(text))


def strip_separators(text: str) -> str:
    return _CARD_FIELD_SEPARATORS.sub("", text)


def fingerprint(pan: str, key: bytes) -> str:
    """Keyed hash that identifies a card across payments without revealing it."""
    return hmac.new(key, pan.encode("ascii"), hashlib.sha256).hexdigest()


def _is_separator(char: str) -> bool:
    return char.isspace() or char in _EXTRA_SEPARATORS or unicodedata.category(char) in _SEPARATOR_CATEGORIES


@lru_cache(maxsize=4096)
def _canonical_char(char: str) -> str:
    """A non-ASCII character as the scan sees it: its digits, " " for a separator, else "x"."""
    value = unicodedata.decimal(char, None)
    if value is not None:
        return str(value)
    if _is_separator(char):
        return " "
    compatible = unicodedata.normalize("NFKC", char)  # "①" -> "1", "⑫" -> "12", "．" -> ".", "¹" -> "1"
    if (
        compatible != char
        and compatible
        and all((c.isascii() and c.isdigit()) or _is_separator(c) or c in "._/\\" for c in compatible)
    ):
        return "".join(c if c.isdigit() else " " for c in compatible)
    return "x"


def _canonical(text: str) -> tuple[str, list[int] | None]:
    """The text to scan, and for each of its characters the index of the character it came from.

    Correlation ids are masked first. For ASCII text the scan text has the same length (no index
    map needed); otherwise a character can become several digits ("⑫").
    """
    masked = _CORRELATION_ID.sub(lambda match: "x" * len(match.group()), text) if "-" in text else text
    if masked.isascii():
        return masked.translate(_ASCII_SEPARATORS), None
    parts, origin = [], []
    for index, char in enumerate(masked):
        part = char.translate(_ASCII_SEPARATORS) if char.isascii() else _canonical_char(char)
        parts.append(part)
        origin.extend([index] * len(part))
    return "".join(parts), origin


def _holds_pan(chain: str) -> bool:
    """Whether whole consecutive groups of this chain form a Luhn-valid 12-19 digit number."""
    groups = _GROUP.findall(chain)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > PAN_MAX_DIGITS:
                break
            if len(digits) >= PAN_MIN_DIGITS and luhn_valid(digits):
                return True
    return False


def _pan_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) in `text` of every chain holding a card number."""
    scan, origin = _canonical(text)
    for chain in _CHAIN.finditer(scan):
        if chain.end() - chain.start() >= PAN_MIN_DIGITS and _holds_pan(chain.group()):
            if origin is None:
                yield chain.start(), chain.end()
            else:
                yield origin[chain.start()], origin[chain.end() - 1] + 1


def contains_pan(text: str) -> bool:
    """Whether the text holds something that reads as a card number (see the module docstring)."""
    return next(_pan_spans(text), None) is not None


def redact_pans(text: str) -> str:
    """Replaces every chain holding a card number with a marker; correlation ids stay intact."""
    pieces, previous = [], 0
    for start, end in _pan_spans(text):
        pieces += [text[previous:start], REDACTED]
        previous = end
    return "".join(pieces) + text[previous:] if pieces else text
