"""Cardholder data outside the card field, and input no API Gateway client should be able to crash on.

Each case goes through the real handler (moto behind it): a refusal is a 4xx naming the field,
its answer never repeats the card number, and nothing is written.
"""

from __future__ import annotations

import base64
import io
import json
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from payment_card import contains_pan, redact_pans
from tests.functions.conftest import MASTERCARD, VISA, Deployment, FakeLambdaContext, api_event, payment

# VISA written the ways a person, a form or a copy-paste can write it.
VISA_FORMS = {
    "dots": "4111.1111.1111.1111",
    "underscores": "4111_1111_1111_1111",
    "slashes": "4111/1111/1111/1111",
    "double spaces": "4111  1111  1111  1111",
    "tabs": "4111\t1111\t1111\t1111",
    "no-break spaces": "4111\u00a01111\u00a01111\u00a01111",
    "thin and ideographic spaces": "4111\u20091111\u30001111 1111",
    "en dashes": "4111\u20131111\u20131111\u20131111",
    "zero-width spaces": "4111\u200b1111\u200b1111\u200b1111",
    "mixed and repeated": "4111 -- 1111 .. 1111 / 1111",
    "full-width digits": "４１１１１１１１１１１１１１１１",
    "Arabic-Indic digits": "٤١١١ ١١١١ ١١١١ ١١١١",
    "Devanagari digits": "४१११-११११-११११-११११",
    "full-width separators": "4111．1111／1111＿1111",
    "circled digits": "④①①① ①①①① ①①①① ①①①①",
    "after another number": "order 12 4111 1111 1111 1111",
}


def digits_of(text: str) -> str:
    return "".join(
        str(unicodedata.decimal(c))
        for c in unicodedata.normalize("NFKC", text)
        if unicodedata.decimal(c, None) is not None
    )


def assert_refused_without_trace(api: Deployment, response: Any, status: int, field: str, *codes: str) -> None:
    assert response.status == status, response.body
    assert any(v["field"] == field and v["code"] in codes for v in response.body["violations"]), response.body
    assert VISA not in digits_of(json.dumps(response.body, ensure_ascii=False))
    assert api.footprint() == (0, 0, [])


@pytest.mark.parametrize("form", VISA_FORMS.values(), ids=VISA_FORMS.keys())
def test_every_written_form_of_a_card_number_is_detected_and_redacted(form: str) -> None:
    text = f"note: {form}, thanks"
    assert contains_pan(text)
    assert VISA not in digits_of(redact_pans(text))
    assert redact_pans(text).startswith("note: ") and redact_pans(text).endswith(", thanks")


@pytest.mark.parametrize("field", ["description", "reference"])
@pytest.mark.parametrize("form", VISA_FORMS.values(), ids=VISA_FORMS.keys())
def test_card_number_in_free_text_is_refused_naming_the_field(api: Deployment, field: str, form: str) -> None:
    value = f"ref {form}" if field == "description" else form
    # Either way refused: a reference takes no spaces or non-ASCII digits, a description no tabs.
    format_code = "reference_format" if field == "reference" else "description_format"
    assert_refused_without_trace(
        api, api.post_payment(payment(**{field: value})), 400, field, "contains_card_number", format_code
    )


@pytest.mark.parametrize(
    "merchant_id",
    [
        "4111-1111-1111-1111",
        "m4111111111111111",
        "m-4111-1111-1111-1111",
        "Merchant-001",
        "m--1",
        "shop_",
        "a" * 65,
        "merchant\n",
    ],
)
def test_merchant_id_has_a_strict_format_that_cannot_hold_a_card_number(api: Deployment, merchant_id: str) -> None:
    assert_refused_without_trace(
        api, api.post_payment(payment(merchant_id=merchant_id)), 400, "merchant_id", "merchant_id_format"
    )


@pytest.mark.parametrize("merchant_id", ["acme", "shop-42", "eu_store-7", "m-20240115-001"])
def test_merchant_ids_in_the_format_are_accepted(api: Deployment, merchant_id: str) -> None:
    assert api.post_payment(payment(merchant_id=merchant_id)).status == 201


@pytest.mark.parametrize("reference", ["INV-1001", "PO#2024/17", "order:77.b", "A"])
def test_references_in_the_format_are_accepted(api: Deployment, reference: str) -> None:
    assert api.post_payment(payment(reference=reference)).status == 201


@pytest.mark.parametrize(
    "number",
    [
        "４１１１１１１１１１１１１１１１",
        "4111\u00a01111 1111 1111",
        "4111.1111.1111.1111",
        "4111111111111111\n",
        " 4111111111111111",
        "4111  1111 1111 1111",
        "٤١١١١١١١١١١١١١١١",
    ],
)
def test_card_field_takes_ascii_digits_with_single_spaces_or_dashes_only(api: Deployment, number: str) -> None:
    assert_refused_without_trace(
        api, api.post_payment(payment(card={"number": number})), 400, "card.number", "card_number_format"
    )


def test_card_number_as_a_json_key_is_not_repeated(api: Deployment) -> None:
    for key in (VISA, "4111 1111 1111 1111", "x4111_1111_1111_1111"):
        body = json.dumps(payment() | {key: 1}, ensure_ascii=False)
        response = api.post_payment(body)
        assert_refused_without_trace(api, response, 400, "[key]", "extra_forbidden")


def test_card_number_as_idempotency_key_or_request_id_is_not_accepted(api: Deployment) -> None:
    response = api.post_payment(payment(), key="4111-1111-1111-1111")
    assert_refused_without_trace(api, response, 400, "headers.Idempotency-Key", "contains_card_number")

    event = api_event("POST", "/payments", "{", {"Content-Type": "application/json", "Idempotency-Key": "key-12345678"})
    event["requestContext"]["requestId"] = VISA
    answer = api.invoke(event)
    assert answer.status == 400 and answer.body["request_id"] != VISA and VISA not in json.dumps(answer.body)


def test_duplicate_json_keys_are_refused(api: Deployment) -> None:
    text = json.dumps(payment(amount="1.00"))[:-1] + ', "amount": "9999.00"}'
    assert_refused_without_trace(api, api.post_payment(text), 400, "amount", "duplicate_key")
    nested = json.dumps(payment()).replace('"cvv": "123"', '"cvv": "123", "cvv": "456"')
    assert_refused_without_trace(api, api.post_payment(nested), 400, "card.cvv", "duplicate_key")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "application/jsonp"],
)
def test_a_body_not_declared_as_json_is_415(api: Deployment, content_type: str | None) -> None:
    headers = {"Idempotency-Key": "key-12345678"} | ({"Content-Type": content_type} if content_type else {})
    response = api.invoke(api_event("POST", "/payments", json.dumps(payment()), headers))
    assert response.status == 415 and response.body["code"] == "unsupported_media_type"
    assert api.footprint() == (0, 0, [])


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'])
def test_json_with_a_utf8_charset_is_accepted(api: Deployment, content_type: str) -> None:
    assert api.post_payment(payment(), **{"Content-Type": content_type}).status == 201


BODIES: dict[str, tuple[Any, bool]] = {
    "lone surrogate": ('{"merchant_id": "m\ud800"}', False),
    "surrogate escape in JSON": ('{"merchant_id": "m\\ud800x"}', False),
    "non-ASCII base64": ("é" + base64.b64encode(b"{}").decode(), True),
    "invalid base64": ("not base64!", True),
    "base64 of invalid UTF-8": (base64.b64encode(b"\xff\xfe{}").decode(), True),
    "deep nesting": ("[" * 20000, False),
    "huge integer": ('{"card": {"expiry_year": ' + "9" * 5000 + "}}", False),
    "control characters in description": (json.dumps(payment(description="a\u0000b")), False),
}


@pytest.mark.parametrize(("body", "is_base64"), BODIES.values(), ids=BODIES.keys())
def test_hostile_bodies_are_400_not_500(api: Deployment, body: str, is_base64: bool) -> None:
    event = api_event(
        "POST", "/payments", None, {"Content-Type": "application/json", "Idempotency-Key": "key-12345678"}
    )
    event |= {"body": body, "isBase64Encoded": is_base64}
    response = api.invoke(event)
    assert response.status == 400, response.body
    assert api.footprint() == (0, 0, [])


def _without(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda event: event.pop(field)


def _null(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda event: event.update({field: None})


@pytest.mark.parametrize(
    "change",
    [
        _without("requestContext"),
        _null("requestContext"),
        _without("multiValueHeaders"),
        _null("multiValueHeaders"),
        _without("isBase64Encoded"),
        _without("resource"),
    ],
    ids=[
        "no requestContext",
        "null requestContext",
        "no multiValueHeaders",
        "null multiValueHeaders",
        "no isBase64Encoded",
        "no resource",
    ],
)
def test_events_missing_optional_fields_are_served_and_completed(
    api: Deployment, change: Callable[[dict[str, Any]], None]
) -> None:
    event = api_event(
        "POST",
        "/payments",
        json.dumps(payment()),
        {"Content-Type": "application/json", "Idempotency-Key": "key-12345678"},
    )
    change(event)
    raw = api.module.lambda_handler(
        event,
        type(
            "Ctx",
            (),
            {
                "aws_request_id": "lambda-req-1",
                "function_name": "f",
                "memory_limit_in_mb": 1,
                "invoked_function_arn": "arn",
                "get_remaining_time_in_millis": lambda self: 9000,
            },
        )(),
    )
    assert raw["statusCode"] == 201, raw["body"]
    # Nothing half-written: the item is complete, with the request id the function used.
    [item] = api.transactions()
    assert item["status"] == "ACCEPTED" and item["request_id"]


@pytest.mark.parametrize(
    "event",
    [
        {},
        [],
        "x",
        {"httpMethod": "POST"},
        {"path": "/payments"},
        {"httpMethod": "POST", "path": "/payments", "headers": ["x"]},
        {"httpMethod": "POST", "path": "/payments", "body": {"a": 1}},
        {"httpMethod": "POST", "path": "/payments", "headers": {"Content-Type": 1}},
    ],
    ids=["empty", "list", "string", "no path", "no method", "headers list", "body object", "header not a string"],
)
def test_events_no_route_can_be_chosen_for_are_400(api: Deployment, event: Any) -> None:
    raw = api.module.lambda_handler(event, FakeLambdaContext())
    assert raw["statusCode"] == 400
    assert json.loads(raw["body"])["violations"] == [
        {"field": "event", "code": "event_malformed", "message": "is not an API Gateway REST API proxy event"}
    ]
    assert api.footprint() == (0, 0, [])


@pytest.mark.parametrize("form", VISA_FORMS.values(), ids=VISA_FORMS.keys())
def test_log_lines_redact_every_form(api: Deployment, captured_logs: io.StringIO, form: str) -> None:
    api.module.logger.info(f"careless {form}", extra={"detail": {form: f"card={MASTERCARD}"}})

    for line in captured_logs.getvalue().splitlines():
        for text in json.loads(line).values():
            assert VISA not in digits_of(str(text)) and MASTERCARD not in digits_of(str(text))
