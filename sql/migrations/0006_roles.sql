-- Least privilege: the pipeline's role reads the source contract and writes the ledger; it has
-- no access to the legacy outputs or to the ground truth in eval. Roles are cluster-wide, hence
-- the existence check; privileges are per database. On a managed server, give the role a
-- password (ALTER ROLE journal_pipeline PASSWORD ...) and set JOURNAL_PIPELINE_DATABASE_URL.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'journal_pipeline') THEN
        CREATE ROLE journal_pipeline LOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA legacy TO journal_pipeline;
GRANT SELECT ON legacy.companies, legacy.accounts, legacy.posting_rules, legacy.fx_rates, legacy.users,
    legacy.src_transactions TO journal_pipeline;

GRANT USAGE ON SCHEMA ledger TO journal_pipeline;
GRANT SELECT, INSERT, DELETE ON ledger.journal_lines, ledger.vouchers, ledger.gl_daily, ledger.quarantine,
    ledger.fraud_scores TO journal_pipeline;
GRANT SELECT ON ledger.gl_balances TO journal_pipeline;
