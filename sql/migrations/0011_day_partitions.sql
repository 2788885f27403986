-- ledger.journal_lines, the one big ledger table (about 2.4 lines per transaction, 300,000 rows a
-- day at the reference scale), partitioned by day: posting a day builds its lines as a table of
-- their own and swaps it in (journal_pipeline/ledger.py).
--
-- Why: a COPY into a table that already has its primary key and index maintains each B-tree one
-- row at a time; the same COPY into a bare table followed by building the indexes (one sort each)
-- is about a third cheaper, and replacing a day becomes dropping one table instead of deleting
-- 300,000 rows (and leaving them to VACUUM). The day's partition is also what the planner prunes
-- to for every day-keyed query (the posting's checks, sealing, verification).
--
-- How a posting replaces day D's lines, all in its one transaction (a crash leaves the old day):
--   1. ledger.open_day(D): an empty journal_lines_YYYYMMDD_new with the columns, defaults and
--      CHECK constraints of the table but no index, that the pipeline's role may COPY into;
--   2. the pipeline COPYs the day's lines into it;
--   3. ledger.close_day(D): builds its indexes and a CHECK of the day's bounds (so that ATTACH need
--      not scan it again), drops the day's old partition if there is one, takes any of the day's
--      rows out of the DEFAULT partition, renames the new table and its indexes to the day's
--      names and attaches it.
-- Locks: the new table is made LIKE the DEFAULT partition, not the parent, so a posting touches
-- the parent for the first time at its swap: attaching a day that had no partition needs SHARE
-- UPDATE EXCLUSIVE (readers and other postings' earlier steps go on); replacing one drops the old
-- partition, which takes ACCESS EXCLUSIVE from there to COMMIT (readers wait for that tail). A
-- posting holds no weaker lock on the parent before it, so two postings cannot deadlock upgrading.
-- Vouchers (one row per transaction) stay one table, replaced by DELETE and COPY: their swap
-- would need a second exclusive lock, and two tables locked in turn can deadlock with a reader.
--
-- Both functions run as the owner (SECURITY DEFINER) with a fixed search_path, take the posting
-- lock of the day themselves (the advisory lock of journal_pipeline.ledger.lock_days, so a call
-- without it cannot interleave with a posting) and build every name from the date alone. The
-- pipeline's role needs neither CREATE on the schema nor ownership of the table, and loses INSERT
-- and DELETE on ledger.journal_lines: it can only replace a whole day's lines.
--
-- The DEFAULT partition holds rows written directly into the table for a day that has no
-- partition (an administrator's INSERT, a test's fixture): nothing is refused, and the day's next
-- posting replaces them like any other lines of the day.

CREATE FUNCTION ledger.day_table(base text, day date, suffix text DEFAULT '') RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT base || '_' || to_char(day, 'YYYYMMDD') || suffix $$;

COMMENT ON FUNCTION ledger.day_table(text, date, text) IS
    'The name of a day''s partition of a ledger table (journal_lines_20240705), or of its new copy (suffix _new)';

-- --- the partitioned tables, with the rows they already hold -----------------------------------
ALTER TABLE ledger.journal_lines RENAME TO journal_lines_unpartitioned;
ALTER INDEX ledger.journal_lines_pkey RENAME TO journal_lines_unpartitioned_pkey;
ALTER INDEX ledger.journal_lines_account_idx RENAME TO journal_lines_unpartitioned_account_idx;

CREATE TABLE ledger.journal_lines (
    journal_date date          NOT NULL,
    company_id   integer       NOT NULL,
    journal_type text          NOT NULL,
    journal_no   integer       NOT NULL,
    line_no      smallint      NOT NULL,
    txn_id       bigint        NOT NULL,
    account_code text          NOT NULL,
    period       integer       NOT NULL,
    dc           char(1)       NOT NULL CHECK (dc IN ('D', 'C')),
    amount_base  numeric(18,2) NOT NULL CHECK (amount_base >= 0),
    amount_txn   numeric       NOT NULL CHECK (amount_txn >= 0),
    currency     char(3)       NOT NULL,
    fx_rate      numeric(18,8) NOT NULL CHECK (fx_rate > 0),
    description  text,
    cost_center  text,
    counterparty text,
    document_ref text,
    PRIMARY KEY (journal_date, txn_id, line_no)
) PARTITION BY RANGE (journal_date);
CREATE INDEX journal_lines_account_idx ON ledger.journal_lines (company_id, account_code, period);
CREATE TABLE ledger.journal_lines_default PARTITION OF ledger.journal_lines DEFAULT;


-- the rows already posted, each day into a partition of its own
DO $$
DECLARE
    day date;
BEGIN
    FOR day IN SELECT DISTINCT journal_date FROM ledger.journal_lines_unpartitioned ORDER BY 1 LOOP
        EXECUTE format('CREATE TABLE ledger.%I PARTITION OF ledger.journal_lines FOR VALUES FROM (%L) TO (%L)',
                       ledger.day_table('journal_lines', day), day, day + 1);
    END LOOP;
END
$$;
INSERT INTO ledger.journal_lines SELECT * FROM ledger.journal_lines_unpartitioned;

-- the summary view reads the lines: rebuilt on the new table, as migration 0009 made it
DROP MATERIALIZED VIEW ledger.mv_journal_summary;
DROP TABLE ledger.journal_lines_unpartitioned;

CREATE MATERIALIZED VIEW ledger.mv_journal_summary AS
SELECT company_id,
       period,
       journal_type,
       account_code,
       count(*)                                                           AS line_count,
       coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0)::numeric(20,2) AS debit,
       coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0)::numeric(20,2) AS credit
FROM ledger.journal_lines
GROUP BY company_id, period, journal_type, account_code
WITH DATA;
CREATE UNIQUE INDEX mv_journal_summary_key
    ON ledger.mv_journal_summary (company_id, period, journal_type, account_code);
COMMENT ON MATERIALIZED VIEW ledger.mv_journal_summary IS
    'Journal lines per company, period, journal type and account: line count, debit and credit (base currency). '
    'Refreshed by weekly_maintenance_job; ledger.journal_lines is the source of truth.';

COMMENT ON TABLE ledger.journal_lines IS
    'Journal lines, one partition per posted day (journal_lines_YYYYMMDD), swapped in whole by ledger.close_day';

-- --- privileges ---------------------------------------------------------------------------------
GRANT SELECT ON ledger.journal_lines, ledger.mv_journal_summary TO journal_pipeline;
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'GRANT MAINTAIN ON ledger.journal_lines, ledger.journal_lines_default, ledger.mv_journal_summary '
                'TO journal_pipeline';
    END IF;
END
$$;

-- --- open_day / close_day -----------------------------------------------------------------------
CREATE FUNCTION ledger.open_day(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lines_new text := ledger.day_table('journal_lines', day, '_new');
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'ledger.open_day: the day is NULL';
    END IF;
    PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');  -- the day's posting lock
    EXECUTE format('DROP TABLE IF EXISTS ledger.%I', lines_new);
    EXECUTE format('CREATE TABLE ledger.%I (LIKE ledger.journal_lines_default INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   lines_new);
    EXECUTE format('GRANT SELECT, INSERT ON ledger.%I TO journal_pipeline', lines_new);
END
$$;

COMMENT ON FUNCTION ledger.open_day(date) IS
    'Posting, step 1: an empty, unindexed journal_lines_YYYYMMDD_new for the day''s lines';

-- Returns how many lines of the day it replaced.
CREATE FUNCTION ledger.close_day(day date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lines_new  text := ledger.day_table('journal_lines', day, '_new');
    lines_part text := ledger.day_table('journal_lines', day);
    replaced   bigint := 0;
    moved      bigint;
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'ledger.close_day: the day is NULL';
    END IF;
    PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');
    IF to_regclass(format('ledger.%I', lines_new)) IS NULL THEN
        RAISE EXCEPTION 'ledger.close_day(%): no new lines for the day; call ledger.open_day first', day;
    END IF;

    -- indexes and bounds of the new table, before any lock on the parent
    EXECUTE format('ALTER TABLE ledger.%I ADD CONSTRAINT %I PRIMARY KEY (journal_date, txn_id, line_no), '
                   'ADD CONSTRAINT %I CHECK (journal_date >= %L::date AND journal_date < %L::date)',
                   lines_new, lines_new || '_pkey', lines_new || '_bounds', day, day + 1);
    EXECUTE format('CREATE INDEX %I ON ledger.%I (company_id, account_code, period)', lines_new || '_account_idx',
                   lines_new);

    -- the swap
    IF to_regclass(format('ledger.%I', lines_part)) IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM ledger.%I', lines_part) INTO replaced;
        EXECUTE format('DROP TABLE ledger.%I', lines_part);
    END IF;
    DELETE FROM ledger.journal_lines_default WHERE journal_date = day;
    GET DIAGNOSTICS moved = ROW_COUNT;
    replaced := replaced + moved;
    EXECUTE format('ALTER TABLE ledger.%I RENAME TO %I', lines_new, lines_part);
    EXECUTE format('ALTER TABLE ledger.%I RENAME CONSTRAINT %I TO %I', lines_part, lines_new || '_pkey', lines_part || '_pkey');
    EXECUTE format('ALTER TABLE ledger.%I RENAME CONSTRAINT %I TO %I', lines_part, lines_new || '_bounds',
                   lines_part || '_bounds');
    EXECUTE format('ALTER INDEX ledger.%I RENAME TO %I', lines_new || '_account_idx', lines_part || '_account_idx');
    -- what open_day granted; the MAINTAIN of the schema's default privileges (17+) stays, for VACUUM
    EXECUTE format('REVOKE SELECT, INSERT ON ledger.%I FROM journal_pipeline', lines_part);
    EXECUTE format('ALTER TABLE ledger.journal_lines ATTACH PARTITION ledger.%I FOR VALUES FROM (%L) TO (%L)',
                   lines_part, day, day + 1);
    RETURN replaced;
END
$$;

COMMENT ON FUNCTION ledger.close_day(date) IS
    'Posting, step 3: index the day''s new lines and swap them in for its partition; returns the lines replaced';

REVOKE EXECUTE ON FUNCTION ledger.open_day(date), ledger.close_day(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.open_day(date), ledger.close_day(date) TO journal_pipeline;
REVOKE INSERT, DELETE ON ledger.journal_lines FROM journal_pipeline;
