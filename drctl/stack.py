"""Finds the stack's resources from its config file alone (never from Pulumi state).

Every physical name comes from the naming catalog (core/naming.py), the one the Pulumi program
uses, so drctl and the program cannot disagree about what a resource is called.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core import alarms, naming, routing
from core.config import NAMESPACE, ConfigError, StackConfig, parse
from drctl.errors import UsageError

PROJECT_DIR_ENV = "DRCTL_PROJECT_DIR"
# The check the failover records use (CALCULATED over the api check and the holds: core/routing.py).
ROUTING_CHECK = routing.ROUTING_CHECK


@dataclass(frozen=True)
class Stack:
    cfg: StackConfig
    selector: str  # how the operator named it, e.g. "--stack dev", reused in suggested commands

    @property
    def regions(self) -> tuple[str, ...]:
        return self.cfg.region_names

    @property
    def global_cluster(self) -> str:
        return self.cfg.namer(naming.GLOBAL_CLUSTER)

    def cluster(self, region: str) -> str:
        return self.cfg.namer(naming.DB_CLUSTER, region)

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.cfg.namer(naming.TRANSACTIONS_TABLE), self.cfg.namer(naming.IDEMPOTENCY_TABLE))

    def buckets(self, region: str) -> tuple[str, ...]:
        return (self.cfg.namer(naming.AUDIT_BUCKET, region), self.cfg.namer(naming.RECEIPTS_BUCKET, region))

    @property
    def topic(self) -> str:
        return self.cfg.namer(naming.FAILOVER_TOPIC)

    def health_check(self, kind: str, region: str) -> str:
        return self.cfg.namer.qualified(naming.HEALTH_CHECK, kind, region)

    def hold_alarm(self, held: str) -> str:
        """The alarm, in each other (holder) region, whose ALARM state holds `held` out of routing."""
        return self.cfg.namer.qualified(naming.ROUTING_HOLD_ALARM, routing.hold_qualifier(held))

    def holders(self, held: str) -> tuple[str, ...]:
        """The regions where a hold on `held` is published and watched: every other region."""
        return tuple(r for r in self.regions if r != held)

    def routing_control(self, region: str) -> str:
        """The ARC routing control (routingControl "arc") that lets traffic reach `region` when On."""
        return self.cfg.namer(naming.ARC_ROUTING_CONTROL, region)

    @staticmethod
    def replication_rule(destination: str) -> str:
        """The S3 replication rule id toward `destination`: the program's (core/alarms.py)."""
        return alarms.replication_rule_id(destination)

    def reads_from(self, first: str | None = None) -> tuple[str, ...]:
        """Regions to ask for global state: the preferred one, then the data home, then the rest."""
        preferred = [r for r in (first, self.cfg.data_home_region) if r]
        return tuple(dict.fromkeys([*preferred, *self.regions]))

    def require_region(self, region: str) -> str:
        if region not in self.regions:
            raise UsageError(f"unknown region {region!r}: this stack deploys {', '.join(self.regions)}")
        return region

    def command(self, arguments: str) -> str:
        """The exact drctl command line for this stack, for messages that tell what to run next."""
        return f"drctl {self.selector} {arguments}"


def config_path(stack: str | None, config_file: Path | None, project_dir: Path | None) -> tuple[Path, str]:
    if bool(stack) == bool(config_file):
        raise UsageError("name the stack: --stack NAME (reads Pulumi.NAME.yaml) or --config-file PATH, exactly one")
    if config_file:
        return config_file, f"--config-file {config_file}"
    directory = project_dir or Path(os.environ.get(PROJECT_DIR_ENV) or Path.cwd())
    # Fully qualified stack names (org/project/stack) keep their config in Pulumi.<stack>.yaml.
    short = str(stack).rsplit("/", 1)[-1]
    return directory / f"Pulumi.{short}.yaml", f"--stack {stack}"


def read_config(path: Path) -> dict[str, Any]:
    """The namespace's keys of a Pulumi.<stack>.yaml file, without the namespace prefix."""
    if not path.is_file():
        raise UsageError(f"stack config file not found: {path} (use --project-dir, {PROJECT_DIR_ENV} or --config-file)")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise UsageError(f"{path} is not valid YAML: {error}") from error
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise UsageError(f"{path} has no 'config:' map")
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def load(stack: str | None, config_file: Path | None, project_dir: Path | None = None) -> Stack:
    path, selector = config_path(stack, config_file, project_dir)
    try:
        cfg = parse(read_config(path))
    except ConfigError as error:
        raise UsageError(f"{path}: {error}") from error
    return Stack(cfg, selector)
