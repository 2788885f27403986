"""Settings read from the environment, in one place.

| variable                         | default                                   |
|----------------------------------|-------------------------------------------|
| ``JOURNAL_DATABASE_URL``         | the embedded server in ``$JOURNAL_HOME/pgdata`` |
| ``JOURNAL_PIPELINE_DATABASE_URL``| the pipeline's own least-privilege role on the same server |
| ``JOURNAL_PARTITIONS_START``     | ``2020-01-01``                            |
| ``JOURNAL_HOME``                 | ``.journal`` in the checkout (git-ignored) |
| ``JOURNAL_STORAGE_DIR``          | ``$JOURNAL_HOME/storage`` (intermediate Parquet) |
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

DEFAULT_PARTITIONS_START = "2020-01-01"


def project_root() -> Path:
    """The checkout this package runs from (where pyproject.toml is), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def journal_home() -> Path:
    """The git-ignored folder that holds all local state: embedded database, Dagster home, Parquet."""
    return Path(os.environ.get("JOURNAL_HOME") or project_root() / ".journal").resolve()


def storage_dir() -> Path:
    return Path(os.environ.get("JOURNAL_STORAGE_DIR") or journal_home() / "storage").resolve()


def configured_database_url() -> str | None:
    """The external database, when one is configured; None means the embedded default."""
    return os.environ.get("JOURNAL_DATABASE_URL") or None


def configured_pipeline_database_url() -> str | None:
    return os.environ.get("JOURNAL_PIPELINE_DATABASE_URL") or None


def partitions_start() -> str:
    """First daily partition (YYYY-MM-DD); refuses anything that is not a date."""
    value = os.environ.get("JOURNAL_PARTITIONS_START") or DEFAULT_PARTITIONS_START
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"JOURNAL_PARTITIONS_START must be a date like 2020-01-01, not {value!r}") from exc
    return value
