"""The database layer: embedded server, URLs, migrations that are safe to run twice."""

from __future__ import annotations

import psycopg
import pytest

from journal_pipeline.cli import main
from journal_pipeline.db.connection import redact, with_database, with_user
from journal_pipeline.db.migrate import discover, migrate

EXPECTED_TABLES = {
    "legacy.companies",
    "legacy.accounts",
    "legacy.posting_rules",
    "legacy.fx_rates",
    "legacy.users",
    "legacy.src_transactions",
    "legacy.sun_journal",
    "legacy.vouchers",
    "legacy.gl_entries",
    "ledger.journal_lines",
    "ledger.vouchers",
    "ledger.gl_daily",
    "ledger.quarantine",
    "ledger.fraud_scores",
    "eval.ground_truth",
    "eval.seed_runs",
}


def test_migrations_create_every_table_and_are_safe_to_run_twice(db):
    tables = {
        f"{schema}.{name}"
        for schema, name in db.rows(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('legacy', 'ledger', 'eval', 'audit')"
        )
    }
    assert tables >= EXPECTED_TABLES
    applied = db.scalar("SELECT count(*) FROM public.journal_schema_migrations")
    assert applied == len(discover())
    assert migrate(db.admin_url) == []
    assert db.scalar("SELECT count(*) FROM public.journal_schema_migrations") == applied


def test_an_edited_migration_is_refused(db, tmp_path):
    for migration in discover():
        (tmp_path / migration.path.name).write_text(migration.sql)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(RuntimeError, match=r"0001_legacy_source\.sql was edited after it was applied"):
        migrate(db.admin_url, tmp_path)


def test_the_pipeline_role_reads_the_source_but_not_the_ground_truth_nor_the_legacy_outputs(db):
    with psycopg.connect(db.pipeline_url) as conn:
        assert conn.execute("SELECT count(*) FROM legacy.src_transactions").fetchone() == (0,)
    for table in ("eval.ground_truth", "legacy.sun_journal"):
        with psycopg.connect(db.pipeline_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT count(*) FROM {table}")


def test_urls_keep_the_server_and_hide_passwords():
    url = "postgresql://admin:s3cret@db.example:5433/journal?sslmode=require"
    assert with_user(url, "journal_pipeline") == "postgresql://journal_pipeline@db.example:5433/journal?sslmode=require"
    assert with_database(url, "other") == "postgresql://admin:s3cret@db.example:5433/other?sslmode=require"
    assert redact(url) == "postgresql://admin:***@db.example:5433/journal?sslmode=require"
    assert redact("host=x password=s3cret user=u") == "host=x password=*** user=u"


def test_db_url_prints_the_configured_database(db, capsys):
    assert main(["db", "url"]) == 0
    assert capsys.readouterr().out.strip() == db.admin_url


def test_cli_reports_an_unreachable_server_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("JOURNAL_DATABASE_URL", "postgresql://nobody@/journal?host=/nonexistent/socket/dir")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("journal-pipeline migrate: ")
    assert "/nonexistent/socket/dir" in err[0]
