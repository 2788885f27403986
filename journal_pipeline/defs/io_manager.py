"""Intermediate results as Parquet, one folder per asset and day, so that any step can be
re-executed or inspected (``polars.read_parquet``) without rerunning what came before it.

An asset's output is a DataFrame or a dict of named DataFrames (a "bundle", such as the extract's
transactions plus the reference data they were posted with); a frame may also be a LazyFrame (a
large day's journal lines, scanned from the files they were spilled to), streamed into its file.
The asset's ``partition_expr`` metadata names its day column: rows are split by it, one folder per
day, so that a week-long backfill run and a later one-day rerun read and write the same files.
Frames without that column (reference data) are stored with every day and de-duplicated when several days are loaded.
Each day's folder is written beside it, then renamed into place (see :func:`_put_in_place` for
two runs of the same day storing it at once).

An input can narrow what it loads with ``AssetIn(metadata=...)``: ``frames`` (names of a
bundle's frames), ``columns`` ({frame: [column, ...]}), ``allow_missing_days`` (a history
window that may reach days never materialized, such as the days before the first seeded one) and
``lazy`` (for an input read only in part, such as a history: per frame, {day: LazyFrame} scanning
that day's file, so that a reader scans only the days and rows it needs) and ``scan`` (names of a
bundle's frames to give as one LazyFrame over the loaded days, the others being loaded as usual:
for a reader that takes a large frame a part at a time, so that it never holds all of it).
"""

from __future__ import annotations

import datetime as dt
import errno
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import polars as pl

from journal_pipeline.domain.frames import rows_of_day

SINGLE_FRAME = "frame"
# Renames tried by _put_in_place before it gives up: each failed one means another run of the
# same day put its folder in place in the instant between two of this run's renames.
PLACE_ATTEMPTS = 20
# What a run killed mid-step leaves in the storage, never read again: an IO manager's staging or
# retired folder of a day (``.<day>.<hex>``, ``.<day>.retired.<hex>``, in the asset's folder: the
# names _hidden_beside gives) and the journal_lines step's spill folder (``.journal_lines-spill-*``,
# at the top of the storage).
ABANDONED_IN_ASSET = re.compile(r"\.\d{4}-\d{2}-\d{2}\.(retired\.)?[0-9a-f]{32}")
SPILL_PREFIX = ".journal_lines-spill-"


class DailyParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames and bundles of DataFrames as ``<base_dir>/<asset>/<day>/<name>.parquet``."""

    base_dir: str

    def _asset_dir(self, key: dg.AssetKey) -> Path:
        return Path(self.base_dir).joinpath(*key.path)

    def handle_output(
        self, context: dg.OutputContext, obj: pl.DataFrame | Mapping[str, pl.DataFrame | pl.LazyFrame]
    ) -> None:
        frames = {SINGLE_FRAME: obj} if isinstance(obj, pl.DataFrame) else dict(obj)
        day_column = (context.definition_metadata or {}).get("partition_expr")
        if not day_column:
            raise dg.DagsterInvariantViolationError(f"{context.asset_key.to_user_string()}: set partition_expr")
        asset_dir = self._asset_dir(context.asset_key)
        for key in context.asset_partition_keys:
            day = dt.date.fromisoformat(key)
            staging = _hidden_beside(asset_dir / key)
            staging.mkdir(parents=True)
            for name, frame in frames.items():
                _write(frame, day_column, day, staging / f"{name}.parquet")
            _put_in_place(staging, asset_dir / key)
        context.add_output_metadata({"storage": dg.MetadataValue.path(str(asset_dir))})

    def load_input(
        self, context: dg.InputContext
    ) -> pl.DataFrame | dict[str, pl.DataFrame | pl.LazyFrame] | dict[str, dict]:
        asset_key = context.asset_key
        asset_dir = self._asset_dir(asset_key)
        options = context.definition_metadata or {}
        wanted, columns = options.get("frames"), options.get("columns") or {}
        scanned = set(options.get("scan") or ())
        if options.get("lazy"):
            return self._scan_input(context, wanted or [], columns)
        per_day: list[dict[str, pl.DataFrame | pl.LazyFrame]] = []
        for key in context.asset_partition_keys:
            folder = asset_dir / key
            if not folder.is_dir():
                if options.get("allow_missing_days"):
                    continue
                raise dg.DagsterInvariantViolationError(
                    f"{asset_key.to_user_string()} has not been materialized for {key} (no {folder}): "
                    "materialize it first"
                )
            names = wanted or sorted(path.stem for path in folder.glob("*.parquet"))
            per_day.append(
                {
                    name: _scan(folder / f"{name}.parquet", columns.get(name))
                    if name in scanned
                    else pl.read_parquet(folder / f"{name}.parquet", columns=columns.get(name))
                    for name in names
                }
            )
        if not per_day:
            raise dg.DagsterInvariantViolationError(
                f"{asset_key.to_user_string()} has none of the days {context.asset_partition_keys[:1]}.. materialized"
            )
        day_column = None
        if context.upstream_output is not None:
            day_column = (context.upstream_output.definition_metadata or {}).get("partition_expr")
        bundle: dict[str, pl.DataFrame | pl.LazyFrame] = {}
        for name in per_day[0]:
            frames = [day[name] for day in per_day]
            combined = pl.concat(frames, how="vertical")  # type: ignore[type-var]
            if len(frames) > 1 and day_column not in combined.collect_schema().names():
                combined = combined.unique(maintain_order=True)
            bundle[name] = combined
        if set(bundle) == {SINGLE_FRAME}:
            return bundle[SINGLE_FRAME]
        return bundle

    def _scan_input(
        self, context: dg.InputContext, frames: list[str], columns: Mapping[str, list[str]]
    ) -> dict[str, dict[str, pl.LazyFrame]]:
        """A ``lazy`` input: {frame: {day: scan of that day's file}}, over the days materialized."""
        asset_key = context.asset_key
        scans: dict[str, dict[str, pl.LazyFrame]] = {name: {} for name in frames}
        for key in context.asset_partition_keys:
            folder = self._asset_dir(asset_key) / key
            if not folder.is_dir():
                if (context.definition_metadata or {}).get("allow_missing_days"):
                    continue
                raise dg.DagsterInvariantViolationError(
                    f"{asset_key.to_user_string()} has not been materialized for {key} (no {folder}): "
                    "materialize it first"
                )
            for name in frames:
                path = folder / f"{name}.parquet"
                if not path.exists():  # a scan would only fail when collected, far from here
                    raise dg.DagsterInvariantViolationError(
                        f"{asset_key.to_user_string()} of {key} has no frame {name} (no {path}; written by an "
                        "older version?): materialize it again for that day"
                    )
                scan = pl.scan_parquet(path)
                scans[name][key] = scan.select(columns[name]) if name in columns else scan
        return scans


def _hidden_beside(target: Path, tag: str = "") -> Path:
    """A new hidden name beside ``target``: ``.<name>.<tag><32 hex digits>`` (see ABANDONED_IN_ASSET)."""
    return target.with_name(f".{target.name}.{tag}{uuid.uuid4().hex}")


def _put_in_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, retiring the folder that stands there first.

    Two runs of the same day (a schedule tick and a backfill) may store the same asset at the same
    moment. The ledger lets them post one at a time (a lock per day), but their folders race:
    between one run's retiring the day's folder and renaming its own, the other's may be renamed
    into place, or retired under it. So the rename is tried first and, while a folder stands in
    the way, that folder is retired (unless the other run has just done so) and the rename tried
    again: each run stores its folder whole, and the one left is that of the last run to store it.
    """
    for _ in range(PLACE_ATTEMPTS):
        try:
            staging.rename(target)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        retired = _hidden_beside(target, "retired.")
        try:
            target.rename(retired)
        except FileNotFoundError:
            continue  # the other run retired it first
        shutil.rmtree(retired)
    raise dg.DagsterInvariantViolationError(
        f"{target} was replaced {PLACE_ATTEMPTS} times while this run was storing its own folder there "
        f"(left in {staging}): is one day being run many times at once?"
    )


def abandoned_folders(base_dir: Path, older_than: dt.timedelta, now: float | None = None) -> list[Path]:
    """The folders that killed runs left in the storage (see ABANDONED_IN_ASSET and SPILL_PREFIX)
    and that have not been written to for ``older_than``: a live run's are minutes old at most.
    Nothing else is ever listed, whatever its name or age."""
    if not base_dir.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - older_than.total_seconds()
    candidates = []
    for path in base_dir.iterdir():
        if path.name.startswith(SPILL_PREFIX):
            candidates.append(path)
        elif path.is_dir() and not path.name.startswith("."):  # an asset's folder
            candidates += [inside for inside in path.iterdir() if ABANDONED_IN_ASSET.fullmatch(inside.name)]
    return sorted(path for path in candidates if path.is_dir() and path.stat().st_mtime < cutoff)


def _write(frame: pl.DataFrame | pl.LazyFrame, day_column: str, day: dt.date, path: Path) -> None:
    """The frame's rows of ``day`` (all of it if it has no ``day_column``) as ``path``."""
    # LZ4: about three times faster to write than the default zstd, files about 1.5x larger
    if isinstance(frame, pl.LazyFrame):
        if day_column in frame.collect_schema().names():
            frame = frame.filter(pl.col(day_column) == day)
        frame.sink_parquet(path, compression="lz4", statistics=False)
        return
    part = rows_of_day(frame, day_column, day) if day_column in frame.columns else frame
    part.write_parquet(path, compression="lz4", statistics=False)


def _scan(path: Path, columns: list[str] | None) -> pl.LazyFrame:
    scan = pl.scan_parquet(path)
    return scan.select(columns) if columns else scan
