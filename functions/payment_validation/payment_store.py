"""Records an accepted payment: the acceptance record decides, then the copies are written at once.

What each write guarantees (docs/payment-validation.md, "Recording a payment"):
1. The acceptance record, a conditional put (`attribute_not_exists(id)`) to the idempotency table,
   keyed by the transaction id (derived from merchant and Idempotency-Key). It is the only write
   that decides: the first put wins, any later attempt with the key finds it (the failed put
   returns it, ALL_OLD, no read) and gets the same answer, or 409 if the payment differs. On a
   multi-Region strongly consistent table (MRSC, `dynamodbConsistency: strong`) the condition is
   evaluated against the latest version of the item in every region, so this holds across
   regions, before or after replication, and survives the loss of the region that wrote it (RPO 0).
   It never expires: an acceptance is permanent.
2. Then, concurrently, three copies built from the acceptance record alone, so a retry rewrites
   identical bytes: the transaction item (the eventually consistent global table whose stream feeds
   the ledger), conditional on holding no different payment; the receipt; the audit record.
A failure in 2 answers 503 and leaves the acceptance: the retry (here or in another region) finds
it, rewrites the copies and answers 201 as the first attempt would have.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from payment_money import format_amount

ACCEPTED = "ACCEPTED"
# Fixed forever: changing it would give retries of old requests new transaction ids.
TRANSACTION_ID_NAMESPACE = uuid.UUID("5b0c8f3e-3d0c-4a5e-9a51-2f6f4c1d7e90")
# Acceptance records share the idempotency table's key attribute `id`, under their own prefix.
ACCEPTANCE_PREFIX = "payment#"
_CONDITION_FAILED = "ConditionalCheckFailedException"
# MRSC: "the item is already being modified in another Region"; retryable once that write is done.
_REPLICATED_WRITE_CONFLICT = "ReplicatedWriteConflictException"
# The transaction item and the two objects: three independent writes.
_COPY_WRITERS = 3

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DependencyError(Exception):
    """An AWS dependency failed; the client may retry with the same Idempotency-Key."""

    def __init__(self, dependency: str, error_code: str):
        super().__init__(f"{dependency}: {error_code}")
        self.dependency = dependency
        self.error_code = error_code


class TransactionConflict(Exception):
    """The Idempotency-Key is already recorded for a different payment.

    `store` says which write found it: "acceptance" (the deciding record) or "transactions" (the
    transaction item of another payment in this region's replica: only possible in eventual mode).
    """

    def __init__(self, transaction_id: str, store: str):
        super().__init__(transaction_id)
        self.store = store


class RequestInProgress(Exception):
    """Another region is writing the same acceptance record right now (MRSC write conflict)."""


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


def payment_digest(payment: dict[str, Any]) -> str:
    """SHA-256 of the protected payment (card as last four + fingerprint + expiry, amount formatted):
    what "the same payment" means. Equivalent requests ("125.5", a grouped card number) give the same."""
    return hashlib.sha256(json.dumps(payment, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def new_transaction(command: dict[str, Any], region: str, now: datetime) -> dict[str, Any]:
    """The item for a payment not recorded yet (`command`: merchant, key, request id, protected payment)."""
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
        "status": ACCEPTED,
        "region": region,
        "idempotency_key": hashlib.sha256(scoped_key.encode()).hexdigest(),
        "payment_sha256": payment_digest(payment),
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


def _serialized(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _deserialized(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


@cache
def _copy_writers() -> ThreadPoolExecutor:
    # One pool per execution environment; boto3 clients are thread-safe. Lambda runs one request
    # at a time per environment, so three threads are all the copies of a payment need.
    return ThreadPoolExecutor(max_workers=_COPY_WRITERS, thread_name_prefix="payment-copy")


class AcceptanceTable:
    """The idempotency table's acceptance records: the write that decides whether a payment is new."""

    def __init__(self, dynamodb: Any, table: str):
        self._dynamodb = dynamodb
        self._table = table

    def accept(self, item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """(the accepted payment's item, True if this call accepted it) or TransactionConflict."""
        record = item | {"id": ACCEPTANCE_PREFIX + item["transaction_id"]}
        try:
            with calling("idempotency_table", expected=frozenset({_CONDITION_FAILED, _REPLICATED_WRITE_CONFLICT})):
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=_serialized(record),
                    ConditionExpression="attribute_not_exists(id)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) == _REPLICATED_WRITE_CONFLICT:
                raise RequestInProgress(item["transaction_id"]) from None
            existing = _deserialized(exc.response["Item"])
            existing.pop("id")
            if existing.get("payment_sha256") != item["payment_sha256"]:
                raise TransactionConflict(item["transaction_id"], "acceptance") from None
            return existing, False
        return item, True


class Ledger:
    """The acceptance table, this region's transactions table and its receipt/audit buckets."""

    def __init__(
        self, acceptance: AcceptanceTable, dynamodb: Any, s3: Any, table: str, receipts_bucket: str, audit_bucket: str
    ):
        self.acceptance = acceptance
        self._dynamodb = dynamodb
        self._s3 = s3
        self._table = table
        self._receipts_bucket = receipts_bucket
        self._audit_bucket = audit_bucket

    def record(self, item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Accepts `item` or finds the same payment accepted before; writes its copies.

        Returns the accepted item (the first attempt's, on a retry) and whether it was a replay.
        """
        accepted, new = self.acceptance.accept(item)
        self.write_copies(accepted)
        return accepted, not new

    def write_copies(self, item: dict[str, Any]) -> None:
        """The transaction item, receipt and audit record, concurrently; all are attempted, the
        first failure (in this order) is raised once every write has finished."""
        writes: list[Callable[[], None]] = [
            lambda: self._put_transaction(item),
            lambda: self._put_json(
                self._receipts_bucket, _object_key("receipts", item), payment_view(item), "receipts_bucket"
            ),
            lambda: self._put_json(self._audit_bucket, _object_key("audit", item), _audit_record(item), "audit_bucket"),
        ]
        futures = [_copy_writers().submit(write) for write in writes]
        errors = [future.exception() for future in futures]
        failure = next((error for error in errors if error is not None), None)
        if failure is not None:
            raise failure

    def _put_transaction(self, item: dict[str, Any]) -> None:
        # Never over a different payment: with MRSC acceptance every writer of this id writes the
        # same item, so only eventual mode (two regions accepting in the replication window) can fail.
        try:
            with calling("transactions_table", expected=frozenset({_CONDITION_FAILED})):
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=_serialized(item),
                    ConditionExpression="attribute_not_exists(transaction_id) OR payment_sha256 = :same",
                    ExpressionAttributeValues={":same": {"S": item["payment_sha256"]}},
                )
        except ClientError:
            raise TransactionConflict(item["transaction_id"], "transactions") from None

    def _put_json(self, bucket: str, key: str, document: dict[str, Any], dependency: str) -> None:
        with calling(dependency):
            self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
                ContentType="application/json",
            )
