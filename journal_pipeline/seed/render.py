"""From a plan to ``legacy.src_transactions`` rows in PostgreSQL COPY text format, column by column.

Order and ids: transactions are numbered by ``txn_date``, then ``created_at``, so a later id was
created later within its day, as in a real sub-ledger. ``created_at`` is the local wall time on
``txn_date`` in the company's time zone, stored in UTC.

Document references: each series (``INV`` of one vendor, ``SI`` of one company, ...) numbers its
documents ``PREFIX-YYYY-DDDNNNN``: day of the year, then the document's rank that day within the
series. Numbers therefore increase within a series and never repeat across runs that seed other
days (unique while a series has fewer than 10,000 documents a day). A vendor's invoice numbers
are its own series, so different vendors share numbers, as they do in life.

The ``data`` column is JSON text assembled with ``concat_str`` from pre-escaped pieces: every
string that can hold user text (counterparty names, descriptions) is JSON-escaped once per
distinct value in the look-up tables, then backslashes are doubled for the COPY text format.
Amounts are formatted from integer cents with integer arithmetic; no float ever becomes text.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import polars as pl

from journal_pipeline.seed import catalog
from journal_pipeline.seed.anomalies import Overrides, Truth
from journal_pipeline.seed.catalog import CURRENCIES
from journal_pipeline.seed.transactions import NO_TAX, STYLE_NUMBER, STYLE_PADDED, TYPES, Context, Plan, utc_offsets

COLUMNS: tuple[str, ...] = (
    "txn_id",
    "company_id",
    "txn_date",
    "created_at",
    "source_system",
    "txn_type",
    "created_by",
    "approved_by",
    "data",
)
_EPOCH = dt.date(1970, 1, 1)
CURRENCIES_DECIMALS = np.array([c.decimals for c in CURRENCIES])


def copy_json_string(text: str) -> str:
    """The inside of a JSON string literal for ``text``, escaped again for COPY text format."""
    return json.dumps(text, ensure_ascii=False)[1:-1].replace("\\", "\\\\")


@dataclass
class Lookups:
    """Text of every code a transaction row refers to, escaped once per distinct value."""

    counterparty: pl.Series
    cost_center: pl.Series
    phrase: pl.Series
    currency: pl.Series
    txn_type: pl.Series
    source_system: pl.Series
    user: pl.Series
    date: pl.Series

    @classmethod
    def of(cls, ctx: Context) -> Lookups:
        return cls(
            counterparty=pl.Series([copy_json_string(s) for s in ctx.ref.counterparties]),
            cost_center=pl.Series([copy_json_string(cc) for ccs in ctx.ref.cost_centers for cc in ccs]),
            phrase=pl.Series([copy_json_string(s) for s in TYPES.phrases]),
            currency=pl.Series([c.code for c in CURRENCIES]),
            txn_type=pl.Series(TYPES.codes),
            source_system=pl.Series(list(catalog.SOURCE_SYSTEMS)),
            user=pl.Series([u.user_id for u in ctx.ref.users]),
            date=pl.Series(ctx.calendar.dates, dtype=pl.Date),
        )


@dataclass
class Rendered:
    """The run's transactions as codes in txn_id order, formatted day by day for COPY."""

    frame: pl.DataFrame  # codes, amounts, overrides and document_ref, in txn_id order
    lookups: Lookups
    txn_id: np.ndarray  # txn_id per plan row
    day_bounds: list[tuple[dt.date, int, int]]  # (day, first frame row, end frame row)

    def copy_chunk(self, start: int, end: int) -> bytes:
        """Rows ``start``..``end`` of the frame in COPY text format (COLUMNS, tab-separated, \\N for NULL).

        Formatting a day at a time keeps only one day's text in memory.
        """
        chunk = self.frame.slice(start, end - start)
        text = self.lookups
        chunk = chunk.with_columns(
            counterparty_text=text.counterparty.gather(chunk["counterparty"]),
            cost_center_text=text.cost_center.gather(chunk["cost_center"]),
            phrase_text=text.phrase.gather(chunk["phrase"]),
            currency_text=text.currency.gather(chunk["currency"]),
            txn_type=text.txn_type.gather(chunk["type"]),
            source_system=text.source_system.gather(chunk["source"]),
            created_by=text.user.gather(chunk["creator"]),
            approved_by=text.user.gather(chunk["approver"].clip(lower_bound=0)),
            txn_date=text.date.gather(chunk["day"]),
        )
        chunk = chunk.with_columns(
            company_id=pl.when("company_override").then("company_value").otherwise(pl.col("company") + 1),
            txn_type=pl.when(~pl.col("type_null")).then("txn_type"),
            approved_by=pl.when(pl.col("approver") >= 0).then("approved_by"),
            created_at=pl.from_epoch("utc", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S+00"),
            data=_data_json(),
        )
        csv = chunk.select(COLUMNS).write_csv(
            separator="\t", quote_style="never", include_header=False, null_value="\\N"
        )
        return csv.encode()


def render(ctx: Context, plan: Plan, overrides: Overrides, first_txn_id: int) -> Rendered:
    """Order and number every transaction of ``plan`` and give each its document reference."""
    cal = ctx.calendar
    n = plan.size
    offsets = utc_offsets(ctx.ref, cal)
    local = ((cal.start - _EPOCH).days + plan.day.astype(np.int64)) * 86_400 + plan.secs
    utc = local - offsets[plan.company, plan.day, plan.secs // 3600]
    order = np.lexsort((np.arange(n), plan.company, utc, plan.day))
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    txn_id = first_txn_id + position

    company = plan.company[order]
    txn_type = plan.txn_type[order]
    cost_center_offset = np.cumsum([0] + [len(cc) for cc in ctx.ref.cost_centers])[:-1]
    frame = pl.DataFrame(
        {
            "txn_id": np.arange(first_txn_id, first_txn_id + n, dtype=np.int64),
            "day": plan.day[order].astype(np.int64),
            "company": company.astype(np.int64),
            "utc": utc[order],
            "type": txn_type.astype(np.int64),
            "source": TYPES.source[txn_type].astype(np.int64),
            "manual": plan.manual[order],
            "creator": plan.creator[order].astype(np.int64),
            "approver": plan.approver[order].astype(np.int64),
            "currency": plan.currency[order].astype(np.int64),
            "whole": CURRENCIES_DECIMALS[plan.currency[order]] == 0,
            "amount": plan.amount[order],
            "tax": plan.tax[order],
            "style": plan.style[order],
            "po": plan.po_number[order],
            "counterparty": plan.counterparty[order].astype(np.int64),
            "cost_center": (cost_center_offset[company] + plan.cost_center[order]).astype(np.int64),
            "phrase": plan.phrase[order].astype(np.int64),
            "by_counterparty": TYPES.by_counterparty[txn_type],
            "doc_prefix": TYPES.doc_prefix[txn_type].astype(np.int64),
            "doc_counterparty": np.where(TYPES.doc_per_counterparty[txn_type], plan.counterparty[order], -1),
        }
    )
    frame = _apply_overrides(frame, overrides, position, n)
    lookups = Lookups.of(ctx)
    frame = frame.with_columns(document_ref=_document_refs(frame, lookups.date))
    frame = _apply_document_ref_overrides(frame, overrides, position)
    bounds = np.searchsorted(frame["day"].to_numpy(), np.arange(cal.days + 1))
    day_bounds = [(cal.dates[d], int(bounds[d]), int(bounds[d + 1])) for d in range(cal.days)]
    return Rendered(frame=frame, lookups=lookups, txn_id=txn_id, day_bounds=day_bounds)


def _scatter(n: int, dtype: pl.DataType, positions: list[int], values: list) -> pl.Series:
    series = pl.repeat(None, n, dtype=dtype, eager=True)
    if positions:
        series = series.scatter(positions, pl.Series(values, dtype=dtype))
    return series


def _apply_overrides(frame: pl.DataFrame, overrides: Overrides, position: np.ndarray, n: int) -> pl.DataFrame:
    def at(rows: object) -> list[int]:
        return [int(position[r]) for r in rows]  # type: ignore[attr-defined]

    company_rows = list(overrides.company_id)
    amount_rows = list(overrides.amount)
    currency_rows = list(overrides.currency)
    flags = {
        "company_override": at(company_rows),
        "type_null": at(overrides.txn_type_null),
        "data_null": at(overrides.data_null),
        "amount_absent": at(r for r in amount_rows if overrides.amount[r] is None),
        "currency_absent": at(r for r in currency_rows if overrides.currency[r] is None),
    }
    columns = {name: _flag(n, rows) for name, rows in flags.items()}
    columns["company_value"] = _scatter(
        n, pl.Int64(), at(company_rows), [overrides.company_id[r] for r in company_rows]
    )
    columns["amount_raw"] = _scatter(n, pl.String(), at(amount_rows), [overrides.amount[r] for r in amount_rows])
    columns["tax_raw"] = _scatter(n, pl.String(), at(overrides.tax), list(overrides.tax.values()))
    columns["currency_raw"] = _scatter(
        n, pl.String(), at(currency_rows), [overrides.currency[r] for r in currency_rows]
    )
    return frame.with_columns(**columns)


def _flag(n: int, positions: list[int]) -> pl.Series:
    flags = np.zeros(n, bool)
    flags[positions] = True
    return pl.Series(flags)


def _document_refs(frame: pl.DataFrame, dates: pl.Series) -> pl.Series:
    """PREFIX-YYYY-DDDNNNN: day of the year and rank of the document that day within its series."""
    txn_date = dates.gather(frame["day"])
    rank = frame.select(pl.int_range(pl.len()).over("company", "doc_prefix", "doc_counterparty", "day")).to_series()
    sequence = txn_date.dt.ordinal_day().cast(pl.Int64) * 10_000 + rank + 1
    prefix = pl.Series(TYPES.doc_prefixes).gather(frame["doc_prefix"])
    return pl.select(
        pl.concat_str(
            [
                pl.lit(prefix),
                pl.lit("-"),
                pl.lit(txn_date.dt.year().cast(pl.String)),
                pl.lit("-"),
                pl.lit(sequence.cast(pl.String).str.zfill(7)),
            ]
        )
    ).to_series()


def _apply_document_ref_overrides(frame: pl.DataFrame, overrides: Overrides, position: np.ndarray) -> pl.DataFrame:
    if not overrides.document_ref:
        return frame
    refs = frame["document_ref"]
    targets, values = [], []
    for row, (source, variant) in overrides.document_ref.items():
        ref = refs[int(position[source])]
        if variant == "-A":
            ref = f"{ref}-A"
        elif variant == "nodash":
            ref = ref.replace("-", "", 1)
        targets.append(int(position[row]))
        values.append(ref)
    return frame.with_columns(document_ref=refs.scatter(targets, pl.Series(values)))


def _decimal_text(cents: str) -> pl.Expr:
    """Exact decimal text of a non-negative integer-cents column (whole units for whole-yen rows)."""
    major = (pl.col(cents) // 100).cast(pl.String)
    minor = (pl.col(cents) % 100).cast(pl.String).str.zfill(2)
    return pl.when("whole").then(major).otherwise(pl.concat_str([major, pl.lit("."), minor]))


def _json_number_or_string(text: pl.Expr) -> pl.Expr:
    return (
        pl.when(pl.col("style") == STYLE_NUMBER)
        .then(text)
        .when(pl.col("style") == STYLE_PADDED)
        .then(pl.concat_str([pl.lit('" '), text, pl.lit('"')]))
        .otherwise(pl.concat_str([pl.lit('"'), text, pl.lit('"')]))
    )


def _member(key: str, value: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(f'"{key}":'), value])


def _quoted(value: pl.Expr | str) -> pl.Expr:
    value = pl.col(value) if isinstance(value, str) else value
    return pl.concat_str([pl.lit('"'), value, pl.lit('"')])


def _data_json() -> pl.Expr:
    amount = (
        pl.when("amount_absent")
        .then(None)
        .when(pl.col("amount_raw").is_not_null())
        .then(pl.col("amount_raw"))
        .otherwise(_json_number_or_string(_decimal_text("amount")))
    )
    tax = (
        pl.when(pl.col("tax_raw").is_not_null())
        .then(pl.col("tax_raw"))
        .when(pl.col("tax") != NO_TAX)
        .then(_json_number_or_string(_decimal_text("tax")))
    )
    currency = (
        pl.when("currency_absent")
        .then(None)
        .when(pl.col("currency_raw").is_not_null())
        .then(pl.col("currency_raw"))
        .otherwise(_quoted("currency_text"))
    )
    month = pl.col("txn_date").dt.strftime("%b %Y")
    description = pl.concat_str(
        [
            pl.col("phrase_text"),
            pl.when("by_counterparty")
            .then(pl.concat_str([pl.lit(" – "), pl.col("counterparty_text")]))
            .otherwise(pl.concat_str([pl.lit(" "), month])),
        ]
    )
    po_number = pl.when(pl.col("po") >= 0).then(
        pl.concat_str([pl.lit('"PO-'), pl.col("po").cast(pl.String), pl.lit('"')])
    )
    members = pl.concat_str(
        [
            _member("amount", amount),
            _member("tax_amount", tax),
            _member("currency", currency),
            _member("counterparty", _quoted("counterparty_text")),
            _member("cost_center", _quoted("cost_center_text")),
            _member("document_ref", _quoted("document_ref")),
            _member("description", _quoted(description)),
            _member("entry_mode", pl.when("manual").then(pl.lit('"manual"')).otherwise(pl.lit('"auto"'))),
            _member("po_number", po_number),
        ],
        separator=",",
        ignore_nulls=True,
    )
    return pl.when(~pl.col("data_null")).then(pl.concat_str([pl.lit("{"), members, pl.lit("}")]))


def ground_truth_rows(truth: list[Truth], txn_id: np.ndarray) -> list[tuple[int, str, str, str]]:
    """(txn_id, category, kind, detail) with partner placeholders replaced by txn_ids, sorted."""
    rows = [
        (
            int(txn_id[t.row]),
            t.category,
            t.kind,
            t.detail.format(*(int(txn_id[p]) for p in t.partners)) if t.partners else t.detail,
        )
        for t in truth
    ]
    return sorted(rows)
