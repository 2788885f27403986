"""A small-scale smoke run of the benchmark: every measurement is taken and written; no timing asserts."""

from __future__ import annotations

import json

from journal_pipeline.cli import main


def test_bench_measures_every_part_and_writes_json(server_url, tmp_path, capsys):
    output = tmp_path / "bench.json"
    status = main([
        "bench", "--companies", "2", "--txns-per-day", "150", "--days", "2", "--backfill-days", "3",
        "--runs", "1", "--no-dagster-overhead", "--output", str(output),
    ])  # fmt: skip
    assert status == 0
    table = capsys.readouterr().out
    for heading in ("legacy fn_insert_sun_journal", "pipeline (Dagster, all steps)", "floor (COPY out + COPY in)",
                    "3-day backfill in one launch", "legacy_over_pipeline_day", "pipeline_over_floor_day"):  # fmt: skip
        assert heading in table
    result = json.loads(output.read_text())
    assert result["measured_days"] == ["2024-06-04", "2024-06-05"]
    assert set(result["pipeline_steps_s"]) == {
        "source_transactions", "journal_lines", "vouchers", "gl_postings", "fraud_scores", "audit_seals",
    }  # fmt: skip
    assert all(result["journal_lines_per_day"][day] > 2 * result["transactions_per_day"][day] * 0.9
               for day in result["measured_days"])  # fmt: skip
    assert result["backfill_runs"] == 1 and result["peak_memory_mib"]["pipeline_process"] > 0
    assert set(result["ratios"]) == {
        "legacy_over_pipeline_day", "pipeline_over_floor_day", "legacy_over_pipeline_backfill",
    }  # fmt: skip
