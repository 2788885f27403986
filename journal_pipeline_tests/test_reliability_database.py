"""The database going away during a run: a clear failure, retries with backoff where they are safe,
nothing half written.

These tests stop and start a PostgreSQL server of their own (its own JOURNAL_HOME), never the
one the rest of the suite shares. The server is stopped the way an operator or a failover does
it (``pg_ctl stop``, fast mode: sessions terminated, open transactions rolled back) while the run
is posting: every row of the posting written, nothing committed, the posting waiting to swap the
day's journal lines in while the test reads the ledger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from journal_pipeline.cli import main
from journal_pipeline.db import embedded
from journal_pipeline.db.connection import with_database
from journal_pipeline.db.migrate import migrate
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases
from journal_pipeline_tests.conftest import TEMPLATE, Database, clone_database, drop_database, using
from journal_pipeline_tests.ledger_state import ledger_fingerprint
from journal_pipeline_tests.reliability_support import (
    holding_the_ledger,
    pipeline_backends,
    postings_waiting_on_the_ledger,
    wait_until,
)

LATE_INVOICE = cases._txn(125, 1, "SALES_INVOICE", cases._data("40.00", tax="8.00"))


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A PostgreSQL server for this module alone, with a migrated template database."""
    home = tmp_path_factory.mktemp("own_server")
    url = embedded.start(home)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrate(with_database(url, TEMPLATE))
    yield home, url
    embedded.stop(home)


@pytest.fixture
def own_db(own_server: tuple[Path, str], tmp_path: Path) -> Iterator[Database]:
    """A fresh database on that server, the code under test pointed at it, the case book loaded."""
    home, url = own_server
    if not embedded.status(home).running:
        embedded.start(home)  # a failed test may have left it stopped
    database = clone_database(url, TEMPLATE, prefix="restart")
    with database.connect() as conn:
        cases.load_cases(conn)
    with using(database, tmp_path / "storage"):
        yield database
    if not embedded.status(home).running:
        embedded.start(home)
    drop_database(url, database.name)


class Remember(logging.Handler):
    """Keeps the connection-retry warnings and says when the first one came."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.first = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.first.set()


def run_messages(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


def test_a_run_started_while_the_database_is_down_waits_for_it_and_completes(own_server, own_db, instance, capsys):
    home, _ = own_server
    retries = Remember()
    logger = dg.get_dagster_logger("journal_pipeline.db")
    logger.addHandler(retries)
    embedded.stop(home)

    def start_the_server_once_the_run_is_waiting() -> None:
        if retries.first.wait(timeout=120):
            embedded.start(home)

    helper = threading.Thread(target=start_the_server_once_the_run_is_waiting)
    helper.start()
    try:
        result = materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance, raise_on_error=False)
    finally:
        retries.first.set()
        helper.join(timeout=120)
        logger.removeHandler(retries)

    assert result.success
    assert retries.messages, "the run never had to wait"
    first = retries.messages[0]
    assert first.startswith(f"cannot connect to database {own_db.name} as journal_pipeline on ")
    assert "attempt 2 of 6 in 0.5 s" in first
    assert first in run_messages(instance, result)  # in the run's event log, for the UI
    assert own_db.scalar("SELECT count(*) FROM ledger.journal_lines") == len(cases.POSTED_LINES) + 3
    assert main(["audit", "verify"]) == 0, capsys.readouterr()


def stop_the_server_mid_posting(home: Path, db: Database, *, restart: bool) -> threading.Thread:
    """A thread that waits for the posting to have written its rows and to wait for the ledger the
    test holds, then stops the server (and, if asked, starts it again at once)."""

    def stop() -> None:
        wait_until(
            lambda: postings_waiting_on_the_ledger(db),
            what="the posting waiting on the ledger the test holds",
            diagnose=lambda: str(pipeline_backends(db)),
        )
        embedded.stop(home)
        if restart:
            embedded.start(home)

    thread = threading.Thread(target=stop)
    thread.start()
    return thread


def test_the_database_stopped_while_posting_fails_the_run_clearly_and_nothing_is_half_written(
    own_server, own_db, instance, monkeypatch, capsys
):
    home, _ = own_server
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    before = ledger_fingerprint(own_db)
    with own_db.connect() as conn:
        conn.execute("INSERT INTO legacy.src_transactions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", LATE_INVOICE)
    monkeypatch.setenv("JOURNAL_STEP_RETRIES", "0")
    monkeypatch.setenv("JOURNAL_CONNECT_ATTEMPTS", "2")

    with holding_the_ledger(own_db):
        stopper = stop_the_server_mid_posting(home, own_db, restart=False)
        result = materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance, raise_on_error=False)
        stopper.join(timeout=120)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "gl_postings"
    error, message = failure.step_failure_data.error, ""
    while error is not None:  # Dagster's wrapper, then the asset's own error
        message, error = message + error.message, error.cause
    assert "DatabaseUnavailableError: posting 2024-07-18..2024-07-19: the database is unavailable (" in message
    assert "the transaction was rolled back, nothing was written; rerun the day once the database is back" in message
    embedded.start(home)
    assert ledger_fingerprint(own_db) == before  # the previous posting, whole; not a mixture
    assert main(["audit", "verify"]) == 0, capsys.readouterr()

    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    assert own_db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE txn_id = 125") == 3
    assert main(["audit", "verify"]) == 0, capsys.readouterr()


def test_the_database_restarted_while_posting_is_retried_with_backoff_and_the_run_completes(
    own_server, own_db, instance, capsys
):
    home, _ = own_server
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    lines_before = own_db.scalar("SELECT count(*) FROM ledger.journal_lines")
    with own_db.connect() as conn:
        conn.execute("INSERT INTO legacy.src_transactions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", LATE_INVOICE)

    with holding_the_ledger(own_db):
        restarter = stop_the_server_mid_posting(home, own_db, restart=True)
        result = materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance, raise_on_error=False)
        restarter.join(timeout=120)

    assert result.success
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert [e.step_key for e in retried] == ["gl_postings"]
    messages = run_messages(instance, result)
    assert "posting 2024-07-18..2024-07-19: the database is unavailable (" in messages
    assert "the transaction was rolled back, nothing was written; retry 1 of 3 in 2 s" in messages
    assert own_db.scalar("SELECT count(*) FROM ledger.journal_lines") == lines_before + 3  # txn 125, once
    assert own_db.scalar("SELECT count(*) FROM ledger.vouchers WHERE txn_id = 125") == 1
    assert main(["audit", "verify"]) == 0, capsys.readouterr()
