"""IAM policy documents built from data, so that tests can parse and check every statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def statement(
    actions: Sequence[str],
    resources: Sequence[Any],
    *,
    sid: str | None = None,
    conditions: dict[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": effect, "Action": list(actions), "Resource": list(resources)}
    if sid:
        stmt["Sid"] = sid
    if conditions:
        stmt["Condition"] = conditions
    return stmt


def own_log_group(log_group_arn: pulumi.Output[str]) -> dict[str, Any]:
    """A function writing to its own log group and nothing else (its streams are `<group>:*`)."""
    return statement(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
        sid="OwnLogGroup",
    )


def put_metrics(sid: str, *namespaces: str) -> dict[str, Any]:
    """PutMetricData has no resource-level permissions: "*", held to the given metric namespaces."""
    namespace: str | list[str] = namespaces[0] if len(namespaces) == 1 else list(namespaces)
    return statement(
        ["cloudwatch:PutMetricData"], ["*"], sid=sid, conditions={"StringEquals": {"cloudwatch:namespace": namespace}}
    )


def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy document; statements may hold Outputs (ARNs of resources being created)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust(service: str, account_id: str, source_arn: str | None = None) -> pulumi.Output[str]:
    """Trust policy for an AWS service, limited to this account (confused-deputy protection)."""
    conditions: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": conditions,
        }
    )
