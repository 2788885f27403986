-- What the legacy function fn_insert_sun_journal writes (SPEC section 3), with the indexes
-- of the original design: GIN on the line details, (journal_date, journal_type).

CREATE TABLE legacy.sun_journal (
    journal_line_id bigserial PRIMARY KEY,
    company_id      integer       NOT NULL,
    journal_date    date          NOT NULL,
    journal_type    text          NOT NULL,
    journal_no      bigint        NOT NULL,
    line_no         smallint      NOT NULL,
    txn_id          bigint        NOT NULL,
    account_code    text          NOT NULL,
    period          integer       NOT NULL,
    dc              char(1)       NOT NULL,
    amount_base     numeric(18,2) NOT NULL,
    -- amount_txn, currency, fx_rate, description, cost_center, counterparty, document_ref, ...
    data            jsonb         NOT NULL
);
CREATE INDEX sun_journal_data_gin_idx ON legacy.sun_journal USING gin (data);
CREATE INDEX sun_journal_date_type_idx ON legacy.sun_journal (journal_date, journal_type);
CREATE INDEX sun_journal_txn_idx ON legacy.sun_journal (txn_id);

CREATE SEQUENCE legacy.journal_no_seq;

CREATE TABLE legacy.vouchers (
    journal_no   bigint PRIMARY KEY,
    company_id   integer       NOT NULL,
    journal_date date          NOT NULL,
    journal_type text          NOT NULL,
    txn_id       bigint        NOT NULL,
    line_count   integer       NOT NULL,
    total_debit  numeric(18,2) NOT NULL,
    total_credit numeric(18,2) NOT NULL
);
CREATE INDEX vouchers_day_idx ON legacy.vouchers (journal_date, company_id);

CREATE TABLE legacy.gl_entries (
    company_id   integer       NOT NULL,
    account_code text          NOT NULL,
    period       integer       NOT NULL,
    debit        numeric(20,2) NOT NULL DEFAULT 0,
    credit       numeric(20,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, account_code, period)
);
