"""The journal_lines step's work: a day's transactions posted (journal_pipeline.domain.posting) and
turned into what fraud scoring reads (journal_pipeline.fraud), a part of the day at a time.

Posting and building the fraud entries take several times their input in memory while they work,
and a day of a million transactions in one go would need gigabytes. So the transactions are posted
in parts of whole (day, company) groups of at most about POSTING_PART_TRANSACTIONS (one part at
the usual volumes, which is then exactly the one-go code path). Every rule works within a company
and day (a transaction's checks, its rate and its lines are its own; journal numbers count per
company and day), so the parts give exactly the rows that one go would, put back in the same order.
Only the part being posted is read from the extract's file (its raw ``data`` is the largest
column), never all of it, and with several parts each part's lines (the largest output, some 480 MB
at a million transactions) are written to a file of their own in a spill folder as soon as they
are posted: the lines come back as one scan of those files, in order, which the IO manager streams
into the asset's file and the checks read a part at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce
from pathlib import Path

import polars as pl

from journal_pipeline.domain.posting import post
from journal_pipeline.fraud.features import TRANSACTION_COLUMNS, build_entries
from journal_pipeline.fraud.population import day_frames

POSTING_PART_TRANSACTIONS = 250_000
_GROUP = ["txn_date", "company_id"]


def post_in_parts(
    transactions: pl.LazyFrame, reference: Mapping[str, pl.DataFrame], most: int, spill: Path | None = None
) -> tuple[list[pl.LazyFrame], pl.DataFrame, dict[str, pl.DataFrame]]:
    """post(), build_entries() and day_frames() of ``transactions`` (the extract's, scanned),
    posted in parts of whole (day, company) groups of at most ``most`` transactions: the
    lines, the quarantine and the fraud frames, exactly as one post() of all of them gives.

    The lines come as one LazyFrame per part, in order (``pl.concat`` of them is post()'s
    lines): with several parts and a ``spill`` folder, scans of the files each part's lines were
    written to there (the folder must outlive their use), else the lines in memory."""
    parts = posting_parts(transactions.group_by(_GROUP).len().collect(), most)
    lines: list[pl.LazyFrame] = []
    quarantine, entries = [], []
    for number, part in enumerate(parts):
        part_transactions = transactions.filter(part).collect() if len(parts) > 1 else transactions.collect()
        result = post(
            part_transactions,
            reference["companies"],
            reference["accounts"],
            reference["posting_rules"],
            reference["fx_rates"],
        )
        entries.append(
            build_entries(
                part_transactions.select(TRANSACTION_COLUMNS),
                result.lines,
                reference["users"],
                reference["companies"],
                reference["accounts"],
            )
        )
        quarantine.append(result.quarantine)
        if spill is not None and len(parts) > 1:
            path = spill / f"lines-{number:05d}.parquet"
            # uncompressed: written and read back once, soon; statistics let a day's filter skip the rest
            result.lines.write_parquet(path, compression="uncompressed", statistics=True)
            lines.append(pl.scan_parquet(path))
        else:
            lines.append(result.lines.lazy())
        del part_transactions, result
    # the parts are in (day, company) order and each is sorted: their lines end to end are sorted
    # as post() sorts them; the quarantine and the entries are sorted again (day_frames on the
    # entries sorted in one piece: 1.0 s instead of 2.0 s at 900,000 transactions, and less memory)
    if len(parts) == 1:
        return lines, quarantine[0], day_frames(entries[0])
    return (
        lines,
        pl.concat(quarantine).sort("journal_date", "txn_id"),
        day_frames(_concat_sorted(entries, ["day", "txn_id"])),
    )


def _concat_sorted(frames: list[pl.DataFrame], by: list[str]) -> pl.DataFrame:
    """``pl.concat(frames).sort(by)``, emptying ``frames``, holding at most one column twice: each
    column is gathered into the new order and let go of in the old one (a sort of a million
    entries holds both copies at once, some 600 MB more at its peak)."""
    frame = pl.concat(frames, rechunk=False)
    frames.clear()  # the concatenation is now the only holder of the parts' columns
    order = frame.select(pl.arg_sort_by(by)).to_series()
    columns = []
    for name in frame.columns:
        columns.append(frame.get_column(name).gather(order))
        frame = frame.drop(name)
    return pl.DataFrame(columns)


def posting_parts(groups: pl.DataFrame, most: int) -> list[pl.Expr]:
    """The rows of each part as a filter: ``groups`` (txn_date, company_id, len: the transactions
    of each day and company) in (day, company) order, cut into runs of whole groups of at most
    ``most`` transactions (a larger group is a part of its own)."""
    groups = groups.sort(_GROUP, nulls_last=False)
    parts: list[list[tuple]] = [[]]
    size = 0
    for day, company_id, count in groups.iter_rows():  # one row per day and company: a few dozen
        if parts[-1] and size + count > most:
            parts.append([])
            size = 0
        parts[-1].append((day, company_id))
        size += count
    return [
        reduce(pl.Expr.or_, [_is_group(day, company_id) for day, company_id in part], pl.lit(False)) for part in parts
    ]


def _is_group(day, company_id) -> pl.Expr:
    def equals(column: str, value) -> pl.Expr:
        return pl.col(column).is_null() if value is None else pl.col(column) == value

    return equals("txn_date", day) & equals("company_id", company_id)
