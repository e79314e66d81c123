"""Exactly-once across two regions: a retry anywhere gets the first answer or a 409, never a second
acceptance, never a silent overwrite of an acknowledged payment (docs/payment-validation.md).

How the data tier is modelled, since moto has no global tables and no multi-Region strong consistency:

- Each region's function runs against its own moto region: its own transactions table, buckets and,
  in eventual mode, its own acceptance (idempotency) table. Nothing moves between regions unless the
  test runs `Replicator.run`, which copies items both ways with last-writer-wins on `created_at` (as
  MREC global tables resolve conflicts), so "before replication" is any moment before that call.
- Strong mode (MRSC): both regions' functions write their acceptance records to ONE table, in a third
  moto region that stands for the MRSC table's quorum. A single moto table is linearizable, which is
  what MRSC promises ("conditional writes always evaluate the condition expression against the latest
  version of an item", RPO 0): any replica sees every acknowledged write, whichever region made it.
  Losing a region loses its own stores, not that table (a replica plus the witness keep the quorum).
- "The primary lost with unreplicated writes": region A accepted payments, then nothing of A's own
  stores ever replicates and every request goes to region B.

Each scenario runs in both modes: strong must hold the guarantee; eventual must show the documented gap
(a second acceptance, and a different payment silently replacing an acknowledged one), so the test
would fail if the model stopped telling the modes apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest

from tests.functions.conftest import BASE_ENV, MASTERCARD, Deployment, create_idempotency_table, payment

KEY = "order-2026-0042"
REGION_A, REGION_B = "us-east-1", "us-east-2"
# Where the test keeps the one linearizable acceptance table of strong mode (the MRSC quorum).
MRSC_STORE_REGION = "us-west-2"
STRONG, EVENTUAL = "strong", "eventual"


class Replicator:
    """Copies the eventually consistent tables between the two regions when the test says so."""

    def __init__(self, regions: tuple[Deployment, Deployment], variables: tuple[str, ...]):
        self.regions = regions
        self.variables = variables

    def run(self) -> None:
        for variable in self.variables:
            merged: dict[str, dict[str, Any]] = {}
            for region in self.regions:
                for item in region.client("dynamodb").scan(TableName=region.env[variable])["Items"]:
                    key = next(iter(item[name]["S"] for name in ("id", "transaction_id") if name in item))
                    if key not in merged or item["created_at"]["S"] > merged[key]["created_at"]["S"]:
                        merged[key] = item  # last writer wins
            for region in self.regions:
                for item in merged.values():
                    region.client("dynamodb").put_item(TableName=region.env[variable], Item=item)


class TwoRegions:
    def __init__(self, a: Deployment, b: Deployment, mode: str):
        self.a, self.b, self.mode = a, b, mode
        eventual_tables = ("TRANSACTIONS_TABLE_NAME",) + (("IDEMPOTENCY_TABLE_NAME",) if mode == EVENTUAL else ())
        self.replicator = Replicator((a, b), eventual_tables)


@pytest.fixture(params=[STRONG, EVENTUAL])
def regions(
    request: pytest.FixtureRequest, deploy: Callable[..., Deployment], monkeypatch: pytest.MonkeyPatch
) -> TwoRegions:
    a, b = deploy(REGION_A), deploy(REGION_B)
    if request.param == STRONG:
        store = boto3.client("dynamodb", region_name=MRSC_STORE_REGION)
        create_idempotency_table(store, BASE_ENV["IDEMPOTENCY_TABLE_NAME"])
        for region in (a, b):
            acceptance = type(region.module.ledger.acceptance)(store, BASE_ENV["IDEMPOTENCY_TABLE_NAME"])
            monkeypatch.setattr(region.module.ledger, "acceptance", acceptance)
    return TwoRegions(a, b, request.param)


def transactions_by_id(region: Deployment) -> dict[str, dict[str, Any]]:
    return {item["transaction_id"]: item for item in region.transactions()}


def test_retry_in_the_other_region_before_replication(regions: TwoRegions) -> None:
    first = regions.a.post_payment(payment(), key=KEY)

    retry = regions.b.post_payment(payment(), key=KEY)
    regions.replicator.run()

    assert first.status == retry.status == 201
    assert retry.body["transaction_id"] == first.body["transaction_id"]
    if regions.mode == STRONG:
        assert retry.body == first.body | {"region": REGION_B}  # the first answer, created_at included
        assert retry.headers["Idempotent-Replayed"] == "true"
        [item] = regions.b.transactions()
        assert (item["region"], item["created_at"]) == (REGION_A, first.body["created_at"])
    else:
        # The documented gap: B accepted the payment a second time, with its own answer.
        assert "Idempotent-Replayed" not in retry.headers and retry.body["recorded_region"] == REGION_B


def test_retry_in_the_other_region_after_replication(regions: TwoRegions) -> None:
    first = regions.a.post_payment(payment(), key=KEY)
    regions.replicator.run()

    retry = regions.b.post_payment(payment(), key=KEY)

    # Both modes: once replicated, the acceptance record answers (in eventual mode the acceptance
    # table itself replicated; in strong mode it never needed to).
    assert retry.status == 201 and retry.body == first.body | {"region": REGION_B}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert transactions_by_id(regions.a) == transactions_by_id(regions.b)


def test_different_payment_with_the_same_key_in_the_other_region_before_replication(regions: TwoRegions) -> None:
    first = regions.a.post_payment(payment(), key=KEY)
    time.sleep(0.005)  # B's write is the later one for last-writer-wins (created_at has milliseconds)

    other = regions.b.post_payment(payment(amount="999.00", card={"number": MASTERCARD}), key=KEY)
    regions.replicator.run()

    [stored_in_a] = regions.a.transactions()
    if regions.mode == STRONG:
        assert other.status == 409 and other.body["code"] == "idempotency_key_reused"
        assert regions.b.transactions() == [stored_in_a]  # A's item, replicated; B wrote nothing
        assert stored_in_a["amount"] == Decimal("125.50") and stored_in_a["created_at"] == first.body["created_at"]
    else:
        # The documented gap: both clients hold a 201, and last-writer-wins replaced the payment
        # region A acknowledged with B's (B wrote later).
        assert other.status == 201
        assert stored_in_a["amount"] == Decimal("999.00") and stored_in_a["region"] == REGION_B


def test_primary_lost_with_unreplicated_writes(regions: TwoRegions) -> None:
    bodies = [payment(amount=f"{10 + n}.00") for n in range(3)]
    keys = [f"{KEY}-{n}" for n in range(3)]
    firsts = [regions.a.post_payment(body, key=key) for body, key in zip(bodies, keys, strict=True)]
    # Region A is lost now: its transactions (and, in eventual mode, acceptance records) never leave it.

    changed = regions.b.post_payment(payment(amount="1.00"), key=keys[0])
    retries = [regions.b.post_payment(body, key=key) for body, key in zip(bodies[1:], keys[1:], strict=True)]

    assert all(response.status == 201 for response in firsts + retries)
    if regions.mode == STRONG:
        # RPO 0 for acceptances: B refuses the changed payment, answers every retry with A's first
        # answer and rebuilds A's lost transaction items in its own table from the acceptance records.
        assert changed.status == 409 and changed.body["code"] == "idempotency_key_reused"
        assert [r.body for r in retries] == [f.body | {"region": REGION_B} for f in firsts[1:]]
        assert all(r.headers["Idempotent-Replayed"] == "true" for r in retries)
        assert {item["transaction_id"]: item["region"] for item in regions.b.transactions()} == {
            f.body["transaction_id"]: REGION_A for f in firsts[1:]
        }
    else:
        # The documented gap: B knows nothing of A's acceptances; it accepts the changed payment
        # and every retry again, for as long as A is away.
        assert changed.status == 201 and changed.body["amount"] == "1.00"
        assert all(r.body["recorded_region"] == REGION_B and "Idempotent-Replayed" not in r.headers for r in retries)
