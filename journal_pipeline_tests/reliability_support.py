"""Support for the reliability tests: pipeline runs in their own processes, bounded waits that say
what they were waiting for, and what PostgreSQL says about who waits for which lock."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import dagster as dg
import psycopg

from journal_pipeline.config import project_root
from journal_pipeline.faults import ARMED_ENV, ARMING_PHRASE, FAULT_ENV
from journal_pipeline.ledger import DAY_LOCK_NAMESPACE
from journal_pipeline_tests.conftest import Database

T = TypeVar("T")

# What the tests' pipeline connections call themselves (journal_pipeline.defs.*: "journal-pipeline <step>").
PIPELINE_APPS = "journal-pipeline%"


def wait_until(
    condition: Callable[[], T], *, what: str, timeout: float = 300, diagnose: Callable[[], str] = lambda: ""
) -> T:
    """Poll ``condition`` until it returns something truthy and return that; fail, saying what did
    not happen and ``diagnose()``, after ``timeout`` seconds. (A bound, not a timing assertion.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s\n{diagnose()}")
        time.sleep(0.05)


def pipeline_env(db: Database, storage: Path, dagster_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``journal-pipeline`` process working on ``db``, with its own Dagster home."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # create the SQLite storage now: two processes creating it at once collide ("table exists")
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        instance.get_runs(limit=1)
        instance.all_asset_keys()
    finally:
        instance.dispose()
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, ARMED_ENV)}
    env.update(
        JOURNAL_DATABASE_URL=db.admin_url,
        JOURNAL_PIPELINE_DATABASE_URL=db.pipeline_url,
        JOURNAL_STORAGE_DIR=str(storage),
        DAGSTER_HOME=str(dagster_home),
    )
    env.update(extra)
    return env


def with_fault(env: dict[str, str], spec: str) -> dict[str, str]:
    """``env`` with test-only fault injection armed at ``spec`` (journal_pipeline.faults)."""
    return {**env, FAULT_ENV: spec, ARMED_ENV: ARMING_PHRASE}


def run_command(first_day: dt.date, last_day: dt.date) -> list[str]:
    """``journal-pipeline run`` for one ranged run over the days, as an operator types it."""
    return [sys.executable, "-m", "journal_pipeline.cli", "run", "--start", str(first_day), "--end", str(last_day)]


@contextmanager
def pipeline_process(
    args: list[str], env: dict[str, str], log: Path, *, grace: float | None = None
) -> Iterator[subprocess.Popen]:
    """A process in its own session, its output in ``log``. If it is still running afterwards, its
    whole group is stopped: SIGKILLed at once (a crash, as these tests want it), or, with ``grace``,
    sent SIGTERM and SIGKILLed only if it has not ended within ``grace`` seconds (a service)."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            args, env=env, cwd=project_root(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            if grace is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)


def sigkill(proc: subprocess.Popen) -> None:
    """SIGKILL the process (and its group); wait until it is gone."""
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL


def log_says(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def pipeline_backends(db: Database) -> list[tuple]:
    """(pid, application_name, state, wait_event_type, query) of the pipeline's connections to ``db``."""
    return db.rows(
        "SELECT pid, application_name, state, wait_event_type, left(query, 80) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE %s AND pid <> pg_backend_pid()",
        (PIPELINE_APPS,),
    )


def wait_for_pipeline_backends_to_end(db: Database, timeout: float = 60) -> None:
    """After a kill, the server ends the dead client's sessions (rolling back what they had open)
    when it next talks to them; wait for that before looking at the ledger."""
    wait_until(
        lambda: not pipeline_backends(db),
        what="the killed run's database sessions ending",
        timeout=timeout,
        diagnose=lambda: str(pipeline_backends(db)),
    )


def postings_waiting_on_the_ledger(db: Database) -> list[tuple]:
    """The posting connections waiting for a lock on a ledger table (one the test holds): at the
    swap of ``ledger.close_day``, every row of the posting written, nothing committed."""
    return db.rows(
        "SELECT a.pid, left(a.query, 60) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
        "WHERE a.datname = current_database() AND a.application_name = 'journal-pipeline post' "
        "AND l.locktype = 'relation' AND NOT l.granted"
    )


def posting_in_its_copy(db: Database) -> list[tuple]:
    """The posting connections in the middle of a COPY (the server waiting for the rest of it)."""
    return db.rows(
        "SELECT pid, left(query, 60) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'journal-pipeline post' AND state = 'active' AND query LIKE 'COPY %%'"
    )


def day_lock_key(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def day_lock_holders(db: Database, day: dt.date, *, granted: bool) -> list[tuple]:
    """(pid, application_name) of the sessions that hold (or wait for) the posting lock of ``day``."""
    return db.rows(
        "SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted = %s "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY l.pid",
        (DAY_LOCK_NAMESPACE, day_lock_key(day), granted),
    )


@contextmanager
def holding_the_ledger(db: Database) -> Iterator[contextlib.ExitStack]:
    """Read ledger.journal_lines in an open transaction of the test's own: a posting writes all
    its rows, then waits at the swap (``ledger.close_day`` locks the parents exclusively) for as
    long as this lasts. Rolled back afterwards, or when the test closes what it yields."""
    conn = db.connect(autocommit=False)

    def release() -> None:
        with contextlib.suppress(psycopg.OperationalError):  # a test may have stopped the server meanwhile
            conn.rollback()
        conn.close()

    with contextlib.ExitStack() as hold:
        hold.callback(release)
        conn.execute("LOCK TABLE ledger.journal_lines IN ACCESS SHARE MODE")
        yield hold  # hold.close() releases it early


@contextmanager
def holding_the_day_lock(db: Database, day: dt.date) -> Iterator[psycopg.Connection]:
    """Hold the posting lock of ``day`` (the key journal_pipeline.ledger.lock_days takes) in a
    session of the test's own, so that postings of that day queue behind it until released."""
    conn = db.connect()
    try:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (DAY_LOCK_NAMESPACE, day_lock_key(day)))
        yield conn
    finally:
        conn.close()  # ends the session, and with it the lock if still held
