"""The ledger's schema (functions/ledger/migrations) against a real PostgreSQL 15: migrations from
empty and re-run, balanced postings, duplicates and unbalanced entries refused, append-only."""

from __future__ import annotations

import threading
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pg8000.exceptions import DatabaseError

from functions.ledger import ledger_db
from functions.ledger.ledger_db import Migration, MigrationError, Payment
from tests.ledger.conftest import LedgerServers

PAYMENT = Payment(
    "2b7c9c54-5d1e-5a4c-9d7e-0c1f3a5b7d90",
    "merchant-1",
    "USD",
    12345,
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "us-east-1",
)


def sqlstate(error: BaseException) -> str:
    return error.args[0]["C"] if error.args and isinstance(error.args[0], dict) else ""


def test_migrations_from_empty_then_a_rerun_applies_nothing(ledger_servers: LedgerServers) -> None:
    name = ledger_servers.new_database()
    migrations = ledger_db.load_migrations()
    with closing(ledger_servers.superuser(ledger_servers.primary, name)) as connection:
        first = ledger_db.migrate(connection, migrations)
        second = ledger_db.migrate(connection, migrations)
        recorded = connection.run(
            "SELECT version, name, checksum, applied_by FROM public.schema_migrations ORDER BY version"
        )
    assert first.applied == [m.label for m in migrations] and first.already == []
    assert second.applied == [] and second.already == first.applied
    assert [(v, n, c) for v, n, c, _ in recorded] == [(m.version, m.name, m.checksum) for m in migrations]
    assert {by for *_, by in recorded} == {"postgres"}


def test_an_edited_applied_migration_is_refused(ledger_servers: LedgerServers, database: str) -> None:
    [first, *rest] = ledger_db.load_migrations()
    edited = Migration(first.version, first.name, first.sql + "\n-- edited\n")
    with (
        closing(ledger_servers.superuser(ledger_servers.primary, database)) as connection,
        pytest.raises(MigrationError) as refused,
    ):
        ledger_db.migrate(connection, [edited, *rest])
    assert f"migration {first.label} was applied" in str(refused.value) and "add a new one" in str(refused.value)


def test_a_failing_migration_rolls_back_whole_and_stays_unrecorded(
    ledger_servers: LedgerServers, database: str
) -> None:
    existing = ledger_db.load_migrations()
    broken = Migration(len(existing) + 1, "broken", "CREATE TABLE ledger.half (id int); SELECT 1/0;")
    with closing(ledger_servers.superuser(ledger_servers.primary, database)) as connection:
        with pytest.raises(MigrationError, match=rf"{broken.label} failed and was rolled back: PostgreSQL 22012"):
            ledger_db.migrate(connection, [*existing, broken])
        assert connection.run("SELECT to_regclass('ledger.half')") == [[None]]
        assert connection.run("SELECT max(version) FROM public.schema_migrations") == [[len(existing)]]


def test_two_migrators_never_interleave(ledger_servers: LedgerServers) -> None:
    """The advisory lock: the second run waits for the first, then finds everything applied."""
    name = ledger_servers.new_database()
    migrations = ledger_db.load_migrations()
    reports: list[ledger_db.MigrationReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with closing(ledger_servers.superuser(ledger_servers.primary, name)) as connection:
                reports.append(ledger_db.migrate(connection, migrations))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(len(r.applied) for r in reports) == [0, len(migrations)]


def test_migration_files_must_be_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"without gaps or repeats; found \[1, 3\]"):
        ledger_db.load_migrations(tmp_path)
    (tmp_path / "0003_c.sql").rename(tmp_path / "3_c.sql")
    with pytest.raises(MigrationError, match=r"3_c\.sql: migration files are named NNNN_<lower_case_name>\.sql"):
        ledger_db.load_migrations(tmp_path)


def test_a_payment_posts_balanced_entries_once(ledger_servers: LedgerServers, database: str) -> None:
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        assert ledger_db.post(poster, PAYMENT) == ledger_db.POSTED
        assert ledger_db.post(poster, PAYMENT) == ledger_db.ALREADY_POSTED
        lines = poster.run("SELECT account, side, amount_minor, currency FROM ledger.postings ORDER BY side DESC")
        [[posted_by]] = poster.run("SELECT posted_by FROM ledger.journal_entries")
    assert lines == [["card_clearing", "debit", 12345, "USD"], ["merchant_payable", "credit", 12345, "USD"]]
    assert posted_by == ledger_db.POSTER_ROLE


def test_the_same_id_with_another_payment_is_a_conflict_not_an_overwrite(
    ledger_servers: LedgerServers, database: str
) -> None:
    other = Payment(**{**PAYMENT.__dict__, "amount_minor": 99})
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        ledger_db.post(poster, PAYMENT)
        with pytest.raises(
            ledger_db.PostingConflict, match="the ledger holds 12345 USD for merchant-1, the payment says 99 USD"
        ):
            ledger_db.post(poster, other)
        assert poster.run("SELECT amount_minor FROM ledger.journal_entries") == [[12345]]


def _entry(poster, transaction_id: str = PAYMENT.transaction_id, amount: int = 500) -> None:
    poster.run(
        "INSERT INTO ledger.journal_entries (transaction_id, merchant_id, currency, amount_minor, accepted_at, recorded_region) "
        "VALUES (CAST(:id AS uuid), 'm', 'EUR', :amount, now(), 'us-east-1')",
        id=transaction_id,
        amount=amount,
    )


def _line(
    poster, account: str, side: str, amount: int, currency: str = "EUR", transaction_id: str = PAYMENT.transaction_id
) -> None:
    poster.run(
        "INSERT INTO ledger.postings (transaction_id, account, side, amount_minor, currency) "
        "VALUES (CAST(:id AS uuid), :account, :side, :amount, :currency)",
        id=transaction_id,
        account=account,
        side=side,
        amount=amount,
        currency=currency,
    )


def test_a_second_entry_for_the_same_transaction_is_refused(ledger_servers: LedgerServers, database: str) -> None:
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        ledger_db.post(poster, PAYMENT)
        with pytest.raises(DatabaseError) as duplicate:
            _entry(poster)
    assert sqlstate(duplicate.value) == "23505"  # unique_violation


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        ([("card_clearing", "debit", 500)], "no credit"),
        ([("card_clearing", "debit", 500), ("merchant_payable", "credit", 499)], "credits short"),
        ([("card_clearing", "debit", 400), ("merchant_payable", "credit", 400)], "balanced but not the entry's amount"),
        ([], "an entry without postings"),
    ],
)
def test_an_unbalanced_entry_is_refused_at_commit(ledger_servers: LedgerServers, database: str, lines, why) -> None:
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        poster.run("BEGIN")
        _entry(poster)
        for account, side, amount in lines:
            _line(poster, account, side, amount)
        with pytest.raises(DatabaseError) as refused:
            poster.run("COMMIT")
        assert sqlstate(refused.value) == "23514", why  # check_violation
        assert "unbalanced journal entry" in str(refused.value)
        assert poster.run("SELECT count(*) FROM ledger.journal_entries") == [[0]]


def test_a_posting_in_another_currency_or_added_later_is_refused(ledger_servers: LedgerServers, database: str) -> None:
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        poster.run("BEGIN")
        _entry(poster)
        _line(poster, "card_clearing", "debit", 500)
        _line(poster, "merchant_payable", "credit", 500, currency="USD")
        with pytest.raises(DatabaseError, match="1 posting\\(s\\) in another currency"):
            poster.run("COMMIT")
        ledger_db.post(poster, PAYMENT)
        with pytest.raises(DatabaseError, match="unbalanced journal entry"):
            _line(poster, "merchant_payable", "debit", 1, currency="USD")  # autocommit: checked at once


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger.journal_entries SET amount_minor = 1",
        "DELETE FROM ledger.journal_entries",
        "UPDATE ledger.postings SET amount_minor = 1",
        "DELETE FROM ledger.postings",
        "TRUNCATE ledger.postings",
        "UPDATE ledger.accounts SET description = 'x'",
    ],
)
def test_the_poster_cannot_rewrite_the_ledger(ledger_servers: LedgerServers, database: str, statement: str) -> None:
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        ledger_db.post(poster, PAYMENT)
        with pytest.raises(DatabaseError) as refused:
            poster.run(statement)
        assert sqlstate(refused.value) == "42501"  # insufficient_privilege: not granted
        assert poster.run("SELECT amount_minor FROM ledger.postings") == [[12345], [12345]]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger.journal_entries SET amount_minor = 1",
        "DELETE FROM ledger.postings",
        "TRUNCATE ledger.journal_entries CASCADE",
    ],
)
def test_not_even_the_owner_rewrites_it_silently(ledger_servers: LedgerServers, database: str, statement: str) -> None:
    with closing(ledger_servers.poster(ledger_servers.primary, database)) as poster:
        ledger_db.post(poster, PAYMENT)
    with closing(ledger_servers.superuser(ledger_servers.primary, database)) as owner:
        with pytest.raises(DatabaseError, match="the ledger is append-only"):
            owner.run(statement)
        assert owner.run("SELECT count(*) FROM ledger.postings") == [[2]]


def test_the_poster_role_has_only_what_it_needs(ledger_servers: LedgerServers, database: str) -> None:
    with closing(ledger_servers.superuser(ledger_servers.primary, database)) as owner:
        [[login, superuser, createrole, createdb]] = owner.run(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'ledger_poster'"
        )
        [[iam]] = owner.run("SELECT pg_has_role('ledger_poster', 'rds_iam', 'MEMBER')")
        grants = owner.run(
            "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants "
            "WHERE grantee = 'ledger_poster' GROUP BY table_name ORDER BY table_name"
        )
        [[migrations]] = owner.run("SELECT has_table_privilege('ledger_poster', 'public.schema_migrations', 'SELECT')")
    assert (login, superuser, createrole, createdb) == (True, False, False, False)
    assert iam is True
    assert grants == [["accounts", "SELECT"], ["journal_entries", "INSERT,SELECT"], ["postings", "INSERT,SELECT"]]
    assert migrations is False


@pytest.mark.parametrize(
    ("amount", "currency", "minor"), [("10.5", "USD", 1050), ("1000", "JPY", 1000), ("1.234", "KWD", 1234)]
)
def test_amounts_become_integer_minor_units(amount: str, currency: str, minor: int) -> None:
    assert ledger_db.minor_units(Decimal(amount), currency) == minor


def test_items_that_are_not_accepted_payments_are_not_postable() -> None:
    item = {
        "transaction_id": "t",
        "status": "PENDING",
        "merchant_id": "m",
        "amount": Decimal("1"),
        "currency": "USD",
        "created_at": "2026-01-01T00:00:00.000Z",
        "region": "us-east-1",
    }
    with pytest.raises(ledger_db.NotPostable, match="is PENDING, not ACCEPTED"):
        ledger_db.payment_from_item(item)
    with pytest.raises(ledger_db.NotPostable, match="more than 0 decimal places"):
        ledger_db.payment_from_item({**item, "status": "ACCEPTED", "amount": Decimal("1.5"), "currency": "JPY"})
