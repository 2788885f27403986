"""Writing the ledger (SPEC section 4): a window of days replaced in one transaction.

``post_days`` replaces exactly the days' rows of ledger.journal_lines, vouchers, gl_daily and
quarantine, all in one transaction under a per-day advisory lock. A rerun therefore leaves the
same rows; a crash (or a failed check inside the transaction) leaves the previous ones; two runs
of the same day wait for each other instead of double-posting.

ledger.journal_lines and ledger.vouchers, the big ones, are partitioned by day
(sql/migrations/0011_day_partitions.sql and 0012, which explain the locking): a day's lines and
vouchers are COPY'd into new, unindexed tables of their own (``ledger.open_day``), indexed once
loaded and swapped in for the day's partitions (``ledger.close_day``), which is cheaper than
maintaining the indexes row by row and than deleting the previous rows. GL rows and quarantine,
a few hundred a day, are deleted and COPY'd. Replacing a day's partitions locks their tables
exclusively until COMMIT, so the swap comes last.

Under the locks and before anything is written it refuses days in a closed period
(journal_pipeline.periods); after the COPY it records what each day now holds in
``ledger.posted_days``, in the same transaction (the late-data sensor reads it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from journal_pipeline.db.copy import copy_from_polars, copy_to_polars
from journal_pipeline.domain.frames import rows_of_day
from journal_pipeline.domain.gl import GL_AMOUNT
from journal_pipeline.domain.invariants import UNACCOUNTED_SCHEMA, unaccounted_transactions
from journal_pipeline.periods import refuse_closed_periods

LEDGER_TABLES = ("journal_lines", "vouchers", "gl_daily", "quarantine")
SWAPPED_IN = ("journal_lines", "vouchers")  # a day's table each, built and swapped in by ledger.close_day
REPLACED_IN_PLACE = ("gl_daily", "quarantine")  # small: deleted and COPY'd

# Namespace of the per-day advisory locks: (namespace, days since 1970-01-01).
DAY_LOCK_NAMESPACE = 0x4A4C  # "JL"


@dataclass(frozen=True)
class PostingCounts:
    journal_lines: int
    vouchers: int
    gl_daily: int
    quarantine: int
    replaced: dict[str, int]


def days_between(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    """Every day of first_day..last_day, both included, in order."""
    return [first_day + dt.timedelta(days=n) for n in range((last_day - first_day).days + 1)]


def lock_days(conn: psycopg.Connection, days: list[dt.date]) -> None:
    """Hold a transaction-level advisory lock per day, taken in date order (no deadlocks)."""
    epoch = dt.date(1970, 1, 1)
    for day in sorted(days):
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (DAY_LOCK_NAMESPACE, (day - epoch).days))


def post_days(
    conn: psycopg.Connection,
    first_day: dt.date,
    last_day: dt.date,
    frames: dict[str, pl.DataFrame],
) -> PostingCounts:
    """Replace the ledger's rows for first_day..last_day by ``frames`` (one per LEDGER_TABLES).

    Runs inside the caller's transaction; the caller commits, after its checks pass.
    """
    days = days_between(first_day, last_day)
    for name, frame in frames.items():
        outside = frame.filter(~pl.col("journal_date").is_between(first_day, last_day))
        if outside.height:
            raise ValueError(f"{name} has {outside.height} rows outside {first_day}..{last_day}: nothing was posted")
    lock_days(conn, days)
    refuse_closed_periods(conn, first_day, last_day, _companies(frames))
    counts = dict.fromkeys(LEDGER_TABLES, 0)
    replaced = dict.fromkeys(LEDGER_TABLES, 0)
    for day in days:
        conn.execute("SELECT ledger.open_day(%s)", (day,))
        for table in SWAPPED_IN:
            counts[table] += copy_into_new_day_table(conn, table, day, frames[table])
    for table in REPLACED_IN_PLACE:
        cur = conn.execute(
            sql.SQL("DELETE FROM {} WHERE journal_date BETWEEN %s AND %s").format(sql.Identifier("ledger", table)),
            (first_day, last_day),
        )
        replaced[table] = cur.rowcount
        counts[table] = copy_from_polars(conn, sql.Identifier("ledger", table), frames[table])
    for day in days:  # last: replacing a day's partitions locks their tables exclusively until COMMIT
        row = conn.execute("SELECT journal_lines, vouchers FROM ledger.close_day(%s)", (day,)).fetchone()
        assert row is not None  # a function with OUT parameters returns one row
        replaced["journal_lines"] += row[0]
        replaced["vouchers"] += row[1]
    conn.execute(_REPLACE_POSTED_DAYS_DELETE, {"first_day": first_day, "last_day": last_day})
    conn.execute(_REPLACE_POSTED_DAYS_INSERT, {"first_day": first_day, "last_day": last_day})
    return PostingCounts(replaced=replaced, **counts)


def day_partition(day: dt.date, table: str = "journal_lines") -> str:
    """The name of ``day``'s partition of ledger.``table`` (as ledger.day_table names it)."""
    return f"{table}_{day:%Y%m%d}"


def new_day_table(day: dt.date, table: str = "journal_lines") -> str:
    """The table ``ledger.open_day`` (or ``open_scores_day``) creates for ``day``'s new rows of ``table``."""
    return f"{day_partition(day, table)}_new"


def copy_into_new_day_table(conn: psycopg.Connection, table: str, day: dt.date, frame: pl.DataFrame) -> int:
    """COPY ``frame``'s rows of ``day`` into the bare table that ``ledger.open_day`` (or
    ``open_scores_day``) made for them, to be swapped in by the matching close; returns the rows."""
    rows = rows_of_day(frame, "journal_date", day)
    return copy_from_polars(conn, sql.Identifier("ledger", new_day_table(day, table)), rows)


def _companies(frames: dict[str, pl.DataFrame]) -> list[int]:
    """The companies that have rows in what is about to be posted."""
    ids = pl.concat([frame.select(pl.col("company_id").cast(pl.Int64)) for frame in frames.values()])
    return ids.drop_nulls().unique()["company_id"].to_list()


_REPLACE_POSTED_DAYS_DELETE = "DELETE FROM ledger.posted_days WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s"

# What each day of the window holds now, from the rows just written (every day, empty ones too):
# the transactions accounted for (vouchers + quarantine) with an md5 of their sorted txn_ids, and
# the line count and totals its seal must show.
_REPLACE_POSTED_DAYS_INSERT = """
INSERT INTO ledger.posted_days (journal_date, transactions, txn_ids_md5, line_count, total_debit, total_credit)
SELECT d.day, coalesce(t.transactions, 0), coalesce(t.txn_ids_md5, md5('')), coalesce(l.line_count, 0),
       coalesce(l.total_debit, 0), coalesce(l.total_credit, 0)
FROM (SELECT d::date AS day FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') AS d) d
LEFT JOIN (
    SELECT journal_date, count(*) AS transactions, md5(string_agg(txn_id::text, ',' ORDER BY txn_id)) AS txn_ids_md5
    FROM (SELECT journal_date, txn_id FROM ledger.vouchers WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
          UNION ALL
          SELECT journal_date, txn_id FROM ledger.quarantine WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
    ) accounted
    GROUP BY journal_date
) t ON t.journal_date = d.day
LEFT JOIN (
    SELECT journal_date, count(*) AS line_count,
           coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0) AS total_debit,
           coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0) AS total_credit
    FROM ledger.journal_lines WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
    GROUP BY journal_date
) l ON l.journal_date = d.day
"""


GL_AGAINST_LINES_QUERY = """
WITH lines AS (
    SELECT company_id, account_code, period,
           coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0) AS debit,
           coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0) AS credit
    FROM ledger.journal_lines WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
    GROUP BY company_id, account_code, period
), gl AS (
    SELECT company_id, account_code, period, sum(debit) AS debit, sum(credit) AS credit
    FROM ledger.gl_daily WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
    GROUP BY company_id, account_code, period
)
SELECT company_id, account_code, period,
       lines.debit::text AS lines_debit, gl.debit::text AS gl_debit,
       lines.credit::text AS lines_credit, gl.credit::text AS gl_credit
FROM lines FULL JOIN gl USING (company_id, account_code, period)
WHERE lines.debit IS DISTINCT FROM gl.debit OR lines.credit IS DISTINCT FROM gl.credit
ORDER BY company_id, account_code, period
"""


def gl_differences_in_database(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> pl.DataFrame:
    """Invariant 2 on what was written: (company, account, period) where the GL of these days
    differs from the sum of their journal lines."""
    rows = conn.execute(GL_AGAINST_LINES_QUERY, {"first_day": first_day, "last_day": last_day}).fetchall()
    return pl.DataFrame(
        rows,
        schema=[
            "company_id",
            "account_code",
            "period",
            "lines_debit",
            "gl_debit",
            "lines_credit",
            "gl_credit",
        ],
        orient="row",
    )


def txn_ids_digest(txn_ids: pl.Series) -> str:
    """md5 of the txn_ids sorted and joined by commas: ``md5(string_agg(txn_id::text, ',' ORDER BY
    txn_id))``, as ``ledger.posted_days`` records a day's (md5 of '' for none)."""
    joined = txn_ids.sort().cast(pl.String).str.join(",").item() if txn_ids.len() else ""
    return hashlib.md5(joined.encode("ascii")).hexdigest()


def unaccounted_in_database(
    conn: psycopg.Connection, first_day: dt.date, last_day: dt.date, extracted: pl.DataFrame
) -> pl.DataFrame:
    """Invariant 3 on what was written: ``extracted`` (``txn_id``, ``txn_date``) against the
    vouchers and quarantine rows of the window, as ``unaccounted_transactions`` reports them.

    ``post_days`` recorded in ``ledger.posted_days``, from those rows and in the same transaction,
    how many transactions each day accounts for and the md5 of their sorted txn_ids. A day whose
    count and md5 are those of its extracted txn_ids is whole (a txn posted and quarantined both
    would be counted twice); only when a day differs are the ids read back, to name them."""
    if _recorded_days_match(conn, first_day, last_day, extracted):
        return pl.DataFrame(schema=UNACCOUNTED_SCHEMA)
    posted, quarantined = posted_and_quarantined_ids(conn, first_day, last_day)
    return unaccounted_transactions(extracted["txn_id"], posted, quarantined)


def _recorded_days_match(
    conn: psycopg.Connection, first_day: dt.date, last_day: dt.date, extracted: pl.DataFrame
) -> bool:
    """Whether every day of the window accounts, in ledger.posted_days, for exactly its extracted txn_ids."""
    recorded = conn.execute(
        "SELECT journal_date, transactions, txn_ids_md5 FROM ledger.posted_days WHERE journal_date BETWEEN %s AND %s",
        (first_day, last_day),
    ).fetchall()
    ids_by_day = {day: frame["txn_id"] for (day,), frame in extracted.partition_by("txn_date", as_dict=True).items()}
    for day, transactions, md5 in recorded:
        ids = ids_by_day.pop(day, pl.Series("txn_id", [], dtype=pl.Int64))
        if transactions != ids.len() or md5 != txn_ids_digest(ids):
            return False
    return not ids_by_day  # and no extracted day went unrecorded


def posted_and_quarantined_ids(
    conn: psycopg.Connection, first_day: dt.date, last_day: dt.date
) -> tuple[pl.Series, pl.Series]:
    """The txn_ids that the ledger holds for these days: posted (vouchers) and quarantined."""
    ids = {}
    for table in ("vouchers", "quarantine"):
        query = sql.SQL("SELECT txn_id FROM {} WHERE journal_date BETWEEN {} AND {}").format(
            sql.Identifier("ledger", table), sql.Literal(first_day), sql.Literal(last_day)
        )
        ids[table] = copy_to_polars(conn, query, {"txn_id": pl.Int64()})["txn_id"]
    return ids["vouchers"], ids["quarantine"]


def daily_figures(lines: pl.DataFrame | pl.LazyFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    """Per day: lines, posted and quarantined transactions, debit and credit totals (for the event log)."""
    # the columns summed, first: a day's lines may come in parts, and a group_by joins its
    # columns' parts into one, which for all of them would copy the day
    lines = lines.lazy().select("journal_date", "txn_id", "dc", "amount_base")
    posted = lines.group_by(pl.col("journal_date").alias("day")).agg(
        pl.len().alias("lines"),
        pl.col("txn_id").n_unique().alias("posted"),
        pl.col("amount_base").filter(pl.col("dc") == "D").sum().cast(GL_AMOUNT).alias("total_debit"),
        pl.col("amount_base").filter(pl.col("dc") == "C").sum().cast(GL_AMOUNT).alias("total_credit"),
    )
    held = quarantine.group_by(pl.col("journal_date").alias("day")).agg(pl.len().alias("quarantined"))
    return posted.collect().join(held, on="day", how="full", coalesce=True)


def totals_by_company(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Debit and credit totals per company, for metadata and summaries."""
    return (
        frame.lazy()
        .select("company_id", "dc", "amount_base")  # only what is summed (see daily_figures)
        .group_by("company_id")
        .agg(
            pl.len().alias("lines"),
            pl.col("amount_base").filter(pl.col("dc") == "D").sum().cast(GL_AMOUNT).alias("debit"),
            pl.col("amount_base").filter(pl.col("dc") == "C").sum().cast(GL_AMOUNT).alias("credit"),
        )
        .sort("company_id")
        .collect()
    )
