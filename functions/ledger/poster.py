"""Ledger poster: every accepted payment of this region's transactions stream becomes its journal entry.

Handler `poster.lambda_handler`, fed by an event source mapping on this region's replica of the
transactions table (filtered to items whose new image is ACCEPTED). Every region runs it on its own
stream, and every replica's stream carries every item (global tables replicate writes as ordinary
writes), so each payment is offered to the ledger once per region: posting is idempotent
(ledger_db.post), and the ledger is complete as long as any one region is up. docs/data-tier.md.

It writes through the cluster that is the global database's writer now, logging in as
`ledger_poster` with a 15-minute IAM token (never the master secret). Partial failures are reported
per record (ReportBatchItemFailures): the first record that could not be posted and everything after
it are retried; a record that keeps failing ends in the mapping's on-failure queue, with an alarm.
Each batch publishes `PaymentDR/Ledger` `OldestUnpostedSeconds`: how long the oldest payment of the
batch had been waiting for its posting (0 for a batch with nothing to post).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pg8000.native
from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pg8000.exceptions import Error as PostgresError

import ledger_db

METRIC_NAME = "OldestUnpostedSeconds"
# Failures that a retry can cure (the writer moved, a connection dropped, AWS throttled).
RETRYABLE = (PostgresError, OSError, BotoCoreError, ClientError, ledger_db.LedgerError)

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Settings:
    region: str
    global_cluster: str
    database: str
    metric_namespace: str
    connect_timeout: float
    verify_tls: bool


def load_settings(env: Mapping[str, str]) -> Settings:
    missing = [k for k in ("AWS_REGION", "GLOBAL_CLUSTER_IDENTIFIER", "DB_NAME", "METRIC_NAMESPACE") if not env.get(k)]
    if missing:
        raise RuntimeError(f"ledger poster misconfigured: {', '.join(missing)} not set")
    return Settings(
        env["AWS_REGION"],
        env["GLOBAL_CLUSTER_IDENTIFIER"],
        env["DB_NAME"],
        env["METRIC_NAMESPACE"],
        float(env.get("CONNECT_TIMEOUT_SECONDS", "5")),
        env.get("DB_SSL_MODE", "require") == "verify-full",
    )


def item_of(record: Mapping[str, Any]) -> dict[str, Any]:
    image = record.get("dynamodb", {}).get("NewImage") or {}
    return {name: _deserializer.deserialize(value) for name, value in image.items()}


@dataclass
class Poster:
    settings: Settings
    locate: Callable[[], ledger_db.Writer]
    token: Callable[[ledger_db.Writer], str]
    open: Callable[[ledger_db.Writer, str], pg8000.native.Connection]
    cloudwatch: Any
    clock: Callable[[], float] = time.time
    _connection: pg8000.native.Connection | None = field(default=None, repr=False)

    def connection(self) -> pg8000.native.Connection:
        """One connection per execution environment, to the writer found when it was opened."""
        if self._connection is None:
            writer = self.locate()
            self._connection = self.open(writer, self.token(writer))
        return self._connection

    def drop(self) -> None:
        """After a failure: the next posting finds the writer again (it may have moved)."""
        if self._connection is not None:
            with suppress(Exception):  # a broken connection cannot always be closed
                self._connection.close()
        self._connection = None

    def handle(self, records: list[Mapping[str, Any]]) -> dict[str, Any]:
        now = self.clock()
        ages = [now - float(r["dynamodb"].get("ApproximateCreationDateTime", now)) for r in records]
        counts = {ledger_db.POSTED: 0, ledger_db.ALREADY_POSTED: 0, "skipped": 0}
        failed: str | None = None
        for record in records:
            sequence = record["dynamodb"]["SequenceNumber"]
            try:
                payment = ledger_db.payment_from_item(item_of(record))
            except ledger_db.NotPostable as error:
                # The mapping's filter passes ACCEPTED items only: this is a malformed item, not a retry case.
                logger.error("Not postable", extra={"sequence_number": sequence, "reason": str(error)})
                counts["skipped"] += 1
                continue
            try:
                counts[ledger_db.post(self.connection(), payment)] += 1
            except ledger_db.PostingConflict as error:
                logger.error("Ledger conflict", extra={"transaction_id": payment.transaction_id, "reason": str(error)})
                failed = sequence
            except RETRYABLE as error:
                logger.warning(
                    "Posting failed",
                    extra={"transaction_id": payment.transaction_id, "reason": ledger_db.describe(error)},
                )
                self.drop()
                failed = sequence
            if failed:
                break  # stream order: Lambda retries from this record on
        oldest = (
            max(ages, default=0.0) if counts[ledger_db.POSTED] or counts[ledger_db.ALREADY_POSTED] or failed else 0.0
        )
        self.publish(oldest)
        logger.info(
            "Batch",
            extra={"records": len(records), **counts, "failed_at": failed, "oldest_unposted_seconds": round(oldest, 3)},
        )
        return {"batchItemFailures": [{"itemIdentifier": failed}] if failed else []}

    def publish(self, oldest: float) -> None:
        try:
            self.cloudwatch.put_metric_data(
                Namespace=self.settings.metric_namespace,
                MetricData=[
                    {
                        "MetricName": METRIC_NAME,
                        "Value": round(oldest, 3),
                        "Unit": "Seconds",
                        "Timestamp": datetime.now(UTC),
                        "StorageResolution": 60,
                    }
                ],
            )
        except (BotoCoreError, ClientError) as error:  # the postings stand; a missing point is not a failure to retry
            logger.error("Could not publish the ledger lag", extra={"reason": ledger_db.describe(error)})


def open_connection(settings: Settings, writer: ledger_db.Writer, password: str) -> pg8000.native.Connection:
    return ledger_db.connect(
        writer.host,
        writer.port,
        ledger_db.POSTER_ROLE,
        password,
        settings.database,
        ledger_db.tls_context(settings.verify_tls),
        settings.connect_timeout,
    )


settings = load_settings(os.environ)
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "payment-ledger-poster"))
_SDK_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
_rds_clients: dict[str, Any] = {}


def rds(region: str) -> Any:
    if region not in _rds_clients:
        _rds_clients[region] = boto3.client("rds", region_name=region, config=_SDK_CONFIG)
    return _rds_clients[region]


poster = Poster(
    settings=settings,
    locate=partial(ledger_db.locate_writer, rds(settings.region), settings.global_cluster, rds),
    token=lambda writer: ledger_db.iam_token(rds(writer.region), writer),
    open=partial(open_connection, settings),
    cloudwatch=boto3.client("cloudwatch", region_name=settings.region, config=_SDK_CONFIG),
)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return poster.handle(event.get("Records", []))
