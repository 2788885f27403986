"""Vouchers: one header per journal, summing its lines (SPEC section 3)."""

from __future__ import annotations

import polars as pl

from journal_pipeline.domain.posting import MONEY, TXN_MONEY

VOUCHER_SCHEMA: dict[str, pl.DataType] = {
    "journal_date": pl.Date(),
    "company_id": pl.Int32(),
    "journal_type": pl.String(),
    "journal_no": pl.Int32(),
    "txn_id": pl.Int64(),
    "period": pl.Int32(),
    "currency": pl.String(),
    "line_count": pl.Int16(),
    "total_debit": MONEY,
    "total_credit": MONEY,
    "total_debit_txn": TXN_MONEY,
    "total_credit_txn": TXN_MONEY,
}


# The columns of the journal lines a voucher is made of (the rest, descriptions and the like, are
# the lines' own: not loaded for the vouchers).
LINE_COLUMNS = (
    "journal_date", "company_id", "journal_no", "journal_type", "txn_id", "period", "currency", "dc",
    "amount_base", "amount_txn",
)  # fmt: skip


def _side_sum(column: str, side: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(column).filter(pl.col("dc") == side).sum().cast(dtype)


def build_vouchers(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per (journal_date, company_id, journal_no) with its line count and totals."""
    vouchers = lines.group_by("journal_date", "company_id", "journal_no").agg(
        pl.col("journal_type").first(),
        pl.col("txn_id").first(),
        pl.col("period").first(),
        pl.col("currency").first(),
        pl.len().cast(pl.Int16).alias("line_count"),
        _side_sum("amount_base", "D", MONEY).alias("total_debit"),
        _side_sum("amount_base", "C", MONEY).alias("total_credit"),
        _side_sum("amount_txn", "D", TXN_MONEY).alias("total_debit_txn"),
        _side_sum("amount_txn", "C", TXN_MONEY).alias("total_credit_txn"),
    )
    return (
        vouchers.select(list(VOUCHER_SCHEMA))
        .cast(VOUCHER_SCHEMA)
        .sort(  # type: ignore[arg-type]
            "journal_date", "company_id", "journal_no"
        )
    )
