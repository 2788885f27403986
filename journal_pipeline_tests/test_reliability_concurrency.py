"""Runs at the same time: two runs of one day never double-post it nor fork the audit chain; runs
of different days post in parallel.

Real processes (``journal-pipeline run``), one Dagster instance between them. No timing: the test
makes the overlap certain by holding a lock the runs need, and proves it from pg_locks.
"""

from __future__ import annotations

from decimal import Decimal

from journal_pipeline.cli import main
from journal_pipeline_tests import cases
from journal_pipeline_tests.reliability_support import (
    day_lock_holders,
    holding_the_day_lock,
    holding_the_ledger,
    log_says,
    pipeline_backends,
    pipeline_env,
    pipeline_process,
    postings_waiting_on_the_ledger,
    run_command,
    tail,
    wait_until,
)

POSTED_LINES = len(cases.POSTED_LINES) + 3  # + NEXT_DAY's invoice


def assert_posted_once(db) -> None:
    """Every line, voucher, quarantine row and GL figure of the two days exactly once."""
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines") == POSTED_LINES
    assert db.scalar("SELECT count(*) FROM ledger.vouchers") == len({txn for txn, _ in cases.POSTED_LINES}) + 1
    assert db.scalar("SELECT count(*) FROM ledger.quarantine") == len(cases.QUARANTINED)
    gl = {
        (company, account, period): (debit, credit)
        for company, account, period, debit, credit in db.rows(
            "SELECT company_id, account_code, period, debit, credit FROM ledger.gl_balances"
        )
    }
    # cases.GL is DAY alone; NEXT_DAY adds one 50.00 + 10.00 invoice of company 1
    expected = dict(cases.GL)
    for key, (debit, credit) in {
        (1, "1100", 2024007): (Decimal("60.00"), Decimal(0)),
        (1, "2200", 2024007): (Decimal(0), Decimal("10.00")),
        (1, "4000", 2024007): (Decimal(0), Decimal("50.00")),
    }.items():
        expected[key] = (expected[key][0] + debit, expected[key][1] + credit)
    assert gl == expected


def test_a_tick_and_a_backfill_of_the_same_day_at_once_post_it_once_and_keep_one_chain(db, tmp_path, capsys):
    with db.connect() as conn:
        cases.load_cases(conn)
    env = pipeline_env(db, tmp_path / "storage", tmp_path / "dagster")
    tick_log, backfill_log = tmp_path / "tick.log", tmp_path / "backfill.log"

    def posting_waiters() -> list[tuple]:
        return [row for row in day_lock_holders(db, cases.DAY, granted=False) if row[1] == "journal-pipeline post"]

    # the schedule's tick: yesterday alone; the backfill: a range that includes it
    with (
        holding_the_day_lock(db, cases.DAY) as lock,
        pipeline_process(run_command(cases.DAY, cases.DAY), env, tick_log) as tick,
    ):
        wait_until(
            lambda: len(posting_waiters()) == 1, what="the tick waiting to post", diagnose=lambda: tail(tick_log)
        )
        with pipeline_process(run_command(cases.DAY, cases.NEXT_DAY), env, backfill_log) as backfill:
            # both runs have extracted and transformed the day, and both are about to post it
            wait_until(
                lambda: len(posting_waiters()) == 2,
                what="the backfill waiting to post the same day",
                diagnose=lambda: f"{pipeline_backends(db)}\n{tail(backfill_log)}",
            )
            lock.execute("SELECT pg_advisory_unlock_all()")
            assert tick.wait(timeout=180) == 0, tail(tick_log)
            assert backfill.wait(timeout=180) == 0, tail(backfill_log)
    assert log_says(tick_log, "materialized 1 day(s)") and log_says(backfill_log, "materialized 2 day(s)")

    assert_posted_once(db)
    seals = db.rows("SELECT seal_seq, partition_date, supersedes_seq, prev_seal_hash, seal_hash FROM audit.seals")
    assert [seq for seq, *_ in seals] == [1, 2, 3]  # one chain, no gap
    assert all(seals[n][3] == seals[n - 1][4] for n in range(1, 3))  # each links to the one before: no fork
    of_day = [(seq, supersedes) for seq, day, supersedes, *_ in seals if day == cases.DAY]
    assert of_day[0][1] is None and of_day[1][1] == of_day[0][0]  # the second supersedes the first
    assert main(["audit", "verify"]) == 0, capsys.readouterr()


def test_runs_of_different_days_post_in_parallel(db, tmp_path, capsys):
    with db.connect() as conn:
        cases.load_cases(conn)
    env = pipeline_env(db, tmp_path / "storage", tmp_path / "dagster")
    logs = [tmp_path / "day.log", tmp_path / "next_day.log"]

    # each posting takes its day's lock, writes its rows, then waits to swap them in while the test
    # reads the ledger: if the two days were serialised, the second could not take its day lock
    # while the first holds its own
    with (
        holding_the_ledger(db) as reading,
        pipeline_process(run_command(cases.DAY, cases.DAY), env, logs[0]) as first,
        pipeline_process(run_command(cases.NEXT_DAY, cases.NEXT_DAY), env, logs[1]) as second,
    ):
        wait_until(
            lambda: len(postings_waiting_on_the_ledger(db)) == 2,
            what="both postings waiting on the ledger tables",
            diagnose=lambda: f"{pipeline_backends(db)}\n{tail(logs[0])}\n{tail(logs[1])}",
        )
        holders = day_lock_holders(db, cases.DAY, granted=True) + day_lock_holders(db, cases.NEXT_DAY, granted=True)
        assert [app for _, app in holders] == ["journal-pipeline post"] * 2
        assert holders[0][0] != holders[1][0]  # two sessions, each holding its own day, at the same moment
        reading.close()  # both postings go on
        for proc, log in zip((first, second), logs, strict=True):
            assert proc.wait(timeout=180) == 0, tail(log)

    assert_posted_once(db)
    assert db.scalar("SELECT count(*) FROM audit.seals") == 2
    assert main(["audit", "verify"]) == 0, capsys.readouterr()


def test_a_repost_never_deadlocks_with_a_reader_of_vouchers_then_lines(db, tmp_path):
    """Replacing a day locks ledger.journal_lines and ledger.vouchers exclusively. A reader that
    holds vouchers and then asks for the lines would deadlock with a posting that took the lines
    and waits for vouchers; ledger.lock_for_replacing never waits for one while holding the other,
    so the reader gets the lines, and the posting completes once the reader is done."""
    with db.connect() as conn:
        cases.load_cases(conn)
    env = pipeline_env(db, tmp_path / "storage", tmp_path / "dagster")
    with pipeline_process(run_command(cases.DAY, cases.DAY), env, tmp_path / "first.log") as first:
        assert first.wait(timeout=300) == 0, tail(tmp_path / "first.log")

    with db.connect(autocommit=False) as reader:
        vouchers = reader.execute("SELECT count(*) FROM ledger.vouchers").fetchone()
        log = tmp_path / "repost.log"
        with pipeline_process(run_command(cases.DAY, cases.DAY), env, log) as repost:

            def swapping() -> list[tuple]:
                return [row for row in pipeline_backends(db) if "close_day" in row[4] and row[2] == "active"]

            def waiting_for_vouchers() -> list[tuple]:
                # waiting on a lock, or sleeping between tries (PgSleep is a Timeout wait)
                return [row for row in swapping() if row[3] in ("Lock", "Timeout")]

            wait_until(waiting_for_vouchers, what="the repost waiting at its swap", diagnose=lambda: tail(log))
            # the reader now asks for the lines, holding vouchers: answered, no deadlock
            lines = reader.execute("SELECT count(*) FROM ledger.journal_lines").fetchone()
            assert swapping(), "the repost must still be waiting for the reader's vouchers"
            reader.commit()
            assert repost.wait(timeout=300) == 0, tail(log)
    assert (vouchers, lines) == ((len({txn for txn, _ in cases.POSTED_LINES}),), (len(cases.POSTED_LINES),))
    assert "deadlock" not in log.read_text()
    assert_posted_once_for(db, cases.DAY)


def assert_posted_once_for(db, day) -> None:
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE journal_date = %s", (day,)) == len(
        cases.POSTED_LINES
    )
    assert db.scalar("SELECT count(*) FROM ledger.vouchers WHERE journal_date = %s", (day,)) == len(
        {txn for txn, _ in cases.POSTED_LINES}
    )
