"""Database maintenance as Dagster jobs, so that it shows up, is scheduled and alerts like the pipeline.

- ``weekly_maintenance_job`` (Sundays 04:00 UTC): ANALYZE every ledger table, so that the planner's row
  estimates follow a week of postings, then REFRESH MATERIALIZED VIEW CONCURRENTLY every summary view of
  the ledger (``ledger.mv_journal_summary``) and ANALYZE it;
- ``monthly_vacuum_job`` (the 1st, 05:00 UTC): VACUUM (ANALYZE) every ledger table and view. Reposting a day
  deletes and re-inserts its GL and quarantine rows, so every rerun leaves dead rows behind (its journal
  lines, vouchers and scores are day partitions, dropped and replaced whole); autovacuum reclaims them too,
  this makes sure it happens and shows when it did. ANALYZE and VACUUM of the partitioned tables reach
  every day partition.

``weekly_maintenance_job`` also removes what runs killed mid-step left in the Parquet storage
(``remove_abandoned_folders``: staging and spill folders untouched for ABANDONED_AFTER, never read
again; journal_pipeline/defs/io_manager.py names them), and verifies the audit trail in full
(``verify_audit_trail``, what ``journal-pipeline audit verify`` does): every seal and event hash and
link, and every sealed day's lines re-encoded and re-hashed from ``ledger.journal_lines`` against the
day's latest seal. The daily ``seal_matches_ledger`` check of ``audit_seals`` deliberately leaves that
recomputation out (see journal_pipeline/audit/seal_check.py), so this is where a line edited after its
day was sealed is caught without anybody asking. A finding fails the run, and the run-failure alert
(journal_pipeline/defs/alerts.py) records and sends it with the first finding. It reads in one snapshot
as the pipeline's role, and costs about a second per 300,000-line day.

Each is safe to run at any time, during a posting too: ANALYZE and VACUUM (not FULL) take a SHARE UPDATE
EXCLUSIVE lock, which does not conflict with reads or writes, and a concurrent refresh keeps serving the
old rows until the new ones are committed. The two jobs carry the ``journal/maintenance`` tag, which
deploy/dagster.yaml limits to one run at a time. The relations are found in the ``ledger`` schema when the
job runs, so a table that a later migration adds is maintained without a change here.

Who runs it: the pipeline's role, which migration 0009 grants MAINTAIN on the ledger (PostgreSQL 17+; the
embedded server and the compose deployment run 18), unless ``JOURNAL_MAINTENANCE_DATABASE_URL`` names
another role. PostgreSQL 16 and older have no MAINTAIN privilege: there the job stops before doing anything
and says so, and JOURNAL_MAINTENANCE_DATABASE_URL must name the tables' owner.
"""

import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import dagster as dg
import polars as pl
import psycopg
from psycopg import sql

from journal_pipeline.audit.verification import verify
from journal_pipeline.db.connection import connect, describe
from journal_pipeline.defs.io_manager import abandoned_folders
from journal_pipeline.defs.metadata import table
from journal_pipeline.defs.resources import JournalDatabase, storage_path

MAINTAINED_SCHEMA: Final = "ledger"
TABLE_KINDS: Final = ("r", "p")  # ordinary and partitioned tables
VIEW_KINDS: Final = ("m",)  # materialized views
MAINTENANCE_TAG: Final = "journal/maintenance"
MAINTAIN_PRIVILEGE_SINCE: Final = 170000  # server_version_num of PostgreSQL 17
MAX_REPORTED_FINDINGS: Final = 20
# A staging or spill folder older than this is a killed run's: a day's step takes minutes at most.
ABANDONED_AFTER: Final = dt.timedelta(days=1)

_RELATIONS: Final = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = ANY(%s::"char"[]) AND NOT c.relispartition
ORDER BY c.relname
"""
# Relations the connected role may not VACUUM, ANALYZE or REFRESH. With MAINTAIN (17+) the privilege
# decides (owners and superusers have it); before, only the owner (or a member of the owning role) may.
_LACKING_MAINTAIN: Final = """
SELECT r.name FROM unnest(%s::text[]) WITH ORDINALITY AS r(name, n)
WHERE NOT has_table_privilege(r.name::regclass, 'MAINTAIN') ORDER BY r.n
"""
_NOT_OWNED: Final = """
SELECT r.name FROM unnest(%s::text[]) WITH ORDINALITY AS r(name, n) JOIN pg_class c ON c.oid = r.name::regclass
WHERE NOT pg_has_role(c.relowner, 'USAGE') ORDER BY r.n
"""
_STATS: Final = """
SELECT schemaname, relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relid = ANY(%s::regclass[])
"""
_POPULATED: Final = "SELECT ispopulated FROM pg_matviews WHERE schemaname = %s AND matviewname = %s"


class MaintenancePrivilegeError(RuntimeError):
    """The connected role may not maintain some ledger relations; nothing was done."""


class MaintenanceDatabase(JournalDatabase):
    """The connection maintenance runs on: the pipeline's role unless JOURNAL_MAINTENANCE_DATABASE_URL names
    another. Autocommit, since VACUUM cannot run inside a transaction."""

    @contextmanager
    def autocommit(self, application_name: str) -> Iterator[psycopg.Connection]:
        with connect(self.conninfo(), autocommit=True, application_name=application_name) as conn:
            yield conn


def maintenance_database_resource() -> MaintenanceDatabase:
    """From the environment (EnvVar: the UI shows the variable's name, never the URL)."""
    for variable in ("JOURNAL_MAINTENANCE_DATABASE_URL", "JOURNAL_PIPELINE_DATABASE_URL", "JOURNAL_DATABASE_URL"):
        if os.environ.get(variable):
            return MaintenanceDatabase(url=dg.EnvVar(variable))
    return MaintenanceDatabase()  # the embedded server, as the pipeline's role


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        """``schema.name``, for people: logs, messages and the report."""
        return f"{self.schema}.{self.name}"

    @property
    def regclass(self) -> str:
        """The quoted name, for a ``::regclass`` parameter."""
        return sql.Identifier(self.schema, self.name).as_string()

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


def ledger_relations(conn: psycopg.Connection, kinds: Sequence[str]) -> list[Relation]:
    """The ledger's relations of these ``pg_class.relkind`` kinds (partitions are reached through their parent)."""
    rows = conn.execute(_RELATIONS, (MAINTAINED_SCHEMA, list(kinds))).fetchall()
    return [Relation(schema, name) for schema, name in rows]


def require_maintain(conn: psycopg.Connection, relations: Sequence[Relation], action: str) -> None:
    """Refuse, before doing anything, when the connected role may not maintain every relation."""
    names = {relation.regclass: relation.qualified for relation in relations}
    has_maintain = conn.info.server_version >= MAINTAIN_PRIVILEGE_SINCE
    lacking = [names[row[0]] for row in conn.execute(_LACKING_MAINTAIN if has_maintain else _NOT_OWNED, (list(names),))]
    if not lacking:
        return
    role = conn.info.user
    if has_maintain:
        remedy = "run `journal-pipeline migrate` (migration 0009 grants MAINTAIN on the ledger to journal_pipeline)"
    else:
        remedy = (
            f"PostgreSQL {conn.info.server_version // 10000} has no MAINTAIN privilege (it came in 17), so only "
            "their owner may: upgrade, or set JOURNAL_MAINTENANCE_DATABASE_URL to the role that owns the ledger "
            "(the one that ran the migrations)"
        )
    raise MaintenancePrivilegeError(f"{role} may not {action} {', '.join(lacking)}: {remedy}; nothing was done")


def _stats(conn: psycopg.Connection, relations: Sequence[Relation]) -> dict[Relation, tuple[int, int]]:
    """Live and dead rows per relation, as the statistics collector last counted them."""
    rows = conn.execute(_STATS, ([relation.regclass for relation in relations],)).fetchall()
    return {Relation(schema, name): (live, dead) for schema, name, live, dead in rows}


def _run_each(
    context: dg.OpExecutionContext,
    conn: psycopg.Connection,
    relations: Sequence[Relation],
    statement: sql.SQL,
    action: str,
) -> pl.DataFrame:
    """Run ``statement`` (one ``{}`` placeholder) on each relation; return what it found and left."""
    before = _stats(conn, relations)
    seconds = []
    for relation in relations:
        started = time.perf_counter()
        conn.execute(statement.format(relation.identifier))
        seconds.append(round(time.perf_counter() - started, 3))
        context.log.info(f"{action} {relation.qualified}: {seconds[-1]:.3f} s")
    after = _stats(conn, relations)
    return pl.DataFrame(
        {
            "relation": [relation.qualified for relation in relations],
            "live_rows": [after.get(relation, (0, 0))[0] for relation in relations],
            "dead_rows_before": [before.get(relation, (0, 0))[1] for relation in relations],
            "dead_rows_after": [after.get(relation, (0, 0))[1] for relation in relations],
            "seconds": seconds,
        },
        schema={
            "relation": pl.String,
            "live_rows": pl.Int64,
            "dead_rows_before": pl.Int64,
            "dead_rows_after": pl.Int64,
            "seconds": pl.Float64,
        },
    )


def _report(conn: psycopg.Connection, action: str, done: pl.DataFrame) -> dg.Output:
    return dg.Output(
        None,
        metadata={
            "action": action,
            "database": describe(conn.info.dsn),
            "relations": done.height,
            "report": table(done),
            "seconds": round(float(done["seconds"].sum()), 3),
        },
    )


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "postgres"})
def analyze_ledger_tables(context: dg.OpExecutionContext, maintenance_database: MaintenanceDatabase):
    """ANALYZE every ledger table: fresh row estimates after a week of postings and reruns."""
    with maintenance_database.autocommit("journal-pipeline maintenance") as conn:
        tables = ledger_relations(conn, TABLE_KINDS)
        require_maintain(conn, tables, "ANALYZE")
        yield _report(conn, "ANALYZE", _run_each(context, conn, tables, sql.SQL("ANALYZE {}"), "ANALYZE"))


@dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), tags={"kind": "postgres"})
def refresh_summary_views(context: dg.OpExecutionContext, maintenance_database: MaintenanceDatabase):
    """REFRESH MATERIALIZED VIEW CONCURRENTLY every ledger summary view (readers are never blocked), then
    ANALYZE it. A view that was never populated is populated once without CONCURRENTLY, which needs it."""
    with maintenance_database.autocommit("journal-pipeline maintenance") as conn:
        views = ledger_relations(conn, VIEW_KINDS)
        require_maintain(conn, views, "REFRESH")
        for view in views:
            row = conn.execute(_POPULATED, (view.schema, view.name)).fetchone()
            if row is not None and not row[0]:
                context.log.warning(f"{view.qualified} was never populated: populating it without CONCURRENTLY")
                conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(view.identifier))
        refresh = sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}")
        done = _run_each(context, conn, views, refresh, "REFRESH CONCURRENTLY")
        _run_each(context, conn, views, sql.SQL("ANALYZE {}"), "ANALYZE")
        yield _report(conn, "REFRESH MATERIALIZED VIEW CONCURRENTLY", done)


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "postgres"})
def vacuum_ledger(context: dg.OpExecutionContext, maintenance_database: MaintenanceDatabase):
    """VACUUM (ANALYZE) every ledger table and summary view: reclaims the rows that reruns replaced."""
    with maintenance_database.autocommit("journal-pipeline maintenance") as conn:
        relations = ledger_relations(conn, TABLE_KINDS + VIEW_KINDS)
        require_maintain(conn, relations, "VACUUM")
        vacuum = sql.SQL("VACUUM (ANALYZE) {}")
        yield _report(conn, "VACUUM (ANALYZE)", _run_each(context, conn, relations, vacuum, "VACUUM (ANALYZE)"))


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "postgres"})
def verify_audit_trail(context: dg.OpExecutionContext, database: JournalDatabase):
    """``journal-pipeline audit verify`` over the whole audit trail; a finding fails the run, naming it."""
    started = time.perf_counter()
    with database.connect("journal-pipeline audit verify") as conn:
        report = verify(conn)
    seconds = round(time.perf_counter() - started, 3)
    context.log.info(f"{report.summary()} ({seconds:.3f} s)")
    metadata = {
        "seals": report.seals_checked,
        "events": report.events_checked,
        "days": len(report.days_checked),
        "lines": report.lines_checked,
        "findings": len(report.findings),
        "seconds": seconds,
    }
    if not report.ok:
        findings = pl.DataFrame(
            [finding.to_dict() for finding in report.findings[:MAX_REPORTED_FINDINGS]],
            schema_overrides={"partition_date": pl.String},
        ).select("partition_date", "kind", "seal_seq", "company_id", "txn_id", "line_no", "message")
        raise dg.Failure(description=report.summary(), metadata={**metadata, "first_findings": table(findings)})
    yield dg.Output(None, metadata={**metadata, "notes": "; ".join(report.notes) or "none"})


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "parquet"})
def remove_abandoned_folders(context: dg.OpExecutionContext):
    """Delete the staging and spill folders that runs killed mid-step left in the Parquet storage, once
    nothing has written to them for ABANDONED_AFTER; the days' own folders are never touched."""
    storage = Path(storage_path())
    folders = abandoned_folders(storage, ABANDONED_AFTER)
    removed = []
    for folder in folders:
        size = _folder_bytes(folder)
        shutil.rmtree(folder)
        removed.append((str(folder.relative_to(storage)), size))
        context.log.info(f"removed {folder} ({size:,} bytes), untouched for over {ABANDONED_AFTER}")
    report = pl.DataFrame(removed, schema={"folder": pl.String, "bytes": pl.Int64}, orient="row")
    yield dg.Output(
        None,
        metadata={
            "storage": dg.MetadataValue.path(str(storage)),
            "folders_removed": report.height,
            "bytes_freed": int(report["bytes"].sum()),
            "report": table(report),
        },
    )


@dg.job(
    tags={MAINTENANCE_TAG: MAINTAINED_SCHEMA},
    description=(
        "ANALYZE the ledger, then refresh its summary views; remove abandoned storage folders; "
        "verify the audit trail in full."
    ),
)
def weekly_maintenance_job():
    refresh_summary_views(after=analyze_ledger_tables())
    remove_abandoned_folders()
    verify_audit_trail()


@dg.job(tags={MAINTENANCE_TAG: MAINTAINED_SCHEMA}, description="VACUUM (ANALYZE) the ledger tables and views.")
def monthly_vacuum_job():
    vacuum_ledger()


# After the nightly posting (daily_journal_schedule, 02:00 UTC) has had two hours; on by default, since
# both are safe at any time and a forgotten maintenance schedule is only noticed when queries slow down.
weekly_maintenance_schedule = dg.ScheduleDefinition(
    name="weekly_maintenance_schedule",
    job=weekly_maintenance_job,
    cron_schedule="0 4 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
monthly_vacuum_schedule = dg.ScheduleDefinition(
    name="monthly_vacuum_schedule",
    job=monthly_vacuum_job,
    cron_schedule="0 5 1 * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
