"""Time the pure scoring of a range of days, from the Parquet intermediates.

    python -m journal_pipeline.fraud.bench --start 2024-07-01 --end 2024-07-31

Reads what the fraud_scores asset reads from ``$JOURNAL_STORAGE_DIR`` (the IO manager's
``<asset>/<day>/<frame>.parquet`` layout): the fraud frames journal_lines stored for the days and
the HISTORY_DAYS before them (journal_pipeline.fraud.population.DAY_FRAMES), as per-day scans.
Then times loading the history's counts and the scored days' entries, and scoring every day of
the range in one window (a backfill run scores at most BACKFILL_DAYS_PER_RUN days), and prints
the peak memory of the process. Nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
from pathlib import Path

import polars as pl

from journal_pipeline.config import storage_dir
from journal_pipeline.fraud.config import HISTORY_DAYS, FraudConfig
from journal_pipeline.fraud.population import DAY_FRAMES, History, Population
from journal_pipeline.fraud.score import score_window


def scan_intermediates(base: Path, first: dt.date, last: dt.date) -> dict[str, dict[dt.date, pl.LazyFrame]]:
    """DAY_FRAMES of first - HISTORY_DAYS .. last, per frame and day, as the asset gets them."""
    days = [first - dt.timedelta(days=HISTORY_DAYS - n) for n in range((last - first).days + HISTORY_DAYS + 1)]
    found = [day for day in days if (base / "journal_lines" / day.isoformat()).is_dir()]
    if not found:
        raise ValueError(f"no journal_lines under {base} for {first}..{last}: run the pipeline first")
    return {
        name: {day: pl.scan_parquet(base / "journal_lines" / day.isoformat() / f"{name}.parquet") for day in found}
        for name in DAY_FRAMES
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    history = History.from_frames(scan_intermediates(storage_dir(), args.start, args.end))
    entries = history.entries_between(args.start, args.end).collect()
    read = time.perf_counter()
    scored = score_window(Population(entries, args.start, args.end, history), FraudConfig())
    done = time.perf_counter()
    loaded_days = sum(day < args.start for day in history.entries_by_day)
    counts = sum(frame.height for frame in (history.pairs, history.sources, history.posters, history.digits))
    print(
        f"read {entries.height:,} entries of {args.start}..{args.end} and the counts of {loaded_days} days "
        f"before ({counts + history.amount_counts.height:,} rows) in {read - started:.2f} s"
    )
    print(
        f"scored {scored.scores.height:,} transactions in {done - read:.2f} s "
        f"({scored.scores.filter(pl.col('risk_score') > 0).height:,} with a reason)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pure scoring (read + tests + score): {done - started:.2f} s, peak RSS {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
