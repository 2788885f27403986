"""Late data and closed periods.

A transaction that arrives after its day was sealed is seen by ``late_data_sensor`` (source count
and txn_id checksum against what was posted); the run it requests reposts the day and appends a
seal that supersedes the old one. The sensor also reseals a day that a run posted but did not live
to seal. A closed period refuses reposting, with a clear error, before anything is written.
"""

from __future__ import annotations

import threading

import dagster as dg
import psycopg
import pytest

from journal_pipeline.cli import main
from journal_pipeline.definitions import build_definitions
from journal_pipeline.defs.late_data import REASON_TAG, late_data_sensor
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases
from journal_pipeline_tests.ledger_state import ledger_fingerprint
from journal_pipeline_tests.reliability_support import (
    day_lock_holders,
    holding_the_day_lock,
    pipeline_env,
    pipeline_process,
    run_command,
    tail,
    wait_for_pipeline_backends_to_end,
    wait_until,
    with_fault,
)

LATE_INVOICE = cases._txn(126, 1, "SALES_INVOICE", cases._data("40.00", tax="8.00"))
INSERT_SOURCE_ROW = "INSERT INTO legacy.src_transactions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"


def evaluate_sensor(db, instance: dg.DagsterInstance) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources={"database": JournalDatabase(url=db.pipeline_url)})
    result = late_data_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def run_requested(request: dg.RunRequest, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """What the daemon does with a run request of the sensor: run the job for that partition."""
    job = build_definitions().resolve_job_def("daily_journal_job")
    return job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags)


def seals_of(db, day) -> list[tuple]:
    return db.rows(
        "SELECT seal_seq, supersedes_seq, line_count, merkle_root FROM audit.seals WHERE partition_date = %s "
        "ORDER BY seal_seq",
        (day,),
    )


def test_a_late_transaction_on_a_sealed_day_is_detected_reposted_and_resealed(db, instance, capsys):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    quiet = evaluate_sensor(db, instance)
    assert not quiet.run_requests and "2 posted or sealed day(s)" in quiet.skip_reason.skip_message
    (old_seal,) = seals_of(db, cases.DAY)

    with db.connect() as conn:
        conn.execute(INSERT_SOURCE_ROW, LATE_INVOICE)
    detected = evaluate_sensor(db, instance)
    (request,) = detected.run_requests
    assert request.partition_key == cases.DAY.isoformat() and request.tags[REASON_TAG] == "late_data"
    assert evaluate_sensor(db, instance).run_requests[0].run_key == request.run_key  # the same state, once

    assert run_requested(request, instance).success
    old, new = seals_of(db, cases.DAY)
    assert old == old_seal  # nothing overwritten
    assert new[1] == old[0]  # the new seal supersedes the old one
    assert (new[2], new[3] != old[3]) == (old[2] + 3, True)  # the late invoice's three lines, a new root
    event = db.scalar(
        "SELECT payload FROM audit.events WHERE event_type = 'partition_sealed' AND (payload ->> 'seal_seq')::int = %s",
        (new[0],),
    )
    assert event["supersedes_seq"] == old[0] and event["root_changed"] is True
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE txn_id = 126") == 3
    assert not evaluate_sensor(db, instance).run_requests
    assert main(["audit", "verify"]) == 0, capsys.readouterr()


def test_a_day_a_run_posted_but_did_not_live_to_seal_is_resealed_by_the_sensor(db, instance, tmp_path, capsys):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    with db.connect() as conn:
        conn.execute(INSERT_SOURCE_ROW, LATE_INVOICE)
    env = with_fault(pipeline_env(db, tmp_path / "storage", tmp_path / "dagster"), "gl_postings.committed:kill")
    log = tmp_path / "run.log"
    with pipeline_process(run_command(cases.DAY, cases.DAY), env, log) as proc:
        assert proc.wait(timeout=180) == -9, tail(log)
    wait_for_pipeline_backends_to_end(db)

    # the new day is posted whole, but its seal is the old one: verify says so, with the day
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE txn_id = 126") == 3
    assert main(["audit", "verify"]) == 1
    assert "2024-07-18" in capsys.readouterr().out

    (request,) = evaluate_sensor(db, instance).run_requests
    assert request.partition_key == cases.DAY.isoformat() and request.tags[REASON_TAG] == "not_resealed"
    assert run_requested(request, instance).success
    assert main(["audit", "verify"]) == 0, capsys.readouterr()
    assert not evaluate_sensor(db, instance).run_requests


def close_period(db, period: int, company_id: int | None, note: str = "July close") -> None:
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO ledger.closed_periods (period, company_id, note) VALUES (%s, %s, %s)",
            (period, company_id, note),
        )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error, message = failure.step_failure_data.error, f"{failure.step_key}: "
    while error is not None:
        message, error = message + error.message, error.cause
    return message


@pytest.mark.parametrize("closed_for", [None, 2])
def test_a_closed_period_refuses_reposting_before_anything_is_written(db, instance, capsys, closed_for):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    before = ledger_fingerprint(db)
    seals = db.scalar("SELECT count(*) FROM audit.seals")
    close_period(db, 2024007, closed_for)
    with db.connect() as conn:
        conn.execute(INSERT_SOURCE_ROW, LATE_INVOICE)

    result = materialize_window(cases.DAY, cases.DAY, instance=instance, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    whom = "every company" if closed_for is None else f"company {closed_for}"
    assert message.startswith("gl_postings: ")
    assert f"ClosedPeriodError: refusing to post 2024-07-18: period 2024007 is closed for {whom} (closed " in message
    assert "by postgres: July close). Nothing was written. To repost, reopen the period" in message
    assert ledger_fingerprint(db) == before
    assert db.scalar("SELECT count(*) FROM audit.seals") == seals
    assert main(["audit", "verify"]) == 0, capsys.readouterr()

    # the sensor sees the late invoice but does not request a run it knows would be refused
    quiet = evaluate_sensor(db, instance)
    assert not quiet.run_requests
    closed = "all companies" if closed_for is None else f"company {closed_for}"
    assert f"2024-07-18: not reposted, period 2024007 closed for {closed}" in quiet.skip_reason.skip_message

    with db.connect() as conn:
        conn.execute("DELETE FROM ledger.closed_periods")  # reopened
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE txn_id = 126") == 3


def test_a_period_closed_for_a_company_without_rows_that_day_does_not_stop_the_others(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    close_period(db, 2024007, 3)
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success


def test_closing_a_period_waits_for_a_posting_of_its_days_under_way(db):
    """A close takes the day locks of its period, so it cannot slip between a posting's check and its COMMIT."""
    closed = threading.Event()

    def close() -> None:
        close_period(db, 2024007, None)
        closed.set()

    with holding_the_day_lock(db, cases.DAY) as posting:  # as a posting of DAY holds it
        closer = threading.Thread(target=close)
        closer.start()
        wait_until(lambda: day_lock_holders(db, cases.DAY, granted=False), what="the close waiting for the posting")
        assert not closed.is_set()
        posting.execute("SELECT pg_advisory_unlock_all()")
        closer.join(timeout=60)
    assert closed.is_set()
    assert db.scalar("SELECT count(*) FROM ledger.closed_periods WHERE period = 2024007") == 1


def test_the_pipeline_role_cannot_reopen_or_close_a_period(db):
    close_period(db, 2024007, None)
    with psycopg.connect(db.pipeline_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.closed_periods").fetchone() == (1,)
    for statement in (
        "DELETE FROM ledger.closed_periods",
        "INSERT INTO ledger.closed_periods (period) VALUES (2024008)",
    ):
        with psycopg.connect(db.pipeline_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
