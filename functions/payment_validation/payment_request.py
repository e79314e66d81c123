"""The POST /payments request: its schema (pydantic) and the rules that depend on configuration.

Every rejection is a Violation naming the field, with a stable code for clients and a message
that never repeats the submitted value (the value could be a card number).

The handler imports this module on the first POST /payments, not at cold start: pydantic and
these models take about 90 ms to load, and GET /health does not need them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from payment_card import PAN_MAX_DIGITS, PAN_MIN_DIGITS, contains_pan, is_grouped_digits, luhn_valid, strip_separators
from payment_money import MINOR_UNITS, decimal_places
from payment_settings import Settings
from payment_violations import RequestRejected, Violation

# Identifiers have strict formats. A merchant id is a slug with fewer digits than the shortest card
# number, so it cannot hold one in any form; it is also a key of the transactions table's index.
MERCHANT_ID_PATTERN = r"(?=.{3,64}\Z)[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*"
MERCHANT_ID_MAX_DIGITS = PAN_MIN_DIGITS - 1
MERCHANT_ID_MESSAGE = (
    f"must be 3-64 lower-case letters and digits, starting with a letter, words joined by single '-' or '_', "
    f"with at most {MERCHANT_ID_MAX_DIGITS} digits"
)
REFERENCE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}"
REFERENCE_MESSAGE = "must be 1-64 letters, digits, '.', '_', ':', '/', '#' or '-', starting with a letter or digit"
AMOUNT_PATTERN = r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?"
DESCRIPTION_MAX_LENGTH = 255

# Messages replacing pydantic's wording for the generic errors clients hit most.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a recognised field",
    "json_invalid": "request body is not valid JSON",
    "model_type": "must be a JSON object",
}
# Errors raised from plain exceptions can quote the input: their text is never passed on.
_OPAQUE_ERRORS = frozenset({"value_error", "assertion_error"})
# A key from the request is named in a violation only if it is a plain name (and not a card number).
_ECHOABLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
UNNAMED_KEY = "[key]"


def _full_match(pattern: str, code: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def validate(text: str) -> str:
        if not compiled.fullmatch(text):
            raise PydanticCustomError(code, message)
        return text

    return AfterValidator(validate)


def _no_pan(text: str) -> str:
    if contains_pan(text):
        raise PydanticCustomError("contains_card_number", "must not contain a card number")
    return text


def _merchant_id(text: str) -> str:
    if not re.fullmatch(MERCHANT_ID_PATTERN, text) or sum(char.isdigit() for char in text) > MERCHANT_ID_MAX_DIGITS:
        raise PydanticCustomError("merchant_id_format", MERCHANT_ID_MESSAGE)
    return text


def _printable(text: str) -> str:
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise PydanticCustomError("description_format", "must not contain control characters")
    return text


def _card_number(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if not is_grouped_digits(raw):
        raise PydanticCustomError(
            "card_number_format", "must contain only digits, optionally grouped by spaces or dashes"
        )
    digits = strip_separators(raw)
    if not PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS:
        raise PydanticCustomError("card_number_length", f"must have {PAN_MIN_DIGITS} to {PAN_MAX_DIGITS} digits")
    if not luhn_valid(digits):
        raise PydanticCustomError("card_number_luhn", "is not a valid card number (Luhn check failed)")
    return SecretStr(digits)


def _cvv(value: SecretStr) -> SecretStr:
    if not re.fullmatch(r"[0-9]{3,4}", value.get_secret_value()):
        raise PydanticCustomError("cvv_format", "must be 3 or 4 digits")
    return value


def _amount(value: Any) -> Decimal:
    # Strings only: a JSON number is a binary float to most clients and can round silently.
    if not isinstance(value, str) or not re.fullmatch(AMOUNT_PATTERN, value):
        raise PydanticCustomError("amount_format", 'must be a string in plain decimal notation, e.g. "125.50"')
    amount = Decimal(value)
    if amount <= 0:
        raise PydanticCustomError("amount_not_positive", "must be greater than zero")
    return amount


class Card(BaseModel):
    # Only ever validated inside PaymentRequest, whose schema includes it: no validator of its own.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    number: Annotated[SecretStr, AfterValidator(_card_number)]
    expiry_month: Annotated[StrictInt, Field(ge=1, le=12)]
    expiry_year: Annotated[StrictInt, Field(ge=2000, le=2099)]
    # Checked for format, then dropped: a CVV is never stored, hashed or logged.
    cvv: Annotated[SecretStr, AfterValidator(_cvv)] | None = None


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    merchant_id: Annotated[StrictStr, AfterValidator(_merchant_id)]
    amount: Annotated[Decimal, BeforeValidator(_amount)]
    currency: Annotated[StrictStr, _full_match(r"[A-Z]{3}", "currency_format", "must be an upper-case ISO 4217 code")]
    card: Card
    description: (
        Annotated[
            StrictStr, Field(max_length=DESCRIPTION_MAX_LENGTH), AfterValidator(_printable), AfterValidator(_no_pan)
        ]
        | None
    ) = None
    reference: (
        Annotated[
            StrictStr, _full_match(REFERENCE_PATTERN, "reference_format", REFERENCE_MESSAGE), AfterValidator(_no_pan)
        ]
        | None
    ) = None


def field_name(path: tuple[str | int, ...]) -> str:
    """A field's dotted path as a violation names it; keys that are not plain names are not repeated."""
    parts = [
        str(part)
        if isinstance(part, int) or (_ECHOABLE_KEY.fullmatch(part) and not contains_pan(part))
        else UNNAMED_KEY
        for part in path
    ]
    return ".".join(parts)[:128] or "body"


def violations_from(error: ValidationError) -> list[Violation]:
    """Client-facing violations; pydantic's `input` (possibly a PAN) is deliberately left out."""
    return [
        Violation(
            field=field_name(detail["loc"]),
            code=detail["type"],
            message=_MESSAGES.get(
                detail["type"], "is not valid" if detail["type"] in _OPAQUE_ERRORS else detail["msg"]
            ),
        )
        for detail in error.errors(include_url=False, include_input=False, include_context=False)
    ]


class _JsonObject(list):
    """A JSON object as its (key, value) pairs, duplicates kept."""


def duplicate_keys(body: str) -> list[str]:
    """Paths of keys that occur twice in one JSON object of `body` (JSON that does not parse has none).

    JSON parsers silently keep the last of duplicate keys, and not all keep the same one: a second
    `amount` must be refused, not recorded.
    """
    try:
        tree = json.loads(body, object_pairs_hook=_JsonObject)
    except (ValueError, RecursionError):
        return []  # the model's own parse reports it
    found, pending = [], [(tree, ())]
    while pending:  # iterative: nesting depth is the client's choice
        node, path = pending.pop()
        if isinstance(node, _JsonObject):
            seen = set()
            for key, value in node:
                if key in seen:
                    found.append(field_name((*path, key)))
                seen.add(key)
                pending.append((value, (*path, key)))
        elif isinstance(node, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(node))
    return sorted(set(found))


def _end_of_expiry_month(card: Card) -> datetime:
    """A card is valid through the last instant of its expiry month (UTC)."""
    year, month = (card.expiry_year + 1, 1) if card.expiry_month == 12 else (card.expiry_year, card.expiry_month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def validated_request(body: str, settings: Settings, now: datetime) -> PaymentRequest:
    """The request read from its JSON body, or RequestRejected listing what is wrong with it.

    All schema violations are listed; the rules that depend on configuration or the clock are
    checked once the schema holds.
    """
    duplicates = duplicate_keys(body)
    if duplicates:
        raise RequestRejected([Violation(path, "duplicate_key", "occurs more than once") for path in duplicates])
    try:
        request = PaymentRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestRejected(violations_from(exc)) from None
    violations = policy_violations(request, settings, now)
    if violations:
        raise RequestRejected(violations)
    return request


def policy_violations(request: PaymentRequest, settings: Settings, now: datetime) -> list[Violation]:
    """Rules that depend on this deployment's configuration or on the clock."""
    violations = []
    if request.currency not in settings.allowed_currencies:
        allowed = ", ".join(sorted(settings.allowed_currencies))
        violations.append(Violation("currency", "currency_not_allowed", f"must be one of {allowed}"))
    elif decimal_places(request.amount) > MINOR_UNITS[request.currency]:
        places = MINOR_UNITS[request.currency]
        message = f"{request.currency} amounts allow at most {places} decimal places"
        violations.append(Violation("amount", "amount_precision", message))
    if request.amount > settings.max_transaction_amount:
        message = f"must not exceed {settings.max_transaction_amount}"
        violations.append(Violation("amount", "amount_over_limit", message))
    if now >= _end_of_expiry_month(request.card):
        expiry = f"{request.card.expiry_month:02d}/{request.card.expiry_year}"
        violations.append(Violation("card.expiry", "card_expired", f"card expired at the end of {expiry} (UTC)"))
    return violations
