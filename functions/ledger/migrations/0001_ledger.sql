-- The double-entry ledger of record (docs/data-tier.md, "The ledger").
--
-- One journal entry per accepted payment (its transaction id is the primary key, so a second
-- posting of the same transaction is impossible) and its balanced postings: debits equal credits
-- equal the entry's amount, in integer minor units of the entry's ISO 4217 currency. Nothing is
-- ever updated or deleted: a correction is a new entry. Applied by functions/ledger/migrate.py with
-- the master credentials; the poster logs in as ledger_poster (IAM authentication).

CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE ledger.accounts (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z_]*$'),
    kind        text NOT NULL CHECK (kind IN ('asset', 'liability', 'equity', 'income', 'expense')),
    description text NOT NULL
);

INSERT INTO ledger.accounts (code, kind, description) VALUES
    ('card_clearing', 'asset', 'Owed to us by the card networks for accepted card payments, until settlement'),
    ('merchant_payable', 'liability', 'Owed by us to merchants for their accepted payments, until payout');

CREATE TABLE ledger.journal_entries (
    transaction_id  uuid PRIMARY KEY,  -- the payment's id: one entry per transaction, ever
    merchant_id     text NOT NULL CHECK (merchant_id <> ''),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    accepted_at     timestamptz NOT NULL,  -- the payment's created_at
    recorded_region text NOT NULL,         -- where the payment was accepted
    posted_at       timestamptz NOT NULL DEFAULT now(),
    posted_by       text NOT NULL DEFAULT current_user
);

CREATE TABLE ledger.postings (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id uuid NOT NULL REFERENCES ledger.journal_entries (transaction_id),
    account        text NOT NULL REFERENCES ledger.accounts (code),
    side           text NOT NULL CHECK (side IN ('debit', 'credit')),
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    UNIQUE (transaction_id, account, side)
);
CREATE INDEX postings_account ON ledger.postings (account, currency);
CREATE INDEX journal_entries_accepted_at ON ledger.journal_entries (accepted_at);

-- Balanced, checked at COMMIT (deferred): every entry has postings, all in its currency, and its
-- debits and its credits both add up to its amount. An entry's postings must therefore arrive in
-- the entry's own database transaction; a line added later unbalances it and is refused.
CREATE FUNCTION ledger.check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entry ledger.journal_entries;
    debits bigint;
    credits bigint;
    foreign_lines bigint;
BEGIN
    SELECT * INTO entry FROM ledger.journal_entries WHERE transaction_id = NEW.transaction_id;
    SELECT coalesce(sum(amount_minor) FILTER (WHERE side = 'debit'), 0),
           coalesce(sum(amount_minor) FILTER (WHERE side = 'credit'), 0),
           count(*) FILTER (WHERE currency <> entry.currency)
      INTO debits, credits, foreign_lines
      FROM ledger.postings WHERE transaction_id = NEW.transaction_id;
    IF foreign_lines > 0 OR debits <> entry.amount_minor OR credits <> entry.amount_minor THEN
        RAISE EXCEPTION 'unbalanced journal entry %: debits %, credits %, amount % %, % posting(s) in another currency',
            NEW.transaction_id, debits, credits, entry.amount_minor, entry.currency, foreign_lines
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER journal_entry_balanced
    AFTER INSERT ON ledger.journal_entries DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger.check_balanced();
CREATE CONSTRAINT TRIGGER posting_balanced
    AFTER INSERT ON ledger.postings DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger.check_balanced();

-- Append-only for everyone, the owner included: privileges keep the poster from UPDATE and DELETE,
-- these triggers make a rewrite by any role fail loudly instead of passing silently.
CREATE FUNCTION ledger.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on %.% refused (post a correcting entry instead)',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON ledger.journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON ledger.journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON ledger.postings
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON ledger.postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER accounts_append_only BEFORE UPDATE OR DELETE ON ledger.accounts
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();

-- The poster's login: IAM authentication only (rds_iam), never a password. Roles are cluster-wide,
-- so it is created once and left as it is when it exists.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_poster') THEN
        CREATE ROLE ledger_poster LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END $$;
GRANT rds_iam TO ledger_poster;

REVOKE ALL ON SCHEMA ledger FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM PUBLIC;
GRANT USAGE ON SCHEMA ledger TO ledger_poster;
GRANT SELECT ON ledger.accounts TO ledger_poster;
-- SELECT: the poster compares an existing entry with the payment it carries (a conflict is an alarm).
GRANT SELECT, INSERT ON ledger.journal_entries, ledger.postings TO ledger_poster;
-- The triggers run as the poster, so it may call them; nothing else.
GRANT EXECUTE ON FUNCTION ledger.check_balanced(), ledger.refuse_change() TO ledger_poster;
