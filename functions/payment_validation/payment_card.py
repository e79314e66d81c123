"""Card number (PAN) handling: checks, and the only two forms a PAN may be kept in.

The clear PAN lives only in memory during a request. What is stored, logged or returned is
its last four digits and a keyed HMAC-SHA256 fingerprint: without the key, the hash of a
PAN cannot be brute-forced from its BIN and last four digits.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PAN_MIN_DIGITS = 12
PAN_MAX_DIGITS = 19
REDACTED = "[REDACTED-PAN]"

# Clients may group digits with single spaces or dashes ("4111 1111 1111 1111").
_SEPARATORS = re.compile(r"[ -]")
_GROUPED_DIGITS = re.compile(r"^\d+(?:[ -]\d+)*$")
# A run of 12-19 digits, possibly grouped, not part of a longer number.
_PAN_CANDIDATE = re.compile(rf"(?<!\d)\d(?:[ -]?\d){{{PAN_MIN_DIGITS - 1},{PAN_MAX_DIGITS - 1}}}(?!\d)")
# Ids the logs correlate by: UUIDs (request and transaction ids) and X-Ray trace ids. About 1 UUID in 300
# holds a Luhn-valid 12-19 digit stretch between its dashes; no PAN has their shape (8-4-4-4-12 hex digits
# is 32), so they are matched first and kept whole.
_HEX = "[0-9a-fA-F]"
_CORRELATION_ID = rf"(?<![0-9a-zA-Z-]){_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![0-9a-zA-Z-])" \
    rf"|(?<![0-9a-zA-Z-])1-{_HEX}{{8}}-{_HEX}{{24}}(?![0-9a-zA-Z-])"
_REDACTION_SCAN = re.compile(rf"(?P<id>{_CORRELATION_ID})|(?P<pan>{_PAN_CANDIDATE.pattern})")


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_grouped_digits(text: str) -> bool:
    """Only digits, optionally grouped by single spaces or dashes."""
    return bool(_GROUPED_DIGITS.match(text))


def strip_separators(text: str) -> str:
    return _SEPARATORS.sub("", text)


def fingerprint(pan: str, key: bytes) -> str:
    """Keyed hash that identifies a card across payments without revealing it."""
    return hmac.new(key, pan.encode("ascii"), hashlib.sha256).hexdigest()


def _is_pan(candidate: re.Match[str]) -> bool:
    return luhn_valid(strip_separators(candidate.group()))


def contains_pan(text: str) -> bool:
    """Whether free text holds something that looks like a card number."""
    return any(match.group("pan") and _is_pan(match) for match in _REDACTION_SCAN.finditer(text))


def redact_pans(text: str) -> str:
    """Replaces every card-number-like run of digits (Luhn-valid) with a marker; ids stay intact."""
    def replace(match: re.Match[str]) -> str:
        if match.group("pan") and _is_pan(match):
            return REDACTED
        return match.group()

    return _REDACTION_SCAN.sub(replace, text)
