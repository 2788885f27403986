"""Resources: the pipeline's database connection and its intermediate storage.

Configured from the environment (EnvVar) so that no credential is written into the
definitions, the run config or the UI: Dagster shows the variable's name, not its value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from journal_pipeline.config import storage_dir
from journal_pipeline.db.connection import connect, pipeline_url


class JournalDatabase(dg.ConfigurableResource):
    """PostgreSQL as the pipeline's own least-privilege role: reads ``legacy``, writes ``ledger``
    and ``audit``. Without a URL it uses the embedded server (started on first use)."""

    url: str | None = None

    def conninfo(self) -> str:
        return self.url or pipeline_url()

    @contextmanager
    def connect(self, application_name: str = "journal-pipeline") -> Iterator[psycopg.Connection]:
        with connect(self.conninfo(), application_name=application_name) as conn:
            yield conn


def database_resource() -> JournalDatabase:
    if os.environ.get("JOURNAL_PIPELINE_DATABASE_URL"):
        return JournalDatabase(url=dg.EnvVar("JOURNAL_PIPELINE_DATABASE_URL"))
    if os.environ.get("JOURNAL_DATABASE_URL"):
        return JournalDatabase(url=dg.EnvVar("JOURNAL_DATABASE_URL"))
    return JournalDatabase()


def storage_path() -> str:
    return str(storage_dir())
