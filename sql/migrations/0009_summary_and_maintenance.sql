-- The journal summary that reports read instead of scanning every journal line, and the privileges
-- the pipeline's role needs to maintain the ledger (journal_pipeline/defs/maintenance.py: a weekly
-- ANALYZE and REFRESH MATERIALIZED VIEW CONCURRENTLY, a monthly VACUUM ANALYZE).
--
-- The summary is as fresh as its last refresh (weekly, or `weekly_maintenance_job` on demand); the
-- ledger tables stay the source of truth. Safe to run twice.

CREATE MATERIALIZED VIEW IF NOT EXISTS ledger.mv_journal_summary AS
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

-- REFRESH ... CONCURRENTLY (readers keep the old rows until the new ones are committed) needs a
-- unique index over plain columns that covers every row.
CREATE UNIQUE INDEX IF NOT EXISTS mv_journal_summary_key
    ON ledger.mv_journal_summary (company_id, period, journal_type, account_code);

COMMENT ON MATERIALIZED VIEW ledger.mv_journal_summary IS
    'Journal lines per company, period, journal type and account: line count, debit and credit (base currency). '
    'Refreshed by weekly_maintenance_job; ledger.journal_lines is the source of truth.';

GRANT SELECT ON ledger.mv_journal_summary TO journal_pipeline;

-- MAINTAIN (PostgreSQL 17+) allows VACUUM, ANALYZE, REFRESH MATERIALIZED VIEW, REINDEX, CLUSTER and
-- LOCK TABLE, and nothing that reads or changes a row: granted on the ledger schema only, now and
-- for the tables later migrations create there. PostgreSQL 16 and older have no such privilege
-- (only a table's owner may maintain it): there, maintenance runs as the owner, named by
-- JOURNAL_MAINTENANCE_DATABASE_URL, and the pipeline's role stays as it is.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'GRANT MAINTAIN ON ALL TABLES IN SCHEMA ledger TO journal_pipeline';
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ledger GRANT MAINTAIN ON TABLES TO journal_pipeline';
    ELSE
        RAISE NOTICE 'PostgreSQL % has no MAINTAIN privilege: set JOURNAL_MAINTENANCE_DATABASE_URL to the '
            'ledger tables'' owner for the maintenance jobs', current_setting('server_version');
    END IF;
END
$$;
