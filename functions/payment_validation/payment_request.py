"""The POST /payments request: its schema (pydantic) and the rules that depend on configuration.

Every rejection is a Violation naming the field, with a stable code for clients and a message
that never repeats the submitted value (the value could be a card number).

The handler imports this module on the first POST /payments, not at cold start: pydantic and
these models take about 90 ms to load, and GET /health does not need them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
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

MERCHANT_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}"
AMOUNT_PATTERN = r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?"
DESCRIPTION_MAX_LENGTH = 255

# Messages replacing pydantic's wording for the generic errors clients hit most.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a recognised field",
    "json_invalid": "request body is not valid JSON",
    "model_type": "must be a JSON object",
}


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

    merchant_id: Annotated[
        StrictStr,
        _full_match(
            MERCHANT_ID_PATTERN,
            "merchant_id_format",
            "must be 3-64 letters, digits, '_' or '-', starting with a letter or digit",
        ),
    ]
    amount: Annotated[Decimal, BeforeValidator(_amount)]
    currency: Annotated[StrictStr, _full_match(r"[A-Z]{3}", "currency_format", "must be an upper-case ISO 4217 code")]
    card: Card
    description: Annotated[StrictStr, Field(max_length=DESCRIPTION_MAX_LENGTH), AfterValidator(_no_pan)] | None = None
    reference: (
        Annotated[
            StrictStr,
            _full_match(r"[\x21-\x7e]{1,64}", "reference_format", "must be 1-64 printable ASCII characters, no spaces"),
            AfterValidator(_no_pan),
        ]
        | None
    ) = None


def violations_from(error: ValidationError) -> list[Violation]:
    """Client-facing violations; pydantic's `input` (possibly a PAN) is deliberately left out."""
    return [
        Violation(
            field=".".join(str(part) for part in detail["loc"])[:128] or "body",
            code=detail["type"],
            message=_MESSAGES.get(detail["type"], detail["msg"]),
        )
        for detail in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def _end_of_expiry_month(card: Card) -> datetime:
    """A card is valid through the last instant of its expiry month (UTC)."""
    year, month = (card.expiry_year + 1, 1) if card.expiry_month == 12 else (card.expiry_year, card.expiry_month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def validated_request(body: str, settings: Settings, now: datetime) -> PaymentRequest:
    """The request read from its JSON body, or RequestRejected listing what is wrong with it.

    All schema violations are listed; the rules that depend on configuration or the clock are
    checked once the schema holds.
    """
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
