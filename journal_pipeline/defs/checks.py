"""Data checks between the steps: a Pandera schema for every step's output, and the ledger
invariants (journal_pipeline.domain.invariants). All are blocking: a failed check stops the
assets downstream of it in the same run, and its failure cases are in the check's metadata.
Two source checks report rather than stop, unless told to: ``reference_data_consistent``
(posting rules naming a missing account; strict mode stops the run) and
``every_source_row_in_a_partition`` (rows whose txn_date no partition will ever extract).

To add a check: add an ``AssetCheckSpec`` to the asset's ``check_specs`` and yield its result
from the asset with ``schema_check`` or ``invariant_check``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import dagster as dg
import pandera.polars as pa
import polars as pl

from journal_pipeline.consistency import OutsideEveryPartition
from journal_pipeline.defs.metadata import markdown_table
from journal_pipeline.domain.posting import (
    CURRENCY_CODE,
    MONEY,
    RATE,
    TXN_MONEY,
    companies_without_base_currency,
    rules_with_unusable_accounts,
)

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


def schema_check(
    check_name: str, schema: pa.DataFrameSchema, frame: pl.DataFrame | Sequence[pl.LazyFrame]
) -> dg.AssetCheckResult:
    """Validate the eager frame (Pandera skips value checks on a LazyFrame) and report the
    failure cases, if any, in the check's metadata.

    ``frame`` may also come in parts (LazyFrames, such as a large day's lines scanned from the
    files they were spilled to), each validated on its own, collected one at a time: then the
    schema's row-set checks (``unique``) hold within each part, and must hold across parts by
    construction (the journal lines' parts are whole (day, company) groups, and a txn_id, the
    source's key, is in one group only)."""
    parts = [frame.lazy()] if isinstance(frame, pl.DataFrame) else list(frame)
    rows, failures = 0, []
    for part in parts:
        collected = part.collect()
        rows += collected.height
        try:
            schema.validate(collected, lazy=True)
        except pa.errors.SchemaErrors as errors:
            failures.append(errors.failure_cases)
        del collected
    if failures:
        cases = pl.concat(failures, how="diagonal_relaxed")
        return dg.AssetCheckResult(
            check_name=check_name,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{cases.height} failure case(s) against the {schema.name} schema",
            metadata={
                "rows": rows,
                "failure_cases": dg.MetadataValue.md(markdown_table(cases.head(MAX_FAILURE_ROWS))),
                "failure_count": cases.height,
            },
        )
    return dg.AssetCheckResult(check_name=check_name, passed=True, metadata={"rows": rows, "schema": schema.name or ""})


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


STRICT_REFERENCE_DATA_ENV = "JOURNAL_STRICT_REFERENCE_DATA"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def strict_reference_data(configured: bool | None = None) -> bool:
    """Whether a posting rule naming an account missing from the chart stops the run: the run
    config's ``strict_reference_data`` when given, else ``JOURNAL_STRICT_REFERENCE_DATA`` (default off)."""
    if configured is not None:
        return configured
    value = os.environ.get(STRICT_REFERENCE_DATA_ENV, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"{STRICT_REFERENCE_DATA_ENV} must be 1/true/yes/on or 0/false/no/off, not {value!r}")
    return value in _TRUE


def reference_data_check(
    companies: pl.DataFrame, accounts: pl.DataFrame, posting_rules: pl.DataFrame, *, strict: bool
) -> dg.AssetCheckResult:
    """``reference_data_consistent``: the reference tables can post what the rules say.

    A company without a valid base currency always fails it with ERROR (every transaction of the
    company would be unpostable: the run stops before anything is posted). A posting rule naming an
    account missing from the chart fails it with WARN by default: SPEC section 3 quarantines those
    transactions (unknown_account), which keeps the pipeline in parity with the legacy function,
    and the check says so loudly, once per rule; in strict mode it is an ERROR and the run stops
    before journal_lines. Rules naming an inactive account are listed, not failed: a closed
    account is a business state, and its transactions are quarantined as inactive_account.
    """
    companies_broken = companies_without_base_currency(companies)
    rules = rules_with_unusable_accounts(accounts, posting_rules)
    missing, inactive = rules.filter(pl.col("problem") == "missing"), rules.filter(pl.col("problem") == "inactive")
    metadata = {
        "strict": strict,
        "companies_without_base_currency": companies_broken.height,
        "rules_with_missing_accounts": missing.height,
        "rules_with_inactive_accounts": inactive.height,
        "problems": dg.MetadataValue.md(
            markdown_table(pl.concat([companies_broken.select("detail"), rules.select("detail")]))
        ),
    }
    sentences = []
    if companies_broken.height:
        sentences.append(
            f"{'; '.join(companies_broken['detail'])}: every transaction of such a company would be unpostable, "
            "so the run stops here and nothing is posted; fix legacy.companies and run the day again"
        )
    if missing.height:
        consequence = (
            f"strict mode ({STRICT_REFERENCE_DATA_ENV}): the run stops before anything is posted; fix "
            "legacy.accounts or legacy.posting_rules"
            if strict
            else "their transactions are quarantined as unknown_account (SPEC section 3); set "
            f"{STRICT_REFERENCE_DATA_ENV}=1 to stop the run instead"
        )
        sentences.append(f"{'; '.join(missing['detail'])}: {consequence}")
    if not sentences:
        listed = f"; {inactive.height} rule(s) name an inactive account (quarantined)" if inactive.height else ""
        return dg.AssetCheckResult(
            check_name="reference_data_consistent",
            passed=True,
            description=f"every company has a base currency and every posting rule's accounts exist{listed}",
            metadata=metadata,
        )
    stop = companies_broken.height > 0 or strict
    return dg.AssetCheckResult(
        check_name="reference_data_consistent",
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR if stop else dg.AssetCheckSeverity.WARN,
        description=". ".join(sentences),
        metadata=metadata,
    )


def partition_coverage_check(outside: OutsideEveryPartition, partitions_start: str) -> dg.AssetCheckResult:
    """``every_source_row_in_a_partition``: no source row has a txn_date that no partition will
    ever extract (NULL, or before the first partition). Such rows cannot be posted or
    quarantined by any run, so they are counted here, on every run, with their first txn_ids."""
    metadata = {
        "null_txn_date": outside.null_txn_date,
        "before_partitions_start": outside.before_start,
        "partitions_start": partitions_start,
        "null_txn_date_ids": str(outside.null_ids),
        "before_partitions_start_ids": str(outside.before_ids),
    }
    if outside.total == 0:
        return dg.AssetCheckResult(
            check_name="every_source_row_in_a_partition",
            passed=True,
            description=f"every legacy.src_transactions row has a txn_date on or after {partitions_start}",
            metadata=metadata,
        )
    return dg.AssetCheckResult(
        check_name="every_source_row_in_a_partition",
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{outside.null_txn_date} legacy.src_transactions row(s) have no txn_date (first: {outside.null_ids}) and "
            f"{outside.before_start} are dated before the first partition {partitions_start} (first: "
            f"{outside.before_ids}): no partition extracts them, so they are neither posted nor quarantined; "
            "correct their txn_date in the source"
        ),
        metadata=metadata,
    )
