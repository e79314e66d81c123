"""Secrets every region reads: the Aurora master credentials and the card-fingerprint HMAC key.

Each secret lives in the data home region and Secrets Manager replicates it to every other region,
encrypted there with that region's key, so a region reads its own copy during another region's
outage. Values come from ``pulumi_random`` (kept encrypted in the Pulumi state as secrets) and never
appear in config or stack outputs. RDS-managed master passwords (`manage_master_user_password`) are
not supported on global clusters, hence our own secret
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html, "Limitations").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from core import naming
from core.config import StackConfig
from region_factory.database import DATABASE_NAME, PORT
from region_factory.outputs import RegionalOutputs

MASTER_USERNAME = "payment_admin"
__all__ = ["DATABASE_NAME", "MASTER_USERNAME", "ReplicatedSecrets"]
# RDS refuses '/', '@', '"' and spaces in master passwords.
PASSWORD_SPECIALS = "!#$%&*()-_=+[]{}<>:?"
CARD_HASH_KEY_LENGTH = 64


def replica_regions(cfg: StackConfig) -> list[str]:
    """Every region but the data home, sorted by name so that a change of primaryRegion (or of the
    order of secondaryRegions) never reorders a replica list."""
    return sorted(name for name in cfg.region_names if name != cfg.data_home_region)


@dataclass(frozen=True, kw_only=True)
class ReplicatedSecretsArgs:
    cfg: StackConfig
    regions: Mapping[str, RegionalOutputs]  # each region's key encrypts its replica


class ReplicatedSecrets(pulumi.ComponentResource):
    db_master: aws.secretsmanager.Secret
    card_hash: aws.secretsmanager.Secret
    db_password: random.RandomPassword

    def __init__(self, name: str, args: ReplicatedSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:ReplicatedSecrets", name, None, opts)
        self.cfg = args.cfg
        self.regions = args.regions
        self.db_password = random.RandomPassword(
            "db-master-password",
            length=40,
            special=True,
            override_special=PASSWORD_SPECIALS,
            min_special=2,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.db_master = self._secret(
            "db-master",
            naming.DB_MASTER_SECRET,
            "payment-dr Aurora master credentials (JSON: username, password, dbname, port)",
            pulumi.Output.json_dumps(
                {
                    "username": MASTER_USERNAME,
                    "password": self.db_password.result,
                    "dbname": DATABASE_NAME,
                    "port": PORT,
                }
            ),
        )
        card_key = random.RandomPassword(
            "card-hash-key", length=CARD_HASH_KEY_LENGTH, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.card_hash = self._secret(
            "card-hash-key", naming.CARD_HASH_SECRET, "payment-dr card fingerprint HMAC key", card_key.result
        )
        self.register_outputs({"dbMasterSecretArn": self.db_master.arn, "cardHashSecretArn": self.card_hash.arn})

    def _secret(
        self, name: str, spec: naming.NameSpec, description: str, value: pulumi.Output[str]
    ) -> aws.secretsmanager.Secret:
        cfg = self.cfg
        home = self.regions[cfg.data_home_region]
        secret = aws.secretsmanager.Secret(
            f"secret-{name}",
            name=cfg.namer(spec),
            description=description,
            kms_key_id=home.kms_key_arn,
            replicas=[
                aws.secretsmanager.SecretReplicaArgs(region=region, kms_key_id=self.regions[region].kms_key_arn)
                for region in replica_regions(cfg)
            ],
            # A deleted secret's name stays taken for the recovery window: short for test stacks.
            recovery_window_in_days=30 if cfg.deletion_protection else 7,
            opts=home.context.opts(self, protect=cfg.deletion_protection),
        )
        aws.secretsmanager.SecretVersion(
            f"secret-{name}",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=home.context.opts(self),
        )
        return secret
