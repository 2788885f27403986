"""The runner executes the daily job as ``execute_in_process`` does, but keeps no step's output:
a day's frames are released as soon as the IO manager has stored them (peak memory)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from dagster._core.errors import DagsterUnknownPartitionError

from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases


def test_a_run_keeps_no_output_but_records_everything(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    result = materialize_window(cases.DAY, cases.DAY, instance=instance)
    assert result.success
    assert result.dagster_run.tags["dagster/partition"] == cases.DAY.isoformat()
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert materialized == {
        "source_transactions", "journal_lines", "vouchers", "gl_postings", "fraud_scores", "audit_seals",
    }  # fmt: skip
    assert instance.get_run_by_id(result.run_id).is_success
    with pytest.raises(dg.DagsterInvariantViolationError):
        result.output_for_node("journal_lines")  # not kept: it is in the IO manager's Parquet
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines") == len(cases.POSTED_LINES)


def test_a_day_outside_the_partitions_is_refused_as_execute_in_process_refuses_it(db, instance):
    with pytest.raises(DagsterUnknownPartitionError, match="1999-12-31"):
        materialize_window(dt.date(1999, 12, 31), dt.date(1999, 12, 31), instance=instance)
