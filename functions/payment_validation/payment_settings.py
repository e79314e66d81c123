"""The function's configuration, read once from the environment at cold start.

An invalid configuration fails the import (a Lambda init error) with a message naming every
bad variable: a misconfigured region then fails its health check instead of taking payments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from payment_money import MINOR_UNITS

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


class ConfigurationError(RuntimeError):
    """The environment the function was deployed with is unusable."""


@dataclass(frozen=True)
class Settings:
    transactions_table: str
    idempotency_table: str
    receipts_bucket: str
    audit_bucket: str
    card_hash_secret_name: str
    max_transaction_amount: Decimal
    allowed_currencies: frozenset[str]
    region: str


class _Reader:
    """Reads variables and collects every problem, so one deploy shows all of them."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.environ.get(name, "").strip()
        if not value:
            self.problems.append(f"{name} is not set")
        elif pattern and not pattern.fullmatch(value):
            self.problems.append(f"{name} is not a valid name: {value!r}")
        return value

    def positive_decimal(self, name: str) -> Decimal:
        raw = self.text(name)
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal(0)
        if raw and not (value.is_finite() and value > 0):
            self.problems.append(f"{name} must be a positive decimal number, got {raw!r}")
        return value

    def currencies(self, name: str) -> frozenset[str]:
        raw = self.text(name)
        codes = frozenset(code.strip().upper() for code in raw.split(",") if code.strip())
        unknown = sorted(codes - MINOR_UNITS.keys())
        if raw and not codes:
            self.problems.append(f"{name} must list at least one ISO 4217 code")
        elif unknown:
            self.problems.append(
                f"{name} has currencies without a known minor unit: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(MINOR_UNITS))})"
            )
        return codes


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validated settings, or ConfigurationError listing every missing or invalid variable."""
    read = _Reader(environ)
    settings = Settings(
        transactions_table=read.text("TRANSACTIONS_TABLE_NAME", _TABLE_NAME),
        idempotency_table=read.text("IDEMPOTENCY_TABLE_NAME", _TABLE_NAME),
        receipts_bucket=read.text("RECEIPTS_BUCKET_NAME", _BUCKET_NAME),
        audit_bucket=read.text("AUDIT_BUCKET_NAME", _BUCKET_NAME),
        card_hash_secret_name=read.text("CARD_HASH_SECRET_NAME", _SECRET_NAME),
        max_transaction_amount=read.positive_decimal("MAX_TRANSACTION_AMOUNT"),
        allowed_currencies=read.currencies("ALLOWED_CURRENCIES"),
        region=read.text("AWS_REGION", _REGION),
    )
    # Powertools reads these itself; without them metrics fail at flush time, not at deploy time.
    read.text("POWERTOOLS_SERVICE_NAME")
    read.text("POWERTOOLS_METRICS_NAMESPACE")
    if read.problems:
        raise ConfigurationError("Invalid configuration: " + "; ".join(read.problems))
    return settings
