-- payment_probe: the database health probe's login (functions/db_probe, docs/db-probe.md).
--
-- It logs in only with an IAM authentication token (member of rds_iam, no password), over TLS, and
-- runs `SELECT pg_is_in_recovery()` (EXECUTE on that function and CONNECT on the database come from
-- PUBLIC). Nothing else: no table or sequence of any schema, no object of its own (not even a
-- temporary one), no other role, no server files. Plain idempotent SQL: safe to run again, by any
-- runner, as the master user (rds_superuser: CREATEROLE, owner of the database, ADMIN on rds_iam).
-- On a server without rds_iam (not RDS) the GRANT fails: create a stand-in role there first.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'payment_probe') THEN
        CREATE ROLE payment_probe;
    END IF;
END
$$;

-- Attributes a CREATEROLE (not superuser) master may set; SUPERUSER, REPLICATION and BYPASSRLS are
-- off from CREATE ROLE and only a superuser could have turned them on.
ALTER ROLE payment_probe WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD NULL CONNECTION LIMIT -1;
GRANT rds_iam TO payment_probe;

-- A probe session never waits long nor writes: bounded statements, read-only transactions.
ALTER ROLE payment_probe SET statement_timeout = '5s';
ALTER ROLE payment_probe SET lock_timeout = '1s';
ALTER ROLE payment_probe SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE payment_probe SET default_transaction_read_only = on;

-- PUBLIC's defaults before PostgreSQL 15 let every login create objects in schema public, and
-- (all versions) temporary tables: neither is anyone's job here. Objects are created by migrations,
-- as the master user; application roles get explicit grants on their own schemas.
-- https://www.postgresql.org/docs/13/ddl-schemas.html#DDL-SCHEMAS-PATTERNS
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO payment_probe', current_database());
END
$$;

-- A REVOKE by a role that did not grant the privilege only warns. Fail instead of leaving the gap.
DO $$
BEGIN
    IF has_schema_privilege('payment_probe', 'public', 'CREATE') THEN
        RAISE EXCEPTION 'payment_probe can still create objects in schema public: revoke CREATE from PUBLIC as the schema owner';
    END IF;
    IF has_database_privilege('payment_probe', current_database(), 'TEMPORARY') THEN
        RAISE EXCEPTION 'payment_probe can still create temporary tables in %', current_database();
    END IF;
    IF NOT pg_has_role('payment_probe', 'rds_iam', 'MEMBER') THEN
        RAISE EXCEPTION 'payment_probe is not a member of rds_iam: it could not log in with an IAM token';
    END IF;
END
$$;
