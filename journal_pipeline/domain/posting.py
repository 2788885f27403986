"""Posting: a day's sub-ledger transactions into double-entry journal lines, or quarantine.

Pure Polars, no I/O. The rules are docs/posting-semantics.md (SPEC section 3 made precise):
every transaction either becomes one balanced voucher of two or three lines, or one quarantine
row whose ``reason`` is the first rule it breaks, with a sentence saying exactly what was wrong.

To add a posting rule, add a row to ``legacy.posting_rules``: nothing here is per txn_type.
To add a check, add it to ``_REASONS`` in its place in the documented order.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from journal_pipeline.domain.amounts import (
    AMOUNT_SCALE,
    BASE_LIMIT_CENTS,
    MISSING,
    NOT_NUMERIC,
    OK,
    RATE_SCALE,
    TOO_PRECISE,
    convert_to_base_cents,
    format_scaled,
    parse_decimal,
    parse_json_amount,
    scaled_to_decimal,
)

FX_LOOKBACK_DAYS = 7
CURRENCY_CODE = r"^[A-Z]{3}$"

MONEY = pl.Decimal(18, 2)
TXN_MONEY = pl.Decimal(38, AMOUNT_SCALE)
RATE = pl.Decimal(18, RATE_SCALE)

JOURNAL_LINE_SCHEMA: dict[str, pl.DataType] = {
    "journal_date": pl.Date(),
    "company_id": pl.Int32(),
    "journal_type": pl.String(),
    "journal_no": pl.Int32(),
    "line_no": pl.Int16(),
    "txn_id": pl.Int64(),
    "account_code": pl.String(),
    "period": pl.Int32(),
    "dc": pl.String(),
    "amount_base": MONEY,
    "amount_txn": TXN_MONEY,
    "currency": pl.String(),
    "fx_rate": RATE,
    "description": pl.String(),
    "cost_center": pl.String(),
    "counterparty": pl.String(),
    "document_ref": pl.String(),
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "journal_date": pl.Date(),
    "txn_id": pl.Int64(),
    "company_id": pl.Int32(),
    "reason": pl.String(),
    "detail": pl.String(),
    "raw": pl.String(),
}

RAW_DATA = "data"
FAILED_CHECK = "failed_check"


class ReferenceDataError(ValueError):
    """A reference table is broken in a way no transaction can be posted around."""


@dataclass(frozen=True)
class PostingResult:
    """What one or more days of transactions became: lines for the posted, rows for the rest."""

    lines: pl.DataFrame
    quarantine: pl.DataFrame


def companies_without_base_currency(companies: pl.DataFrame) -> pl.DataFrame:
    """Companies whose ``base_currency`` is NULL or not three upper-case letters, with a sentence
    each (``company_id``, ``base_currency``, ``detail``). Every transaction of such a company
    would be unpostable, so the run stops instead (see :func:`validate_reference_data`)."""
    currency = pl.col("base_currency")
    return companies.filter(currency.is_null() | ~currency.str.contains(CURRENCY_CODE)).select(
        "company_id",
        "base_currency",
        (
            pl.lit("company ")
            + pl.col("company_id").cast(pl.String)
            + pl.when(currency.is_null())
            .then(pl.lit(" has no base_currency (NULL)"))
            .otherwise(pl.lit(' has base_currency "') + currency + pl.lit('", not three upper-case letters'))
        ).alias("detail"),
    )


def rules_with_unusable_accounts(accounts: pl.DataFrame, posting_rules: pl.DataFrame) -> pl.DataFrame:
    """Posting rules that name an account missing from the company's chart (``problem``
    ``missing``) or inactive there (``inactive``): ``company_id``, ``txn_type``, ``role`` (net, tax,
    contra), ``account_code``, ``problem``, ``detail``. Transactions under such a rule are
    quarantined (unknown_account, inactive_account: SPEC section 3); the source_transactions check
    ``reference_data_consistent`` reports the rules themselves, once, before anything is posted."""
    named = pl.concat(
        [
            posting_rules.select(
                "company_id", "txn_type", pl.lit(role).alias("role"), pl.col(f"{role}_account").alias("account_code")
            )
            for role in ("net", "tax", "contra")
        ]
    ).drop_nulls("account_code")
    chart = accounts.select("company_id", "account_code", "is_active")
    problems = (
        named.join(chart, on=["company_id", "account_code"], how="left")
        .with_columns(
            pl.when(pl.col("is_active").is_null())
            .then(pl.lit("missing"))
            .when(~pl.col("is_active"))
            .then(pl.lit("inactive"))
            .alias("problem")
        )
        .drop_nulls("problem")
    )
    return problems.select(
        "company_id",
        "txn_type",
        "role",
        "account_code",
        "problem",
        (
            pl.lit("posting rule ")
            + pl.col("txn_type")
            + pl.lit(" of company ")
            + pl.col("company_id").cast(pl.String)
            + pl.lit(": ")
            + pl.col("role")
            + pl.lit(" account ")
            + pl.col("account_code")
            + pl.when(pl.col("problem") == "missing")
            .then(pl.lit(" is not in the chart of accounts (legacy.accounts)"))
            .otherwise(pl.lit(" is inactive in legacy.accounts"))
        ).alias("detail"),
    ).sort("company_id", "txn_type", "role")


def validate_reference_data(companies: pl.DataFrame) -> None:
    """Refuse reference data that would make every transaction of a company unpostable."""
    broken = companies_without_base_currency(companies)
    if broken.height:
        raise ReferenceDataError(
            f"legacy.companies is broken: {'; '.join(broken['detail'])}. Every transaction of "
            f"{'that company' if broken.height == 1 else 'those companies'} would be unpostable, so nothing was "
            "posted: fix the reference table and run the day again"
        )


def period_of(day: pl.Expr) -> pl.Expr:
    """SunSystems period YYYYPPP: 2024-07-18 is 2024007."""
    return (day.dt.year() * 1000 + day.dt.month()).cast(pl.Int32)


def _amount_text(prefix: str) -> pl.Expr:
    """The amount as the source wrote it, quoted when it was a JSON string, for messages."""
    raw = pl.col(f"{prefix}_raw").str.slice(0, 60)
    return (
        pl.when(pl.col(f"{prefix}_type") == "string")
        .then(pl.lit('"') + raw + pl.lit('"'))
        .otherwise(pl.coalesce(raw, pl.lit("null")))
    )


def _reasons() -> list[tuple[str, pl.Expr, pl.Expr]]:
    """(reason code, condition, detail sentence) in the documented order: the first one wins."""
    col = pl.col
    company = col("company_id").cast(pl.String).fill_null("NULL")
    rule = pl.lit("the ") + col("txn_type").fill_null("NULL") + pl.lit(" rule of company ") + company

    def bad_account(flag: str) -> pl.Expr:
        return col(f"net_{flag}") | col(f"contra_{flag}") | (col("tax_positive") & col(f"tax_{flag}"))

    def which_account(flag: str) -> pl.Expr:
        return (
            pl.when(col(f"net_{flag}"))
            .then(pl.lit("net account ") + col("net_account"))
            .when(col(f"tax_{flag}"))
            .then(pl.lit("tax account ") + col("tax_account"))
            .otherwise(pl.lit("contra account ") + col("contra_account"))
        )

    def field_status(status: str) -> pl.Expr:
        return (col("net_status") == status) | (col("tax_status") == status)

    def which_field(status: str) -> pl.Expr:
        return (
            pl.when(col("net_status") == status)
            .then(pl.lit("amount ") + _amount_text("amount"))
            .otherwise(pl.lit("tax_amount ") + _amount_text("tax"))
        )

    base = col("base_currency").fill_null("?")
    return [
        ("unknown_company", col("base_currency").is_null(),
         pl.lit("company ") + company + pl.lit(" is not in legacy.companies")),
        ("no_posting_rule", col("journal_type").is_null(),
         pl.lit("company ") + company + pl.lit(" has no posting rule for txn_type ")
         + col("txn_type").fill_null("NULL")),
        ("amount_missing", col("net_status") == MISSING,
         pl.when(col("data").is_null()).then(pl.lit("data is NULL")).otherwise(pl.lit("data has no amount"))),
        ("amount_not_numeric", field_status(NOT_NUMERIC),
         which_field(NOT_NUMERIC) + pl.lit(" is not a plain decimal number")),
        ("amount_too_precise", field_status(TOO_PRECISE),
         which_field(TOO_PRECISE) + pl.lit(" has more than 18 decimal places or is 10^20 or more")),
        ("amount_out_of_range", (col("net_e18") <= 0) | (col("tax_e18") < 0),
         pl.when(col("net_e18") <= 0).then(pl.lit("amount ") + _amount_text("amount") + pl.lit(" is not above 0"))
         .otherwise(pl.lit("tax_amount ") + _amount_text("tax") + pl.lit(" is negative"))),
        ("bad_currency", ~col("currency_ok"),
         pl.lit("currency ")
         + pl.when(col("currency_type").is_null()).then(pl.lit("is missing"))
         .otherwise(pl.coalesce(pl.lit('"') + col("currency_raw").str.slice(0, 20) + pl.lit('"'), pl.lit("null"))
                    + pl.lit(" is not three upper-case letters"))),
        ("tax_without_tax_account", col("tax_positive") & col("tax_account").is_null(),
         pl.lit("tax_amount ") + _amount_text("tax") + pl.lit(" is above 0 but ") + rule
         + pl.lit(" has no tax account")),
        ("unknown_account", bad_account("unknown"),
         which_account("unknown") + pl.lit(" of ") + rule + pl.lit(" is not in the chart of accounts")),
        ("inactive_account", bad_account("inactive"),
         which_account("inactive") + pl.lit(" of ") + rule + pl.lit(" is inactive")),
        ("no_rate", col("rate_e8").is_null(),
         pl.lit("fx_rates has no ") + col("currency") + pl.lit("->") + base
         + pl.lit(f" rate within {FX_LOOKBACK_DAYS} days before ") + col("txn_date").cast(pl.String)),
        ("amount_out_of_range", col("base_net_cents") < 1,
         pl.lit("amount ") + _amount_text("amount") + pl.lit(" ") + col("currency") + pl.lit(" at rate ")
         + format_scaled(col("rate_e8"), RATE_SCALE) + pl.lit(" is ") + format_scaled(col("base_net_cents"), 2)
         + pl.lit(" ") + base + pl.lit(", below 0.01")),
        ("amount_out_of_range",
         (col("base_net_cents") >= BASE_LIMIT_CENTS) | (col("base_tax_cents") >= BASE_LIMIT_CENTS)
         | (col("base_net_cents") + col("base_tax_cents") >= BASE_LIMIT_CENTS),
         pl.lit("base amounts ") + format_scaled(col("base_net_cents"), 2) + pl.lit(" + ")
         + format_scaled(col("base_tax_cents"), 2) + pl.lit(" ") + base
         + pl.lit(" do not fit numeric(18,2) (10^16 or more)")),
    ]  # fmt: skip


def _looked_up(frame: pl.DataFrame, table: pl.DataFrame, on: list[str], name: str) -> pl.DataFrame:
    """``frame`` with the other columns of ``table``'s row that has its ``on`` (nulls where none
    has): a left join that gathers only the columns looked up, not all of ``frame``'s (some sixty by
    the end of ``evaluate``, the raw JSON among them), which a day of a million transactions
    would copy once per join. ``table`` must have one row at most per ``on``, as its primary key
    says; a table that breaks it is refused rather than posting a transaction twice."""
    found = frame.select(on).join(table, on=on, how="left", maintain_order="left")
    if found.height != frame.height:
        raise ReferenceDataError(
            f"{name} has more than one row for some ({', '.join(on)}): nothing was posted; "
            "fix the reference table and run the day again"
        )
    return frame.hstack(found.drop(on).get_columns())


def _account_flags(txn: pl.DataFrame, accounts: pl.DataFrame, role: str) -> pl.DataFrame:
    """Look up the ``role`` account in the chart of accounts: adds {role}_unknown/_inactive."""
    chart = accounts.select(
        "company_id",
        pl.col("account_code").alias(f"{role}_account"),
        pl.col("is_active").alias(f"__{role}_active"),
    )
    return (
        _looked_up(txn, chart, ["company_id", f"{role}_account"], "legacy.accounts")
        .with_columns(
            (pl.col(f"{role}_account").is_not_null() & pl.col(f"__{role}_active").is_null()).alias(f"{role}_unknown"),
            (pl.col(f"__{role}_active") == False).fill_null(False).alias(f"{role}_inactive"),  # noqa: E712
        )
        .drop(f"__{role}_active")
    )


def _rates(txn: pl.DataFrame, fx_rates: pl.DataFrame) -> pl.DataFrame:
    """Adds ``rate_e8``: 1 for the base currency, else the latest usable rate of the last 7 days."""
    usable = parse_decimal(fx_rates.with_columns(pl.col("rate").cast(pl.String)), "rate", RATE_SCALE, "fx_e8")
    usable = (
        usable.filter(pl.col("fx_e8") > 0)
        .select(
            pl.col("rate_date").cast(pl.Date),
            pl.col("currency").str.strip_chars(),
            pl.col("base_currency").str.strip_chars(),
            pl.col("fx_e8").cast(pl.Int64),
        )
        .sort("rate_date")
    )
    key = ["txn_date", "currency", "base_currency"]
    foreign = pl.col("currency_ok") & (pl.col("currency") != pl.col("base_currency"))
    # one look-up per day and currency pair, not per transaction
    rates = (
        txn.filter(foreign)
        .select(key)
        .unique()
        .sort("txn_date")
        .join_asof(
            usable,
            left_on="txn_date",
            right_on="rate_date",
            by=["currency", "base_currency"],
            strategy="backward",
            tolerance=f"{FX_LOOKBACK_DAYS}d",
            check_sortedness=False,
        )
        .select(*key, "fx_e8")
    )
    return (
        _looked_up(txn, rates, key, "the FX rates looked up")
        .with_columns(
            pl.when(pl.col("currency_ok") & (pl.col("currency") == pl.col("base_currency")))
            .then(pl.lit(10**RATE_SCALE, dtype=pl.Int64))
            .when(foreign)
            .then(pl.col("fx_e8"))
            .alias("rate_e8")
        )
        .drop("fx_e8")
    )


def _raw_row() -> pl.Expr:
    """The source row as a JSON object, ``data`` spliced in verbatim (it is already JSON)."""
    scalars = pl.struct(
        pl.col("txn_id"),
        pl.col("company_id"),
        pl.col("txn_date").cast(pl.String),
        pl.col("created_at").cast(pl.String),
        *[pl.col(c) for c in ("source_system", "txn_type", "created_by", "approved_by")],
    ).struct.json_encode()
    return scalars.str.strip_suffix("}") + pl.lit(',"data":') + pl.col(RAW_DATA).fill_null("null") + pl.lit("}")


def evaluate(
    transactions: pl.DataFrame,
    companies: pl.DataFrame,
    accounts: pl.DataFrame,
    posting_rules: pl.DataFrame,
    fx_rates: pl.DataFrame,
) -> pl.DataFrame:
    """Every transaction with its parsed amounts, rule, rate, base amounts and FAILED_CHECK: the
    position in ``_reasons`` of the first check it fails, null when it can be posted (``explain``
    turns it into a reason and a sentence). The one place the checks are applied."""
    validate_reference_data(companies)
    txn = _looked_up(
        transactions,
        companies.select("company_id", pl.col("base_currency").str.strip_chars()),
        ["company_id"],
        "legacy.companies",
    )
    rules = posting_rules.select(
        "company_id", "txn_type", "journal_type", "net_account", "net_side", "tax_account", "contra_account"
    )
    txn = _looked_up(txn, rules, ["company_id", "txn_type"], "legacy.posting_rules")
    txn = parse_json_amount(txn, "amount_raw", "amount_type", "net_e18")
    txn = parse_json_amount(txn, "tax_raw", "tax_type", "tax_e18")
    txn = txn.rename({"net_e18_status": "net_status", "tax_e18_status": "tax_status"}).with_columns(
        # an absent or null tax amount is zero
        pl.when(pl.col("tax_status") == MISSING).then(pl.lit(OK)).otherwise(pl.col("tax_status")).alias("tax_status"),
        pl.when(pl.col("tax_status") == MISSING)
        .then(pl.lit(0, dtype=pl.Int128))
        .otherwise(pl.col("tax_e18"))
        .alias("tax_e18"),
    )
    txn = txn.with_columns(
        (
            (pl.col("currency_type") == "string").fill_null(False)
            & pl.col("currency_raw").str.contains(CURRENCY_CODE).fill_null(False)
        ).alias("currency_ok"),
        pl.col("currency_raw").alias("currency"),
        (pl.col("tax_e18") > 0).fill_null(False).alias("tax_positive"),
    )
    for role in ("net", "tax", "contra"):
        txn = _account_flags(txn, accounts, role)
    txn = _rates(txn, fx_rates)
    txn = txn.with_columns(
        convert_to_base_cents(pl.col("net_e18"), pl.col("rate_e8")).alias("base_net_cents"),
        convert_to_base_cents(pl.col("tax_e18"), pl.col("rate_e8")).alias("base_tax_cents"),
    )
    failed_check = pl.lit(None, dtype=pl.Int8)
    for number, (_, condition, _) in reversed(list(enumerate(_reasons()))):
        failed_check = pl.when(condition.fill_null(False)).then(pl.lit(number, dtype=pl.Int8)).otherwise(failed_check)
    return txn.with_columns(failed_check.alias(FAILED_CHECK))


def explain(failed: pl.DataFrame) -> pl.DataFrame:
    """Adds ``reason`` and ``detail`` to transactions that failed a check (``evaluate``'s
    FAILED_CHECK not null). Only these rows get sentences: Polars computes every branch of a
    when/then for every row, and a day's few hundred failures need not pay for its 100,000 others."""
    reason = pl.lit(None, dtype=pl.String)
    detail = pl.lit(None, dtype=pl.String)
    for number, (code, _, sentence) in reversed(list(enumerate(_reasons()))):
        hit = pl.col(FAILED_CHECK) == number
        reason = pl.when(hit).then(pl.lit(code)).otherwise(reason)
        detail = pl.when(hit).then(sentence).otherwise(detail)
    return failed.with_columns(reason.alias("reason"), detail.alias("detail"))


def post(
    transactions: pl.DataFrame,
    companies: pl.DataFrame,
    accounts: pl.DataFrame,
    posting_rules: pl.DataFrame,
    fx_rates: pl.DataFrame,
) -> PostingResult:
    """Journal lines for every postable transaction and a quarantine row for every other one."""
    txn = evaluate(transactions, companies, accounts, posting_rules, fx_rates)
    failed = explain(txn.filter(pl.col(FAILED_CHECK).is_not_null()))
    quarantine = failed.select(
        pl.col("txn_date").alias("journal_date"),
        "txn_id",
        "company_id",
        "reason",
        (pl.col("detail") + pl.lit(" (txn ") + pl.col("txn_id").cast(pl.String) + pl.lit(")")).alias("detail"),
        _raw_row().alias("raw"),
    )
    # only what the lines are made of is copied by the filter, not the raw data and the working columns
    postable = txn.select(*LINE_INPUTS, FAILED_CHECK).filter(pl.col(FAILED_CHECK).is_null())
    return PostingResult(
        lines=journal_lines(postable),
        quarantine=quarantine.cast(
            QUARANTINE_SCHEMA  # type: ignore[arg-type]
        ).sort("journal_date", "txn_id"),
    )


# The columns of an evaluated transaction that journal_lines reads.
LINE_INPUTS = (
    "txn_id", "txn_date", "company_id", "journal_type", "net_account", "net_side", "tax_account", "contra_account",
    "currency", "rate_e8", "description", "cost_center", "counterparty", "document_ref", "tax_positive",
    "base_net_cents", "base_tax_cents", "net_e18", "tax_e18",
)  # fmt: skip


def journal_lines(posted: pl.DataFrame) -> pl.DataFrame:
    """The two or three lines of each postable transaction (see docs/posting-semantics.md)."""
    other_side = pl.when(pl.col("net_side") == "D").then(pl.lit("C")).otherwise(pl.lit("D"))
    header = posted.with_columns(
        pl.col("txn_date").alias("journal_date"),
        pl.col("txn_id").rank("ordinal").over("txn_date", "company_id").cast(pl.Int32).alias("journal_no"),
        period_of(pl.col("txn_date")).alias("period"),
        pl.col("rate_e8").cast(pl.Int128),
    )
    common = ["journal_date", "company_id", "journal_type", "journal_no", "txn_id", "period", "currency", "rate_e8",
              "description", "cost_center", "counterparty", "document_ref"]  # fmt: skip

    def line(frame: pl.DataFrame, line_no: pl.Expr, account: str, side: pl.Expr, base: pl.Expr, txn: pl.Expr):
        return frame.select(
            *common,
            line_no.cast(pl.Int16).alias("line_no"),
            pl.col(account).alias("account_code"),
            side.alias("dc"),
            base.alias("base_cents"),
            txn.alias("txn_e18"),
        )

    net = line(header, pl.lit(1), "net_account", pl.col("net_side"), pl.col("base_net_cents"), pl.col("net_e18"))
    tax = line(
        header.filter(pl.col("tax_positive")), pl.lit(2), "tax_account", pl.col("net_side"),
        pl.col("base_tax_cents"), pl.col("tax_e18"),
    )  # fmt: skip
    contra = line(
        header,
        pl.when(pl.col("tax_positive")).then(3).otherwise(2),
        "contra_account",
        other_side,
        pl.col("base_net_cents") + pl.col("base_tax_cents"),
        pl.col("net_e18") + pl.col("tax_e18"),
    )
    lines = pl.concat([net, tax, contra]).with_columns(
        scaled_to_decimal(pl.col("base_cents"), 2).cast(MONEY).alias("amount_base"),
        scaled_to_decimal(pl.col("txn_e18"), AMOUNT_SCALE).alias("amount_txn"),
        scaled_to_decimal(pl.col("rate_e8"), RATE_SCALE).cast(RATE).alias("fx_rate"),
    )
    return (
        lines.select(list(JOURNAL_LINE_SCHEMA))
        .cast(JOURNAL_LINE_SCHEMA)
        .sort(  # type: ignore[arg-type]
            "journal_date", "company_id", "journal_no", "line_no"
        )
    )
