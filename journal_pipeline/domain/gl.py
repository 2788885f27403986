"""The general ledger: debits and credits per (company, account, period), kept by day."""

from __future__ import annotations

import polars as pl

GL_AMOUNT = pl.Decimal(20, 2)

GL_DAILY_SCHEMA: dict[str, pl.DataType] = {
    "journal_date": pl.Date(),
    "company_id": pl.Int32(),
    "account_code": pl.String(),
    "period": pl.Int32(),
    "debit": GL_AMOUNT,
    "credit": GL_AMOUNT,
}


def gl_daily(lines: pl.DataFrame) -> pl.DataFrame:
    """Per day, company and account: the sum of debit and of credit base amounts.

    ``ledger.gl_balances`` sums these per period; keeping the day lets a rerun replace exactly
    one partition's share of the GL.
    """
    keys = ["journal_date", "company_id", "account_code", "period"]
    gl = (
        lines.select(*keys, "dc", "amount_base")
        .group_by(keys)
        .agg(
            pl.col("amount_base").filter(pl.col("dc") == "D").sum().cast(GL_AMOUNT).alias("debit"),
            pl.col("amount_base").filter(pl.col("dc") == "C").sum().cast(GL_AMOUNT).alias("credit"),
        )
    )
    return (
        gl.select(list(GL_DAILY_SCHEMA))
        .cast(GL_DAILY_SCHEMA)
        .sort(  # type: ignore[arg-type]
            "journal_date", "company_id", "account_code"
        )
    )


def gl_balances(gl: pl.DataFrame) -> pl.DataFrame:
    """Per (company, account, period): the GL as ``ledger.gl_balances`` shows it."""
    return (
        gl.group_by("company_id", "account_code", "period")
        .agg(pl.col("debit").sum(), pl.col("credit").sum())
        .sort("company_id", "account_code", "period")
    )
