"""POST /payments and GET /health end to end: handler, Powertools and moto-backed AWS.

Cross-region exactly-once (strong and eventual acceptance tables) is in test_payment_exactly_once.py.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from tests.functions.conftest import CARD_HASH_KEY, MASTERCARD, VISA, Deployment, api_event, payment

KEY = "order-2024-0001"
CVV = "9731"
CVV_AS_STORED = f'"{CVV}"'  # quoted: the bare digits can occur inside any hex id


def emitted_metrics(stdout: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, dimensions, value) of every CloudWatch EMF metric printed."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dimensions = {name: blob[name] for name in directive["Dimensions"][0]}
            found += [(metric["Name"], dimensions, blob[metric["Name"]][0]) for metric in directive["Metrics"]]
    return found


def outcome_metrics(stdout: str) -> list[tuple[str, dict[str, str], float]]:
    return [metric for metric in emitted_metrics(stdout) if metric[0] != "ColdStart"]


def expected_fingerprint(pan: str) -> str:
    return hmac.new(CARD_HASH_KEY.encode(), pan.encode(), hashlib.sha256).hexdigest()


def delete_bucket(api: Deployment, variable: str) -> None:
    s3 = api.client("s3")
    for obj in s3.list_objects_v2(Bucket=api.env[variable]).get("Contents", []):
        s3.delete_object(Bucket=api.env[variable], Key=obj["Key"])
    s3.delete_bucket(Bucket=api.env[variable])


def drop_acceptance_records(api: Deployment) -> None:
    """What a region with an eventually consistent acceptance table sees before replication."""
    for record in api.idempotency_records():
        api.client("dynamodb").delete_item(TableName=api.env["IDEMPOTENCY_TABLE_NAME"], Key={"id": record["id"]})


def acceptance_record(api: Deployment, transaction_id: str) -> dict[str, Any]:
    table = _dynamodb_table(api, "IDEMPOTENCY_TABLE_NAME")
    return table.get_item(Key={"id": f"payment#{transaction_id}"})["Item"]


def _dynamodb_table(api: Deployment, variable: str) -> Any:
    import boto3

    return boto3.resource("dynamodb", region_name=api.region).Table(api.env[variable])


# --- accepted payments ---------------------------------------------------------------------


def test_accepted_payment_is_recorded_with_receipt_and_audit(api: Deployment) -> None:
    body = payment(card={"number": VISA, "cvv": CVV}, description="Order 1001", reference="INV-1001")

    response = api.post_payment(body, key=KEY)

    assert response.status == 201
    transaction_id = response.body["transaction_id"]
    assert response.body == {
        "transaction_id": transaction_id,
        "status": "ACCEPTED",
        "merchant_id": "merchant-001",
        "amount": "125.50",
        "currency": "USD",
        "card_last4": "1111",
        "created_at": response.body["created_at"],
        "recorded_region": "us-east-1",
        "region": "us-east-1",
        "description": "Order 1001",
        "reference": "INV-1001",
    }
    created = datetime.fromisoformat(response.body["created_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", response.body["created_at"])
    assert abs(datetime.now(UTC) - created) < timedelta(seconds=5)

    [item] = api.transactions()
    assert item == {
        "transaction_id": transaction_id,
        "merchant_id": "merchant-001",
        "created_at": response.body["created_at"],
        "amount": Decimal("125.50"),
        "currency": "USD",
        "card_last4": "1111",
        "card_fingerprint": expected_fingerprint(VISA),
        "status": "ACCEPTED",
        "region": "us-east-1",
        "idempotency_key": hashlib.sha256(f"merchant-001\n{KEY}".encode()).hexdigest(),
        "payment_sha256": item["payment_sha256"],
        "request_id": response.request_id,
        "description": "Order 1001",
        "reference": "INV-1001",
    }

    assert re.fullmatch(r"[0-9a-f]{64}", item["payment_sha256"])
    # The acceptance record holds exactly the transaction item: a retry rebuilds every copy from it.
    assert acceptance_record(api, transaction_id) == item | {"id": f"payment#{transaction_id}"}

    day = created.strftime("%Y/%m/%d")
    receipts = api.objects("RECEIPTS_BUCKET_NAME")
    audits = api.objects("AUDIT_BUCKET_NAME")
    assert receipts == {
        f"receipts/{day}/{transaction_id}.json": {k: v for k, v in response.body.items() if k != "region"}
    }
    assert audits == {
        f"audit/{day}/{transaction_id}.json": receipts[f"receipts/{day}/{transaction_id}.json"]
        | {
            "event": "payment.accepted",
            "card_fingerprint": expected_fingerprint(VISA),
            "idempotency_key_sha256": item["idempotency_key"],
            "request_id": response.request_id,
        }
    }

    stored = api.stored_text()
    assert VISA not in stored and KEY not in stored
    assert CVV_AS_STORED not in stored and "cvv" not in stored


def test_payments_are_queryable_by_merchant_and_time(api: Deployment) -> None:
    first = api.post_payment(payment(amount="1.00")).body
    second = api.post_payment(payment(amount="2.00")).body
    api.post_payment(payment(merchant_id="merchant-002"))

    table = api.transactions_table()
    found = table.query(IndexName="merchant-time-index", KeyConditionExpression=Key("merchant_id").eq("merchant-001"))

    assert [item["transaction_id"] for item in found["Items"]] == [first["transaction_id"], second["transaction_id"]]


def test_transaction_ids_are_scoped_per_merchant_and_key(api: Deployment) -> None:
    first = api.post_payment(payment(), key=KEY)
    other_merchant = api.post_payment(payment(merchant_id="merchant-002"), key=KEY)
    other_key = api.post_payment(payment(), key=KEY + "-b")

    assert [first.status, other_merchant.status, other_key.status] == [201, 201, 201]
    ids = {first.body["transaction_id"], other_merchant.body["transaction_id"], other_key.body["transaction_id"]}
    assert len(ids) == 3 and len(api.transactions()) == 3


# --- idempotency ---------------------------------------------------------------------------


def test_retry_with_same_key_and_body_replays_the_first_result(api: Deployment, capsys: pytest.CaptureFixture) -> None:
    first = api.post_payment(payment(), key=KEY)
    capsys.readouterr()

    retry = api.post_payment(payment(), key=KEY)

    assert (retry.status, retry.body) == (first.status, first.body)
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert len(api.transactions()) == 1
    assert len(api.objects("RECEIPTS_BUCKET_NAME")) == 1
    assert outcome_metrics(capsys.readouterr().out) == [("PaymentReplayed", {"service": "payment-validation"}, 1.0)]


def test_equivalent_body_counts_as_the_same_payment(api: Deployment) -> None:
    first = api.post_payment(payment(amount="125.5", card={"number": "4111 1111 1111 1111"}), key=KEY)

    retry = api.post_payment(payment(amount="125.50", card={"number": VISA}), key=KEY)

    assert retry.status == 201 and retry.body == first.body
    assert retry.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": "125.51"},
        {"currency": "EUR"},
        {"card": {"number": MASTERCARD}},
        {"card": {"expiry_month": 11}},
        {"description": "something else"},
    ],
    ids=["amount", "currency", "card", "expiry", "description"],
)
def test_same_key_with_a_different_body_is_a_conflict(api: Deployment, changed: dict[str, Any]) -> None:
    first = api.post_payment(payment(), key=KEY)

    conflict = api.post_payment(payment(**changed), key=KEY)

    assert conflict.status == 409
    assert conflict.body["code"] == "idempotency_key_reused"
    assert conflict.body["message"] == (
        "This Idempotency-Key was already used for a different payment; use a new key for a new payment"
    )
    assert "Retry-After" not in conflict.headers
    [item] = api.transactions()
    assert item["transaction_id"] == first.body["transaction_id"] and item["amount"] == Decimal("125.50")


def test_retry_while_the_first_request_writes_its_copies_gets_the_same_payment(
    api: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_copies = api.module.ledger.write_copies
    concurrent: list[Any] = []
    arrived: list[bool] = []

    def retry_arrives_before_the_copies(item: dict[str, Any]) -> None:
        if not arrived:  # only during the first request's copies, not the retry's own
            arrived.append(True)
            concurrent.append(api.post_payment(payment(), key=KEY))
        write_copies(item)

    monkeypatch.setattr(api.module.ledger, "write_copies", retry_arrives_before_the_copies)

    first = api.post_payment(payment(), key=KEY)

    [retry] = concurrent
    assert first.status == retry.status == 201 and retry.body == first.body
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert len(api.transactions()) == 1 and len(api.objects("AUDIT_BUCKET_NAME")) == 1


def test_a_write_conflict_from_another_region_is_told_to_wait(
    api: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # moto has no MRSC: the error MRSC returns while another region writes the same item is injected.
    def conflicting_put(**_params: Any) -> dict[str, Any]:
        error = {"Error": {"Code": "ReplicatedWriteConflictException", "Message": "being modified in another Region"}}
        raise ClientError(error, "PutItem")

    monkeypatch.setattr(
        api.module.ledger.acceptance,
        "_dynamodb",
        type("Conflicting", (), {"put_item": staticmethod(conflicting_put)})(),
    )

    response = api.post_payment(payment(), key=KEY)

    assert response.status == 409 and response.body["code"] == "request_in_progress"
    assert response.headers["Retry-After"] == "1"
    assert api.footprint() == (0, 0, [])
    assert ("PaymentRejected", {"service": "payment-validation", "Reason": "RequestInProgress"}, 1.0) in (
        outcome_metrics(capsys.readouterr().out)
    )


def test_same_payment_past_a_missing_acceptance_keeps_one_transaction(api: Deployment) -> None:
    first = api.post_payment(payment(), key=KEY)
    drop_acceptance_records(api)

    retry = api.post_payment(payment(), key=KEY)

    assert retry.status == 201 and retry.body["transaction_id"] == first.body["transaction_id"]
    assert len(api.transactions()) == 1


def test_different_payment_past_a_missing_acceptance_never_overwrites_the_transaction(
    api: Deployment, capsys: pytest.CaptureFixture
) -> None:
    first = api.post_payment(payment(), key=KEY)
    drop_acceptance_records(api)
    capsys.readouterr()

    conflict = api.post_payment(payment(amount="99.00"), key=KEY)

    assert conflict.status == 409 and conflict.body["code"] == "idempotency_key_reused"
    assert [item["amount"] for item in api.transactions()] == [Decimal("125.50")]
    assert api.transaction(first.body["transaction_id"])["status"] == "ACCEPTED"
    assert outcome_metrics(capsys.readouterr().out) == [
        ("PaymentRejected", {"service": "payment-validation", "Reason": "TransactionConflict"}, 1.0)
    ]


# --- dependency failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "dependency", "other_bucket"),
    [
        ("RECEIPTS_BUCKET_NAME", "receipts_bucket", "AUDIT_BUCKET_NAME"),
        ("AUDIT_BUCKET_NAME", "audit_bucket", "RECEIPTS_BUCKET_NAME"),
    ],
)
def test_bucket_failure_is_a_503_that_a_retry_completes_with_the_first_answer(
    api: Deployment, capsys: pytest.CaptureFixture, variable: str, dependency: str, other_bucket: str
) -> None:
    delete_bucket(api, variable)

    failed = api.post_payment(payment(), key=KEY)

    assert failed.status == 503
    assert failed.body["code"] == "dependency_unavailable"
    assert failed.body["message"] == "A dependency is unavailable; retry with the same Idempotency-Key"
    assert failed.headers["Retry-After"] == "1"
    # The acceptance decided; the copies are written concurrently, so the other ones are there.
    [item] = api.transactions()
    assert len(api.idempotency_records()) == 1 and len(api.objects(other_bucket)) == 1
    metric = ("DependencyFailure", {"service": "payment-validation", "Dependency": dependency}, 1.0)
    assert metric in emitted_metrics(capsys.readouterr().out)

    api.client("s3").create_bucket(Bucket=api.env[variable])
    retry = api.post_payment(payment(), key=KEY)

    assert retry.status == 201 and retry.body["transaction_id"] == item["transaction_id"]
    assert retry.body["created_at"] == item["created_at"]
    assert api.transactions() == [item]
    assert len(api.objects("RECEIPTS_BUCKET_NAME")) == 1 and len(api.objects("AUDIT_BUCKET_NAME")) == 1


def test_acceptance_table_failure_writes_nothing(api: Deployment, capsys: pytest.CaptureFixture) -> None:
    api.client("dynamodb").delete_table(TableName=api.env["IDEMPOTENCY_TABLE_NAME"])

    response = api.post_payment(payment(), key=KEY)

    assert response.status == 503 and response.body["code"] == "dependency_unavailable"
    assert ("DependencyFailure", {"service": "payment-validation", "Dependency": "idempotency_table"}, 1.0) in (
        emitted_metrics(capsys.readouterr().out)
    )
    assert api.objects("RECEIPTS_BUCKET_NAME") == {} and api.objects("AUDIT_BUCKET_NAME") == {}
    assert api.transactions() == []


def test_transactions_table_failure_is_a_503_that_a_retry_completes(
    api: Deployment, capsys: pytest.CaptureFixture
) -> None:
    from tests.functions.conftest import create_transactions_table

    dynamodb = api.client("dynamodb")
    dynamodb.delete_table(TableName=api.env["TRANSACTIONS_TABLE_NAME"])

    failed = api.post_payment(payment(), key=KEY)

    assert failed.status == 503
    assert ("DependencyFailure", {"service": "payment-validation", "Dependency": "transactions_table"}, 1.0) in (
        emitted_metrics(capsys.readouterr().out)
    )
    create_transactions_table(dynamodb, api.env["TRANSACTIONS_TABLE_NAME"])
    retry = api.post_payment(payment(), key=KEY)

    assert retry.status == 201 and retry.headers["Idempotent-Replayed"] == "true"
    [item] = api.transactions()
    assert item["transaction_id"] == retry.body["transaction_id"] and item["created_at"] == retry.body["created_at"]


@pytest.mark.parametrize("secret", [None, "too-short"], ids=["missing", "too short"])
def test_unusable_card_hash_secret_fails_before_anything_is_written(
    api: Deployment, capsys: pytest.CaptureFixture, secret: str | None
) -> None:
    secrets = api.client("secretsmanager")
    if secret is None:
        secrets.delete_secret(SecretId=api.env["CARD_HASH_SECRET_NAME"], ForceDeleteWithoutRecovery=True)
    else:
        secrets.put_secret_value(SecretId=api.env["CARD_HASH_SECRET_NAME"], SecretString=secret)

    response = api.post_payment(payment())

    assert response.status == 503
    assert ("DependencyFailure", {"service": "payment-validation", "Dependency": "card_hash_secret"}, 1.0) in (
        emitted_metrics(capsys.readouterr().out)
    )
    assert api.footprint() == (0, 0, [])


def test_unexpected_error_is_a_generic_500_with_the_request_id(
    api: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(_item: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("internal detail: table arn:aws:dynamodb:us-east-1:123456789012:table/x")

    monkeypatch.setattr(api.module.ledger, "record", explode)

    response = api.post_payment(payment())

    assert response.status == 500
    assert response.body == {
        "code": "internal_error",
        "message": "Internal error; quote the request_id when reporting it",
        "request_id": response.request_id,
        "region": "us-east-1",
    }
    assert api.idempotency_records() == []


# --- regions -------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    ("request_kind", "status"),
    [("accepted", 201), ("invalid", 400), ("unknown route", 404), ("wrong method", 404), ("health", 200)],
)
def test_every_response_names_the_region_that_served_it(
    deploy: Callable[..., Deployment], request_kind: str, status: int
) -> None:
    api = deploy("eu-west-1")
    send = {
        "accepted": lambda: api.post_payment(payment()),
        "invalid": lambda: api.post_payment("{"),
        "unknown route": lambda: api.invoke(api_event("GET", "/payments/123")),
        "wrong method": lambda: api.invoke(api_event("DELETE", "/payments")),
        "health": api.health,
    }[request_kind]

    response = send()

    assert response.status == status
    assert response.body["region"] == "eu-west-1"
    assert response.headers["X-Served-Region"] == "eu-west-1"
    assert response.headers["Content-Type"] == "application/json"


# --- health --------------------------------------------------------------------------------


def test_health_is_ok_when_every_dependency_answers(api: Deployment, capsys: pytest.CaptureFixture) -> None:
    response = api.health()

    assert response.status == 200
    assert response.body == {
        "status": "ok",
        "checks": {
            "transactions_table": "ok",
            "idempotency_table": "ok",
            "receipts_bucket": "ok",
            "audit_bucket": "ok",
            "card_hash_secret": "ok",
        },
        "region": "us-east-1",
    }
    assert outcome_metrics(capsys.readouterr().out) == [("HealthCheckFailed", {"service": "payment-validation"}, 0.0)]


@pytest.mark.parametrize(
    ("break_dependency", "failing", "error"),
    [
        (lambda api: delete_bucket(api, "AUDIT_BUCKET_NAME"), "audit_bucket", "404"),
        (
            lambda api: api.client("dynamodb").delete_table(TableName=api.env["IDEMPOTENCY_TABLE_NAME"]),
            "idempotency_table",
            "ResourceNotFoundException",
        ),
        (
            lambda api: api.client("secretsmanager").delete_secret(
                SecretId=api.env["CARD_HASH_SECRET_NAME"], ForceDeleteWithoutRecovery=True
            ),
            "card_hash_secret",
            "ResourceNotFoundException",
        ),
    ],
    ids=["bucket", "table", "secret"],
)
def test_health_fails_naming_the_broken_dependency(
    api: Deployment,
    capsys: pytest.CaptureFixture,
    break_dependency: Callable[[Deployment], None],
    failing: str,
    error: str,
) -> None:
    break_dependency(api)

    response = api.health()

    assert response.status == 503
    assert response.body["status"] == "unavailable"
    assert response.body["failing"] == [failing]
    assert response.body["checks"][failing] == error
    assert [name for name, outcome in response.body["checks"].items() if outcome == "ok"] == [
        name for name in response.body["checks"] if name != failing
    ]
    assert outcome_metrics(capsys.readouterr().out) == [("HealthCheckFailed", {"service": "payment-validation"}, 1.0)]
    # /health is public: it names logical dependencies, never the resources.
    assert not any(api.env[name] in json.dumps(response.body) for name in api.env if name.endswith("_NAME"))


def test_health_fails_while_a_table_is_not_serving(api: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    describe_table = api.module.probe_dynamodb.describe_table

    def deleting_idempotency_table(**params: Any) -> dict[str, Any]:
        described = describe_table(**params)
        if params["TableName"] == api.env["IDEMPOTENCY_TABLE_NAME"]:
            described["Table"]["TableStatus"] = "DELETING"
        return described

    monkeypatch.setattr(api.module.probe_dynamodb, "describe_table", deleting_idempotency_table)

    response = api.health()

    assert response.status == 503
    assert response.body["failing"] == ["idempotency_table"]
    assert response.body["checks"]["idempotency_table"] == "TableStatus DELETING"


def test_health_probes_use_one_attempt_and_short_timeouts(api: Deployment) -> None:
    for client in (api.module.probe_dynamodb, api.module.probe_s3):
        config = client.meta.config
        assert config.retries["total_max_attempts"] == 1
        assert config.connect_timeout <= 1 and config.read_timeout <= 1


# --- metrics and logs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (payment(card={"number": "4111111111111112"}), "InvalidCard"),
        (payment(amount="20000.00"), "AmountOverLimit"),
        (payment(currency="CHF"), "UnsupportedCurrency"),
        (payment(card={"expiry_year": 2001}), "CardExpired"),
        ("{", "MalformedRequest"),
        (payment(merchant_id="?"), "InvalidField"),
    ],
)
def test_rejections_are_counted_by_reason(
    api: Deployment, capsys: pytest.CaptureFixture, body: dict[str, Any] | str, reason: str
) -> None:
    assert api.post_payment(body).status == 400

    assert outcome_metrics(capsys.readouterr().out) == [
        ("PaymentRejected", {"service": "payment-validation", "Reason": reason}, 1.0)
    ]


def test_accepted_payment_is_counted(api: Deployment, capsys: pytest.CaptureFixture) -> None:
    api.post_payment(payment())

    assert outcome_metrics(capsys.readouterr().out) == [("PaymentAccepted", {"service": "payment-validation"}, 1.0)]


def test_logs_carry_the_api_request_id_as_correlation_id(api: Deployment, captured_logs: io.StringIO) -> None:
    response = api.post_payment(payment())

    records = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    accepted = [record for record in records if record["message"] == "Payment accepted"]
    assert [record["correlation_id"] for record in accepted] == [response.request_id]
    assert accepted[0]["transaction_id"] == response.body["transaction_id"]


def test_card_numbers_never_reach_the_logs(
    api: Deployment, captured_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")  # must not override log_event=False
    grouped = f"{VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}"
    luhn_invalid = "4111111111111112"

    api.post_payment(payment(card={"number": grouped, "cvv": CVV}), key=KEY)
    api.post_payment(payment(card={"number": VISA, "cvv": CVV}), key=KEY)  # replay
    api.post_payment(payment(card={"number": MASTERCARD}, amount="1.001"))
    api.post_payment(payment(card={"number": luhn_invalid}))
    api.post_payment(payment(description=f"pay with {MASTERCARD}"))
    delete_bucket(api, "RECEIPTS_BUCKET_NAME")
    api.post_payment(payment(card={"number": MASTERCARD}))  # dependency failure, logged with a traceback

    logs = captured_logs.getvalue()
    assert logs.count('"correlation_id"') >= 6  # the capture saw every request
    assert "Dependency failed" in logs and "Traceback" in logs
    for secret in (VISA, grouped, MASTERCARD, luhn_invalid, CVV_AS_STORED):
        assert secret not in logs


def test_log_lines_are_scrubbed_of_anything_that_looks_like_a_card_number(
    api: Deployment, captured_logs: io.StringIO
) -> None:
    api.module.logger.info(f"careless message with {MASTERCARD}", extra={"detail": f"card={VISA}"})

    logs = captured_logs.getvalue()
    assert VISA not in logs and MASTERCARD not in logs
    assert logs.count("[REDACTED-PAN]") == 2
