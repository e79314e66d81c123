"""Records an accepted payment: the transactions table first, then the receipt and audit objects.

Write order, and what a retry does:
1. Put the transaction item as PENDING, on condition `attribute_not_exists(transaction_id)`.
   The id is derived from (merchant_id, Idempotency-Key), so a retry that gets past the
   idempotency layer (record expired, not yet replicated, idempotency disabled) meets the
   condition instead of recording the payment twice.
2. Put the receipt, then the audit record. Their keys and bytes derive from the stored item
   only, so a retry rewrites identical objects.
3. Set the item ACCEPTED.
A failure leaves at worst a PENDING item; the retry finds it (same content), redoes 2-3 and
answers exactly as the first attempt would have.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from payment_money import format_amount

PENDING = "PENDING"
ACCEPTED = "ACCEPTED"
# Fixed forever: changing it would give retries of old requests new transaction ids.
TRANSACTION_ID_NAMESPACE = uuid.UUID("5b0c8f3e-3d0c-4a5e-9a51-2f6f4c1d7e90")
# What makes two writes "the same payment" when the conditional put finds an existing item.
_CONTENT_FIELDS = ("merchant_id", "amount", "currency", "card_last4", "card_fingerprint", "description", "reference")
_CONDITION_FAILED = frozenset({"ConditionalCheckFailedException"})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DependencyError(Exception):
    """An AWS dependency of this region failed; the request may be retried with the same key."""

    def __init__(self, dependency: str, error_code: str):
        super().__init__(f"{dependency} failed: {error_code}")
        self.dependency = dependency
        self.error_code = error_code


class TransactionConflict(Exception):
    """The transaction id is already recorded with different content."""


def error_code(exc: BotoCoreError | ClientError) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "Unknown")
    return type(exc).__name__


@contextmanager
def calling(dependency: str, expected: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turns AWS SDK errors into DependencyError naming the logical dependency.

    ClientErrors whose code is in `expected` are outcomes the caller handles, not failures.
    """
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in expected:
            raise
        raise DependencyError(dependency, error_code(exc)) from exc
    except BotoCoreError as exc:
        raise DependencyError(dependency, error_code(exc)) from exc


def _scoped_key(merchant_id: str, idempotency_key: str) -> str:
    # Keys are chosen by clients, so they are only unique per merchant.
    return f"{merchant_id}\n{idempotency_key}"


def transaction_id(merchant_id: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(TRANSACTION_ID_NAMESPACE, _scoped_key(merchant_id, idempotency_key)))


def new_transaction(command: dict[str, Any], region: str, now: datetime) -> dict[str, Any]:
    """The item for a payment not recorded yet (`command` is what the idempotent function gets)."""
    payment = command["payment"]
    scoped_key = _scoped_key(payment["merchant_id"], command["idempotency_key"])
    item = {
        "transaction_id": transaction_id(payment["merchant_id"], command["idempotency_key"]),
        "merchant_id": payment["merchant_id"],
        "created_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "amount": Decimal(payment["amount"]),
        "currency": payment["currency"],
        "card_last4": payment["card_last4"],
        "card_fingerprint": payment["card_fingerprint"],
        "status": PENDING,
        "region": region,
        "idempotency_key": hashlib.sha256(scoped_key.encode()).hexdigest(),
        "request_id": command["request_id"],
        "description": payment.get("description"),
        "reference": payment.get("reference"),
    }
    return {name: value for name, value in item.items() if value is not None}


def payment_view(item: dict[str, Any]) -> dict[str, Any]:
    """What clients see of a recorded payment (the 201 body, without the serving region)."""
    view = {
        "transaction_id": item["transaction_id"],
        "status": item["status"],
        "merchant_id": item["merchant_id"],
        "amount": format_amount(item["amount"], item["currency"]),
        "currency": item["currency"],
        "card_last4": item["card_last4"],
        "created_at": item["created_at"],
        "recorded_region": item["region"],
    }
    return view | {name: item[name] for name in ("description", "reference") if name in item}


def _audit_record(item: dict[str, Any]) -> dict[str, Any]:
    return payment_view(item) | {
        "event": "payment.accepted",
        "card_fingerprint": item["card_fingerprint"],
        "idempotency_key_sha256": item["idempotency_key"],
        "request_id": item["request_id"],
    }


def _object_key(prefix: str, item: dict[str, Any]) -> str:
    day = datetime.fromisoformat(item["created_at"]).strftime("%Y/%m/%d")
    return f"{prefix}/{day}/{item['transaction_id']}.json"


class Ledger:
    """This region's transactions table and receipt/audit buckets."""

    def __init__(self, dynamodb: Any, s3: Any, table: str, receipts_bucket: str, audit_bucket: str):
        self._dynamodb = dynamodb
        self._s3 = s3
        self._table = table
        self._receipts_bucket = receipts_bucket
        self._audit_bucket = audit_bucket

    def record(self, item: dict[str, Any]) -> dict[str, Any]:
        """Records `item` (or completes the same payment's earlier attempt); returns the stored item."""
        stored = self._insert(item)
        if stored["status"] == ACCEPTED:
            return stored
        accepted = stored | {"status": ACCEPTED}
        self._put_json(
            self._receipts_bucket, _object_key("receipts", stored), payment_view(accepted), "receipts_bucket"
        )
        self._put_json(self._audit_bucket, _object_key("audit", stored), _audit_record(accepted), "audit_bucket")
        self._mark_accepted(stored["transaction_id"])
        return accepted

    def _insert(self, item: dict[str, Any]) -> dict[str, Any]:
        try:
            with calling("transactions_table", expected=_CONDITION_FAILED):
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item={name: _serializer.serialize(value) for name, value in item.items()},
                    ConditionExpression="attribute_not_exists(transaction_id)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            # ALL_OLD: the failed put returns the item it collided with, no read needed.
            existing = {name: _deserializer.deserialize(value) for name, value in exc.response["Item"].items()}
            if any(existing.get(name) != item.get(name) for name in _CONTENT_FIELDS):
                raise TransactionConflict(item["transaction_id"]) from None
            return existing
        return item

    def _put_json(self, bucket: str, key: str, document: dict[str, Any], dependency: str) -> None:
        with calling(dependency):
            self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
                ContentType="application/json",
            )

    def _mark_accepted(self, transaction_id: str) -> None:
        with calling("transactions_table"):
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"transaction_id": {"S": transaction_id}},
                UpdateExpression="SET #status = :accepted",
                ConditionExpression="attribute_exists(transaction_id)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":accepted": {"S": ACCEPTED}},
            )
