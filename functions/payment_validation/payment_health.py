"""GET /health: can this region take payments now? Route 53 fails over on anything but 200.

Checks run one after another on clients with one attempt and one-second timeouts: a hanging
dependency makes the check slow enough for Route 53 to time out, which counts as unhealthy
too, so both ways the region is taken out of service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payment_store import DependencyError, calling

# UPDATING still serves reads and writes (e.g. while a replica or GSI is being added).
_SERVING_TABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})


def _table_serving(dynamodb: Any, dependency: str, table: str) -> Callable[[], None]:
    def check() -> None:
        status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
        if status not in _SERVING_TABLE_STATUSES:
            raise DependencyError(dependency, f"TableStatus {status}")

    return check


def _bucket_reachable(s3: Any, bucket: str) -> Callable[[], None]:
    return lambda: s3.head_bucket(Bucket=bucket)


def _outcome(dependency: str, check: Callable[[], Any]) -> str:
    """`ok`, or the error code that made the dependency fail."""
    try:
        with calling(dependency):
            check()
    except DependencyError as exc:
        return exc.error_code
    return "ok"


def check_region(
    dynamodb: Any, s3: Any, tables: dict[str, str], buckets: dict[str, str], card_key: Callable[[], Any]
) -> dict[str, str]:
    """Outcome per logical dependency name (never the resource names: /health is public)."""
    checks: dict[str, Callable[[], Any]] = {
        name: _table_serving(dynamodb, name, table) for name, table in tables.items()
    }
    checks |= {name: _bucket_reachable(s3, bucket) for name, bucket in buckets.items()}
    checks["card_hash_secret"] = card_key
    return {name: _outcome(name, check) for name, check in checks.items()}
