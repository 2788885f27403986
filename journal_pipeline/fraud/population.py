"""The scored population: a window's entries, and what each day before it left for it.

A day is scored against the HISTORY_DAYS days before it: how often its accounts, account pairs,
posters and source systems were used, how its accounts' amounts are spread, which digits its
posters' amounts begin with, and which earlier entries were the same document or parts of the
same purchase. Re-reading those days' transactions for every scored day would load 29 days of
rows (3.6 million at the reference scale) to score one. Instead, each day's ``journal_lines``
step stores what its day contributes, once, beside its lines (:func:`day_frames`):

- ``fraud_entries``: the day's entries as the tests see them (features.build_entries);
- ``fraud_pairs``: entries per company, net account and contra account (the rare-account tests;
  per-company and per-account counts are sums of these);
- ``fraud_sources``: entries and manual entries per company and source system (manual_entry);
- ``fraud_posters``: manual entries per company, net account and poster (unusual_poster);
- ``fraud_digits``: amounts per company or poster, Benford test and digit (benford);
- ``fraud_amounts``: per company, net account and side, the log amounts in bins, with counts
  (amount_outlier's exact median and MAD, journal_pipeline.fraud.amounts).

Each frame has a ``journal_date`` column, so the IO manager stores one file per frame and day.
A :class:`History` is those frames over the loaded days: the counts in memory (thousands of rows
a day rather than a hundred thousand), the entries and amounts scanned on demand. The duplicate
and split tests read earlier entries only through :meth:`History.entries_matching` (the entries
with the same document or purchase key as a scored one), so no test holds the history's rows.

Every statistic a test compares a transaction with is computed per scored day from that day and
the days before it, never from later days: a day's scores do not change when later days are
loaded or scored, and a backfill run of seven days gives each day the scores a one-day run gives
it. Unit tests build a :class:`Population` straight from entries; its history is then summarised
from those entries by the same :func:`day_frames`, so both paths run the same code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property

import polars as pl

from journal_pipeline.fraud.amounts import amount_bins
from journal_pipeline.fraud.benford import digit_counts
from journal_pipeline.fraud.features import ENTRY_SCHEMA, key_fingerprint

# The frames journal_lines writes for the fraud asset (and the fraud asset reads), in this order.
DAY_FRAMES = ("fraud_entries", "fraud_pairs", "fraud_sources", "fraud_posters", "fraud_digits", "fraud_amounts")


def day_frames(entries: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """What ``entries`` (ENTRY_SCHEMA, of one day or several) leave for later days' scoring:
    DAY_FRAMES by name, each with ``journal_date`` for ``day``, sorted (byte-identical files for
    the same entries)."""
    with_contra = entries.filter(pl.col("contra_account").is_not_null())
    pairs = with_contra.group_by("company_id", "net_account", "contra_account", "day").agg(pl.len().alias("pair_uses"))
    sources = (
        entries.filter(pl.col("source_system").is_not_null())
        .group_by("company_id", "source_system", "day")
        .agg(pl.len().alias("entries"), pl.col("manual").sum().alias("manual_entries"))
    )
    posters = (
        entries.filter(pl.col("manual") & pl.col("created_by").is_not_null())
        .group_by("company_id", "net_account", "created_by", "day")
        .agg(pl.len().alias("by_poster"))
    )
    frames = {
        "fraud_entries": _sorted_by_day_and_txn(entries),
        "fraud_pairs": pairs.sort(pl.all()),
        "fraud_sources": sources.sort(pl.all()),
        "fraud_posters": posters.sort(pl.all()),
        "fraud_digits": digit_counts(entries).sort(pl.all()),
        "fraud_amounts": amount_bins(entries),
    }
    return {name: frame.rename({"day": "journal_date"}) for name, frame in frames.items()}


def _sorted_by_day_and_txn(entries: pl.DataFrame) -> pl.DataFrame:
    """``entries`` sorted by day and txn_id: as they are when they already are (as the posting
    hands them over), since a sort gathers every column anew, a day's worth of text included."""
    day, txn = pl.col("day"), pl.col("txn_id")
    in_order = ((day > day.shift()) | ((day == day.shift()) & (txn >= txn.shift()))).fill_null(True).all()
    no_nulls = (day.null_count() + txn.null_count()) == 0  # a sort puts nulls first; the test above skips them
    if entries.select(in_order & no_nulls).item():
        return entries
    return entries.sort("day", "txn_id")


# The loaded days' frames as stored, {frame name: {day: frame}}: the IO manager's ``lazy`` input.
DayFrames = Mapping[str, Mapping[dt.date | str, pl.LazyFrame]]


@dataclass(frozen=True)
class History:
    """DAY_FRAMES of the loaded days (with ``day``, not ``journal_date``): the counts in memory,
    the entries and binned amounts as a scan per day, read through :meth:`entries_between` and
    :meth:`amounts_between` (only the days asked for are opened)."""

    entries_by_day: Mapping[dt.date, pl.LazyFrame]  # ENTRY_SCHEMA
    amounts_by_day: Mapping[dt.date, pl.LazyFrame]  # amounts.AMOUNT_BINS_SCHEMA
    pairs: pl.DataFrame  # company_id, net_account, contra_account, day, pair_uses
    sources: pl.DataFrame  # company_id, source_system, day, entries, manual_entries
    posters: pl.DataFrame  # company_id, net_account, created_by, day, by_poster
    digits: pl.DataFrame  # kind, group, test, digit, day, count (benford.digit_counts)
    amount_counts: pl.DataFrame  # amounts.AMOUNT_BINS_SCHEMA without x

    @classmethod
    def from_frames(cls, frames: DayFrames) -> History:
        """From DAY_FRAMES as stored: per frame, {day (date or YYYY-MM-DD): frame}."""
        by_day = {
            name: {_date(day): frame.rename({"journal_date": "day"}) for day, frame in frames[name].items()}
            for name in DAY_FRAMES
        }
        pairs, sources, posters, digits, amount_counts = pl.collect_all(
            [
                _all_days(by_day["fraud_pairs"], "fraud_pairs"),
                _all_days(by_day["fraud_sources"], "fraud_sources"),
                _all_days(by_day["fraud_posters"], "fraud_posters"),
                _all_days(by_day["fraud_digits"], "fraud_digits"),
                _all_days(by_day["fraud_amounts"], "fraud_amounts").drop("x"),
            ]
        )
        return cls(
            entries_by_day=by_day["fraud_entries"],
            amounts_by_day=by_day["fraud_amounts"],
            pairs=pairs,
            sources=sources,
            posters=posters,
            digits=digits,
            amount_counts=amount_counts,
        )

    @classmethod
    def from_entries(cls, entries: pl.DataFrame) -> History:
        """Summarised from entries in memory (every day they hold)."""
        frames = {
            name: {day: part.lazy() for (day,), part in frame.partition_by("journal_date", as_dict=True).items()}
            for name, frame in day_frames(entries).items()
        }
        return cls.from_frames(frames)

    def entries_between(self, first_day: dt.date, last_day: dt.date) -> pl.LazyFrame:
        """The entries of first_day..last_day (ENTRY_SCHEMA), as a scan."""
        return _between(self.entries_by_day, "fraud_entries", first_day, last_day)

    def amounts_between(self, first_day: dt.date, last_day: dt.date) -> pl.LazyFrame:
        """The binned amounts of first_day..last_day (AMOUNT_BINS_SCHEMA), as a scan."""
        return _between(self.amounts_by_day, "fraud_amounts", first_day, last_day)

    def entries_matching(
        self, keys: pl.DataFrame, first_day: dt.date, last_day: dt.date, where: pl.Expr, columns: list[str]
    ) -> pl.DataFrame:
        """``columns`` (which hold the key columns) of the entries of first_day..last_day that
        satisfy ``where`` and have the key_fingerprint of a row of ``keys``: every entry with one
        of the keys, and, rarely, one whose different key shares a fingerprint (callers join on
        the keys themselves). A streaming scan with a filter on one integer per entry: only
        those entries are loaded, and no key of the millions scanned is kept."""
        return (
            self.entries_between(first_day, last_day)
            .filter(where & _has_key_of(keys))
            .select(columns)
            .collect(engine="streaming")
        )


def _has_key_of(keys: pl.DataFrame) -> pl.Expr:
    fingerprint = key_fingerprint(keys.columns)
    return fingerprint.is_in(keys.select(fingerprint.unique().implode()).to_series())


def _date(day: dt.date | str) -> dt.date:
    return day if isinstance(day, dt.date) else dt.date.fromisoformat(day)


@cache
def _empty_frames() -> dict[str, pl.DataFrame]:
    """DAY_FRAMES without rows (their schemas), for a window without any day."""
    return {
        name: frame.rename({"journal_date": "day"})
        for name, frame in day_frames(pl.DataFrame(schema=ENTRY_SCHEMA)).items()
    }


def _concat(scans: list[pl.LazyFrame], frame: str) -> pl.LazyFrame:
    return pl.concat(scans, how="vertical") if scans else _empty_frames()[frame].lazy()


def _all_days(by_day: Mapping[dt.date, pl.LazyFrame], frame: str) -> pl.LazyFrame:
    return _concat(list(by_day.values()), frame)


def _between(by_day: Mapping[dt.date, pl.LazyFrame], frame: str, first_day: dt.date, last_day: dt.date) -> pl.LazyFrame:
    return _concat([scan for day, scan in sorted(by_day.items()) if first_day <= day <= last_day], frame)


@dataclass(frozen=True)
class Population:
    """The scored days first_day..last_day: their entries (``entries`` may hold other days too)
    and the history of the loaded days (``stored_history``; None: summarised from ``entries``)."""

    entries: pl.DataFrame
    first_day: dt.date
    last_day: dt.date
    stored_history: History | None = None
    _shared: dict[Hashable, pl.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)

    def shared(self, key: Hashable, compute: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """``compute()``, once per population and ``key``: what several tests build on (the
        document matches of both duplicate tests, the account usage of both rare tests)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def entries_matching(
        self, keys: pl.DataFrame, first_day: dt.date, where: pl.Expr, columns: list[str]
    ) -> pl.DataFrame:
        """History.entries_matching from first_day to the last scored day: the scored days'
        entries from memory, the earlier days' from the history."""
        scored = self.scored.filter(where & _has_key_of(keys) & (pl.col("day") >= first_day)).select(columns)
        if first_day >= self.first_day:
            return scored
        earlier = self.history.entries_matching(keys, first_day, self.first_day - dt.timedelta(days=1), where, columns)
        return pl.concat([earlier, scored])

    @cached_property
    def history(self) -> History:
        if self.stored_history is not None:
            return self.stored_history
        return History.from_entries(self.entries)

    @cached_property
    def scored(self) -> pl.DataFrame:
        return self.entries.filter(pl.col("day").is_between(self.first_day, self.last_day))
