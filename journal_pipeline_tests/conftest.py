"""Test fixtures: one embedded PostgreSQL for the whole session, a fresh database per test.

Nothing is mocked. The server runs from its own JOURNAL_HOME in a temporary folder, so the
tests never touch the developer's `.journal`; each test that asks for ``db`` gets a database
cloned from a migrated template (CREATE DATABASE ... TEMPLATE), which takes a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from journal_pipeline.db import embedded
from journal_pipeline.db.connection import PIPELINE_ROLE, with_database, with_user
from journal_pipeline.db.migrate import migrate

TEMPLATE = "journal_template"
_counter = itertools.count()


@dataclass(frozen=True)
class Database:
    """One test database: its name, the admin URL and the pipeline role's URL."""

    name: str
    admin_url: str
    pipeline_url: str

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=autocommit)

    def scalar(self, query: str, params: tuple = ()) -> object:
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return None if row is None else row[0]

    def rows(self, query: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def use(self) -> None:
        """Point the code under test (CLI, resources, runners) at this database."""
        os.environ["JOURNAL_DATABASE_URL"] = self.admin_url
        os.environ["JOURNAL_PIPELINE_DATABASE_URL"] = self.pipeline_url


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A throwaway Dagster instance (run and event storage in a temporary folder)."""
    with dg.instance_for_test() as dagster_instance:
        yield dagster_instance


@pytest.fixture(scope="session")
def journal_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("journal_home")
    os.environ["JOURNAL_HOME"] = str(home)
    os.environ.pop("JOURNAL_DATABASE_URL", None)
    os.environ.pop("JOURNAL_PIPELINE_DATABASE_URL", None)
    return home


@pytest.fixture(scope="session")
def server_url(journal_home: Path) -> Iterator[str]:
    url = embedded.start(journal_home)
    yield url
    embedded.stop(journal_home)


@pytest.fixture(scope="session")
def template_url(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = with_database(server_url, TEMPLATE)
    migrate(url)
    return url


def clone_database(server_url: str, template: str, prefix: str = "test") -> Database:
    """A new database copied from ``template`` (which must have no open connections)."""
    name = f"{prefix}_{next(_counter)}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    admin = with_database(server_url, name)
    return Database(name=name, admin_url=admin, pipeline_url=with_user(admin, PIPELINE_ROLE))


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(server_url: str, template_url: str, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated, empty database and an empty Parquet storage folder, used by the code
    under test through the environment."""
    database = clone_database(server_url, TEMPLATE)
    keys = ("JOURNAL_DATABASE_URL", "JOURNAL_PIPELINE_DATABASE_URL", "JOURNAL_STORAGE_DIR")
    saved = {k: os.environ.get(k) for k in keys}
    database.use()
    os.environ["JOURNAL_STORAGE_DIR"] = str(tmp_path / "storage")
    yield database
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    drop_database(server_url, database.name)


MONTH_START = dt.date(2024, 7, 1)
MONTH_END = dt.date(2024, 7, 31)


@dataclass(frozen=True)
class SeededMonth:
    database: Database
    storage: Path
    first_day: dt.date
    last_day: dt.date


@pytest.fixture(scope="session")
def seeded_month(server_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededMonth]:
    """July 2024 for 5 companies at 2,000 transactions per company-day (about 310,000), run
    through the pipeline and through the legacy function. Shared by the tests that only read it."""
    from journal_pipeline.legacy.runner import run_legacy
    from journal_pipeline.runner import run_partitions
    from journal_pipeline.seed.generator import seed_database

    database = clone_database(server_url, TEMPLATE, prefix="month")
    storage = tmp_path_factory.mktemp("month_storage")
    with using(database, storage):
        seed_database(database.admin_url, start=MONTH_START, days=31, companies=5, txns_per_day=2000, seed=20240701)
        with dg.instance_for_test() as dagster_instance:
            run_partitions(MONTH_START, MONTH_END, instance=dagster_instance)
        run_legacy(database.admin_url, start=MONTH_START, end=MONTH_END, company_id=None)
    yield SeededMonth(database, storage, MONTH_START, MONTH_END)
    drop_database(server_url, database.name)


@contextmanager
def using(database: Database, storage: Path) -> Iterator[Database]:
    """Point the code under test at ``database`` and ``storage`` for the duration."""
    keys = ("JOURNAL_DATABASE_URL", "JOURNAL_PIPELINE_DATABASE_URL", "JOURNAL_STORAGE_DIR")
    saved = {k: os.environ.get(k) for k in keys}
    database.use()
    os.environ["JOURNAL_STORAGE_DIR"] = str(storage)
    try:
        yield database
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def month(seeded_month: SeededMonth) -> Iterator[SeededMonth]:
    """The seeded month, with the environment pointing at it for this test."""
    with using(seeded_month.database, seeded_month.storage):
        yield seeded_month
