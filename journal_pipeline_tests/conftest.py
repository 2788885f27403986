"""Test fixtures: one embedded PostgreSQL for the whole session, a fresh database per test.

Nothing is mocked. The server runs from its own JOURNAL_HOME in a temporary folder, so the
tests never touch the developer's `.journal`; each test that asks for ``db`` gets a database
cloned from a migrated template (CREATE DATABASE ... TEMPLATE), which takes a fraction of a second.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
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
