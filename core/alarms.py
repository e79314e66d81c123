"""The alarm names shared by the Pulumi program, `drctl` and the plan (`python -m plan`).

An alarm's physical name is ``payment-<key>-<suffix>`` (naming.ALARM) in its region; the keys below are the
``<key>`` parts other code looks alarms up by. The alarms themselves are declared as data, ``AlarmSpec``, by
one function (region_factory/alarms.py). Health-check kinds with an alarm are routing's
(core/routing.py, ``ALARMED_CHECK_KINDS``).
"""

from __future__ import annotations

# The database probe's alarms (region_factory/probe.py), in every region.
DB_REACHABLE = "db-reachable"  # DatabaseReachable: backs the `db` health check, pages
DB_WRITABLE = "db-writable"  # DatabaseWritable: backs the `writer` health check, pages nobody (ALARM in a secondary)
PROBE_ALARMS = (DB_REACHABLE, DB_WRITABLE)

# Alarms on a region's own resources (region_factory/monitoring.py, regional_alarms).
AURORA_LAG = "aurora-replication-lag"
API_5XX = "api-5xx"
FUNCTION_ERRORS = "function-errors"
LEDGER_LAG = "ledger-lag"
LEDGER_FAILURES = "ledger-failures"


def replication_rule_id(destination: str) -> str:
    """The id of the S3 replication rule toward ``destination`` (global_resources/s3_replication.py): the
    ``RuleId`` dimension of S3's replication metrics, which the link alarms and `drctl` read."""
    return f"to-{destination}"
