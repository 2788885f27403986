"""Time the pure scoring of a range of days, from the Parquet intermediates.

    python -m journal_pipeline.fraud.bench --start 2024-07-01 --end 2024-07-31

Reads what the fraud_scores asset reads (the days and the HISTORY_DAYS before them, only the
columns it needs) from ``$JOURNAL_STORAGE_DIR`` (the IO manager's ``<asset>/<day>/<frame>.parquet``
layout), then times building the scored population and scoring every day of the range in one
window: the worst case, since a backfill run scores at most BACKFILL_DAYS_PER_RUN days.
Nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import polars as pl

from journal_pipeline.config import storage_dir
from journal_pipeline.fraud.config import HISTORY_DAYS, FraudConfig
from journal_pipeline.fraud.features import LINE_COLUMNS, TRANSACTION_COLUMNS, Population, build_entries
from journal_pipeline.fraud.score import score_window

REFERENCE_FRAMES = ("users", "companies", "accounts")


def read_intermediates(base: Path, first: dt.date, last: dt.date) -> dict[str, pl.DataFrame]:
    """transactions, lines and the reference frames of first - HISTORY_DAYS .. last."""
    days = [
        first - dt.timedelta(days=HISTORY_DAYS) + dt.timedelta(days=n)
        for n in range((last - first).days + HISTORY_DAYS + 1)
    ]
    found = [day.isoformat() for day in days if (base / "source_transactions" / day.isoformat()).is_dir()]
    if not found:
        raise ValueError(f"no source_transactions under {base} for {first}..{last}: run the pipeline first")

    def read(asset: str, frame: str, columns: list[str] | None = None) -> pl.DataFrame:
        paths = [base / asset / day / f"{frame}.parquet" for day in found]
        return pl.concat(pl.read_parquet(path, columns=columns) for path in paths)

    frames = {
        "transactions": read("source_transactions", "transactions", TRANSACTION_COLUMNS),
        "lines": read("journal_lines", "lines", LINE_COLUMNS),
    }
    for name in REFERENCE_FRAMES:
        frames[name] = read("source_transactions", name).unique(maintain_order=True)
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    base = storage_dir()
    started = time.perf_counter()
    frames = read_intermediates(base, args.start, args.end)
    read = time.perf_counter()
    entries = build_entries(
        frames["transactions"], frames["lines"], frames["users"], frames["companies"], frames["accounts"]
    )
    population = Population(entries, args.start, args.end)
    built = time.perf_counter()
    scored = score_window(population, FraudConfig())
    done = time.perf_counter()
    window = scored.scores.height
    transactions, lines = frames["transactions"].height, frames["lines"].height
    print(f"read {transactions:,} transactions and {lines:,} lines in {read - started:.2f} s")
    history = entries.height - window
    print(f"built {entries.height:,} posted entries ({history:,} of history) in {built - read:.2f} s")
    print(
        f"scored {window:,} transactions of {args.start}..{args.end} in {done - built:.2f} s "
        f"({scored.scores.filter(pl.col('risk_score') > 0).height:,} with a reason)"
    )
    print(f"pure scoring (population + tests + score): {done - read:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
