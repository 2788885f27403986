-- Ground truth of the synthetic data: which rows the generator made invalid (SPEC section 3)
-- and which it planted as anomalies (SPEC section 5). The pipeline never reads this schema
-- (its role has no privilege here); only `fraud-eval` and the tests do.

CREATE SCHEMA IF NOT EXISTS eval;

CREATE TABLE eval.ground_truth (
    txn_id   bigint NOT NULL,
    category text   NOT NULL CHECK (category IN ('invalid', 'anomaly')),
    kind     text   NOT NULL,
    detail   text,
    PRIMARY KEY (txn_id, kind)
);
CREATE INDEX ground_truth_kind_idx ON eval.ground_truth (category, kind);

-- One row per seed invocation, so that seeding again can add new days cleanly or refuse.
CREATE TABLE eval.seed_runs (
    seed_run_id   bigserial PRIMARY KEY,
    seed          bigint      NOT NULL,
    start_date    date        NOT NULL,
    days          integer     NOT NULL,
    companies     integer     NOT NULL,
    txns_per_day  integer     NOT NULL,
    first_txn_id  bigint      NOT NULL,
    last_txn_id   bigint      NOT NULL,
    seeded_at     timestamptz NOT NULL DEFAULT now()
);
