"""Payment validation API: POST /payments and GET /health (API Gateway REST, proxy integration).

Handler `app.lambda_handler`. Powertools for AWS Lambda (Python) v3 comes from the AWS-managed
layer (AWSLambdaPowertoolsPythonV3-python313-*, built with the `[all]` extras, so pydantic and
the X-Ray SDK are there); this folder holds only the function's own modules.
"""

from __future__ import annotations

import gc

# Init creates tens of thousands of objects that live as long as the execution environment, and
# next to no garbage: cyclic collections while importing would only rescan them (~20 ms of this
# import, measured). Collection resumes at the end of this module, with them frozen out of it;
# payment_clients.long_lived does the same for what is created on first use.
gc.disable()

import base64
import json
import os
import re
from datetime import UTC, datetime
from functools import cache, partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from payment_card import contains_pan, fingerprint, redact_pans
from payment_clients import lazy_client, long_lived
from payment_health import check_region
from payment_money import format_amount
from payment_settings import ConfigurationError, load_settings
from payment_store import (
    AcceptanceTable,
    DependencyError,
    Ledger,
    RequestInProgress,
    TransactionConflict,
    error_code,
    new_transaction,
    payment_view,
)
from payment_violations import RequestRejected, Violation

if TYPE_CHECKING:
    from payment_request import PaymentRequest  # imported on first use: see _request_rules

MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# Room for UUIDs, ULIDs and "order-123:attempt" styles; short keys collide too easily.
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
SECRET_MAX_AGE_SECONDS = 300
MIN_CARD_KEY_BYTES = 32
SERVED_REGION_HEADER = "X-Served-Region"
REPLAYED_HEADER = "Idempotent-Replayed"
_RETRY_SOON = {"Retry-After": "1"}
# The only body this API reads; a charset parameter, if any, must say UTF-8 (RFC 8259 section 8.1).
_MEDIA_TYPE = "application/json"
_CHARSET_PARAMETER = re.compile(r'\s*charset\s*=\s*"?utf-8"?\s*', re.IGNORECASE | re.ASCII)
# API Gateway request ids are UUIDs; anything else in requestContext.requestId did not come from it.
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)

# Metric dimension for a rejection, by violation code; anything else is "InvalidField".
_REJECTION_REASONS = {
    "body_too_large": "MalformedRequest",
    "body_encoding": "MalformedRequest",
    "json_invalid": "MalformedRequest",
    "duplicate_key": "MalformedRequest",
    "event_malformed": "MalformedRequest",
    "model_type": "MalformedRequest",
    "idempotency_key_missing": "IdempotencyKey",
    "idempotency_key_format": "IdempotencyKey",
    "card_number_format": "InvalidCard",
    "card_number_length": "InvalidCard",
    "card_number_luhn": "InvalidCard",
    "card_expired": "CardExpired",
    "amount_format": "InvalidAmount",
    "amount_not_positive": "InvalidAmount",
    "amount_precision": "InvalidAmount",
    "amount_over_limit": "AmountOverLimit",
    "currency_not_allowed": "UnsupportedCurrency",
    "contains_card_number": "CardNumberInField",
}

try:
    settings = load_settings(os.environ)
except ConfigurationError:
    gc.enable()  # the init fails; whatever imports this module again must not run without collection
    raise


def _redacted(value: Any) -> Any:
    """`value` with card numbers redacted from every string in it, keys included."""
    if isinstance(value, str):
        return redact_pans(value)
    if isinstance(value, dict):
        return {_redacted(key): _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    return value


class _RedactingFormatter(LambdaPowertoolsFormatter):
    """Last line of defence: no log line leaves with something that looks like a card number.

    Strings are redacted before serialisation, where a tab or a newline is still itself rather
    than JSON's two-character escape, then the line once more (for what `default=str` rendered).
    """

    def serialize(self, log: Any) -> str:
        return redact_pans(super().serialize(_redacted(log)))


logger = Logger(logger_formatter=_RedactingFormatter())
# The AWS SDK is this function's only outbound I/O: patching botocore alone traces every call,
# without patch_all importing (and patching) every other library the X-Ray SDK supports.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
# debug=False explicitly: POWERTOOLS_DEV would otherwise print whole events, card numbers included.
# Sorted keys: a replay, built from the stored acceptance record, is byte-identical.
_serialize = partial(json.dumps, sort_keys=True, separators=(",", ":"))
app = APIGatewayRestResolver(debug=False, serializer=_serialize)

# Short timeouts and few retries: API Gateway gives up after 29 s, Route 53 after a few.
_SDK_CONFIG = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3})
_PROBE_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
# Created on first use (payment_clients): a payment never builds the health probes' clients.
dynamodb = lazy_client("dynamodb", settings.region, _SDK_CONFIG)
s3 = lazy_client("s3", settings.region, _SDK_CONFIG)
secrets = SecretsProvider(boto3_client=lazy_client("secretsmanager", settings.region, _SDK_CONFIG))
probe_dynamodb = lazy_client("dynamodb", settings.region, _PROBE_CONFIG)
probe_s3 = lazy_client("s3", settings.region, _PROBE_CONFIG)
# The acceptance records decide (payment_store): on a multi-Region strongly consistent table they do
# so across regions. The copies go to this region's transactions table and buckets.
ledger = Ledger(
    AcceptanceTable(dynamodb, settings.idempotency_table),
    dynamodb,
    s3,
    settings.transactions_table,
    settings.receipts_bucket,
    settings.audit_bucket,
)


def _now() -> datetime:
    return datetime.now(UTC)


def card_key() -> bytes:
    """The HMAC key for card fingerprints (Secrets Manager, cached for SECRET_MAX_AGE_SECONDS)."""
    try:
        value = secrets.get(settings.card_hash_secret_name, max_age=SECRET_MAX_AGE_SECONDS)
    except GetParameterError as exc:
        cause = exc.__context__
        code = error_code(cause) if isinstance(cause, (BotoCoreError, ClientError)) else "GetParameterError"
        raise DependencyError("card_hash_secret", code) from exc
    key = value.encode() if isinstance(value, str) else value
    if not isinstance(key, bytes) or len(key) < MIN_CARD_KEY_BYTES:
        raise DependencyError("card_hash_secret", f"SecretShorterThan{MIN_CARD_KEY_BYTES}Bytes")
    return key


def _respond(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """Every response names the region that served it, in the body and in a header."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body | {"region": settings.region},
        headers={SERVED_REGION_HEADER: settings.region, "Cache-Control": "no-store"} | (headers or {}),
    )


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any) -> Response:
    body = {"code": code, "message": message, "request_id": logger.get_correlation_id()} | details
    return _respond(status, body, headers)


def _count(metric: str, value: int = 1, **dimensions: str) -> None:
    # One outcome metric per invocation, so its dimensions apply to it alone.
    for name, dimension in dimensions.items():
        metrics.add_dimension(name=name, value=dimension)
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)


def _reject(violation: Violation) -> RequestRejected:
    return RequestRejected([violation])


class UnsupportedMediaType(Exception):
    """The request body is not declared as JSON."""


def _require_json(event: APIGatewayProxyEvent) -> None:
    """415 unless Content-Type is application/json (parameters allowed; a charset must be UTF-8).

    API Gateway validates a body against the model only for the content types the model is mapped
    to, and passes other content types through unvalidated: the function must refuse them itself.
    """
    media_type, *parameters = (event.headers.get("Content-Type") or "").split(";")
    if media_type.strip().lower() != _MEDIA_TYPE or any(
        "charset" in parameter.lower() and not _CHARSET_PARAMETER.fullmatch(parameter) for parameter in parameters
    ):
        raise UnsupportedMediaType


def _read_body(event: APIGatewayProxyEvent) -> str:
    raw = event.body or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
    except UnicodeEncodeError:  # a lone surrogate: the event's JSON held an escape no UTF-8 body produces
        raise _reject(Violation("body", "body_encoding", "must be UTF-8 encoded JSON")) from None
    except ValueError:  # binascii.Error, or non-ASCII characters in a base64 body
        raise _reject(Violation("body", "body_encoding", "is not valid base64")) from None
    if len(data) > MAX_BODY_BYTES:
        raise _reject(Violation("body", "body_too_large", f"must not exceed {MAX_BODY_BYTES} bytes"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _reject(Violation("body", "body_encoding", "must be UTF-8 encoded JSON")) from None


def _idempotency_key(event: APIGatewayProxyEvent) -> str:
    field = f"headers.{IDEMPOTENCY_KEY_HEADER}"
    key = event.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None:
        raise _reject(Violation(field, "idempotency_key_missing", "is required for POST /payments"))
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        message = "must be 8-128 characters: letters, digits, '_', '-', '.' or ':'"
        raise _reject(Violation(field, "idempotency_key_format", message))
    if contains_pan(key):
        raise _reject(Violation(field, "contains_card_number", "must not contain a card number"))
    return key


@cache
def _request_rules() -> ModuleType:
    """payment_request, imported by the first POST /payments rather than at cold start.

    pydantic and the request model take some 90 ms to load and only this route needs them: a
    container woken by a health check never loads them, and a payment pays the same either way.
    """
    with long_lived():
        import payment_request
    return payment_request


def _protected_payment(request: PaymentRequest) -> dict[str, Any]:
    """The request with the card reduced to last four + fingerprint: all that leaves this function."""
    pan = request.card.number.get_secret_value()
    return {
        "merchant_id": request.merchant_id,
        "amount": format_amount(request.amount, request.currency),
        "currency": request.currency,
        "card_last4": pan[-4:],
        "card_fingerprint": fingerprint(pan, card_key()),
        "card_expiry": f"{request.card.expiry_month:02d}/{request.card.expiry_year}",
        "description": request.description,
        "reference": request.reference,
    }


def record_payment(command: dict[str, Any]) -> dict[str, Any]:
    """Accepts once per (merchant_id, Idempotency-Key); a retry with the same payment gets the first result."""
    item, replayed = ledger.record(new_transaction(command, settings.region, _now()))
    return {"payment": payment_view(item), "replayed": replayed}


# Responses stay out of X-Ray: payment details have no business in trace metadata.
@app.post("/payments")
@tracer.capture_method(capture_response=False)
def create_payment() -> Response:
    event = app.current_event
    _require_json(event)
    body = _read_body(event)
    idempotency_key = _idempotency_key(event)
    request = _request_rules().validated_request(body, settings, _now())
    command = {
        "merchant_id": request.merchant_id,
        "idempotency_key": idempotency_key,
        "request_id": logger.get_correlation_id(),
        "payment": _protected_payment(request),
    }
    result = record_payment(command=command)
    payment = result["payment"]
    replayed = result.get("replayed", False)
    _count("PaymentReplayed" if replayed else "PaymentAccepted")
    logger.info(
        "Payment replayed" if replayed else "Payment accepted",
        transaction_id=payment["transaction_id"],
        merchant_id=payment["merchant_id"],
        amount=payment["amount"],
        currency=payment["currency"],
    )
    return _respond(201, payment, {REPLAYED_HEADER: "true"} if replayed else None)


@app.get("/health")
@tracer.capture_method
def health() -> Response:
    checks = check_region(
        probe_dynamodb,
        probe_s3,
        tables={"transactions_table": settings.transactions_table, "idempotency_table": settings.idempotency_table},
        buckets={"receipts_bucket": settings.receipts_bucket, "audit_bucket": settings.audit_bucket},
        card_key=card_key,
    )
    failing = sorted(name for name, outcome in checks.items() if outcome != "ok")
    # 0 on success too, so the metric's average is the failure rate.
    _count("HealthCheckFailed", value=int(bool(failing)))
    if failing:
        logger.warning("Health check failed", checks=checks)
        return _respond(503, {"status": "unavailable", "failing": failing, "checks": checks})
    return _respond(200, {"status": "ok", "checks": checks})


@app.exception_handler(RequestRejected)
def _rejected(exc: RequestRejected) -> Response:
    reason = _REJECTION_REASONS.get(exc.violations[0].code, "InvalidField")
    _count("PaymentRejected", Reason=reason)
    logger.info("Payment rejected", reason=reason, violations=[f"{v.field}:{v.code}" for v in exc.violations])
    violations = [violation.as_dict() for violation in exc.violations]
    return _error(400, "invalid_request", f"Invalid request: {exc}", violations=violations)


@app.exception_handler(UnsupportedMediaType)
def _unsupported_media_type(_exc: UnsupportedMediaType) -> Response:
    _count("PaymentRejected", Reason="UnsupportedMediaType")
    logger.info("Payment rejected", reason="UnsupportedMediaType")
    return _error(415, "unsupported_media_type", f"Content-Type must be {_MEDIA_TYPE} (charset, if given, utf-8)")


@app.exception_handler(TransactionConflict)
def _key_reused(exc: TransactionConflict) -> Response:
    reason = "IdempotencyConflict" if exc.store == "acceptance" else "TransactionConflict"
    _count("PaymentRejected", Reason=reason)
    logger.info("Idempotency-Key reused with a different payment", reason=reason)
    message = f"This {IDEMPOTENCY_KEY_HEADER} was already used for a different payment; use a new key for a new payment"
    return _error(409, "idempotency_key_reused", message)


@app.exception_handler(RequestInProgress)
def _in_progress(_exc: RequestInProgress) -> Response:
    _count("PaymentRejected", Reason="RequestInProgress")
    message = f"A request with this {IDEMPOTENCY_KEY_HEADER} is still being processed; retry shortly"
    return _error(409, "request_in_progress", message, headers=_RETRY_SOON)


@app.exception_handler(DependencyError)
def _dependency_failed(exc: DependencyError) -> Response:
    dependency = exc.dependency
    _count("DependencyFailure", Dependency=dependency)
    logger.exception("Dependency failed", dependency=dependency)
    message = f"A dependency is unavailable; retry with the same {IDEMPOTENCY_KEY_HEADER}"
    return _error(503, "dependency_unavailable", message, headers=_RETRY_SOON)


@app.exception_handler(Exception)
def _unexpected(_exc: Exception) -> Response:
    logger.exception("Unexpected error")
    _count("UnexpectedError")
    return _error(500, "internal_error", "Internal error; quote the request_id when reporting it")


@app.not_found
def _no_route(_exc: NotFoundError) -> Response:
    return _error(404, "not_found", "No such route; the API has POST /payments and GET /health")


def _request_id(event: dict[str, Any], context: LambdaContext) -> str:
    """API Gateway's request id, or Lambda's when the event has none that API Gateway could have made.

    Every log line carries it, every error body and stored item too: it must exist, and must not be
    something a caller chose (a card number, for one).
    """
    request_context = event.get("requestContext")
    request_id = request_context.get("requestId") if isinstance(request_context, dict) else None
    if isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id) and not contains_pan(request_id):
        return request_id
    return str(context.aws_request_id)


def _proxy_event(event: Any) -> dict[str, Any] | None:
    """The event as the resolver reads it, or None if it is no API Gateway proxy event at all.

    API Gateway always sends these fields with these types; a direct invocation may not. Optional
    parts that are missing or null get what API Gateway sends for "none"; a route needs its method
    and path, and headers and body are only ever strings.
    """
    if not isinstance(event, dict) or not all(isinstance(event.get(name), str) for name in ("httpMethod", "path")):
        return None
    headers = event.get("headers") or {}
    body = event.get("body")
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        return None
    if body is not None and not isinstance(body, str):
        return None
    multi_value_headers = event.get("multiValueHeaders")
    if not isinstance(multi_value_headers, dict):
        multi_value_headers = {name: [value] for name, value in headers.items()}
    request_context = event.get("requestContext")
    return event | {
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "isBase64Encoded": event.get("isBase64Encoded") is True,
        "requestContext": request_context if isinstance(request_context, dict) else {},
    }


def _malformed_event() -> dict[str, Any]:
    """The 400 for an event no route can be chosen for, in the REST API proxy response format."""
    _count("PaymentRejected", Reason="MalformedRequest")
    logger.info("Request rejected", reason="MalformedRequest", violations=["event:event_malformed"])
    violation = Violation("event", "event_malformed", "is not an API Gateway REST API proxy event")
    response = _error(
        400,
        "invalid_request",
        f"Invalid request: {violation.field}: {violation.message}",
        violations=[violation.as_dict()],
    )
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": {name: [value] for name, value in response.headers.items()},
        "body": _serialize(response.body),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    proxy_event = _proxy_event(event)
    logger.set_correlation_id(_request_id(proxy_event or {}, context))
    if proxy_event is None:
        return _malformed_event()
    return app.resolve(proxy_event, context)


# End of init: what it created stays for the environment's lifetime; later collections skip it.
gc.freeze()
gc.enable()
