"""A broken reference table: reported before anything is posted, and, where it must, fatal.

SPEC section 3 quarantines a transaction whose posting rule names a missing account
(unknown_account), and the legacy function and the seed data rely on it; so by default the
``reference_data_consistent`` check on source_transactions fails with WARN, naming the rule and the
account, and posting goes on. In strict mode (JOURNAL_STRICT_REFERENCE_DATA=1 or the run config) it
fails with ERROR and the run stops before journal_lines. A company without a valid base currency
always stops the run.
"""

from __future__ import annotations

import dagster as dg
import pytest

from journal_pipeline.cli import main
from journal_pipeline.db import connect
from journal_pipeline.definitions import build_definitions
from journal_pipeline.domain.posting import ReferenceDataError, validate_reference_data
from journal_pipeline.runner import materialize_window
from journal_pipeline.source import read_source
from journal_pipeline_tests import cases
from journal_pipeline_tests.ledger_state import ledger_fingerprint


def run_day(instance: dg.DagsterInstance, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    job = build_definitions().resolve_job_def("daily_journal_job")
    return job.execute_in_process(
        run_config=run_config or {},
        instance=instance,
        partition_key=cases.DAY.isoformat(),
        raise_on_error=False,
    )


def evaluation(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return found


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}


def test_a_rule_naming_a_missing_account_is_reported_loudly_and_its_transactions_quarantined(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    result = run_day(instance)

    assert result.success
    check = evaluation(result, "reference_data_consistent")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "posting rule GHOST of company 1: net account 7777 is not in the chart of accounts" in check.description
    assert "quarantined as unknown_account" in check.description
    assert check.metadata["rules_with_missing_accounts"].value == 1
    assert check.metadata["rules_with_inactive_accounts"].value == 1  # OLD_EXPENSE -> 6000: listed, not failed
    assert db.scalar("SELECT reason FROM ledger.quarantine WHERE txn_id = 112") == "unknown_account"
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines") == 17  # cases.POSTED_LINES


@pytest.mark.parametrize("how", ["environment", "run config"])
def test_strict_mode_stops_the_run_before_anything_is_posted(db, instance, monkeypatch, how):
    with db.connect() as conn:
        cases.load_cases(conn)
    if how == "environment":
        monkeypatch.setenv("JOURNAL_STRICT_REFERENCE_DATA", "1")
        result = run_day(instance)
    else:
        monkeypatch.setenv("JOURNAL_STRICT_REFERENCE_DATA", "0")
        result = run_day(instance, {"ops": {"source_transactions": {"config": {"strict_reference_data": True}}}})

    assert not result.success
    check = evaluation(result, "reference_data_consistent")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "posting rule GHOST of company 1: net account 7777 is not in the chart of accounts" in check.description
    assert "the run stops before anything is posted" in check.description
    assert materialized(result) == {"source_transactions"}
    for table in ("journal_lines", "vouchers", "gl_daily", "quarantine", "fraud_scores", "posted_days"):
        assert db.scalar(f"SELECT count(*) FROM ledger.{table}") == 0, table
    assert db.scalar("SELECT count(*) FROM audit.seals") == 0


def test_strict_mode_passes_consistent_reference_data(db, instance, monkeypatch):
    with db.connect() as conn:
        cases.load_cases(conn)
        conn.execute("DELETE FROM legacy.posting_rules WHERE txn_type = 'GHOST'")
    monkeypatch.setenv("JOURNAL_STRICT_REFERENCE_DATA", "true")
    result = run_day(instance)
    assert result.success
    assert evaluation(result, "reference_data_consistent").passed
    assert db.scalar("SELECT reason FROM ledger.quarantine WHERE txn_id = 112") == "no_posting_rule"


def test_a_company_without_a_base_currency_stops_the_run_and_keeps_what_was_posted(
    db, instance, monkeypatch, tmp_path, capsys
):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success
    before = ledger_fingerprint(db)
    seals = db.scalar("SELECT count(*) FROM audit.seals")
    with db.connect() as conn:
        conn.execute("UPDATE legacy.companies SET base_currency = NULL WHERE company_id = 2")
        conn.execute("INSERT INTO legacy.companies VALUES (3, 'Northwind EU', 'eu', 'Europe/Paris')")

    result = run_day(instance)

    assert not result.success
    check = evaluation(result, "reference_data_consistent")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "company 2 has no base_currency (NULL)" in check.description
    assert 'company 3 has base_currency "eu ", not three upper-case letters' in check.description
    assert "nothing is posted" in check.description
    assert materialized(result) == {"source_transactions"}
    assert ledger_fingerprint(db) == before
    assert db.scalar("SELECT count(*) FROM audit.seals") == seals

    # and the command line says it in its one line
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["run", "--start", str(cases.DAY)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("journal-pipeline run: run ")
    assert "failed: source_transactions: check reference_data_consistent failed: company 2 has no base_currency" in err
    assert ledger_fingerprint(db) == before


def test_posting_itself_refuses_a_company_without_a_base_currency_with_a_clear_message(db):
    """The second line of defence: the pure posting function, called without the check."""
    with db.connect() as conn:
        cases.load_cases(conn)
        conn.execute("UPDATE legacy.companies SET base_currency = NULL WHERE company_id = 2")
    with connect(db.pipeline_url) as conn:
        frames = read_source(conn, cases.DAY, cases.DAY)
    with pytest.raises(ReferenceDataError) as refused:
        validate_reference_data(frames["companies"])
    assert str(refused.value) == (
        "legacy.companies is broken: company 2 has no base_currency (NULL). Every transaction of that company "
        "would be unpostable, so nothing was posted: fix the reference table and run the day again"
    )
