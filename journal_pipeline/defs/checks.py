"""Data checks between the steps: a Pandera schema for every step's output, and the ledger
invariants (journal_pipeline.domain.invariants). All are blocking: a failed check stops the
assets downstream of it in the same run, and its failure cases are in the check's metadata.

To add a check: add an ``AssetCheckSpec`` to the asset's ``check_specs`` and yield its result
from the asset with ``schema_check`` or ``invariant_check``.
"""

from __future__ import annotations

import dagster as dg
import pandera.polars as pa
import polars as pl

from journal_pipeline.defs.metadata import markdown_table
from journal_pipeline.domain.posting import CURRENCY_CODE, MONEY, RATE, TXN_MONEY

REASON_CODES = [
    "unknown_company", "no_posting_rule", "amount_missing", "amount_not_numeric", "amount_too_precise",
    "amount_out_of_range", "bad_currency", "tax_without_tax_account", "unknown_account", "inactive_account",
    "no_rate",
]  # fmt: skip

MAX_FAILURE_ROWS = 20


def _period_matches_date(data: pa.PolarsData) -> pl.LazyFrame:
    date = pl.col("journal_date")
    return data.lazyframe.select(pl.col("period") == date.dt.year() * 1000 + date.dt.month())


SOURCE_TRANSACTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "txn_id": pa.Column(pl.Int64, nullable=False, unique=True),
        "company_id": pa.Column(pl.Int32, nullable=True),
        "txn_date": pa.Column(pl.Date, nullable=False),
        "created_at": pa.Column(pl.Datetime("us", "UTC"), nullable=True),
        "data": pa.Column(pl.String, nullable=True),
        "amount_type": pa.Column(
            pl.String,
            pa.Check.isin(["number", "string", "boolean", "null", "array", "object"]),
            nullable=True,
        ),
    },
    name="source_transactions",
)

JOURNAL_LINES_SCHEMA = pa.DataFrameSchema(
    {
        "journal_date": pa.Column(pl.Date),
        "company_id": pa.Column(pl.Int32),
        "journal_type": pa.Column(pl.String),
        "journal_no": pa.Column(pl.Int32, pa.Check.ge(1)),
        "line_no": pa.Column(pl.Int16, pa.Check.in_range(1, 3)),
        "txn_id": pa.Column(pl.Int64),
        "account_code": pa.Column(pl.String),
        "period": pa.Column(pl.Int32),
        "dc": pa.Column(pl.String, pa.Check.isin(["D", "C"])),
        "amount_base": pa.Column(MONEY, pa.Check.ge(0)),
        "amount_txn": pa.Column(TXN_MONEY, pa.Check.ge(0)),
        "currency": pa.Column(pl.String, pa.Check.str_matches(CURRENCY_CODE)),
        "fx_rate": pa.Column(RATE, pa.Check.gt(0)),
        "description": pa.Column(pl.String, nullable=True),
        "cost_center": pa.Column(pl.String, nullable=True),
        "counterparty": pa.Column(pl.String, nullable=True),
        "document_ref": pa.Column(pl.String, nullable=True),
    },
    checks=[pa.Check(_period_matches_date, name="period_is_the_month_of_journal_date")],
    unique=["journal_date", "txn_id", "line_no"],
    strict=True,
    name="journal_lines",
)

QUARANTINE_SCHEMA = pa.DataFrameSchema(
    {
        "journal_date": pa.Column(pl.Date),
        "txn_id": pa.Column(pl.Int64),
        "company_id": pa.Column(pl.Int32, nullable=True),
        "reason": pa.Column(pl.String, pa.Check.isin(REASON_CODES)),
        "detail": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
        "raw": pa.Column(pl.String, pa.Check.str_startswith("{")),
    },
    unique=["journal_date", "txn_id"],
    strict=True,
    name="quarantine",
)

VOUCHERS_SCHEMA = pa.DataFrameSchema(
    {
        "journal_date": pa.Column(pl.Date),
        "company_id": pa.Column(pl.Int32),
        "journal_type": pa.Column(pl.String),
        "journal_no": pa.Column(pl.Int32, pa.Check.ge(1)),
        "txn_id": pa.Column(pl.Int64),
        "period": pa.Column(pl.Int32),
        "currency": pa.Column(pl.String),
        "line_count": pa.Column(pl.Int16, pa.Check.isin([2, 3])),
        "total_debit": pa.Column(MONEY, pa.Check.ge(0.01)),
        "total_credit": pa.Column(MONEY, pa.Check.ge(0.01)),
        "total_debit_txn": pa.Column(TXN_MONEY, pa.Check.gt(0)),
        "total_credit_txn": pa.Column(TXN_MONEY, pa.Check.gt(0)),
    },
    unique=["journal_date", "company_id", "journal_no"],
    strict=True,
    name="vouchers",
)

GL_DAILY_SCHEMA = pa.DataFrameSchema(
    {
        "journal_date": pa.Column(pl.Date),
        "company_id": pa.Column(pl.Int32),
        "account_code": pa.Column(pl.String),
        "period": pa.Column(pl.Int32),
        "debit": pa.Column(pl.Decimal(20, 2), pa.Check.ge(0)),
        "credit": pa.Column(pl.Decimal(20, 2), pa.Check.ge(0)),
    },
    unique=["journal_date", "company_id", "account_code"],
    strict=True,
    name="gl_daily",
)


def schema_check(check_name: str, schema: pa.DataFrameSchema, frame: pl.DataFrame) -> dg.AssetCheckResult:
    """Validate the eager frame (Pandera skips value checks on a LazyFrame) and report the
    failure cases, if any, in the check's metadata."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return dg.AssetCheckResult(
            check_name=check_name,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{cases.height} failure case(s) against the {schema.name} schema",
            metadata={
                "rows": frame.height,
                "failure_cases": dg.MetadataValue.md(markdown_table(cases.head(MAX_FAILURE_ROWS))),
                "failure_count": cases.height,
            },
        )
    return dg.AssetCheckResult(
        check_name=check_name, passed=True, metadata={"rows": frame.height, "schema": schema.name or ""}
    )


def invariant_check(check_name: str, violations: pl.DataFrame, holds: str) -> dg.AssetCheckResult:
    """A ledger invariant: passes when ``violations`` is empty; otherwise lists them."""
    if violations.height == 0:
        return dg.AssetCheckResult(check_name=check_name, passed=True, description=holds)
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{violations.height} violation(s): it does not hold that {holds}",
        metadata={
            "violations": dg.MetadataValue.md(markdown_table(violations.head(MAX_FAILURE_ROWS))),
            "violation_count": violations.height,
        },
    )


def blocking(asset: str, *names: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=asset, blocking=True) for name in names]
