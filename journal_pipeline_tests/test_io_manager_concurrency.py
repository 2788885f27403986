"""Two runs of the same day storing the same asset at the same moment (a schedule tick and a
backfill): each stores its folder whole, neither fails, and the day's folder is one of theirs."""

from __future__ import annotations

import datetime as dt
import threading

import dagster as dg
import polars as pl

from journal_pipeline.defs.io_manager import DailyParquetIOManager
from journal_pipeline.defs.partitions import daily_partitions

DAY = dt.date(2024, 6, 3)
ROUNDS = 100


def frames(writer: str) -> dict[str, pl.DataFrame]:
    """Two files per folder, both naming the writer, so that a folder mixing two writers shows."""
    day = pl.Series("journal_date", [DAY] * 3)
    return {
        "lines": pl.DataFrame({"journal_date": day, "writer": [writer] * 3}),
        "quarantine": pl.DataFrame({"journal_date": day[:1], "writer": [writer]}),
    }


def output_contexts() -> list[dg.OutputContext]:
    """One context per store (a context takes its output metadata once), made in the main thread:
    a context's Dagster instance must be closed by the thread that made it."""
    return [
        dg.build_output_context(
            asset_key="journal_lines",
            partition_key=DAY.isoformat(),
            asset_partitions_def=daily_partitions,
            definition_metadata={"partition_expr": "journal_date"},
        )
        for _ in range(ROUNDS)
    ]


def store(
    manager: DailyParquetIOManager,
    contexts: list[dg.OutputContext],
    writer: str,
    errors: list[BaseException],
    start: threading.Barrier,
) -> None:
    start.wait()
    for context in contexts:
        try:
            manager.handle_output(context, frames(writer))
        except Exception as exc:  # reported by the test, not swallowed
            errors.append(exc)
            return


def test_two_runs_storing_one_day_at_once_both_succeed(tmp_path):
    manager = DailyParquetIOManager(base_dir=str(tmp_path))
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    threads = [
        threading.Thread(target=store, args=(manager, output_contexts(), writer, errors, start))
        for writer in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    folder = tmp_path / "journal_lines"
    assert [path.name for path in folder.iterdir()] == [DAY.isoformat()]  # no staging or retired folder left
    writers = {
        name: pl.read_parquet(folder / DAY.isoformat() / f"{name}.parquet")["writer"].unique().to_list()
        for name in ("lines", "quarantine")
    }
    assert writers["lines"] == writers["quarantine"] and writers["lines"] in (["a"], ["b"])
