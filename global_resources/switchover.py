"""Planned switchover by config: change `primaryRegion`, run `pulumi up`.

No provider resource can express an Aurora managed switchover, and doing it by editing cluster
resources fights the provider (https://github.com/hashicorp/terraform-provider-aws/issues/42919: switch with the API,
then reconcile config). So this step runs the tool operators use, `drctl switchover --if-needed`,
whenever the configured primary changes: it swaps the roles with no data loss (RPO 0) and is a no-op when the primary
already writes (a new stack, or a switchover already done by hand with drctl).

It runs after every cluster and instance exists, and the failover records wait for it, so DNS
moves after the database, never before. The clusters ignore the role-dependent inputs
(global_resources/aurora.py), so the rest of the update changes tags and records only. Pin
`dataHomeRegion` before the first swap (README, "Configuration"). The command runs on the
machine of whoever runs `pulumi up`, with the same AWS credentials, from the project's venv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command

from core.config import StackConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = ".venv/bin/python"  # Pulumi.yaml's virtualenv, relative to the project directory


def switchover_command(cfg: StackConfig, stack: str) -> str:
    return f"{PYTHON} -m drctl --stack {stack} switchover --to {cfg.primary.name} --if-needed --yes"


@dataclass(frozen=True, kw_only=True)
class PlannedSwitchoverArgs:
    cfg: StackConfig
    ready_database: Sequence[pulumi.Resource]  # the global cluster and every member: the switchover acts on them


class PlannedSwitchover(pulumi.ComponentResource):
    command: command.local.Command

    def __init__(self, name: str, args: PlannedSwitchoverArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:PlannedSwitchover", name, None, opts)
        cfg = args.cfg
        run = switchover_command(cfg, pulumi.get_stack())
        self.command = command.local.Command(
            "aurora-planned-switchover",
            create=run,
            update=run,
            dir=str(PROJECT_DIR),
            # A new primary in config is what makes the step run again.
            triggers=[cfg.primary.name],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready_database)),
        )
        self.register_outputs({"primaryRegion": cfg.primary.name})
