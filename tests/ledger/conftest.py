"""A PostgreSQL 15 primary and its streaming standby for the ledger's tests (tests/functions/pg_server.py),
their own pair: the failover test promotes the standby, which the probe's tests must never see.

Every test gets a fresh database on the primary. Roles are cluster-wide: `rds_iam` is Aurora's own
role, created here as a stand-in (locally it marks nothing), and `ledger_poster`, which the migration
creates, logs in with a password here because there is no IAM behind a local server: the tests'
`token` plays generate_db_auth_token and returns that password (what the code asks it is asserted).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass

import pg8000.native
import pytest
from pg8000.native import identifier, literal

from functions.ledger import ledger_db
from tests.functions.pg_server import HOST, SUPERUSER, PostgresServer, Sandbox, start_primary, start_standby

POSTER_PASSWORD = "iam-token-stand-in-7f3a"
_databases = itertools.count()


@dataclass
class LedgerServers:
    primary: PostgresServer
    standby: PostgresServer

    def superuser(self, server: PostgresServer, database: str) -> pg8000.native.Connection:
        """The master login (the migrator's), over TCP and TLS as Aurora takes it."""
        return ledger_db.connect(
            HOST, server.port, SUPERUSER, server.sandbox.superuser_password, database, ledger_db.tls_context()
        )

    def poster(self, server: PostgresServer, database: str) -> pg8000.native.Connection:
        return ledger_db.connect(
            HOST, server.port, ledger_db.POSTER_ROLE, POSTER_PASSWORD, database, ledger_db.tls_context()
        )

    def new_database(self) -> str:
        name = f"ledger_{next(_databases)}"
        self.primary.execute(f"CREATE DATABASE {identifier(name)}")
        return name

    def migrated(self) -> str:
        """A fresh database with every migration applied and the poster able to log in."""
        name = self.new_database()
        with closing(self.superuser(self.primary, name)) as connection:
            ledger_db.migrate(connection, ledger_db.load_migrations())
        self.primary.execute(f"ALTER ROLE {ledger_db.POSTER_ROLE} PASSWORD {literal(POSTER_PASSWORD)}")
        return name


@pytest.fixture(scope="session")
def ledger_servers() -> Iterator[LedgerServers]:
    sandbox = Sandbox.create()
    try:
        primary = start_primary(sandbox)
        primary.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam; END IF; END $$"
        )
        standby = start_standby(primary)
        yield LedgerServers(primary, standby)
        for server in (standby, primary):
            with suppress(BaseException):  # a promoted or stopped server: the directory goes anyway
                server.stop("immediate")
    finally:
        shutil.rmtree(sandbox.root, ignore_errors=True)


@pytest.fixture
def database(ledger_servers: LedgerServers) -> str:
    return ledger_servers.migrated()


TokenCall = tuple[str, int, str, str]


@pytest.fixture
def token_calls() -> list[TokenCall]:
    return []


@pytest.fixture
def fake_token(token_calls: list[TokenCall]) -> Callable[..., str]:
    """generate_db_auth_token's stand-in: records (host, port, user, region), returns the password."""

    def generate(DBHostname: str, Port: int, DBUsername: str, Region: str) -> str:  # boto3's names
        token_calls.append((DBHostname, Port, DBUsername, Region))
        return POSTER_PASSWORD

    return generate
