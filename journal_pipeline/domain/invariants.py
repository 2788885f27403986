"""The ledger's invariants, written once. Each returns the rows that break it (empty = holds).

1. Every voucher balances: total debit = total credit, in base and in transaction currency.
2. The GL is the sum of its lines, per (company, account, period).
3. Nothing is lost: every extracted transaction is posted or quarantined, exactly once.

The asset checks (journal_pipeline.defs.checks) and the tests call these same functions.
"""

from __future__ import annotations

import polars as pl

from journal_pipeline.domain.gl import gl_daily


def unbalanced_vouchers(vouchers: pl.DataFrame) -> pl.DataFrame:
    return vouchers.filter(
        (pl.col("total_debit") != pl.col("total_credit")) | (pl.col("total_debit_txn") != pl.col("total_credit_txn"))
    ).select("journal_date", "company_id", "journal_no", "txn_id", "total_debit", "total_credit",
             "total_debit_txn", "total_credit_txn")  # fmt: skip


def gl_differences(gl: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """(company, account, period) whose GL debit or credit differs from the sum of its lines."""
    keys = ["company_id", "account_code", "period"]
    expected = gl_daily(lines).group_by(keys).agg(pl.col("debit").sum(), pl.col("credit").sum())
    actual = gl.group_by(keys).agg(pl.col("debit").sum(), pl.col("credit").sum())
    joined = expected.join(actual, on=keys, how="full", coalesce=True, suffix="_gl")
    return joined.filter(
        pl.col("debit").ne_missing(pl.col("debit_gl")) | pl.col("credit").ne_missing(pl.col("credit_gl"))
    ).sort(keys)


UNACCOUNTED_SCHEMA = {"txn_id": pl.Int64(), "problem": pl.String()}


def unaccounted_transactions(extracted: pl.Series, posted: pl.Series, quarantined: pl.Series) -> pl.DataFrame:
    """txn_ids not posted nor quarantined, posted or quarantined twice, or not extracted at all."""
    # the usual case, in one sort: the extracted ids are distinct and are the posted and quarantined
    # ones, each once; anything else is worked out and named below
    accounted = pl.concat([posted.unique(), quarantined]).sort()
    if (
        accounted.len() == extracted.len()
        and accounted.equals(extracted.sort(), check_names=False)
        and extracted.n_unique() == extracted.len()
    ):
        return pl.DataFrame(schema=UNACCOUNTED_SCHEMA)
    outcomes = pl.concat(
        [
            pl.DataFrame({"txn_id": posted.unique()}).with_columns(pl.lit("posted").alias("outcome")),
            pl.DataFrame({"txn_id": quarantined}).with_columns(pl.lit("quarantined").alias("outcome")),
        ]
    )
    counted = outcomes.group_by("txn_id").agg(pl.col("outcome").sort().str.join("+").alias("outcomes"))
    everything = pl.DataFrame({"txn_id": extracted}).with_columns(pl.lit(True).alias("extracted"))
    joined = everything.join(counted, on="txn_id", how="full", coalesce=True)
    return joined.filter(
        pl.col("extracted").is_null() | pl.col("outcomes").is_null() | pl.col("outcomes").str.contains(r"\+")
    ).with_columns(
        pl.when(pl.col("extracted").is_null()).then(pl.lit("not extracted"))
        .when(pl.col("outcomes").is_null()).then(pl.lit("neither posted nor quarantined"))
        .otherwise(pl.lit("counted twice: ") + pl.col("outcomes")).alias("problem")
    ).select("txn_id", "problem").sort("txn_id")  # fmt: skip
