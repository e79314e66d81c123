"""Currencies this service knows and how their amounts are written (ISO 4217 minor units)."""

from __future__ import annotations

from decimal import Decimal

# Digits after the decimal point per ISO 4217. ALLOWED_CURRENCIES must be a subset, so every
# currency the function accepts has a known precision.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "TND": 3,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}


def decimal_places(amount: Decimal) -> int:
    """Digits after the decimal point as written: "10.50" has 2, "10" has 0."""
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount with exactly the currency's minor-unit digits, e.g. 12.5 USD -> "12.50"."""
    return f"{amount:.{MINOR_UNITS[currency]}f}"
