-- What the pipeline writes (SPEC section 4). Every table is keyed by journal_date, the daily
-- partition, so that posting a day is "delete exactly that day, then insert it" in one
-- transaction: a rerun leaves the same rows, a crash leaves the previous ones.
--
-- Ledger invariants, checked by the pipeline's asset checks and by the tests:
--   1. every voucher balances: total_debit = total_credit (base and transaction currency);
--   2. the GL is the sum of its lines, per (company, account, period);
--   3. for every day, posted transactions + quarantined transactions = extracted transactions.

CREATE SCHEMA IF NOT EXISTS ledger;

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
);
CREATE INDEX journal_lines_account_idx ON ledger.journal_lines (company_id, account_code, period);

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
);

-- The GL by day, so that a day can be replaced exactly; gl_balances sums it per period.
CREATE TABLE ledger.gl_daily (
    journal_date date          NOT NULL,
    company_id   integer       NOT NULL,
    account_code text          NOT NULL,
    period       integer       NOT NULL,
    debit        numeric(20,2) NOT NULL,
    credit       numeric(20,2) NOT NULL,
    PRIMARY KEY (journal_date, company_id, account_code)
);
CREATE INDEX gl_daily_period_idx ON ledger.gl_daily (company_id, period, account_code);

CREATE VIEW ledger.gl_balances AS
SELECT company_id, account_code, period, sum(debit) AS debit, sum(credit) AS credit
FROM ledger.gl_daily
GROUP BY company_id, account_code, period;

-- A transaction that could not be posted: why (a stable code and a sentence) and the raw row.
CREATE TABLE ledger.quarantine (
    journal_date date   NOT NULL,
    txn_id       bigint NOT NULL,
    company_id   integer,
    reason       text   NOT NULL,
    detail       text   NOT NULL,
    raw          jsonb  NOT NULL,
    PRIMARY KEY (journal_date, txn_id)
);
CREATE INDEX quarantine_reason_idx ON ledger.quarantine (reason, journal_date);

CREATE TABLE ledger.fraud_scores (
    journal_date  date         NOT NULL,
    txn_id        bigint       NOT NULL,
    company_id    integer      NOT NULL,
    risk_score    numeric(5,4) NOT NULL CHECK (risk_score >= 0 AND risk_score <= 1),
    reasons       jsonb        NOT NULL,
    model_version text         NOT NULL,
    PRIMARY KEY (journal_date, txn_id)
);
CREATE INDEX fraud_scores_risk_idx ON ledger.fraud_scores (journal_date, risk_score DESC);
