"""A failing data check stops everything downstream of it, and says why in its metadata."""

from __future__ import annotations

import dagster as dg
import polars as pl

from journal_pipeline.defs.assets.gl import gl_postings
from journal_pipeline.defs.assets.transform import journal_lines
from journal_pipeline.defs.assets.vouchers import vouchers
from journal_pipeline.defs.checks import SOURCE_TRANSACTIONS_SCHEMA, blocking, schema_check
from journal_pipeline.defs.io_manager import DailyParquetIOManager
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.source import read_source
from journal_pipeline_tests import cases


def test_a_broken_frame_fails_its_blocking_check_and_nothing_downstream_runs(db, instance, tmp_path):
    with db.connect() as conn:
        cases.load_cases(conn)

    @dg.asset(
        name="source_transactions",
        partitions_def=daily_partitions,
        backfill_policy=backfill_policy,
        group_name="journal",
        metadata={"partition_expr": "txn_date"},
        check_specs=blocking("source_transactions", "source_schema"),
    )
    def broken_source_transactions(database: JournalDatabase):
        """The real extract, then one transaction duplicated: txn_id is no longer unique."""
        with database.connect() as conn:
            frames = read_source(conn, cases.DAY, cases.DAY)
        frames["transactions"] = pl.concat([frames["transactions"], frames["transactions"].head(1)])
        yield dg.Output(frames)
        yield schema_check("source_schema", SOURCE_TRANSACTIONS_SCHEMA, frames["transactions"])

    result = dg.materialize(
        [broken_source_transactions, journal_lines, vouchers, gl_postings],
        partition_key=cases.DAY.isoformat(),
        resources={
            "database": JournalDatabase(url=db.pipeline_url),
            "io_manager": DailyParquetIOManager(base_dir=str(tmp_path)),
        },
        instance=instance,
        raise_on_error=False,
    )

    assert not result.success
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "source_schema"]
    assert not evaluation.passed
    assert evaluation.metadata["failure_count"].value == 2  # both rows that share txn_id 101
    assert "101" in evaluation.metadata["failure_cases"].value  # the duplicated txn_id
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert materialized == {"source_transactions"}
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines") == 0
    assert db.scalar("SELECT count(*) FROM ledger.quarantine") == 0
