-- The source contract (SPEC section 2): the legacy sub-ledger the pipeline reads.
-- Deliberately loose, like the system it models: src_transactions has no foreign keys and
-- nullable columns, because real sources hold rows that do not follow the rules, and the
-- pipeline must quarantine those rather than be protected from them here.

CREATE SCHEMA IF NOT EXISTS legacy;

CREATE TABLE legacy.companies (
    company_id    integer PRIMARY KEY,
    name          text NOT NULL,
    base_currency char(3),
    timezone      text
);

CREATE TABLE legacy.accounts (
    company_id   integer NOT NULL,
    account_code text    NOT NULL,
    account_name text    NOT NULL,
    account_type text    NOT NULL CHECK (account_type IN ('ASSET', 'LIABILITY', 'EQUITY', 'REVENUE', 'EXPENSE')),
    is_suspense  boolean NOT NULL DEFAULT false,
    is_active    boolean NOT NULL DEFAULT true,
    PRIMARY KEY (company_id, account_code)
);

CREATE TABLE legacy.posting_rules (
    company_id     integer NOT NULL,
    txn_type       text    NOT NULL,
    journal_type   text    NOT NULL,
    net_account    text    NOT NULL,
    net_side       char(1) NOT NULL CHECK (net_side IN ('D', 'C')),
    tax_account    text,
    contra_account text    NOT NULL,
    PRIMARY KEY (company_id, txn_type)
);

-- Units of base_currency for one unit of currency.
CREATE TABLE legacy.fx_rates (
    rate_date     date          NOT NULL,
    currency      char(3)       NOT NULL,
    base_currency char(3)       NOT NULL,
    rate          numeric(18,8) NOT NULL,
    PRIMARY KEY (rate_date, currency, base_currency)
);
CREATE INDEX fx_rates_lookup_idx ON legacy.fx_rates (currency, base_currency, rate_date);

CREATE TABLE legacy.users (
    user_id        text PRIMARY KEY,
    display_name   text NOT NULL,
    approval_limit numeric(18,2)
);

CREATE TABLE legacy.src_transactions (
    txn_id        bigint PRIMARY KEY,
    company_id    integer,
    txn_date      date,
    created_at    timestamptz,
    source_system text,
    txn_type      text,
    created_by    text,
    approved_by   text,
    data          jsonb
);
CREATE INDEX src_transactions_day_idx ON legacy.src_transactions (txn_date, company_id);
