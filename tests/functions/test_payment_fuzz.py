"""The payment function fuzzed as an attacker would: hypothesis draws API Gateway REST proxy events.

Each event may carry card numbers in any written form (any separators, any script's digits) in the
card field, free-text and identifier fields, JSON keys, headers, the path, the request id; its
body may be broken JSON, duplicate keys, wrong types, invalid or non-ASCII base64, lone
surrogates, any Content-Type; event fields may be missing or null. For every event:

- the answer is 2xx or 4xx, never 5xx (no dependency fails here), without a traceback or an
  internal name;
- no card number of the event is in the answer, a log line (the function's logger and every
  other one, at DEBUG), stdout (metrics), or anything sent to DynamoDB or S3;
- a refused request (400, 404, 415) sent nothing to DynamoDB or S3 at all.
At the end every stored item is ACCEPTED (nothing half-written) and the stored data, read back,
holds none of the run's card numbers.

The card-number oracle does not reuse the function's detector: it keeps only the digits of a
string (NFKC, then every Unicode decimal digit as its value) and looks for the card number's
digits in them, which finds any form the detector must catch and more.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import random
import re
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_card import luhn_valid
from tests.functions.conftest import VISA, Deployment, FakeLambdaContext, deploy_to, mocked_aws, payment

EXAMPLES = int(os.environ.get("PAYMENT_FUZZ_EXAMPLES", "2000"))
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "PutObject", "TransactWriteItems", "BatchWriteItem"}
)
INTERNAL_NAMES = re.compile(
    r"Traceback|File \"|\.py\b|botocore|boto3|pydantic|aws_lambda_powertools|payment_(card|request|store|clients)"
    r"|\b\w*(Error|Exception)\b|payment-transactions|payment-idempotency|payment-receipts|payment-audit|card-hash-key"
)
# Text around an injected card number: it never ends (or starts) with a digit glued to it, which
# would make a longer number rather than a card number (digits beside it after a separator are fine).
AROUND = st.text(alphabet="abcxz XYZ:;,{}#é漢\u00a0", max_size=8)
SEPARATORS = [
    " ",
    "  ",
    "\t",
    "\u00a0",
    "\u2009",
    "\u3000",
    "\u202f",
    "-",
    "--",
    "\u2013",
    "\u2014",
    "\u2212",
    ".",
    "..",
    "_",
    "/",
    "\\",
    "\u200b",
    "\ufeff",
    "\uff0e",
    "\uff0f",
    " - ",
    " / ",
    "\u2022",
    "\u00b7",
]
# Zero of each script: ASCII, full-width, Arabic-Indic, Devanagari, Bengali, Thai, mathematical bold.
DIGIT_ZEROS = [0x30, 0xFF10, 0x660, 0x966, 0x9E6, 0xE50, 0x1D7CE]
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
CONTENT_TYPES = [
    *["application/json"] * 12,
    "application/json; charset=utf-8",
    'Application/JSON;charset="UTF-8"',
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/jsonx",
    "",
    "multipart/form-data; boundary=x",
    None,
]
EVENT_FIELDS = [
    "requestContext",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
    "resource",
    "httpMethod",
    "path",
    "queryStringParameters",
]


def _complete(body: str) -> str:
    return next(body + str(check) for check in range(10) if luhn_valid(body + str(check)))


def written(rng: random.Random, pan: str, separators: list[str] = SEPARATORS, scripts: bool = True) -> str:
    """`pan` as someone might write it: grouped by separators, in one or several scripts' digits."""
    groups, rest = [], pan
    while rest:
        size = rng.randint(1, 6)
        groups.append(rest[:size])
        rest = rest[size:]
    style = rng.choice(["ascii", "ascii", "script", "mixed", "circled"]) if scripts else "ascii"
    if style == "circled":
        groups = ["".join(CIRCLED[int(d)] for d in group) for group in groups]
    elif style != "ascii":
        zeros = [rng.choice(DIGIT_ZEROS)] if style == "script" else DIGIT_ZEROS
        groups = ["".join(chr(rng.choice(zeros) + int(d)) for d in group) for group in groups]
    return "".join(group + rng.choice(separators) for group in groups[:-1]) + groups[-1]


class Draw:
    """One example's drawing, remembering every card number put into the event.

    Hypothesis draws the event's structure; the details of how a card number is written (digits,
    groups, separators, scripts) come from a generator it seeds, which keeps thousands of events fast.
    """

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.rng = random.Random(draw(st.integers(0, 2**32)))
        self.pans: list[str] = [VISA]  # the base payment's card

    def pan_text(self, separators: list[str] = SEPARATORS, scripts: bool = True, around: bool = True) -> str:
        length = self.rng.randint(12, 19)
        pan = _complete("".join(self.rng.choice("0123456789") for _ in range(length - 1)))
        self.pans.append(pan)
        text = written(self.rng, pan, separators, scripts)
        if not around:
            return text
        before = self.draw(AROUND) + self.rng.choice(["", "", "12 ", "7-", "2024/"])
        return before + text + self.rng.choice(["", "", " 99", "-3"]) + self.draw(AROUND)

    def json_value(self) -> Any:
        return self.draw(st.sampled_from(JSON_VALUES))


JSON_VALUES = [
    None,
    True,
    0,
    -1,
    1e308,
    2**70,
    "",
    "x" * 300,
    [],
    {},
    [VISA],
    {"number": VISA},
    12.5,
    "12.50",
    {"a": {"b": [1, 2]}},
]
GOOD_IDS = ["acme", "shop-42", "eu_store-7", "inv-2024-0001", "merchant-002"]


def _card(body: dict[str, Any]) -> dict[str, Any]:
    """The body's card object, a new one if an earlier mutation removed or replaced it."""
    if not isinstance(body.get("card"), dict):
        body["card"] = {}
    return body["card"]


def _mutate(d: Draw, body: dict[str, Any]) -> dict[str, Any]:
    if d.draw(st.integers(0, 3)) == 0:
        return body
    for mutation in d.draw(
        st.lists(
            st.sampled_from(
                ["pan_in_text", "card_form", "pan_key", "wrong_type", "drop", "junk_text", "good_text", "extra"]
            ),
            max_size=3,
        )
    ):
        field = d.draw(st.sampled_from(["description", "reference", "merchant_id"]))
        if mutation == "pan_in_text":
            body[field] = d.pan_text()
        elif mutation == "card_form":
            # Mostly what the card field accepts (ASCII, single spaces or dashes), sometimes any form.
            accepted = d.draw(st.booleans())
            _card(body)["number"] = (
                d.pan_text([" ", "-"], scripts=False, around=False)
                if accepted
                else d.pan_text(around=d.draw(st.booleans()))
            )
        elif mutation == "pan_key":
            target = body if d.draw(st.booleans()) else _card(body)
            target[d.pan_text(around=d.draw(st.booleans()))] = "x"
        elif mutation == "wrong_type":
            body[d.draw(st.sampled_from(["amount", "currency", "card", "merchant_id", "description"]))] = d.json_value()
        elif mutation == "drop":
            body.pop(d.draw(st.sampled_from(sorted(body))), None)
        elif mutation == "junk_text":
            body[field] = d.draw(st.text(max_size=70))
        elif mutation == "good_text":
            body[field] = d.draw(st.sampled_from(GOOD_IDS))
        else:
            body[d.draw(st.sampled_from(["tip", "holder", "card_number", "pan"]))] = d.json_value()
    return body


def _body(d: Draw) -> tuple[str | None, bool]:
    """(body, isBase64Encoded) as API Gateway could deliver it, or as a careless invoker might."""
    kind = d.draw(st.sampled_from(["json"] * 6 + ["duplicate", "text", "bytes", "none"]))
    if kind == "none":
        return None, False
    if kind == "bytes":
        return base64.b64encode(d.draw(st.binary(max_size=64))).decode(), True
    if kind == "text":
        text = f"card={d.pan_text()}&amount=1" if d.draw(st.booleans()) else d.draw(st.text(max_size=40))
    else:
        body = _mutate(d, payment(card={"number": VISA}))
        text = json.dumps(body, ensure_ascii=d.draw(st.booleans()))
        if kind == "duplicate" and text.endswith("}"):
            text = text[:-1] + ', "amount": "9999.00"}'
    encoding = d.draw(st.sampled_from(["plain"] * 5 + ["base64", "bad_base64", "non_ascii_base64", "surrogate"]))
    if encoding == "base64":
        return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode(), True
    if encoding == "bad_base64":
        return text[:20] + "@@", True
    if encoding == "non_ascii_base64":
        return "é" + base64.b64encode(text.encode()).decode(), True
    if encoding == "surrogate":
        cut = d.draw(st.integers(0, len(text)))
        return text[:cut] + "\ud800" + text[cut:], False
    return text, False


@st.composite
def api_events(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """(event, the card numbers in it)."""
    d = Draw(draw)
    route = draw(st.sampled_from(["payments"] * 8 + ["health", "other"]))
    method, path = {"payments": ("POST", "/payments"), "health": ("GET", "/health")}.get(
        route, (draw(st.sampled_from(["GET", "PUT", "POST"])), "/payments/" + d.pan_text(around=False))
    )
    headers: dict[str, str] = {}
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers[draw(st.sampled_from(["Content-Type", "content-type"]))] = content_type
    key = draw(st.sampled_from(["fresh"] * 6 + ["pan", "junk", "none"]))
    if key != "none":
        headers["Idempotency-Key"] = {
            "fresh": lambda: f"fuzz-{uuid.uuid4()}",
            "pan": lambda: "k-" + d.pan_text(["-", ".", "_", ":"], scripts=False, around=False),
            "junk": lambda: draw(st.text(max_size=20)),
        }[key]()
    if draw(st.booleans()):
        headers["X-Card"] = d.pan_text()
    body, is_base64 = _body(d)
    request_id = d.pan_text(["-"], scripts=False, around=False) if draw(st.integers(0, 9)) == 0 else str(uuid.uuid4())
    event: dict[str, Any] = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"q": d.pan_text()} if draw(st.integers(0, 9)) == 0 else None,
        "requestContext": {"requestId": request_id, "stage": "prod", "httpMethod": method, "resourcePath": path},
        "body": body,
        "isBase64Encoded": is_base64,
    }
    for field in draw(st.lists(st.sampled_from(EVENT_FIELDS), max_size=2)) if draw(st.integers(0, 4)) == 0 else []:
        if draw(st.booleans()):
            event.pop(field, None)
        else:
            event[field] = None
    return event, d.pans


def digits_of(text: str) -> str:
    """Every digit in `text`, of any script, as ASCII: the oracle's view of a string."""
    return "".join(
        str(unicodedata.decimal(char))
        for char in unicodedata.normalize("NFKC", text)
        if unicodedata.decimal(char, None) is not None
    )


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included; bytes decoded."""
    if isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from strings_in(item)


def leaked(pans: list[str], *values: Any) -> list[str]:
    """Strings among `values` (JSON-decoded where they are JSON) whose digits hold one of `pans`."""
    found = []
    for value in values:
        for text in strings_in(value):
            try:  # a JSON log line, body or object: its strings one by one, escapes decoded
                candidates = list(strings_in(json.loads(text)))
            except ValueError:
                candidates = [text]
            digits = [digits_of(candidate) for candidate in candidates]
            found += [text[:200] for pan in pans if any(pan in ds for ds in digits)]
    return found


class Recorder:
    """Every call the function makes to DynamoDB and S3, with its parameters (botocore event hook)."""

    def __init__(self, app: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for client in (app.dynamodb, app.s3):
            client.meta.events.register("provide-client-params.*.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def close(self, app: Any) -> None:
        for client in (app.dynamodb, app.s3):
            client.meta.events.unregister("provide-client-params.*.*", self._record)

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, params) for name, params in self.calls if name in WRITE_OPERATIONS]


@contextlib.contextmanager
def every_log_line() -> Iterator[io.StringIO]:
    """What the root logger would print at INFO (library loggers propagate there; Lambda's default is WARNING)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def stored_data(api: Deployment) -> tuple[list[dict[str, Any]], list[Any]]:
    deserializer = TypeDeserializer()
    items = [
        {name: deserializer.deserialize(value) for name, value in item.items()}
        for item in api.client("dynamodb").scan(TableName=api.env["TRANSACTIONS_TABLE_NAME"])["Items"]
    ]
    others = [api.idempotency_records(), api.objects("RECEIPTS_BUCKET_NAME"), api.objects("AUDIT_BUCKET_NAME")]
    return items, others


def test_no_hostile_event_gets_a_5xx_or_leaks_a_card_number() -> None:
    statuses: Counter[int] = Counter()
    all_pans: set[str] = set()
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as monkeypatch, mocked_aws(monkeypatch):
        api = deploy_to(monkeypatch)
        recorder = Recorder(api.module)
        logger = api.module.logger
        level = logger.log_level
        logger.setLevel("DEBUG")

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(api_events())
        def one_event(example: tuple[dict[str, Any], list[str]]) -> None:
            event, pans = example
            all_pans.update(pans)
            recorder.calls.clear()
            logs, stdout = io.StringIO(), io.StringIO()
            previous = logger.registered_handler.setStream(logs)
            try:
                with (
                    every_log_line() as other_logs,
                    contextlib.redirect_stdout(stdout),
                    patch.dict(os.environ, api.env),
                ):
                    raw = api.module.lambda_handler(event, FakeLambdaContext())
            finally:
                logger.registered_handler.setStream(previous)
            status = raw["statusCode"]
            statuses[status] += 1
            assert 200 <= status < 500, (status, raw["body"])
            headers = raw.get("multiValueHeaders", {})
            body = json.loads(raw["body"])
            assert (
                INTERNAL_NAMES.search(
                    json.dumps({k: v for k, v in body.items() if k not in ("description", "reference")})
                )
                is None
            ), body
            writes = recorder.writes()
            assert not leaked(
                pans,
                raw["body"],
                headers,
                logs.getvalue().splitlines(),
                other_logs.getvalue().splitlines(),
                stdout.getvalue().splitlines(),
                writes,
            )
            if status in (400, 404, 415):
                assert writes == [], (status, body)

        try:
            one_event()
        finally:
            recorder.close(api.module)
            logger.setLevel(level)
        items, others = stored_data(api)
    elapsed = time.monotonic() - started
    assert {item["status"] for item in items} <= {"ACCEPTED"}
    assert not leaked(sorted(all_pans), items, others)
    # The run reached every outcome it is meant to (so the properties above were not vacuous).
    assert {201, 400, 404, 415} <= set(statuses), statuses
    # Shown with -s; no capsys: the handler module may be loaded here, and its logger keeps the stdout it saw.
    print(
        f"\npayment fuzz: {sum(statuses.values())} events, statuses {dict(sorted(statuses.items()))}, "
        f"{len(items)} payments stored, {len(all_pans)} card numbers, {elapsed:.1f} s"
    )
