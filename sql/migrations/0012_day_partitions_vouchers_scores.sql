-- ledger.vouchers and ledger.fraud_scores partitioned by day and swapped in whole, as
-- ledger.journal_lines is since 0011 (which explains the why and the locking).
--
-- Why: a repost of a day deleted its 124,000 vouchers and 124,000 scores (at the reference scale)
-- and COPY'd the new ones into tables of millions of rows, maintaining two unique B-trees row by
-- row past the dead entries of the rows just deleted: about 0.5 s for the vouchers and 0.4 s for
-- the scores. A bare table of the day, indexed once loaded and swapped in, takes about a third of
-- that, and leaves no dead rows to VACUUM.
--
-- One mechanism for the three tables, read from the catalog instead of written out per table:
--   ledger.new_day_table(base, day)      an empty, unindexed <base>_YYYYMMDD_new like the table
--   ledger.index_new_day_table(base, day) its CHECK of the day's bounds, and every index and
--                                         PRIMARY KEY/UNIQUE constraint of the table (named
--                                         <base>_YYYYMMDD_<suffix>, as the table's own)
--   ledger.swap_in_day_table(base, day)  drop the day's old partition, move the day's rows out of
--                                         the DEFAULT partition, rename the new table and attach it;
--                                         returns the rows it replaced
-- They are the owner's only (no EXECUTE for anybody): the pipeline calls them through
--   ledger.open_day(day) / ledger.close_day(day)               journal lines and vouchers, posting
--   ledger.open_scores_day(day) / ledger.close_scores_day(day) fraud scores
-- which take the day's posting lock themselves and accept no table name.
--
-- Locks: the posting now swaps two tables in one transaction. Attaching a new day takes SHARE
-- UPDATE EXCLUSIVE on each parent, which readers do not wait for. Replacing a day drops its old
-- partitions, which takes ACCESS EXCLUSIVE on both parents until COMMIT; a reader that holds one
-- of them (FROM vouchers JOIN journal_lines) while waiting for the other would deadlock with a
-- posting that holds the other, so close_day takes the two in one subtransaction, the second
-- without waiting, and if it is busy lets go of both, sleeps a moment and tries again: it never
-- waits for one parent while it holds the other.

-- --- the mechanism -----------------------------------------------------------------------------
CREATE FUNCTION ledger.new_day_table(base text, day date) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_table text := ledger.day_table(base, day, '_new');
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS ledger.%I', new_table);
    EXECUTE format('CREATE TABLE ledger.%I (LIKE ledger.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   new_table, base || '_default');
    EXECUTE format('GRANT SELECT, INSERT ON ledger.%I TO journal_pipeline', new_table);
END
$$;

CREATE FUNCTION ledger.index_new_day_table(base text, day date) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_table text := ledger.day_table(base, day, '_new');
    index     record;
BEGIN
    IF to_regclass(format('ledger.%I', new_table)) IS NULL THEN
        RAISE EXCEPTION 'no new % for %: the day''s open function was not called first', base, day;
    END IF;
    EXECUTE format('ALTER TABLE ledger.%I ADD CONSTRAINT %I CHECK (journal_date >= %L::date AND journal_date < %L::date)',
                   new_table, new_table || '_bounds', day, day + 1);
    -- the table's own indexes, each under the name its partitions give it: <base>_<suffix> of the
    -- table becomes <new_table>_<suffix>; a PRIMARY KEY or UNIQUE constraint stays one, so that
    -- ATTACH adopts it instead of building another
    FOR index IN
        SELECT substr(i.relname, length(base) + 2) AS suffix, c.oid AS constraint_oid,
               pg_get_indexdef(x.indexrelid) AS definition, x.indisunique AS is_unique
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
        WHERE x.indrelid = format('ledger.%I', base)::regclass
        ORDER BY i.relname
    LOOP
        IF index.constraint_oid IS NOT NULL THEN
            EXECUTE format('ALTER TABLE ledger.%I ADD CONSTRAINT %I %s', new_table, new_table || '_' || index.suffix,
                           pg_get_constraintdef(index.constraint_oid));
        ELSE
            EXECUTE format('CREATE %sINDEX %I ON ledger.%I %s', CASE WHEN index.is_unique THEN 'UNIQUE ' ELSE '' END,
                           new_table || '_' || index.suffix, new_table,
                           substring(index.definition FROM ' USING .*$'));
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION ledger.swap_in_day_table(base text, day date) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_table text := ledger.day_table(base, day, '_new');
    partition text := ledger.day_table(base, day);
    replaced  bigint := 0;
    moved     bigint;
    named     record;
BEGIN
    IF to_regclass(format('ledger.%I', partition)) IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM ledger.%I', partition) INTO replaced;
        EXECUTE format('DROP TABLE ledger.%I', partition);
    END IF;
    EXECUTE format('DELETE FROM ledger.%I WHERE journal_date = %L', base || '_default', day);
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE ledger.%I RENAME TO %I', new_table, partition);
    FOR named IN SELECT conname, contype FROM pg_constraint
                 WHERE conrelid = format('ledger.%I', partition)::regclass AND conname LIKE new_table || '\_%'
    LOOP
        EXECUTE format('ALTER TABLE ledger.%I RENAME CONSTRAINT %I TO %I', partition, named.conname,
                       partition || substr(named.conname, length(new_table) + 1));
    END LOOP;
    FOR named IN SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = format('ledger.%I', partition)::regclass AND i.relname LIKE new_table || '\_%'
    LOOP
        EXECUTE format('ALTER INDEX ledger.%I RENAME TO %I', named.relname,
                       partition || substr(named.relname, length(new_table) + 1));
    END LOOP;
    -- what new_day_table granted; the MAINTAIN of the schema's default privileges (17+) stays
    EXECUTE format('REVOKE SELECT, INSERT ON ledger.%I FROM journal_pipeline', partition);
    EXECUTE format('ALTER TABLE ledger.%I ATTACH PARTITION ledger.%I FOR VALUES FROM (%L) TO (%L)',
                   base, partition, day, day + 1);
    RETURN replaced + moved;
END
$$;

-- ACCESS EXCLUSIVE on every parent of ``bases`` whose day partition is about to be dropped, taken
-- without ever waiting for one while holding another (see the locks above).
CREATE FUNCTION ledger.lock_for_replacing(bases text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base text;
    first boolean;
BEGIN
    LOOP
        BEGIN
            first := true;
            FOREACH base IN ARRAY bases LOOP
                IF first THEN  -- holding none of them yet, it may wait as long as it takes
                    EXECUTE format('LOCK TABLE ledger.%I IN ACCESS EXCLUSIVE MODE', base);
                    first := false;
                ELSE
                    EXECUTE format('LOCK TABLE ledger.%I IN ACCESS EXCLUSIVE MODE NOWAIT', base);
                END IF;
            END LOOP;
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            -- the subtransaction's locks are gone with it: a reader waiting for them goes on
            PERFORM pg_sleep(0.05 + random() * 0.05);
        END;
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION ledger.new_day_table(text, date), ledger.index_new_day_table(text, date),
    ledger.swap_in_day_table(text, date), ledger.lock_for_replacing(text[]) FROM PUBLIC;

-- --- the partitioned tables, with the rows they already hold -----------------------------------
ALTER TABLE ledger.vouchers RENAME TO vouchers_unpartitioned;
ALTER TABLE ledger.vouchers_unpartitioned RENAME CONSTRAINT vouchers_pkey TO vouchers_unpartitioned_pkey;
ALTER TABLE ledger.vouchers_unpartitioned RENAME CONSTRAINT vouchers_journal_date_txn_id_key
    TO vouchers_unpartitioned_journal_date_txn_id_key;
ALTER TABLE ledger.vouchers_unpartitioned RENAME CONSTRAINT voucher_balances TO vouchers_unpartitioned_balances;

CREATE TABLE ledger.vouchers (
    journal_date     date          NOT NULL,
    company_id       integer       NOT NULL,
    journal_type     text          NOT NULL,
    journal_no       integer       NOT NULL,
    txn_id           bigint        NOT NULL,
    period           integer       NOT NULL,
    currency         char(3)       NOT NULL,
    line_count       smallint      NOT NULL CHECK (line_count IN (2, 3)),
    total_debit      numeric(18,2) NOT NULL,
    total_credit     numeric(18,2) NOT NULL,
    total_debit_txn  numeric       NOT NULL,
    total_credit_txn numeric       NOT NULL,
    PRIMARY KEY (journal_date, company_id, journal_no),
    UNIQUE (journal_date, txn_id),
    CONSTRAINT voucher_balances CHECK (total_debit = total_credit AND total_debit_txn = total_credit_txn)
) PARTITION BY RANGE (journal_date);
CREATE TABLE ledger.vouchers_default PARTITION OF ledger.vouchers DEFAULT;

ALTER TABLE ledger.fraud_scores RENAME TO fraud_scores_unpartitioned;
ALTER TABLE ledger.fraud_scores_unpartitioned RENAME CONSTRAINT fraud_scores_pkey TO fraud_scores_unpartitioned_pkey;
ALTER INDEX ledger.fraud_scores_risk_idx RENAME TO fraud_scores_unpartitioned_risk_idx;

CREATE TABLE ledger.fraud_scores (
    journal_date  date         NOT NULL,
    txn_id        bigint       NOT NULL,
    company_id    integer      NOT NULL,
    risk_score    numeric(5,4) NOT NULL CHECK (risk_score >= 0 AND risk_score <= 1),
    reasons       jsonb        NOT NULL,
    model_version text         NOT NULL,
    PRIMARY KEY (journal_date, txn_id)
) PARTITION BY RANGE (journal_date);
CREATE INDEX fraud_scores_risk_idx ON ledger.fraud_scores (journal_date, risk_score DESC);
CREATE TABLE ledger.fraud_scores_default PARTITION OF ledger.fraud_scores DEFAULT;

DO $$
DECLARE
    base text;
    day  date;
BEGIN
    FOREACH base IN ARRAY ARRAY['vouchers', 'fraud_scores'] LOOP
        FOR day IN EXECUTE format('SELECT DISTINCT journal_date FROM ledger.%I ORDER BY 1', base || '_unpartitioned') LOOP
            EXECUTE format('CREATE TABLE ledger.%I PARTITION OF ledger.%I FOR VALUES FROM (%L) TO (%L)',
                           ledger.day_table(base, day), base, day, day + 1);
        END LOOP;
    END LOOP;
END
$$;
INSERT INTO ledger.vouchers SELECT * FROM ledger.vouchers_unpartitioned;
INSERT INTO ledger.fraud_scores SELECT * FROM ledger.fraud_scores_unpartitioned;
DROP TABLE ledger.vouchers_unpartitioned, ledger.fraud_scores_unpartitioned;

COMMENT ON TABLE ledger.vouchers IS
    'One voucher (journal header) per posted transaction, one partition per posted day, swapped in by ledger.close_day';
COMMENT ON TABLE ledger.fraud_scores IS
    'The fraud score of every posted transaction, one partition per scored day, swapped in by ledger.close_scores_day';

-- --- privileges: the pipeline replaces whole days, through the functions below ------------------
GRANT SELECT ON ledger.vouchers, ledger.fraud_scores TO journal_pipeline;
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'GRANT MAINTAIN ON ledger.vouchers, ledger.vouchers_default, ledger.fraud_scores, '
                'ledger.fraud_scores_default TO journal_pipeline';
    END IF;
END
$$;

-- --- posting: journal lines and vouchers ---------------------------------------------------------
DROP FUNCTION ledger.open_day(date);
DROP FUNCTION ledger.close_day(date);

CREATE FUNCTION ledger.open_day(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'ledger.open_day: the day is NULL';
    END IF;
    PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');  -- the day's posting lock
    PERFORM ledger.new_day_table('journal_lines', day);
    PERFORM ledger.new_day_table('vouchers', day);
END
$$;

COMMENT ON FUNCTION ledger.open_day(date) IS
    'Posting, step 1: empty, unindexed journal_lines_YYYYMMDD_new and vouchers_YYYYMMDD_new for the day';

CREATE FUNCTION ledger.close_day(day date, OUT journal_lines bigint, OUT vouchers bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'ledger.close_day: the day is NULL';
    END IF;
    PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');
    IF to_regclass(format('ledger.%I', ledger.day_table('journal_lines', day, '_new'))) IS NULL
       OR to_regclass(format('ledger.%I', ledger.day_table('vouchers', day, '_new'))) IS NULL THEN
        RAISE EXCEPTION 'ledger.close_day(%): no new lines or vouchers for the day; call ledger.open_day first', day;
    END IF;
    -- indexes first, before any lock on the parents
    PERFORM ledger.index_new_day_table('journal_lines', day);
    PERFORM ledger.index_new_day_table('vouchers', day);
    IF to_regclass(format('ledger.%I', ledger.day_table('journal_lines', day))) IS NOT NULL
       OR to_regclass(format('ledger.%I', ledger.day_table('vouchers', day))) IS NOT NULL THEN
        PERFORM ledger.lock_for_replacing(ARRAY['journal_lines', 'vouchers']);
    END IF;
    journal_lines := ledger.swap_in_day_table('journal_lines', day);
    vouchers := ledger.swap_in_day_table('vouchers', day);
END
$$;

COMMENT ON FUNCTION ledger.close_day(date) IS
    'Posting, step 3: index the day''s new lines and vouchers and swap them in for its partitions; returns the rows replaced';

-- --- fraud scoring ---------------------------------------------------------------------------------
CREATE FUNCTION ledger.open_scores_day(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'ledger.open_scores_day: the day is NULL';
    END IF;
    PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');
    PERFORM ledger.new_day_table('fraud_scores', day);
END
$$;

COMMENT ON FUNCTION ledger.open_scores_day(date) IS
    'Fraud scoring, step 1: an empty, unindexed fraud_scores_YYYYMMDD_new for the day';

CREATE FUNCTION ledger.close_scores_day(day date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF day IS NULL THEN
        RAISE EXCEPTION 'ledger.close_scores_day: the day is NULL';
    END IF;
    PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');
    IF to_regclass(format('ledger.%I', ledger.day_table('fraud_scores', day, '_new'))) IS NULL THEN
        RAISE EXCEPTION 'ledger.close_scores_day(%): no new scores for the day; call ledger.open_scores_day first', day;
    END IF;
    PERFORM ledger.index_new_day_table('fraud_scores', day);
    RETURN ledger.swap_in_day_table('fraud_scores', day);
END
$$;

COMMENT ON FUNCTION ledger.close_scores_day(date) IS
    'Fraud scoring, step 2: index the day''s new scores and swap them in for its partition; returns the rows replaced';

REVOKE EXECUTE ON FUNCTION ledger.open_day(date), ledger.close_day(date), ledger.open_scores_day(date),
    ledger.close_scores_day(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.open_day(date), ledger.close_day(date), ledger.open_scores_day(date),
    ledger.close_scores_day(date) TO journal_pipeline;
REVOKE INSERT, DELETE ON ledger.vouchers, ledger.fraud_scores FROM journal_pipeline;
