"""Validation of POST /payments bodies and of the function's configuration.

Request rules are exercised through the real handler: each rejected body must come back as a
400 naming the field, and must leave nothing behind in the tables or buckets. Rejections write
nothing, so the module shares one deployment; accepted payments use fresh idempotency keys.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from payment_card import contains_pan, luhn_valid, redact_pans
from payment_money import MINOR_UNITS, format_amount
from payment_request import PaymentRequest, policy_violations
from payment_settings import ConfigurationError, Settings, load_settings
from tests.functions.conftest import MASTERCARD, VISA, Deployment, api_event, load_app, payment, region_env

THIS_YEAR = datetime.now(UTC).year


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """`body` with the field at `path` removed."""
    copy = json.loads(json.dumps(body))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return copy


def assert_rejected(api: Deployment, body: dict[str, Any] | str, field: str, code: str, message: str) -> None:
    footprint_before = api.footprint()
    response = api.post_payment(body)
    assert response.status == 400, response.body
    assert response.body["code"] == "invalid_request"
    assert {"field": field, "code": code, "message": message} in response.body["violations"]
    assert f"{field}: {message}" in response.body["message"]
    assert api.footprint() == footprint_before


def required(field: str) -> tuple[str, str, str]:
    return field, "missing", "is required"


def unknown(field: str) -> tuple[str, str, str]:
    return field, "extra_forbidden", "is not a recognised field"


def too_precise(currency: str, amount: str, places: int) -> tuple[Any, str, str, str]:
    message = f"{currency} amounts allow at most {places} decimal places"
    return payment(amount=amount, currency=currency), "amount", "amount_precision", message


MERCHANT_FORMAT = (
    "merchant_id",
    "merchant_id_format",
    "must be 3-64 lower-case letters and digits, starting with a letter, words joined by single '-' or '_', "
    "with at most 11 digits",
)
AMOUNT_FORMAT = ("amount", "amount_format", 'must be a string in plain decimal notation, e.g. "125.50"')
CARD_FORMAT = ("card.number", "card_number_format", "must contain only digits, optionally grouped by spaces or dashes")
CARD_LENGTH = ("card.number", "card_number_length", "must have 12 to 19 digits")
NOT_A_STRING = "string_type", "Input should be a valid string"
NOT_AN_INTEGER = "int_type", "Input should be a valid integer"
PAN_IN_TEXT = "contains_card_number", "must not contain a card number"
REFERENCE_FORMAT = (
    "reference_format",
    "must be 1-64 letters, digits, '.', '_', ':', '/', '#' or '-', starting with a letter or digit",
)

# Case name: (body, field, code, message).
REJECTED_BODIES: dict[str, tuple[Any, str, str, str]] = {
    "merchant_id missing": (without(payment(), "merchant_id"), *required("merchant_id")),
    "merchant_id leading dash": (payment(merchant_id="-merchant"), *MERCHANT_FORMAT),
    "merchant_id too short": (payment(merchant_id="ab"), *MERCHANT_FORMAT),
    "merchant_id not a string": (payment(merchant_id=42), "merchant_id", *NOT_A_STRING),
    "amount as JSON number": (payment(amount=125.5), *AMOUNT_FORMAT),
    "amount in exponent notation": (payment(amount="1e3"), *AMOUNT_FORMAT),
    "amount with a comma": (payment(amount="12,50"), *AMOUNT_FORMAT),
    "amount zero": (payment(amount="0.00"), "amount", "amount_not_positive", "must be greater than zero"),
    "USD amount with 3 decimals": too_precise("USD", "10.001", 2),
    "JPY amount with decimals": too_precise("JPY", "100.5", 0),
    "KWD amount with 4 decimals": too_precise("KWD", "1.2345", 3),
    "amount over the limit": (payment(amount="10000.01"), "amount", "amount_over_limit", "must not exceed 10000.00"),
    "currency lower case": (
        payment(currency="usd"),
        "currency",
        "currency_format",
        "must be an upper-case ISO 4217 code",
    ),
    "currency not allowed here": (
        payment(currency="CHF"),
        "currency",
        "currency_not_allowed",
        "must be one of EUR, GBP, JPY, KWD, USD",
    ),
    "card missing": (without(payment(), "card"), *required("card")),
    "card number missing": (without(payment(), "card", "number"), *required("card.number")),
    "card number with a letter": (payment(card={"number": "4111-1111-1111-111a"}), *CARD_FORMAT),
    "card number with double separators": (payment(card={"number": "4111  1111 1111 1111"}), *CARD_FORMAT),
    "card number of 11 digits": (payment(card={"number": "42424242426"}), *CARD_LENGTH),
    "card number of 20 digits": (payment(card={"number": "42424242424242424242"}), *CARD_LENGTH),
    "card number failing Luhn": (
        payment(card={"number": "4111111111111112"}),
        "card.number",
        "card_number_luhn",
        "is not a valid card number (Luhn check failed)",
    ),
    "card number as JSON number": (payment(card={"number": int(VISA)}), "card.number", *NOT_A_STRING),
    "expiry month 13": (
        payment(card={"expiry_month": 13}),
        "card.expiry_month",
        "less_than_equal",
        "Input should be less than or equal to 12",
    ),
    "expiry month 0": (
        payment(card={"expiry_month": 0}),
        "card.expiry_month",
        "greater_than_equal",
        "Input should be greater than or equal to 1",
    ),
    "expiry month as string": (payment(card={"expiry_month": "12"}), "card.expiry_month", *NOT_AN_INTEGER),
    "expiry year as bool": (payment(card={"expiry_year": True}), "card.expiry_year", *NOT_AN_INTEGER),
    "card expired last year": (
        payment(card={"expiry_month": 12, "expiry_year": THIS_YEAR - 1}),
        "card.expiry",
        "card_expired",
        f"card expired at the end of 12/{THIS_YEAR - 1} (UTC)",
    ),
    "cvv not digits": (payment(card={"cvv": "12a"}), "card.cvv", "cvv_format", "must be 3 or 4 digits"),
    "unknown field": (payment(tip="1.00"), *unknown("tip")),
    "unknown card field": (payment(card={"holder": "A N Other"}), *unknown("card.holder")),
    "card number in the description": (
        payment(description=f"card {MASTERCARD[:8]} {MASTERCARD[8:]}"),
        "description",
        *PAN_IN_TEXT,
    ),
    "card number as the reference": (payment(reference=VISA), "reference", *PAN_IN_TEXT),
    "description too long": (
        payment(description="x" * 256),
        "description",
        "string_too_long",
        "String should have at most 255 characters",
    ),
    "reference with a space": (
        payment(reference="order 1"),
        "reference",
        *REFERENCE_FORMAT,
    ),
    "JSON array body": ([payment()], "body", "model_type", "must be a JSON object"),
}


@pytest.mark.parametrize(("body", "field", "code", "message"), REJECTED_BODIES.values(), ids=REJECTED_BODIES.keys())
def test_invalid_body_is_rejected_naming_the_field(
    shared_api: Deployment, body: Any, field: str, code: str, message: str
) -> None:
    assert_rejected(shared_api, body if isinstance(body, dict) else json.dumps(body), field, code, message)


@pytest.mark.parametrize(
    "text", ['{"merchant_id": "merchant-001",', "", "not json"], ids=["truncated", "empty", "text"]
)
def test_malformed_json_is_rejected(shared_api: Deployment, text: str) -> None:
    assert_rejected(shared_api, text, "body", "json_invalid", "request body is not valid JSON")


def test_schema_violations_are_reported_together(shared_api: Deployment) -> None:
    response = shared_api.post_payment(payment(merchant_id="x", amount="-1", card={"number": "4111111111111112"}))

    assert response.status == 400
    assert [(v["field"], v["code"]) for v in response.body["violations"]] == [
        ("merchant_id", "merchant_id_format"),
        ("amount", "amount_format"),
        ("card.number", "card_number_luhn"),
    ]


def test_policy_violations_are_reported_together(shared_api: Deployment) -> None:
    body = payment(amount="20000.005", card={"expiry_month": 1, "expiry_year": THIS_YEAR - 1})

    response = shared_api.post_payment(body)

    assert [(v["field"], v["code"]) for v in response.body["violations"]] == [
        ("amount", "amount_precision"),
        ("amount", "amount_over_limit"),
        ("card.expiry", "card_expired"),
    ]


def test_oversized_body_is_rejected_and_the_limit_itself_is_accepted(shared_api: Deployment) -> None:
    limit = shared_api.module.MAX_BODY_BYTES
    compact = json.dumps(payment())
    padded = compact + " " * (limit - len(compact))  # JSON allows trailing whitespace

    assert_rejected(shared_api, padded + " ", "body", "body_too_large", f"must not exceed {limit} bytes")
    assert shared_api.post_payment(padded).status == 201


def test_base64_encoded_body_is_decoded(shared_api: Deployment) -> None:
    event = api_event(
        "POST",
        "/payments",
        json.dumps(payment()),
        {"Idempotency-Key": "key-00000001", "Content-Type": "application/json"},
        base64_body=True,
    )
    assert shared_api.invoke(event).status == 201


def test_invalid_base64_body_is_rejected(shared_api: Deployment) -> None:
    event = api_event("POST", "/payments", "x", {"Idempotency-Key": "key-00000001", "Content-Type": "application/json"})
    event["body"], event["isBase64Encoded"] = "%%%not-base64", True

    response = shared_api.invoke(event)

    assert response.status == 400
    assert response.body["violations"] == [{"field": "body", "code": "body_encoding", "message": "is not valid base64"}]


def test_idempotency_key_header_is_required(shared_api: Deployment) -> None:
    response = shared_api.post_payment(payment(), key=None)

    assert response.status == 400
    assert response.body["violations"] == [
        {
            "field": "headers.Idempotency-Key",
            "code": "idempotency_key_missing",
            "message": "is required for POST /payments",
        }
    ]


@pytest.mark.parametrize("key", ["short", "x" * 129, "has space in it", "key/with/slash"])
def test_idempotency_key_format_is_enforced(shared_api: Deployment, key: str) -> None:
    response = shared_api.post_payment(payment(), key=key)

    assert response.status == 400
    assert response.body["violations"][0]["code"] == "idempotency_key_format"


def test_idempotency_key_header_name_is_case_insensitive(shared_api: Deployment) -> None:
    response = shared_api.post_payment(payment(), key=None, **{"idempotency-key": "lower-case-key-1"})

    assert response.status == 201


@pytest.mark.parametrize(
    ("overrides", "amount"),
    [
        ({"amount": "125.5"}, "125.50"),
        ({"amount": "7"}, "7.00"),
        ({"amount": "1000", "currency": "JPY"}, "1000"),
        ({"amount": "1.234", "currency": "KWD"}, "1.234"),
        ({"amount": "10000.00"}, "10000.00"),
    ],
)
def test_accepted_amounts_are_normalised_to_the_currency_precision(
    shared_api: Deployment, overrides: dict[str, str], amount: str
) -> None:
    response = shared_api.post_payment(payment(**overrides))

    assert response.status == 201
    assert response.body["amount"] == amount
    assert shared_api.transaction(response.body["transaction_id"])["amount"] == Decimal(amount)


@pytest.mark.parametrize(
    "number", ["4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005", "6011000990139424"]
)
def test_card_numbers_with_separators_and_other_lengths_are_accepted(shared_api: Deployment, number: str) -> None:
    response = shared_api.post_payment(payment(card={"number": number}))

    assert response.status == 201
    assert response.body["card_last4"] == number[-4:]


def test_card_is_valid_through_the_end_of_its_expiry_month() -> None:
    request = PaymentRequest.model_validate(payment(card={"expiry_month": 2, "expiry_year": 2024}))
    allow_all = Settings("t", "i", "r", "a", "s", Decimal("10000"), frozenset({"USD"}), "us-east-1")

    last_second = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    first_second_after = datetime(2024, 3, 1, tzinfo=UTC)

    assert policy_violations(request, allow_all, last_second) == []
    assert [v.code for v in policy_violations(request, allow_all, first_second_after)] == ["card_expired"]


def test_december_expiry_rolls_over_to_the_next_year() -> None:
    request = PaymentRequest.model_validate(payment(card={"expiry_month": 12, "expiry_year": 2030}))
    allow_all = Settings("t", "i", "r", "a", "s", Decimal("10000"), frozenset({"USD"}), "us-east-1")

    assert policy_violations(request, allow_all, datetime(2030, 12, 31, 23, 59, tzinfo=UTC)) == []
    assert policy_violations(request, allow_all, datetime(2031, 1, 1, tzinfo=UTC))[0].code == "card_expired"


# --- properties ---------------------------------------------------------------------------

digit_strings = st.text(alphabet="0123456789", min_size=11, max_size=18)


@given(digit_strings)
def test_exactly_one_check_digit_completes_any_number(body: str) -> None:
    assert sum(luhn_valid(body + str(check)) for check in range(10)) == 1


@given(digit_strings, st.data())
def test_luhn_detects_every_single_digit_substitution(body: str, data: st.DataObject) -> None:
    pan = next(body + str(check) for check in range(10) if luhn_valid(body + str(check)))
    position = data.draw(st.integers(0, len(pan) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != pan[position]]))

    assert not luhn_valid(pan[:position] + replacement + pan[position + 1 :])


@given(digit_strings, st.text(alphabet='abc XYZ:;,{}"', max_size=20), st.text(alphabet='abc XYZ:;,{}"', max_size=20))
def test_any_valid_card_number_in_text_is_detected_and_redacted(body: str, before: str, after: str) -> None:
    pan = next(body + str(check) for check in range(10) if luhn_valid(body + str(check)))
    text = f"{before}{pan}{after}"

    assert contains_pan(text)
    assert pan not in redact_pans(text)


@given(st.uuids(), st.text(alphabet="0123456789abcdef", min_size=24, max_size=24), digit_strings)
def test_correlation_ids_survive_redaction_and_pans_beside_them_do_not(
    request_id: uuid.UUID, trace_tail: str, body: str
) -> None:
    # About 1 UUID in 300 holds a Luhn-valid run of 12+ digits between its dashes: redacting it would
    # break the correlation of an incident's logs (and make log tests fail at random).
    pan = next(body + str(check) for check in range(10) if luhn_valid(body + str(check)))
    ids = f'"correlation_id": "{request_id}", "xray_trace_id": "1-{trace_tail[:8]}-{trace_tail}"'
    text = f"{ids}, card {pan}"

    assert redact_pans(text) == f"{ids}, card [REDACTED-PAN]"
    assert not contains_pan(ids)


def test_a_uuid_whose_digits_form_a_card_number_is_kept_whole() -> None:
    request_id = "9f905880-97a2-434e-8676-12168247c4c0"  # a uuid4 seen in a test run
    assert contains_pan("8676-12168247") and not contains_pan(request_id)  # its digits alone are Luhn-valid
    assert redact_pans(f"request {request_id}") == f"request {request_id}"


@hypothesis_settings(max_examples=200)
@given(
    st.sampled_from(sorted(MINOR_UNITS)),
    st.integers(min_value=1, max_value=99_999),
    st.text(alphabet="0123456789", min_size=0, max_size=5),
)
def test_amount_precision_rule_matches_the_currency_minor_units(currency: str, units: int, fraction: str) -> None:
    amount = f"{units}.{fraction}" if fraction else str(units)
    request = PaymentRequest.model_validate(payment(amount=amount, currency=currency))
    everything = Settings("t", "i", "r", "a", "s", Decimal("100000"), frozenset(MINOR_UNITS), "us-east-1")

    codes = [v.code for v in policy_violations(request, everything, datetime.now(UTC))]

    assert ("amount_precision" in codes) == (len(fraction) > MINOR_UNITS[currency])
    if not codes:
        formatted = format_amount(request.amount, currency)
        assert Decimal(formatted) == Decimal(amount)
        assert len(formatted.partition(".")[2]) == MINOR_UNITS[currency]


# --- configuration ------------------------------------------------------------------------

REQUIRED = [
    "TRANSACTIONS_TABLE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "RECEIPTS_BUCKET_NAME",
    "AUDIT_BUCKET_NAME",
    "CARD_HASH_SECRET_NAME",
    "MAX_TRANSACTION_AMOUNT",
    "ALLOWED_CURRENCIES",
    "AWS_REGION",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
]


def test_complete_environment_loads() -> None:
    settings = load_settings(region_env("eu-west-1"))

    assert settings.region == "eu-west-1"
    assert settings.max_transaction_amount == Decimal("10000.00")
    assert settings.allowed_currencies == {"USD", "EUR", "GBP", "JPY", "KWD"}


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_variable_is_named(name: str) -> None:
    environ = {key: value for key, value in region_env("us-east-1").items() if key != name}

    with pytest.raises(ConfigurationError, match=f"{name} is not set"):
        load_settings(environ)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAX_TRANSACTION_AMOUNT", "ten", "MAX_TRANSACTION_AMOUNT must be a positive decimal number, got 'ten'"),
        ("MAX_TRANSACTION_AMOUNT", "0", "MAX_TRANSACTION_AMOUNT must be a positive decimal number, got '0'"),
        ("MAX_TRANSACTION_AMOUNT", "NaN", "MAX_TRANSACTION_AMOUNT must be a positive decimal number, got 'NaN'"),
        ("ALLOWED_CURRENCIES", "USD,XXX", "ALLOWED_CURRENCIES has currencies without a known minor unit: XXX"),
        ("ALLOWED_CURRENCIES", " , ", "ALLOWED_CURRENCIES must list at least one ISO 4217 code"),
        ("RECEIPTS_BUCKET_NAME", "Receipts_Bucket", "RECEIPTS_BUCKET_NAME is not a valid name: 'Receipts_Bucket'"),
        ("AWS_REGION", "mars", "AWS_REGION is not a valid name: 'mars'"),
    ],
)
def test_invalid_variable_is_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(region_env("us-east-1") | {name: value})

    assert message in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    environ = region_env("us-east-1") | {"MAX_TRANSACTION_AMOUNT": "-5"}
    del environ["AUDIT_BUCKET_NAME"]

    with pytest.raises(ConfigurationError) as raised:
        load_settings(environ)

    assert "AUDIT_BUCKET_NAME is not set" in str(raised.value)
    assert "MAX_TRANSACTION_AMOUNT must be a positive decimal number" in str(raised.value)


def test_handler_import_fails_naming_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in region_env("us-east-1").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CARD_HASH_SECRET_NAME")

    with pytest.raises(ConfigurationError, match="Invalid configuration: CARD_HASH_SECRET_NAME is not set"):
        load_app()
