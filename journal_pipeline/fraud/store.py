"""``ledger.fraud_scores``: writing a window's scores, checking them, reading them back.

Like the rest of the ledger (journal_pipeline.ledger), a window is replaced in one transaction
under the same per-day advisory locks as the posting, so a rerun leaves the same rows, a crash
leaves the previous ones, and a run scoring a day waits for a run posting it. Like the journal
lines, the table is partitioned by day (sql/migrations/0012_day_partitions_vouchers_scores.sql):
a day's scores are COPY'd into a bare table of their own (``ledger.open_scores_day``), indexed
once loaded and swapped in for the day's partition (``ledger.close_scores_day``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg
from psycopg import sql

from journal_pipeline.db.copy import copy_to_polars
from journal_pipeline.fraud.score import SCORE_SCHEMA
from journal_pipeline.ledger import copy_into_new_day_table, days_between, lock_days


def replace_scores(
    conn: psycopg.Connection,
    first_day: dt.date,
    last_day: dt.date,
    scores: pl.DataFrame,
) -> int:
    """Replace the scores of first_day..last_day by ``scores`` (SCORE_SCHEMA) inside the caller's
    transaction; returns the number of rows replaced. The caller commits after its checks."""
    outside = scores.filter(~pl.col("journal_date").is_between(first_day, last_day))
    if outside.height:
        where = f"{first_day}..{last_day}"
        raise ValueError(f"{outside.height} fraud scores lie outside {where}: nothing was written")
    days = days_between(first_day, last_day)
    lock_days(conn, days)
    scores = scores.select(list(SCORE_SCHEMA))
    for day in days:
        conn.execute("SELECT ledger.open_scores_day(%s)", (day,))
        copy_into_new_day_table(conn, "fraud_scores", day, scores)
    replaced = 0
    for day in days:  # last: replacing a day's partition locks ledger.fraud_scores exclusively until COMMIT
        row = conn.execute("SELECT ledger.close_scores_day(%s)", (day,)).fetchone()
        replaced += row[0] if row else 0
    return replaced


# Every posted transaction of the window (a voucher) with exactly one score in [0, 1], and no
# score without a voucher. The primary key allows at most one score per day and transaction.
SCORE_COVERAGE_QUERY = """
SELECT coalesce(v.journal_date, f.journal_date) AS journal_date, coalesce(v.txn_id, f.txn_id) AS txn_id,
       CASE WHEN f.txn_id IS NULL THEN 'posted but not scored'
            WHEN v.txn_id IS NULL THEN 'scored but not posted'
            ELSE 'risk_score ' || f.risk_score::text || ' outside [0, 1]' END AS problem
FROM (SELECT journal_date, txn_id FROM ledger.vouchers WHERE journal_date BETWEEN %(first)s AND %(last)s) v
FULL JOIN (SELECT journal_date, txn_id, risk_score FROM ledger.fraud_scores
           WHERE journal_date BETWEEN %(first)s AND %(last)s) f
     ON f.journal_date = v.journal_date AND f.txn_id = v.txn_id
WHERE f.txn_id IS NULL OR v.txn_id IS NULL OR f.risk_score < 0 OR f.risk_score > 1
ORDER BY 1, 2
LIMIT 1000
"""


def score_coverage_problems(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> pl.DataFrame:
    """(journal_date, txn_id, problem) for every posted transaction of the window without exactly
    one score in [0, 1], as the database holds them (at most 1,000 listed)."""
    rows = conn.execute(SCORE_COVERAGE_QUERY, {"first": first_day, "last": last_day}).fetchall()  # type: ignore[arg-type]
    return pl.DataFrame(
        rows, schema={"journal_date": pl.Date(), "txn_id": pl.Int64(), "problem": pl.String()}, orient="row"
    )


RISKIEST_QUERY = """
SELECT journal_date, txn_id, company_id, risk_score::text AS risk_score, reasons::text AS reasons,
       model_version
FROM ledger.fraud_scores
WHERE journal_date BETWEEN {first_day} AND {last_day}
ORDER BY risk_score DESC, journal_date, txn_id
LIMIT {top}
"""


def riskiest(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date, top: int) -> pl.DataFrame:
    """The ``top`` highest scores of the range (ties in date and txn_id order)."""
    query = sql.SQL(RISKIEST_QUERY).format(
        first_day=sql.Literal(first_day), last_day=sql.Literal(last_day), top=sql.Literal(top)
    )
    schema = {
        "journal_date": pl.Date(),
        "txn_id": pl.Int64(),
        "company_id": pl.Int32(),
        "risk_score": pl.String(),
        "reasons": pl.String(),
        "model_version": pl.String(),
    }
    return copy_to_polars(conn, query, schema)  # type: ignore[arg-type]


SUMMARY_QUERY = """
SELECT count(*) AS scored, count(*) FILTER (WHERE risk_score > 0) AS flagged,
       array_to_string(array_agg(DISTINCT model_version), ', ') AS model_versions
FROM ledger.fraud_scores WHERE journal_date BETWEEN %s AND %s
"""


def summary(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> tuple[int, int, str]:
    """(scored transactions, transactions with a reason, model versions) of the range."""
    row = conn.execute(SUMMARY_QUERY, (first_day, last_day)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), row[2] or ""
