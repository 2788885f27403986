"""A small-scale smoke run of the benchmark: every measurement is taken and written, and every row count
it reports is the database's; no timing asserts."""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from journal_pipeline.bench_plans import PLAN_QUERIES
from journal_pipeline.cli import main
from journal_pipeline.db.connection import with_database

STEPS = {"source_transactions", "journal_lines", "vouchers", "gl_postings", "fraud_scores", "audit_seals"}


def count(url: str, query: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def test_bench_measures_every_part_and_writes_json(server_url, tmp_path, capsys):
    output = tmp_path / "bench.json"
    status = main([
        "bench", "--companies", "2", "--txns-per-day", "50", "--days", "2", "--backfill-days", "3",
        "--runs", "1", "--scaling-txns-per-day", "100", "--scaling-days", "2", "--keep", "--output", str(output),
    ])  # fmt: skip
    assert status == 0
    table = capsys.readouterr().out
    for heading in ("legacy fn_insert_sun_journal", "pipeline (Dagster, all steps)", "floor (COPY out + COPY in)",
                    "lines/s", "3-day backfill in one launch", "legacy_over_pipeline_day", "pipeline_over_floor_day",
                    "Dagster overhead (executor: in_process_executor)", "CLI launch (journal-pipeline run)",
                    "backfill per partition (3 in 1 runs)", "query plans, EXPLAIN (ANALYZE, BUFFERS) on 2024-06-05",
                    "linear scaling on 2024-06-05", "the legacy function is not run at the scaled size"):  # fmt: skip
        assert heading in table
    for query in PLAN_QUERIES:
        assert query.name in table

    result = json.loads(output.read_text())
    url = with_database(server_url, result["environment"]["database"])
    scaled, reference = result["scaling"]["scaled"], result["scaling"]["reference"]
    scaled_url = with_database(server_url, scaled["database"])
    reference_url = with_database(server_url, reference["database"])
    try:
        days = ["2024-06-04", "2024-06-05"]
        assert result["measured_days"] == days
        assert set(result["pipeline_steps_s"]) == STEPS
        for day in days:
            assert result["transactions_per_day"][day] == count(
                url, "SELECT count(*) FROM legacy.src_transactions WHERE txn_date = %s", day
            )
            assert result["journal_lines_per_day"][day] == count(
                url, "SELECT count(*) FROM ledger.journal_lines WHERE journal_date = %s", day
            )
            assert result["journal_lines_per_day"][day] > 2 * result["transactions_per_day"][day] * 0.9
        assert result["backfill_runs"] == 1
        assert result["backfill_transactions"] == count(url, "SELECT count(*) FROM legacy.src_transactions")
        assert result["backfill_journal_lines"] == count(url, "SELECT count(*) FROM ledger.journal_lines")
        assert set(result["ratios"]) == {
            "legacy_over_pipeline_day", "pipeline_over_floor_day", "legacy_over_pipeline_backfill",
        }  # fmt: skip
        assert set(result["rates"]) == {"legacy", "pipeline", "floor", "backfill_legacy", "backfill_pipeline"}
        assert all(set(rate) == {"transactions_per_s", "journal_lines_per_s"} for rate in result["rates"].values())
        assert set(result["peak_memory_mib"]) == {"pipeline_process", "cli_run_process"}
        # the embedded server runs on this machine: its CPU time is read for the day and the floor
        assert set(result["cpu_s"]) == {"pipeline", "floor"}
        for spent in result["cpu_s"].values():  # (a tiny floor may take less than a 10 ms tick here)
            assert spent["server"] is not None and spent["server"] >= 0 and spent["process"] >= 0
            assert spent["total"] == spent["server"] + spent["process"]
        assert result["cpu_s"]["pipeline"]["process"] > 0  # a Dagster run is more than one tick
        assert "CPU time of one day" in table and "cannot take less than" in table

        dagster = result["dagster"]
        assert dagster["executor"] == "in_process_executor" and dagster["runs"] == 1
        for launch in ("warm_materialize", "schedule_tick", "cli_launch"):
            assert set(dagster[launch]) == {"wall_s", "steps_s", "overhead_s", "overhead_s_runs"}
            assert len(dagster[launch]["overhead_s_runs"]) == 1
        assert dagster["backfill_per_partition"]["partitions"] == 3 and dagster["backfill_per_partition"]["runs"] == 1

        # (f): both designs hold the same data, so each pair of statements finds the same rows
        plans = result["plans"]
        parameters = plans["parameters"]
        assert plans["day"] == "2024-06-05" and parameters["day"] == "2024-06-05"
        assert [query["name"] for query in plans["queries"]] == [query.name for query in PLAN_QUERIES]
        rows = {query["name"]: (query["before"]["rows"], query["after"]["rows"]) for query in plans["queries"]}
        assert (
            rows["day_lines_delete"] == rows["day_lines_read"] == (result["journal_lines_per_day"]["2024-06-05"],) * 2
        )
        vouchers = count(url, "SELECT count(*) FROM ledger.vouchers WHERE journal_date = '2024-06-05'")
        assert rows["day_vouchers"] == (vouchers, vouchers)
        txn_lines = count(url, "SELECT count(*) FROM ledger.journal_lines WHERE txn_id = %s", parameters["txn_id"])
        assert rows["txn_lines_by_id"] == rows["txn_lines_by_day_and_id"] == (txn_lines, txn_lines)
        accounts = count(
            url, "SELECT count(*) FROM ledger.gl_balances WHERE company_id = %s AND period = 2024006",
            parameters["company_id"],
        )  # fmt: skip
        assert rows["gl_balances_company_period"] == (accounts, accounts)
        assert rows["journal_summary"] == rows["journal_summary_from_lines"]
        assert rows["journal_summary"][0] == rows["journal_summary"][1] > 0
        assert rows["lines_by_counterparty"][0] == rows["lines_by_counterparty"][1] > 0
        for query in plans["queries"]:
            for side in ("before", "after"):
                assert query[side]["top"] and "Plan" in query[side]["plan"]
                assert len(query[side]["execution_ms_runs"]) == 1
        # the deletes were rolled back
        assert (
            count(url, "SELECT count(*) FROM legacy.sun_journal WHERE journal_date = '2024-06-05'")
            == rows["day_lines_read"][0]
        )

        # (g): the last of two days, seeded alike at 50 and at 100 per company-day
        scaling = result["scaling"]
        assert scaling["measured_day"] == "2024-06-05" and scaling["runs"] == 1
        assert reference["txns_per_company_day"] == 50 and scaled["txns_per_company_day"] == 100
        for figures, figures_url in ((reference, reference_url), (scaled, scaled_url)):
            assert figures["transactions"] == count(
                figures_url, "SELECT count(*) FROM legacy.src_transactions WHERE txn_date = '2024-06-05'"
            )
            assert figures["journal_lines"] == count(
                figures_url, "SELECT count(*) FROM ledger.journal_lines WHERE journal_date = '2024-06-05'"
            )
            assert count(figures_url, "SELECT count(DISTINCT txn_date) FROM legacy.src_transactions") == 2
            assert figures["history_days"] == 1  # the same history at both sizes
            assert [run["day"] for run in figures["first_runs"]] == days
        # each day holds, per company, the first database's average of that day, and twice that
        for day in days:
            per_company = round(count(url, "SELECT count(*) FROM legacy.src_transactions WHERE txn_date = %s", day) / 2)
            assert reference["seeded_txns_per_company"][day] == per_company
            assert scaled["seeded_txns_per_company"][day] == 2 * per_company
        assert scaled["transactions"] == 2 * reference["transactions"]
        assert [run["day"] for run in scaled["first_runs"]] == days
        for figures in (reference, scaled):
            assert set(figures["steps_s"]) == set(figures["steps_us_per_transaction"]) == STEPS
            assert figures["peak_rss_mib"] > 0 and len(figures["seconds_runs"]) == 1
        assert set(scaling["step_ratios"]) == STEPS
        assert set(scaling["targets"]) == {"ratio_max", "peak_rss_mib_max", "ratio_met", "memory_met"}
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for database in (result["environment"]["database"], scaled["database"], reference["database"]):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
