"""What each day stores for fraud scoring, and scoring from it: the per-day frames journal_lines
writes, the history read back from their files, the exact median and MAD from binned amounts,
and the same scores as from the entries themselves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from journal_pipeline.fraud.amounts import AMOUNT_KEYS, amount_bins, median_and_mad
from journal_pipeline.fraud.config import FraudConfig
from journal_pipeline.fraud.population import DAY_FRAMES, History, Population, day_frames
from journal_pipeline.fraud.score import score_window
from journal_pipeline_tests.test_fraud_support import DAY, entries, entry, synthetic_entries

CONFIG = FraudConfig()
FIRST = dt.date(2024, 7, 1)


def _amounts(rng: np.random.Generator, cents: np.ndarray) -> pl.DataFrame:
    n = len(cents)
    return pl.DataFrame(
        {
            "company_id": rng.integers(1, 3, n).astype(np.int32),
            "net_account": rng.choice(["5000", "4000"], n),
            "net_dc": rng.choice(["D", "C"], n),
            "day": [DAY - dt.timedelta(days=int(k)) for k in rng.integers(0, 35, n)],
            "base_net": [Decimal(int(c)).scaleb(-2) for c in np.maximum(cents, 1)],
        },
        schema_overrides={"base_net": pl.Decimal(18, 2)},
    )


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: np.rint(10 ** rng.normal(5, 1, n)),  # log-normal, as amounts are
        lambda rng, n: rng.choice([100, 1000, 10000, 12345, 99999], n),  # ties, exact powers of ten
        lambda rng, n: rng.integers(1, 200, n),  # a few cents: everything in a handful of bins
        lambda rng, n: np.rint(10 ** rng.uniform(0, 9, n)),  # nine decades
    ],
)
def test_median_and_mad_from_bins_equal_polars_over_every_amount(draw):
    rng = np.random.default_rng(7)
    first = DAY - dt.timedelta(days=28)
    for n in (1, 2, 3, 40, 1001):
        frame = _amounts(rng, draw(rng, n).astype(np.int64))
        bins = amount_bins(frame)
        found = median_and_mad(bins.drop("x"), bins.lazy(), frame.select(AMOUNT_KEYS).unique(), first, DAY)
        window = frame.filter(pl.col("day").is_between(first, DAY)).with_columns(
            pl.col("base_net").cast(pl.Float64).log10().alias("x")
        )
        medians = window.group_by(AMOUNT_KEYS).agg(pl.len().alias("n"), pl.col("x").median().alias("median"))
        mads = (
            window.join(medians, on=AMOUNT_KEYS)
            .group_by(AMOUNT_KEYS)
            .agg((pl.col("x") - pl.col("median")).abs().median().alias("mad"))
        )
        expected = medians.join(mads, on=AMOUNT_KEYS).sort(AMOUNT_KEYS)
        got = found.sort(AMOUNT_KEYS).select(*AMOUNT_KEYS, pl.col("n").cast(pl.UInt32), "median", "mad")
        assert got.equals(expected.select(*AMOUNT_KEYS, "n", "median", "mad")), n  # to the last bit


def test_a_day_stores_its_entries_and_counts_with_its_date():
    rows = [
        entry(1, manual=True, created_by="u010"),
        entry(2, manual=False, created_by="u001", source_system="CB", net_account="1200", contra_account="1200"),
        entry(3, day=DAY - dt.timedelta(days=1), amount="25.00"),
    ]
    frames = day_frames(entries(rows))
    assert list(frames) == list(DAY_FRAMES)
    assert all("journal_date" in frame.columns and "day" not in frame.columns for frame in frames.values())
    assert frames["fraud_entries"]["txn_id"].to_list() == [3, 1, 2]
    pairs = frames["fraud_pairs"].filter(pl.col("journal_date") == DAY)
    assert pairs.select("net_account", "contra_account", "pair_uses").rows() == [
        ("1200", "1200", 1),
        ("5000", "2000", 1),
    ]
    sources = frames["fraud_sources"].filter(pl.col("journal_date") == DAY)
    assert sources.select("source_system", "entries", "manual_entries").rows() == [("AP", 1, 1), ("CB", 1, 0)]
    assert frames["fraud_posters"].select("created_by", "by_poster").rows() == [("u010", 1), ("u010", 1)]
    first_digits = frames["fraud_digits"].filter(
        (pl.col("test") == "benford_first_digit") & (pl.col("kind") == "company")
    )
    assert first_digits.select("journal_date", "digit", "count").sort("journal_date").rows() == [
        (DAY - dt.timedelta(days=1), 2, 1),
        (DAY, 1, 2),
    ]
    assert frames["fraud_amounts"]["count"].sum() == 3


def _stored(frame: pl.DataFrame, folder) -> dict[str, dict[str, pl.LazyFrame]]:
    """day_frames of each day written to its own Parquet files, as journal_lines stores them, and
    scanned back per day, as the IO manager gives them to the fraud asset."""
    scans: dict[str, dict[str, pl.LazyFrame]] = {name: {} for name in DAY_FRAMES}
    for (day,), part in frame.partition_by("day", as_dict=True).items():
        for name, stored in day_frames(part).items():
            path = folder / f"{day}_{name}.parquet"
            stored.write_parquet(path, statistics=False)
            scans[name][day.isoformat()] = pl.scan_parquet(path)
    return scans


def test_scores_from_the_stored_days_equal_scores_from_the_entries(tmp_path):
    """The asset's path (each day's frames from its files, only the scored days' entries in
    memory) gives every scored day the rows the entries themselves give it."""
    synthetic = synthetic_entries(seed=3, first=FIRST, days=24)
    history = History.from_frames(_stored(synthetic, tmp_path))
    first, last = FIRST + dt.timedelta(days=20), FIRST + dt.timedelta(days=23)
    window = history.entries_between(first, last).collect()
    assert window.equals(synthetic.filter(pl.col("day").is_between(first, last)))
    from_files = score_window(Population(window, first, last, history), CONFIG)
    from_entries = score_window(Population(synthetic, first, last), CONFIG)
    assert from_files.scores.equals(from_entries.scores)
    assert from_files.scores.filter(pl.col("risk_score") > 0).height > 20
    assert from_files.benford_groups.equals(from_entries.benford_groups)


def test_a_history_reads_only_the_days_it_is_asked_for(tmp_path):
    synthetic = synthetic_entries(seed=3, first=FIRST, days=3, per_day=50)
    scans = _stored(synthetic, tmp_path)
    scans["fraud_entries"][FIRST.isoformat()] = pl.scan_parquet(tmp_path / "no such file.parquet")
    history = History.from_frames(scans)
    later = history.entries_between(FIRST + dt.timedelta(days=1), FIRST + dt.timedelta(days=2)).collect()
    assert later.height == 100  # the first day's (missing) file was never opened
    assert history.entries_between(FIRST - dt.timedelta(days=9), FIRST - dt.timedelta(days=1)).collect().height == 0


def test_amounts_binned_at_another_resolution_are_refused(monkeypatch):
    from journal_pipeline.fraud import amounts

    frame = _amounts(np.random.default_rng(1), np.rint(10 ** np.random.default_rng(2).normal(5, 1, 500)))
    monkeypatch.setattr(amounts, "BINS_PER_DECADE", 16)
    stored = amount_bins(frame)  # as an older journal_lines would have stored them
    monkeypatch.undo()
    with pytest.raises(ValueError, match="another BINS_PER_DECADE than 64: materialize journal_lines again"):
        median_and_mad(stored.drop("x"), stored.lazy(), frame.select(AMOUNT_KEYS).unique(), FIRST, DAY)


def test_the_io_manager_gives_a_lazy_input_as_a_scan_per_day(tmp_path):
    import dagster as dg

    from journal_pipeline.defs.io_manager import DailyParquetIOManager
    from journal_pipeline.defs.partitions import daily_partitions

    synthetic = synthetic_entries(seed=3, first=FIRST, days=3, per_day=20)
    for (day,), part in synthetic.partition_by("day", as_dict=True).items():
        folder = tmp_path / "journal_lines" / day.isoformat()
        folder.mkdir(parents=True)
        for name, frame in day_frames(part).items():
            frame.write_parquet(folder / f"{name}.parquet")
    manager = DailyParquetIOManager(base_dir=str(tmp_path))
    days = dg.PartitionKeyRange(FIRST.isoformat(), (FIRST + dt.timedelta(days=3)).isoformat())

    def load(frames: list[str]) -> dict:
        context = dg.build_input_context(
            asset_key="journal_lines",
            definition_metadata={"frames": frames, "lazy": True, "allow_missing_days": True},
            asset_partition_key_range=days,
            asset_partitions_def=daily_partitions,
        )
        return manager.load_input(context)

    scans = load(list(DAY_FRAMES))
    # three days: the fourth was never materialized
    assert sorted(scans["fraud_entries"]) == [(FIRST + dt.timedelta(days=n)).isoformat() for n in range(3)]
    assert isinstance(scans["fraud_entries"][FIRST.isoformat()], pl.LazyFrame)
    assert History.from_frames(scans).entries_between(FIRST, FIRST).collect().height == 20
    with pytest.raises(dg.DagsterInvariantViolationError, match=r"has no frame fraud_extra .*materialize it again"):
        load(["fraud_extra"])
