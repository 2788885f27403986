"""The IO manager's folders in the storage: two runs of the same day storing the same asset at the
same moment (a schedule tick and a backfill) each store their folder whole, neither fails, and the
day's folder is one of theirs; and what a killed run leaves is found by name and age, nothing else."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid

import dagster as dg
import polars as pl

from journal_pipeline.defs.io_manager import SPILL_PREFIX, DailyParquetIOManager, abandoned_folders
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


def folder(path, age: dt.timedelta, now: float):
    """A folder holding one file, last written ``age`` before ``now``."""
    path.mkdir(parents=True)
    (path / "lines.parquet").write_bytes(b"x")
    os.utime(path, (now - age.total_seconds(),) * 2)
    return path


def test_what_a_killed_run_leaves_is_found_by_name_and_age(tmp_path):
    now, old, young = time.time(), dt.timedelta(days=2), dt.timedelta(minutes=5)
    assets = tmp_path / "journal_lines", tmp_path / "vouchers"
    abandoned = [
        folder(assets[0] / f".2024-06-03.{uuid.uuid4().hex}", old, now),  # staging
        folder(assets[1] / f".2024-06-04.retired.{uuid.uuid4().hex}", old, now),  # retired
        folder(tmp_path / f"{SPILL_PREFIX}k2j4h1x0", old, now),  # spill
    ]
    kept = [
        folder(assets[0] / f".2024-06-05.{uuid.uuid4().hex}", young, now),  # a live run's staging
        folder(tmp_path / f"{SPILL_PREFIX}a8b7c6d5", young, now),  # a live run's spill
        folder(assets[0] / "2024-06-03", old, now),  # a day's own folder, however old
        folder(assets[1] / ".2024-06-03.not-a-staging-folder", old, now),
        folder(tmp_path / ".cache", old, now),
    ]
    found = abandoned_folders(tmp_path, dt.timedelta(days=1), now=now)
    assert found == sorted(abandoned)
    assert not set(found) & set(kept)
    assert abandoned_folders(tmp_path / "never-created", dt.timedelta(days=1)) == []
