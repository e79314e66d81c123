"""Who is acting, and the record of every action: SNS in every region it reaches, and a local audit line.

The failover topic has the same name in every region; publishing to each means the on-call list
hears about a failover even when the region it would normally hear from is the one that failed.
A region that cannot be reached is reported in the audit line, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import NoCredentialsError

from drctl.aws import Unreachable, first_answer, missing_credentials
from drctl.context import Context
from drctl.errors import DrctlError, Refused

DEFAULT_AUDIT_LOG = Path("~/.drctl/audit.jsonl")
SUBJECT_LIMIT = 100  # SNS rejects longer subjects


@dataclass(frozen=True)
class Identity:
    arn: str
    account: str


def whoami(ctx: Context) -> Identity:
    """The operator, from STS (regional endpoint, in `ctx.prefer` first); also the first proof that the credentials work."""
    try:
        _, answer = first_answer(
            ctx.stack.reads_from(ctx.prefer), lambda region: ctx.clients.call("sts", region, "get_caller_identity")
        )
    except NoCredentialsError as error:
        raise missing_credentials(error) from error
    except Unreachable as error:
        raise Refused(f"could not ask STS who you are in any region: {error}") from error
    return Identity(arn=answer["Arn"], account=answer["Account"])


@dataclass(frozen=True)
class Event:
    """One action and how it ended; the SNS message and the audit line carry the same fields."""

    stack: str
    command: str
    args: dict[str, Any]
    operator: str
    outcome: str  # ok | dry-run | refused | failed
    details: dict[str, Any]
    timestamp: str

    @classmethod
    def now(
        cls, ctx: Context, identity: Identity, command: str, args: dict[str, Any], outcome: str, details: dict[str, Any]
    ) -> Event:
        return cls(
            stack=ctx.stack.selector,
            command=command,
            args=args,
            operator=identity.arn,
            outcome=outcome,
            details=details,
            timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def message(self) -> dict[str, Any]:
        return {"source": "drctl", **asdict(self)}


def publish(ctx: Context, identity: Identity, event: Event) -> dict[str, str]:
    """Publishes to the failover topic in every region; returns each region's result."""
    subject = f"drctl {event.command} {event.outcome} ({ctx.stack.cfg.environment})"[:SUBJECT_LIMIT]
    body = json.dumps(event.message(), sort_keys=True)
    results = {}
    for region in ctx.stack.regions:
        arn = f"arn:aws:sns:{region}:{identity.account}:{ctx.stack.topic}"
        try:
            ctx.clients.call("sns", region, "publish", TopicArn=arn, Subject=subject, Message=body)
            results[region] = "published"
        # Credentials that expired during a long wait too: the action's own outcome must stand.
        except (Unreachable, DrctlError) as error:
            results[region] = f"not published: {error}"
    return results


def append_audit(path: Path, event: Event, notified: dict[str, str]) -> Path:
    target = path.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as audit:
        audit.write(json.dumps({**event.message(), "notified": notified}, sort_keys=True) + "\n")
    return target
