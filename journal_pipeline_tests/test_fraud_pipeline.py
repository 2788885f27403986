"""fraud_scores in the pipeline: materialized after the GL, written to ledger.fraud_scores for
every posted transaction, identical on a rerun and whatever the backfill window, and read back
by fraud-report and fraud-eval."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from decimal import Decimal

import dagster as dg
import pytest

from journal_pipeline.definitions import JOURNAL_ASSETS
from journal_pipeline.defs.assets.fraud import fraud_scores
from journal_pipeline.defs.io_manager import DailyParquetIOManager
from journal_pipeline.defs.jobs import daily_journal_job
from journal_pipeline.defs.resources import database_resource, storage_path
from journal_pipeline.fraud.commands import add_fraud_commands
from journal_pipeline.fraud.config import FraudConfig, model_version
from journal_pipeline.runner import materialize_window, windows
from journal_pipeline_tests import cases

fraud_scores_job = dg.define_asset_job("fraud_scores_job", selection=dg.AssetSelection.assets(fraud_scores))

COLUMNS = "journal_date, txn_id, company_id, risk_score, reasons::text, model_version"
SCORES = f"SELECT {COLUMNS} FROM ledger.fraud_scores"


def definitions() -> dg.Definitions:
    """The pipeline's definitions with fraud_scores (whether or not definitions.py lists it yet)."""
    assets = [*JOURNAL_ASSETS, *([] if fraud_scores in JOURNAL_ASSETS else [fraud_scores])]
    return dg.Definitions(
        assets=assets,
        jobs=[daily_journal_job, fraud_scores_job],
        resources={
            "database": database_resource(),
            "io_manager": DailyParquetIOManager(base_dir=storage_path()),
        },
        executor=dg.in_process_executor,
    )


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="journal-pipeline")
    add_fraud_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def scored_cases(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    result = materialize_window(cases.DAY, cases.DAY, instance=instance, definitions=definitions())
    assert result.success
    return result


def test_every_posted_case_is_scored_and_the_round_amount_is_explained(db, scored_cases):
    rows = db.rows(SCORES + " ORDER BY txn_id")
    query = "SELECT txn_id FROM ledger.vouchers WHERE journal_date = %s ORDER BY txn_id"
    posted = db.rows(query, (cases.DAY,))
    assert [r[1] for r in rows] == [t for (t,) in posted] == [101, 102, 103, 116, 117, 118, 119]
    by_txn = {r[1]: r for r in rows}
    # 101 is 1,000.00 GBP net: a round amount, and nothing else fires on this small book
    assert by_txn[101][3] == Decimal("0.4500")
    assert json.loads(by_txn[101][4]) == [
        {"test": "round_amount", "weight": 0.45, "evidence": "1,000.00 GBP is a multiple of 1,000 GBP"}
    ]
    others = {t: r[3] for t, r in by_txn.items() if t != 101}
    assert others == dict.fromkeys([102, 103, 116, 117, 118, 119], Decimal(0))
    assert {r[5] for r in rows} == {model_version(FraudConfig())}
    assert db.scalar("SELECT count(*) FROM ledger.fraud_scores WHERE txn_id IN (104, 105, 120)") == 0


def test_the_check_passes_and_the_metadata_says_what_fired(scored_cases):
    checks = {e.check_name: e for e in scored_cases.get_asset_check_evaluations()}
    assert checks["every_posted_transaction_scored_once"].passed
    [materialization] = scored_cases.asset_materializations_for_node("fraud_scores")
    metadata = materialization.metadata
    assert metadata["scored"].value == 7
    assert metadata["flagged"].value == 1
    assert metadata["flagged_per_test"].value["round_amount"] == 1
    assert metadata["flagged_per_test"].value["duplicate"] == 0
    assert "| 101 | 2024-07-18 | 1 | 0.4500 | round_amount (0.45): 1,000.00 GBP" in metadata["riskiest"].value
    assert "| 1 |" in metadata["benford_first_digits"].value  # the digit table
    assert metadata["benford_chart"].value.endswith("benford_first_digit_2024-07-18_2024-07-18.svg")
    with open(metadata["benford_chart"].value, encoding="utf-8") as chart:
        assert chart.read().startswith("<svg")


def test_a_rerun_leaves_exactly_the_same_rows(db, instance, scored_cases):
    before = db.rows(SCORES + " ORDER BY txn_id")
    again = materialize_window(cases.DAY, cases.DAY, instance=instance, definitions=definitions())
    assert again.success
    assert db.rows(SCORES + " ORDER BY txn_id") == before
    [materialization] = again.asset_materializations_for_node("fraud_scores")
    assert materialization.metadata["replaced_rows"].value == 7


def test_the_coverage_check_names_what_is_missing_or_extra(db, scored_cases):
    from journal_pipeline.db import connect
    from journal_pipeline.fraud.store import score_coverage_problems

    with db.connect() as conn:
        conn.execute("DELETE FROM ledger.fraud_scores WHERE txn_id = 103")
        conn.execute(
            "INSERT INTO ledger.fraud_scores VALUES (%s, 104, 1, 0.5, '[]', 'x')", (cases.DAY,)
        )  # 104 was quarantined, never posted
    with connect(db.admin_url) as conn:
        problems = score_coverage_problems(conn, cases.DAY, cases.DAY)
    assert problems.rows() == [
        (cases.DAY, 103, "posted but not scored"),
        (cases.DAY, 104, "scored but not posted"),
    ]


def test_fraud_report_prints_the_riskiest_with_reasons(db, scored_cases, capsys):
    assert run_cli(["fraud-report", "--start", "2024-07-18", "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = "fraud scores 2024-07-18..2024-07-18: 7 transactions scored, 1 with at least one reason"
    assert out[0].startswith(header)
    assert out[2] == "  1. txn 101  2024-07-18  company 1  risk 0.4500"
    assert out[3] == "       round_amount (0.45): 1,000.00 GBP is a multiple of 1,000 GBP"
    assert out[4] == "  2. txn 102  2024-07-18  company 1  risk 0.0000"
    assert out[5] == "       no test fired"


SEED_START = dt.date(2024, 6, 7)  # a Friday: the seeded days include a weekend
SEED_END = dt.date(2024, 6, 10)


@pytest.fixture
def seeded_days(db, instance):
    from journal_pipeline.seed.generator import seed_database

    seed_database(db.admin_url, start=SEED_START, days=4, companies=2, txns_per_day=400, seed=11)
    result = materialize_window(SEED_START, SEED_END, instance=instance, definitions=definitions())
    assert result.success
    return db


def test_a_backfill_window_and_a_one_day_run_give_a_day_the_same_scores(seeded_days, instance):
    db = seeded_days
    scored = db.scalar("SELECT count(*) FROM ledger.fraud_scores")
    assert scored == db.scalar("SELECT count(*) FROM ledger.vouchers")
    last_day = SCORES + " WHERE journal_date = %s ORDER BY txn_id"
    from_window = db.rows(last_day, (SEED_END,))
    assert len(from_window) > 500
    result = materialize_window(
        SEED_END, SEED_END, instance=instance, definitions=definitions(), job_name="fraud_scores_job"
    )
    assert result.success
    assert db.rows(last_day, (SEED_END,)) == from_window


def test_planted_red_flags_are_explained_and_fraud_eval_reports(seeded_days, capsys):
    db = seeded_days
    planted = db.rows(
        "SELECT g.kind, f.reasons::text FROM eval.ground_truth g JOIN ledger.fraud_scores f USING (txn_id)"
        " WHERE g.kind IN ('self_approval', 'suspicious_keyword', 'after_hours', 'weekend_entry')"
    )
    assert {kind for kind, _ in planted} == {
        "self_approval",
        "suspicious_keyword",
        "after_hours",
        "weekend_entry",
    }
    for kind, reasons in planted:
        assert kind in {reason["test"] for reason in json.loads(reasons)}, (kind, reasons)
    assert run_cli(["fraud-eval", "--start", str(SEED_START), "--end", str(SEED_END)]) == 0
    out = capsys.readouterr().out
    assert "recall of planted transactions within the top share of scores" in out
    assert "  self_approval " in out
    assert "ROC AUC, kinds judged per transaction (Benford: per group): " in out


def test_the_commands_register_with_or_without_the_clis_helper():
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    registered: list[str] = []

    def add(name, handler, help_text):
        registered.append(name)
        sub = subparsers.add_parser(name, help=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add_fraud_commands(subparsers, add)
    assert registered == ["fraud-report", "fraud-eval"]
    args = parser.parse_args(["fraud-report", "--start", "2024-07-18", "--end", "2024-07-19", "--top", "5"])
    assert (args.start, args.end, args.top) == (dt.date(2024, 7, 18), dt.date(2024, 7, 19), 5)
    with pytest.raises(SystemExit):
        parser.parse_args(["fraud-eval", "--start", "2024-07-18"])  # --end is required


@pytest.mark.slow
def test_on_a_seeded_month_the_scores_find_the_planted_anomalies(month, capsys):
    """The acceptance bar on the shared seeded month (July 2024, 5 companies x 2,000 a day)."""
    from journal_pipeline.db import admin_url, connect
    from journal_pipeline.fraud.evaluate import MULTI_ROW_KINDS, evaluate_range

    with dg.instance_for_test() as instance:
        for first, last in windows(month.first_day, month.last_day):
            result = materialize_window(
                first, last, instance=instance, definitions=definitions(), job_name="fraud_scores_job"
            )
            assert result.success
    with connect(admin_url()) as conn:
        evaluation = evaluate_range(conn, month.first_day, month.last_day)
    print(evaluation.describe())
    assert evaluation.roc_auc_row_kinds >= 0.95
    for row in evaluation.by_kind.iter_rows(named=True):
        if row["kind"] in MULTI_ROW_KINDS:
            assert row["detectable_recall_top_2pct"] >= 0.9, row
        elif row["kind"] != "benford_fabrication":
            assert row["recall_top_2pct"] >= 0.9, row
    assert evaluation.fabricators.height > 0 and evaluation.fabricators["flagged"].all()
    assert evaluation.flagged_companies.height == 0
