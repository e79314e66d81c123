"""The routing contract: names and numbers shared by the Pulumi program, the region canary,
`drctl` and the outage simulation (`python -m plan --simulate`). One module so that none of
them can disagree about what a metric, an alarm or a health check is called.

How traffic is routed (docs/failover.md says it for operators):

- Each region R has a public routing check, kind ``region``: CALCULATED, healthy only when all
  of its children are: R's ``api`` check (HTTPS on R's /health, which checks R's own payment
  dependencies) and one ``hold`` check per *other* region X. The Aurora probe is not a child:
  payments are routed on what serves payments, so a probe outage never moves traffic.
- ``hold`` (R held in X): CLOUDWATCH_METRIC on the alarm ``payment-routing-hold-<R>-<suffix>``
  in region X, on ``PaymentDR/Routing RegionHeldOut {Region=R}``. The alarm treats missing data
  as ``ignore`` (its state is kept): one datapoint of 1 holds R out of rotation until a datapoint
  of 0 releases it. Nobody has to keep publishing, and the only API it needs is CloudWatch's
  PutMetricData in a healthy region: Route 53's data plane then acts on it, with Route 53's
  control plane (us-east-1) down. The health check's insufficient-data status is
  ``LastKnownStatus``, healthy for a hold that was never set.
- Who sets a hold: the canary in every region (scheduled function, outside any VPC) probes every
  region's /health and the public name every ``CANARY_INTERVAL_SECONDS``. When region R fails
  ``healthCheckFailureThreshold`` consecutive probes while every region ahead of R in the chain is
  failing too (R was serving), it publishes ``RegionHeldOut{Region=R}=1`` in its own region: the
  traffic that left R stays away (sticky failover). Only ``drctl failback`` / ``drctl dns
  --release`` publishes 0, after checking that replication has drained.
  Consecutive means within one invocation (``CANARY_ROUNDS`` rounds a minute, the streaks start
  at 0 in each invocation; functions/canary/app.py says why), and the threshold is capped at
  ``CANARY_ROUNDS``. A blind canary (not one target answered healthy in that round: its own
  network is what failed) holds nothing.
- ``drctl dns --to X`` holds every region ahead of X in the chain, in every region it can reach.
- The database writer's private name follows writability: the probe publishes
  ``DatabaseWritable`` (1 when its cluster is the global database's writer and accepts writes)
  next to ``DatabaseReachable``; the ``writer`` check of a region watches an alarm on it.
"""

from __future__ import annotations

# Health-check kinds, per region (tag Name payment-health-<kind>-<region>-<suffix>). A hold check's
# Name is payment-health-hold-<held>-<holder>-<suffix> (hold_qualifier + the holder as the region).
API = "api"  # HTTPS on the region's /health
DB = "db"  # CLOUDWATCH_METRIC on the probe's reachability alarm (the spec's RDS endpoint check): pages, feeds drctl
WRITER = "writer"  # CLOUDWATCH_METRIC on the probe's writability alarm: guards the private writer record
REGION = "region"  # CALCULATED: api AND no hold; the public failover records use it
HOLD = "hold"  # CLOUDWATCH_METRIC on a hold alarm (one per held region and holder region)
ROUTING_CHECK = REGION
REGION_CHECK_KINDS = (API, DB, WRITER, REGION)
# The checks with an alarm (us-east-1) and a dashboard widget: a secondary's `writer` check is unhealthy by
# design (its cluster is a reader), so an alarm on it would sit in ALARM from the first deploy.
ALARMED_CHECK_KINDS = (API, DB, REGION)

# Hold: metric, alarm.
ROUTING_NAMESPACE = "PaymentDR/Routing"
HELD_OUT_METRIC = "RegionHeldOut"
HELD_OUT_DIMENSION = "Region"
HELD, RELEASED = 1.0, 0.0

# Canary: metric per target (a region's /health, or the public name).
CANARY_NAMESPACE = "PaymentDR/Canary"
CANARY_METRIC = "TargetHealthy"
CANARY_DIMENSION = "Target"
PUBLIC_TARGET = "public"  # the Target value for the public API name (domainName)
CANARY_INTERVAL_SECONDS = 10
CANARY_SCHEDULE = "rate(1 minute)"
CANARY_ROUNDS = 60 // CANARY_INTERVAL_SECONDS  # rounds per invocation (one a minute)
CANARY_HTTP_TIMEOUT_SECONDS = 5  # a /health slower than this is a failed probe
# The canary function's environment (global_resources/canary.py sets it, functions/canary/app.py reads it):
# the outage simulation reads the same variables from the evaluated function.
CANARY_ENV_CHAIN = "CHAIN"  # the failover chain, primary first: comma-separated regions
CANARY_ENV_TARGETS = "TARGETS"  # JSON object: target (a region, or PUBLIC_TARGET) -> its /health URL
CANARY_ENV_FAILURE_THRESHOLD = "FAILURE_THRESHOLD"  # consecutive failed rounds before a hold (<= CANARY_ROUNDS)
CANARY_ENV_INTERVAL = "INTERVAL_SECONDS"
CANARY_ENV_ROUNDS = "ROUNDS"
CANARY_ENV_HTTP_TIMEOUT = "HTTP_TIMEOUT_SECONDS"
CANARY_ENV_NAMESPACE = "CANARY_NAMESPACE"
CANARY_ENV_ROUTING_NAMESPACE = "ROUTING_NAMESPACE"
# JSON object: every OTHER region -> the alarm the canary describes there each round (that region's database
# probe alarm), one read-only call that tells whether CloudWatch in that region answers. Its result is published
# as TargetHealthy{Target=cloudwatch-<region>} and pages like the other targets; it never counts toward a hold
# (CloudWatch is not on the payment path).
CANARY_ENV_CLOUDWATCH_ALARMS = "CLOUDWATCH_ALARMS"
CLOUDWATCH_TARGET_PREFIX = "cloudwatch-"

# Hold alarm: RegionHeldOut{Region=<held>} Maximum over one minute >= 1, missing data ignored.
HOLD_PERIOD_SECONDS = 60
HOLD_STATISTIC = "Maximum"
HOLD_THRESHOLD = HELD

# Database probe: the writability metric beside DatabaseReachable (region_factory/probe.py).
WRITABLE_METRIC = "DatabaseWritable"  # its alarm: core/alarms.py, DB_WRITABLE (the `writer` check watches it)

# Optional Route 53 ARC routing controls (config routingControl="arc"): one more child of each `region` check.
ROUTING_CONTROL_CLOUDWATCH, ROUTING_CONTROL_ARC = "cloudwatch", "arc"
ARC = "arc"  # the kind of the RECOVERY_CONTROL health check (payment-health-arc-<region>-<suffix>)


def canary_failure_threshold(failure_threshold: int) -> int:
    """healthCheckFailureThreshold as consecutive canary rounds: at most one invocation's rounds."""
    return max(1, min(failure_threshold, CANARY_ROUNDS))


def cloudwatch_target(region: str) -> str:
    """The Target value of the canary's check of CloudWatch in `region` (alarm payment-canary-cloudwatch-<region>-<suffix>)."""
    return f"{CLOUDWATCH_TARGET_PREFIX}{region}"


def hold_qualifier(held: str) -> str:
    """Qualifier of the hold alarm (``payment-routing-hold-<held>-<suffix>``, in the holder region) and
    of the hold health check's Name (with the holder region: ``payment-health-hold-<held>-<holder>-<suffix>``)."""
    return f"{HOLD}-{held}"


def chain_ahead(chain: list[str] | tuple[str, ...], region: str) -> tuple[str, ...]:
    """The regions before ``region`` in the failover chain (config order: primary first)."""
    order = list(chain)
    return tuple(order[: order.index(region)])
