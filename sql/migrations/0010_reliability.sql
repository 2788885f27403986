-- Reliability (README "Reliability"): closed periods, a record of what each posting covered, and
-- the last privileges the pipeline's role did not need.

-- --- closed periods -------------------------------------------------------------------------------
-- A closed accounting period (SunSystems YYYYPPP, PPP the month) refuses reposting: gl_postings
-- checks this table under its day locks, before anything is written, and fails the run naming the
-- period (journal_pipeline/periods.py). Finance closes and reopens periods as the admin role; the
-- pipeline's role may only read them. company_id NULL closes the period for every company.
CREATE TABLE ledger.closed_periods (
    period     integer     NOT NULL CHECK (period % 1000 BETWEEN 1 AND 12 AND period / 1000 BETWEEN 1900 AND 9999),
    company_id integer,
    closed_at  timestamptz NOT NULL DEFAULT now(),
    closed_by  text        NOT NULL DEFAULT current_user,
    note       text
);
CREATE UNIQUE INDEX closed_periods_key ON ledger.closed_periods (period, coalesce(company_id, -1));

COMMENT ON TABLE ledger.closed_periods IS
    'Closed accounting periods (YYYYPPP; company_id NULL = every company): the pipeline refuses to repost into them';

-- Closing a period takes the per-day posting locks of its days (journal_pipeline.ledger.lock_days:
-- namespace 19020 = 0x4A4C, days since 1970-01-01), in date order like a posting does, so a close
-- waits for the postings of those days that are under way, and every posting that starts after
-- the close has committed sees it. No deadlock: both take the locks in ascending date order.
CREATE FUNCTION ledger.lock_days_of_closed_period() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := make_date(NEW.period / 1000, NEW.period % 1000, 1);
    day       date;
BEGIN
    FOR day IN
        SELECT d::date FROM generate_series(first_day, first_day + interval '1 month' - interval '1 day', interval '1 day') AS d
    LOOP
        PERFORM pg_advisory_xact_lock(19020, day - date '1970-01-01');
    END LOOP;
    RETURN NEW;
END
$$;

CREATE TRIGGER closed_periods_wait_for_postings BEFORE INSERT OR UPDATE ON ledger.closed_periods
    FOR EACH ROW EXECUTE FUNCTION ledger.lock_days_of_closed_period();

-- --- what each posting covered --------------------------------------------------------------------
-- One row per posted day, written by gl_postings in the posting's own transaction from the rows it
-- has just written: the transactions it accounted for (posted + quarantined, with an md5 of their
-- sorted txn_ids) and the line count and totals that the day's seal must then show. Derived only
-- from the ledger rows, so a rerun leaves the same row. The late-data sensor
-- (journal_pipeline/defs/late_data.py) compares it with the source and with the day's latest seal.
CREATE TABLE ledger.posted_days (
    journal_date date          PRIMARY KEY,
    transactions bigint        NOT NULL CHECK (transactions >= 0),
    txn_ids_md5  text          NOT NULL,
    line_count   bigint        NOT NULL CHECK (line_count >= 0),
    total_debit  numeric(38,2) NOT NULL,
    total_credit numeric(38,2) NOT NULL
);

-- --- least privilege ------------------------------------------------------------------------------
GRANT SELECT ON ledger.closed_periods TO journal_pipeline;
GRANT SELECT, INSERT, DELETE ON ledger.posted_days TO journal_pipeline;

-- Functions are executable by PUBLIC unless revoked. The pipeline's role has no business calling
-- the legacy function (it could not write its tables anyway) or a trigger function.
REVOKE EXECUTE ON FUNCTION legacy.fn_insert_sun_journal(date, integer), legacy.try_numeric(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ledger.lock_days_of_closed_period(), audit.refuse_change(), audit.seal_extends_chain(),
    audit.event_extends_chain() FROM PUBLIC;
