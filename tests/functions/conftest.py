"""Fixtures for the payment validation function: a region's resources in moto, and the handler.

The handler module reads its configuration at import (as in Lambda), so `app.py` is loaded once
per distinct environment, under a unique module name: two "regions" can live side by side in one
test, and no other function's `app` module is shadowed. Each test gets a fresh moto account.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import itertools
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from moto import mock_aws

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "payment_validation"
# Appended, not prepended: the function's sibling modules have unique `payment_*` names.
if str(FUNCTION_DIR) not in sys.path:
    sys.path.append(str(FUNCTION_DIR))

PRIMARY_REGION = "us-east-1"
CARD_HASH_KEY = "test-card-hash-key-0123456789abcdef"
VISA = "4111111111111111"
MASTERCARD = "5555555555554444"
NEW_KEY = "<new>"
_module_ids = itertools.count()

BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": PRIMARY_REGION,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "payment-validation",
    "POWERTOOLS_METRICS_NAMESPACE": "PaymentDR",
    "CARD_HASH_SECRET_NAME": "payment-dr/card-hash-key",
    "MAX_TRANSACTION_AMOUNT": "10000.00",
    "ALLOWED_CURRENCIES": "USD,EUR,GBP,JPY,KWD",
    "TRANSACTIONS_TABLE_NAME": "payment-transactions",
    "IDEMPOTENCY_TABLE_NAME": "payment-idempotency",
}


def region_env(region: str) -> dict[str, str]:
    """What the infra passes in `region`: global table names, region-local buckets."""
    return BASE_ENV | {
        "AWS_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": f"payment-validation-{region}",
        "RECEIPTS_BUCKET_NAME": f"payment-receipts-{region}",
        "AUDIT_BUCKET_NAME": f"payment-audit-{region}",
    }


@cache
def _client(service: str, region: str) -> Any:
    # Cached: creating a client costs more than a moto call. They stay usable across mocks.
    return boto3.client(service, region_name=region)


@cache
def _dynamodb_resource(region: str) -> Any:
    return boto3.resource("dynamodb", region_name=region)


def create_transactions_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "transaction_id", "AttributeType": "S"},
            {"AttributeName": "merchant_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "merchant-time-index",
                "KeySchema": [
                    {"AttributeName": "merchant_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def create_idempotency_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )


def create_bucket(s3: Any, name: str, region: str) -> None:
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)


def create_region_resources(env: dict[str, str]) -> None:
    region = env["AWS_REGION"]
    dynamodb, s3 = _client("dynamodb", region), _client("s3", region)
    create_transactions_table(dynamodb, env["TRANSACTIONS_TABLE_NAME"])
    create_idempotency_table(dynamodb, env["IDEMPOTENCY_TABLE_NAME"])
    create_bucket(s3, env["RECEIPTS_BUCKET_NAME"], region)
    create_bucket(s3, env["AUDIT_BUCKET_NAME"], region)
    _client("secretsmanager", region).create_secret(Name=env["CARD_HASH_SECRET_NAME"], SecretString=CARD_HASH_KEY)


def load_app() -> ModuleType:
    """A fresh copy of the handler module, configured from the current environment."""
    spec = importlib.util.spec_from_file_location(
        f"payment_validation_app_{next(_module_ids)}", FUNCTION_DIR / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    function_name = "payment-validation"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:payment-validation"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def api_event(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None, base64_body: bool = False
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy integration event."""
    headers = headers or {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "stage": "prod",
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "identity": {"sourceIp": "198.51.100.7"},
        },
        "body": base64.b64encode(body.encode()).decode() if base64_body and body is not None else body,
        "isBase64Encoded": base64_body,
    }


def payment(**overrides: Any) -> dict[str, Any]:
    """A valid POST /payments body; `card=` overrides are merged into the card."""
    card = {"number": VISA, "expiry_month": 12, "expiry_year": datetime.now(UTC).year + 3, "cvv": "123"}
    body = {"merchant_id": "merchant-001", "amount": "125.50", "currency": "USD", "card": card}
    return body | overrides | {"card": card | overrides.get("card", {})}


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    request_id: str


@dataclass
class Deployment:
    """The function as deployed in one region, with that region's (moto) resources."""

    module: ModuleType
    env: dict[str, str]

    @property
    def region(self) -> str:
        return self.env["AWS_REGION"]

    def invoke(self, event: dict[str, Any]) -> ApiResponse:
        # Each region's function runs with its own environment (Powertools reads some per call).
        with patch.dict(os.environ, self.env):
            raw = self.module.lambda_handler(event, FakeLambdaContext())
        # The REST API (v1) response format carries headers as lists.
        headers = {name: ",".join(values) for name, values in raw["multiValueHeaders"].items()}
        return ApiResponse(raw["statusCode"], headers, json.loads(raw["body"]), event["requestContext"]["requestId"])

    def post_payment(self, body: dict[str, Any] | str, key: str | None = NEW_KEY, **headers: str) -> ApiResponse:
        """POSTs `body` with Idempotency-Key `key` (a fresh one by default, none if None)."""
        text = body if isinstance(body, str) else json.dumps(body)
        key = f"key-{uuid.uuid4()}" if key == NEW_KEY else key
        all_headers = {"Content-Type": "application/json"} | ({"Idempotency-Key": key} if key else {}) | headers
        return self.invoke(api_event("POST", "/payments", text, all_headers))

    def health(self) -> ApiResponse:
        return self.invoke(api_event("GET", "/health"))

    def client(self, service: str) -> Any:
        return _client(service, self.region)

    def transactions_table(self) -> Any:
        return _dynamodb_resource(self.region).Table(self.env["TRANSACTIONS_TABLE_NAME"])

    def transactions(self) -> list[dict[str, Any]]:
        return self.transactions_table().scan()["Items"]

    def transaction(self, transaction_id: str) -> dict[str, Any]:
        return self.transactions_table().get_item(Key={"transaction_id": transaction_id})["Item"]

    def idempotency_records(self) -> list[dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=self.env["IDEMPOTENCY_TABLE_NAME"])["Items"]

    def objects(self, bucket_variable: str) -> dict[str, dict[str, Any]]:
        """Every JSON object in the bucket named by `bucket_variable`, by key."""
        s3 = self.client("s3")
        bucket = self.env[bucket_variable]
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {obj["Key"]: json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()) for obj in listed}

    def footprint(self) -> tuple[int, int, list[str]]:
        """How many items and records, and which object keys, this region holds: cheap to compare."""
        s3 = self.client("s3")
        keys = [
            obj["Key"]
            for name in ("RECEIPTS_BUCKET_NAME", "AUDIT_BUCKET_NAME")
            for obj in s3.list_objects_v2(Bucket=self.env[name]).get("Contents", [])
        ]
        return len(self.transactions()), len(self.idempotency_records()), keys

    def stored_text(self) -> str:
        """Everything this region has persisted, as one string (for "the PAN is nowhere" checks)."""
        buckets = {name: self.objects(name) for name in ("RECEIPTS_BUCKET_NAME", "AUDIT_BUCKET_NAME")}
        return json.dumps([self.transactions(), self.idempotency_records(), buckets], default=str)


@contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and Powertools settings, and moto in-process."""
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    # Keeping boto3's default session keeps its loaded service models: ~10x faster set-up.
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


def deploy_to(monkeypatch: pytest.MonkeyPatch, region: str = PRIMARY_REGION) -> Deployment:
    """Deploys the function to a region: creates its resources and loads the handler."""
    env = region_env(region)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    create_region_resources(env)
    module = _app_configured_by(tuple(sorted(env.items())))
    module.secrets.clear_cache()  # the one state a previous test's moto account could leave behind
    return Deployment(module, env)


@cache
def _app_configured_by(_env: tuple[tuple[str, str], ...]) -> ModuleType:
    # One module per distinct environment: importing it is most of a test's set-up cost.
    return load_app()


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Deployment]]:
    """Deploys to as many regions as a test needs, in one moto account."""
    with mocked_aws(monkeypatch):
        yield partial(deploy_to, monkeypatch)


@pytest.fixture(scope="module")
def shared_api() -> Iterator[Deployment]:
    """One deployment for a whole test module, for tests that only add uniquely keyed data."""
    with pytest.MonkeyPatch.context() as monkeypatch, mocked_aws(monkeypatch):
        yield deploy_to(monkeypatch)


@pytest.fixture
def api(deploy: Callable[..., Deployment]) -> Deployment:
    return deploy()


@pytest.fixture
def captured_logs(api: Deployment) -> Iterator[io.StringIO]:
    """Everything the function's logger writes at DEBUG, through its real handler and formatter."""
    logger = api.module.logger
    level, buffer = logger.log_level, io.StringIO()
    previous_stream = logger.registered_handler.setStream(buffer)
    logger.setLevel("DEBUG")
    yield buffer
    logger.setLevel(level)
    logger.registered_handler.setStream(previous_stream)
