"""Ledger migrator: applies functions/ledger/migrations to the writer, as the master user.

Handler `migrate.lambda_handler`, in the data home region's VPC, invoked by `pulumi up`
(aws.lambda_.Invocation, re-run when the migrations change). The only user of the master secret
besides the database probe. The event names the migrations the deployment expects
(`{"migrations": ["0001_ledger", ...]}`): a bundle that does not hold exactly those is refused, so a
stale build never reports success. Any failure raises, which fails the invocation and `pulumi up`.
"""

from __future__ import annotations

import json
import os
from contextlib import closing
from typing import Any

import boto3
from botocore.config import Config

import ledger_db


def run(event: dict[str, Any], env: dict[str, str], secrets: Any) -> dict[str, Any]:
    migrations = ledger_db.load_migrations()
    labels = [m.label for m in migrations]
    expected = event.get("migrations")
    if expected is not None and expected != labels:
        raise ledger_db.MigrationError(
            f"the deployment expects migrations {expected}, this bundle holds {labels}: redeploy"
        )
    secret = json.loads(secrets.get_secret_value(SecretId=env["DB_SECRET_NAME"])["SecretString"])
    tls = ledger_db.tls_context(env.get("DB_SSL_MODE", "require") == "verify-full")
    host, port = env["DB_HOST"], int(env.get("DB_PORT", ledger_db.PORT))
    with closing(
        ledger_db.connect(
            host, port, secret["username"], secret["password"], secret.get("dbname") or env["DB_NAME"], tls
        )
    ) as connection:
        report = ledger_db.migrate(connection, migrations)
    return {"host": host, **report.as_dict()}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
    result = run(event or {}, dict(os.environ), boto3.client("secretsmanager", config=config))
    print(json.dumps({"message": "ledger migrations", **result}))  # one log line, no secret in it
    return result
