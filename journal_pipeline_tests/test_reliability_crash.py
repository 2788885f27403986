"""A run killed with SIGKILL at any step leaves the ledger as it was and the audit chain whole;
``audit verify`` passes and a rerun completes.

Each test posts the two case days once, then runs ``journal-pipeline run`` for them again in its
own process and SIGKILLs it at one point (journal_pipeline.faults). The source is unchanged
between the runs, so "the ledger as it was" is exact whichever side of the posting's COMMIT the
kill lands: before it the server rolls the transaction back; after it the run had replaced the
days with the very same rows (posting is deterministic and replaces whole days). What a kill
after COMMIT means when the source did change is in test_reliability_late_data.py: the sensor
reseals the day.
"""

from __future__ import annotations

import datetime as dt

import pytest

from journal_pipeline.cli import main
from journal_pipeline.faults import ARMED_ENV, FAULT_ENV, FaultInjectionError, fault_point, parse
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases
from journal_pipeline_tests.ledger_state import LEDGER_TABLES, ledger_fingerprint
from journal_pipeline_tests.reliability_support import (
    log_says,
    pipeline_backends,
    pipeline_env,
    pipeline_process,
    posting_in_its_copy,
    run_command,
    sigkill,
    tail,
    wait_for_pipeline_backends_to_end,
    wait_until,
    with_fault,
)

WRITTEN_TABLES = {
    **LEDGER_TABLES,
    "ledger.fraud_scores": "journal_date, txn_id",
    "ledger.posted_days": "journal_date",
}

# (fault point, seals the killed run leaves behind): every step, both sides of the posting's
# COMMIT, and sealing with no day sealed yet and with the first of the two days sealed.
KILL_POINTS = [
    ("source_transactions.connect", 0),
    ("journal_lines.connect", 0),
    ("vouchers.connect", 0),
    ("gl_postings.commit", 0),
    ("gl_postings.committed", 0),
    ("fraud_scores.connect", 0),
    ("audit_seals.connect", 0),
    ("audit_seals.seal", 0),
    ("audit_seals.seal#2", 1),
]


def latest_roots(db) -> dict[dt.date, bytes]:
    return dict(
        db.rows(
            "SELECT DISTINCT ON (partition_date) partition_date, merkle_root FROM audit.seals "
            "ORDER BY partition_date, seal_seq DESC"
        )
    )


def audit_verify_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["audit", "verify"])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err


def posted_once(db, instance) -> tuple[dict, dict, int]:
    """Load the case book, post and seal both days; return the ledger, the seal roots, the seal count."""
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    return ledger_fingerprint(db, WRITTEN_TABLES), latest_roots(db), db.scalar("SELECT count(*) FROM audit.seals")


def check_intact_then_rerun(db, instance, capsys, before, roots, seals: int) -> None:
    """After a kill: exactly the ledger of before, the chain verified, and a rerun that completes."""
    wait_for_pipeline_backends_to_end(db)
    assert ledger_fingerprint(db, WRITTEN_TABLES) == before
    assert latest_roots(db) == roots
    assert db.scalar("SELECT count(*) FROM audit.seals") == seals
    audit_verify_passes(capsys)

    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    assert ledger_fingerprint(db, WRITTEN_TABLES) == before
    assert latest_roots(db) == roots  # a new seal per day, superseding, with the same root
    assert db.scalar("SELECT count(*) FROM audit.seals") == seals + 2
    audit_verify_passes(capsys)


@pytest.mark.parametrize(("point", "new_seals"), KILL_POINTS, ids=[point for point, _ in KILL_POINTS])
def test_a_run_killed_at_a_step_leaves_the_ledger_as_it_was(db, instance, tmp_path, capsys, point, new_seals):
    before, roots, seals = posted_once(db, instance)
    env = with_fault(pipeline_env(db, tmp_path / "storage", tmp_path / "dagster"), f"{point}:pause")
    log = tmp_path / "run.log"
    with pipeline_process(run_command(cases.DAY, cases.NEXT_DAY), env, log) as proc:
        wait_until(
            lambda: log_says(log, f"fault injection: paused at {point.split('#')[0]}"),
            what=f"the run reaching {point}",
            diagnose=lambda: tail(log),
        )
        sigkill(proc)
    check_intact_then_rerun(db, instance, capsys, before, roots, seals + new_seals)


def test_a_run_killed_in_the_middle_of_the_posting_copy_leaves_the_ledger_as_it_was(db, instance, tmp_path, capsys):
    before, roots, seals = posted_once(db, instance)
    # a late invoice for the day: the killed run's posting differs from what is in the ledger
    late = cases._txn(125, 1, "SALES_INVOICE", cases._data("40.00", tax="8.00"))
    with db.connect() as conn:
        conn.execute("INSERT INTO legacy.src_transactions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", late)
    env = with_fault(pipeline_env(db, tmp_path / "storage", tmp_path / "dagster"), "gl_postings.copy:pause")
    log = tmp_path / "run.log"
    # the run stops in its first COPY (the day's journal lines, into the table that would replace
    # the day's partition): rows sent, the COPY not ended, the server waiting for the rest
    with pipeline_process(run_command(cases.DAY, cases.NEXT_DAY), env, log) as proc:
        wait_until(
            lambda: log_says(log, "fault injection: paused at gl_postings.copy") and posting_in_its_copy(db),
            what="the posting paused in the middle of its COPY",
            diagnose=lambda: f"{pipeline_backends(db)}\n{tail(log)}",
        )
        sigkill(proc)
    wait_for_pipeline_backends_to_end(db)
    assert ledger_fingerprint(db, WRITTEN_TABLES) == before  # the old day, not a mixture
    assert latest_roots(db) == roots
    assert db.scalar("SELECT count(*) FROM audit.seals") == seals
    audit_verify_passes(capsys)

    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE txn_id = 125") == 3
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines") == before["ledger.journal_lines"][0] + 3
    day_seals = db.rows(
        "SELECT seal_seq, supersedes_seq, merkle_root FROM audit.seals WHERE partition_date = %s ORDER BY seal_seq",
        (cases.DAY,),
    )
    assert day_seals[-1][1] == day_seals[-2][0] and day_seals[-1][2] != roots[cases.DAY]
    audit_verify_passes(capsys)


def test_fault_injection_does_nothing_unless_armed_and_refuses_unknown_points(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "gl_postings.commit:kill")
    monkeypatch.delenv(ARMED_ENV, raising=False)
    fault_point("gl_postings.commit")  # not armed: this process lives on
    monkeypatch.setenv(ARMED_ENV, "yes")
    fault_point("gl_postings.commit")  # armed with the wrong phrase: still nothing
    with pytest.raises(FaultInjectionError, match=r"points: source_transactions.connect, "):
        parse("gl_postings.halfway:kill")
    with pytest.raises(FaultInjectionError, match=r"actions: kill, pause"):
        parse("gl_postings.commit:explode")
    assert parse("audit_seals.seal#2:pause") == ("audit_seals.seal", 2, "pause")
