"""Assertions over evaluated resources shared by the infrastructure tests."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from plan.engine import Evaluation, ResourceRecord

REGIONAL_COMPONENT = "payment-dr:region:RegionalStack"
CIDR = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}\b")


def regional(evaluation: Evaluation, region: str) -> list[ResourceRecord]:
    """Resources the region factory built for one region (cross-region links excluded)."""
    return [r for r in evaluation.in_component(REGIONAL_COMPONENT) if r.region == region]


def normalise(value: Any, region: str) -> Any:
    """A value with its region and CIDR blocks abstracted, to compare regions with each other."""
    text = json.dumps(value, sort_keys=True)
    text = text.replace(region, "{region}")
    text = CIDR.sub("{cidr}", text)
    return json.loads(text)


def regional_signature(evaluation: Evaluation, region: str) -> list[tuple[str, str, str]]:
    return sorted(
        (r.type, normalise(r.name, region), json.dumps(normalise(r.inputs, region), sort_keys=True))
        for r in regional(evaluation, region)
    )


def policy_statements(document: str | dict) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed["Statement"]
    return statements if isinstance(statements, list) else [statements]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def in_network(cidr: str, network: str) -> bool:
    return ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(network))


def regional_key(evaluation: Evaluation, region: str) -> ResourceRecord:
    """The region's own KMS key (us-east-1 also holds the health-check alarms' key)."""
    [key] = [k for k in regional(evaluation, region) if k.type == "aws:kms/key:Key"]
    return key
