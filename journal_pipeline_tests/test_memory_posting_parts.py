"""Memory: the extract's CSV parsed in pieces and the transform posting a part at a time give
exactly the rows that parsing and posting everything in one go give."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg import sql

import journal_pipeline.db.copy as copy_module
import journal_pipeline.defs.assets.transform as transform_asset
from journal_pipeline.db.copy import copy_to_polars
from journal_pipeline.domain.posting import post
from journal_pipeline.fraud.features import build_entries
from journal_pipeline.fraud.population import day_frames
from journal_pipeline.runner import materialize_window
from journal_pipeline.seed.generator import seed_database
from journal_pipeline.source import read_source
from journal_pipeline.transform import post_in_parts, posting_parts
from journal_pipeline_tests.ledger_state import ledger_fingerprint

FIRST = dt.date(2024, 7, 1)
LAST = dt.date(2024, 7, 2)


@pytest.fixture
def source(db, tmp_path) -> dict[str, pl.DataFrame]:
    """Two seeded days of three companies (with their planted invalid rows), extracted."""
    seed_database(db.admin_url, start=FIRST, days=2, companies=3, txns_per_day=300, seed=7)
    with psycopg.connect(db.admin_url) as conn:
        return read_source(conn, FIRST, LAST)


def test_posting_in_parts_gives_the_rows_of_posting_in_one_go(source, tmp_path):
    path = tmp_path / "transactions.parquet"
    source["transactions"].write_parquet(path)
    reference = {name: frame for name, frame in source.items() if name != "transactions"}
    transactions = source["transactions"]
    # three companies and the planted unknown one, two days
    assert transactions["company_id"].n_unique() >= 3 and transactions["txn_date"].n_unique() == 2

    one_go = post(
        transactions, reference["companies"], reference["accounts"], reference["posting_rules"], reference["fx_rates"]
    )
    entries = build_entries(
        transactions, one_go.lines, reference["users"], reference["companies"], reference["accounts"]
    )
    expected = {"lines": one_go.lines, "quarantine": one_go.quarantine, **day_frames(entries)}
    assert one_go.quarantine.height > 0  # the seed plants invalid transactions

    groups = transactions.group_by("txn_date", "company_id").len()
    for most in (10**9, groups["len"].max(), 1):  # one part; about two groups a part; a group a part
        for spill in (None, tmp_path / f"spill-{most}"):  # lines kept in memory; written to files
            if spill is not None:
                spill.mkdir()
            line_parts, quarantine, fraud_frames = post_in_parts(pl.scan_parquet(path), reference, most, spill)
            got = {"lines": pl.concat(line_parts).collect(), "quarantine": quarantine, **fraud_frames}
            assert list(got) == list(expected)
            for name, frame in expected.items():
                assert got[name].schema == frame.schema, name
                assert got[name].equals(frame, null_equal=True), (most, spill, name)
            spilled = sorted(spill.iterdir()) if spill is not None else []
            assert len(spilled) == (len(line_parts) if spill is not None and len(line_parts) > 1 else 0)
        assert (len(line_parts) == 1) == (most == 10**9)


def test_a_day_posted_in_parts_through_dagster_stores_and_posts_what_one_go_does(source, db, instance, monkeypatch):
    """Two days in one ranged run, posted a (day, company) group at a time, lines spilled: the
    same files and the same ledger as posting each day in one go, and no spill left behind."""
    storage = Path(os.environ["JOURNAL_STORAGE_DIR"])

    def stored() -> dict[str, pl.DataFrame]:
        return {str(path.relative_to(storage)): pl.read_parquet(path) for path in sorted(storage.glob("*/*/*.parquet"))}

    assert materialize_window(FIRST, LAST, instance=instance).success
    files, ledger = stored(), ledger_fingerprint(db)
    assert files["journal_lines/2024-07-02/lines.parquet"].height > 1000

    monkeypatch.setattr(transform_asset, "POSTING_PART_TRANSACTIONS", 1)  # the blocking checks run per part
    assert materialize_window(FIRST, LAST, instance=instance).success
    again = stored()
    assert list(again) == list(files)
    for name, frame in files.items():
        if not name.startswith("audit_seals/"):  # a rerun's seal is a new link of the chain, sealed at its own time
            assert again[name].equals(frame, null_equal=True), name
    assert ledger_fingerprint(db) == ledger
    assert not [path for path in storage.iterdir() if path.name.startswith(".")]  # spills and stagings gone


def test_posting_parts_are_whole_day_and_company_groups_in_order():
    groups = pl.DataFrame(
        {
            "txn_date": [LAST, FIRST, FIRST, FIRST, LAST],
            "company_id": [1, 2, None, 1, None],
            "len": [5, 4, 1, 3, 2],
        },
        schema={"txn_date": pl.Date, "company_id": pl.Int32, "len": pl.UInt32},
    )
    rows = pl.DataFrame(
        {"txn_date": [FIRST, FIRST, FIRST, LAST, LAST, LAST], "company_id": [None, 1, 2, None, 1, 3]},
        schema={"txn_date": pl.Date, "company_id": pl.Int32},
    )
    parts = posting_parts(groups, 5)
    # (FIRST, None) 1 + (FIRST, 1) 3 | (FIRST, 2) 4 | (LAST, None) 2 | (LAST, 1) 5; company 3 is in no group
    taken = [rows.with_row_index().filter(part)["index"].to_list() for part in parts]
    assert taken == [[0, 1], [2], [3], [4]]
    assert len(posting_parts(groups.clear(), 5)) == 1


def test_the_extract_parses_its_csv_in_pieces_that_end_at_rows(db, monkeypatch):
    query = sql.SQL(
        "SELECT n AS id, CASE WHEN n % 3 = 0 THEN NULL WHEN n % 3 = 1 THEN '' ELSE 'line' || chr(10) || n END AS text"
        " FROM generate_series(1, 1000) AS n ORDER BY n"
    )
    schema = {"id": pl.Int64(), "text": pl.String()}
    with psycopg.connect(db.admin_url) as conn:
        whole = copy_to_polars(conn, query, schema)
        monkeypatch.setattr(copy_module, "COPY_OUT_PIECE_BYTES", 100)
        pieces = copy_to_polars(conn, query, schema)
        empty = copy_to_polars(conn, sql.SQL("SELECT 1::bigint AS id, 'x' AS text WHERE false"), schema)
    assert whole.height == 1000 and whole["text"].null_count() == 333
    assert whole["text"][0] == "" and whole["text"][1] == "line\n2"
    assert pieces.n_chunks() > 1 and pieces.equals(whole, null_equal=True) and pieces.schema == whole.schema
    assert empty.height == 0 and empty.schema == pl.Schema(schema)
