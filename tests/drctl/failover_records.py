"""Route 53 failover records as ListResourceRecordSets returns them, for drctl.dns.resolve tests."""

from __future__ import annotations

from typing import Any


def record(
    name: str, role: str, identifier: str, target: str, check: str | None = None, evaluate: bool = False
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Name": f"{name}.",
        "Type": "A",
        "Failover": role,
        "SetIdentifier": identifier,
        "AliasTarget": {"HostedZoneId": "Z1", "DNSName": f"{target}.", "EvaluateTargetHealth": evaluate},
    }
    return {**found, "HealthCheckId": check} if check else found


# One failover pair: us-east-1 (check hc1) over us-east-2 (hc2).
PAIR = [
    record("api.example.com", "PRIMARY", "us-east-1", "a.aws", "hc1"),
    record("api.example.com", "SECONDARY", "us-east-2", "b.aws", "hc2"),
]

# The three-region chain: us-east-1 (hc1), else the nested pair us-east-2 (hc2) over us-west-2 (hc3).
CHAIN = [
    record("api.example.com", "PRIMARY", "us-east-1", "a.aws", "hc1"),
    record("api.example.com", "SECONDARY", "chain", "next.api.example.com", evaluate=True),
    record("next.api.example.com", "PRIMARY", "us-east-2", "b.aws", "hc2"),
    record("next.api.example.com", "SECONDARY", "us-west-2", "c.aws", "hc3"),
]
