"""Throwaway PostgreSQL servers for the database probe's tests, one pair per test session.

`postgres` is a primary on 127.0.0.1 that, like Aurora with `rds.force_ssl=1`, takes TCP connections
over TLS only (self-signed certificate for 127.0.0.1, SCRAM passwords). `postgres_standby` is a
streaming replica of it made with `pg_basebackup -R`, so `pg_is_in_recovery()` is true there for
real. Both live in one temporary directory, removed at the end of the session.

Needs PostgreSQL's server binaries (`initdb`, `pg_ctl`; `pg_basebackup` beside them) on PATH and
`openssl`. PostgreSQL refuses to run as root: under root the servers run as the `postgres` account
that the Debian/Ubuntu packages create.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pg8000.native
import pytest
from pg8000.native import identifier, literal

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SERVER_ACCOUNT = "postgres"
# TCP: TLS and SCRAM only (hostssl). Unix socket: for the tests' own admin connections and replication.
PG_HBA = f"""\
local       all          all               scram-sha-256
local       replication  all               scram-sha-256
hostssl     all          all  {HOST}/32    scram-sha-256
"""


def _bin_dir() -> Path:
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) must be on PATH: apt-get install postgresql-15")
    # pg_basebackup is not always on PATH; the real binaries all sit beside initdb.
    return Path(initdb).resolve().parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Sandbox:
    """The session's temporary directory, owned by the account the servers run as."""

    root: Path
    bin_dir: Path
    superuser_password: str

    @classmethod
    def create(cls) -> Sandbox:
        sandbox = cls(Path(tempfile.mkdtemp(prefix="pg-probe-")), _bin_dir(), f"superuser-{os.urandom(8).hex()}")
        sandbox.own(sandbox.root)
        return sandbox

    @staticmethod
    def own(path: Path) -> None:
        """Gives `path` to the server account (when running as root)."""
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_ACCOUNT)
            os.chown(path, account.pw_uid, account.pw_gid)

    def run(self, *command: str) -> None:
        """Runs a command as the server account, with the superuser password for client tools."""
        as_account = ["runuser", "-u", SERVER_ACCOUNT, "--"] if os.geteuid() == 0 else []
        environment = os.environ | {"PGPASSWORD": self.superuser_password}
        done = subprocess.run([*as_account, *command], capture_output=True, text=True, env=environment)
        if done.returncode:
            pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        path.chmod(0o600)
        self.own(path)
        return path

    def make_certificate(self, name: str) -> tuple[Path, Path]:
        """A self-signed certificate for 127.0.0.1 (its own CA) and its key: (certificate, key)."""
        certificate, key = self.root / f"{name}.crt", self.root / f"{name}.key"
        self.run(
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(certificate), "-days", "2", "-subj", f"/CN={HOST}",
            "-addext", f"subjectAltName=IP:{HOST}",
        )  # fmt: skip
        return certificate, key


@dataclass
class PostgresServer:
    sandbox: Sandbox
    data_dir: Path
    port: int
    certificate: Path
    key: Path

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sandbox.root} -c listen_addresses={HOST} -c fsync=off "
            f"-c ssl=on -c ssl_cert_file={self.certificate} -c ssl_key_file={self.key}"
        )
        log = self.sandbox.root / f"{self.data_dir.name}.log"
        self.pg_ctl("-l", str(log), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def pg_ctl(self, *arguments: str) -> None:
        """pg_ctl on this server's data directory, waiting (-w) until the action is done."""
        self.sandbox.run(str(self.sandbox.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", *arguments)

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The server down for the block, up again after it."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def execute(self, sql: str) -> list[list[object]]:
        """Runs SQL as the superuser over the Unix socket."""
        with closing(
            pg8000.native.Connection(
                SUPERUSER,
                unix_sock=str(self.sandbox.root / f".s.PGSQL.{self.port}"),
                password=self.sandbox.superuser_password,
                database="postgres",
                ssl_context=False,
            )
        ) as connection:
            return connection.run(sql) or []

    def catch_up(self, primary: PostgresServer, timeout: float = 10) -> None:
        """Waits until this standby has replayed all that `primary` has written so far."""
        [[written]] = primary.execute("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while not self.execute(f"SELECT pg_last_wal_replay_lsn() >= {literal(written)}::pg_lsn")[0][0]:
            if time.monotonic() > deadline:
                pytest.fail(f"standby on port {self.port} did not replay up to {written} in {timeout} s")
            time.sleep(0.02)

    def create_login(self, role: str, password: str) -> None:
        self.execute(f"CREATE ROLE {identifier(role)} LOGIN PASSWORD {literal(password)}")

    def set_password(self, role: str, password: str) -> None:
        self.execute(f"ALTER ROLE {identifier(role)} PASSWORD {literal(password)}")


def start_primary(sandbox: Sandbox) -> PostgresServer:
    password_file = sandbox.write("superuser-password", sandbox.superuser_password + "\n")
    data_dir = sandbox.root / "primary"
    sandbox.run(
        str(sandbox.bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "-A", "scram-sha-256",
        f"--pwfile={password_file}", "--no-sync", "--encoding=UTF8", "--locale=C",
    )  # fmt: skip
    sandbox.write("primary/pg_hba.conf", PG_HBA)
    server = PostgresServer(sandbox, data_dir, _free_port(), *sandbox.make_certificate("server"))
    server.start()
    return server


def start_standby(primary: PostgresServer) -> PostgresServer:
    """A hot standby streaming from `primary`: pg_basebackup -R writes its primary_conninfo."""
    sandbox = primary.sandbox
    data_dir = sandbox.root / "standby"
    sandbox.run(
        str(sandbox.bin_dir / "pg_basebackup"), "-h", str(sandbox.root), "-p", str(primary.port), "-U", SUPERUSER,
        "-D", str(data_dir), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
    )  # fmt: skip
    standby = PostgresServer(sandbox, data_dir, _free_port(), primary.certificate, primary.key)
    standby.start()
    return standby


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL primary for the session (stop it only with `stopped()`, which restarts it)."""
    sandbox = Sandbox.create()
    try:
        server = start_primary(sandbox)
        yield server
        server.stop("immediate")
    finally:
        shutil.rmtree(sandbox.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_standby(postgres: PostgresServer) -> Iterator[PostgresServer]:
    standby = start_standby(postgres)
    yield standby
    standby.stop("immediate")
