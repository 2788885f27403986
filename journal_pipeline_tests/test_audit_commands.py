"""``journal-pipeline audit verify|prove|head`` through a parser built with add_audit_commands."""

from __future__ import annotations

import argparse
import json

import pytest

from journal_pipeline.audit.commands import add_audit_commands
from journal_pipeline.cli import UsageError
from journal_pipeline_tests.test_audit_seal import DAY, NEXT_DAY, _rewrite_everything, day_lines, insert_lines, seal


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="journal-pipeline")
    add_audit_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def sealed(db):
    insert_lines(db, day_lines(DAY, 1001, 3) + day_lines(NEXT_DAY, 3001, 2))
    seal(db, DAY, NEXT_DAY)
    return db


def test_verify_exits_0_when_everything_checks_out(sealed, capsys):
    assert run("audit", "verify") == 0
    assert capsys.readouterr().out.strip() == ("audit verified: 2 seal(s), 2 event(s), 2 day(s), 15 line(s) check out")


def test_verify_exits_1_and_names_the_day_and_line(sealed, capsys):
    sealed.rows("UPDATE ledger.journal_lines SET amount_base = 1 WHERE txn_id = 3002 AND line_no = 3 RETURNING 1")
    assert run("audit", "verify", "--date", "2024-07-19") == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[1] == (
        "2024-07-19 line edited: company 1 txn 3002 line 3 (leaf 5) differs from the line sealed in seal 2"
    )
    assert err.startswith("audit verification failed: 2 finding(s) in 2 seal(s), 2 event(s), 1 day(s), 6 line(s)")
    assert run("audit", "verify", "--date", "2024-07-18") == 0


def test_head_is_exported_and_a_later_rewrite_is_caught(sealed, tmp_path, capsys):
    head_file = tmp_path / "head.json"
    assert run("audit", "head", "--output", str(head_file)) == 0
    exported = json.loads(head_file.read_text())
    assert json.loads(capsys.readouterr().out) == exported
    assert (exported["seal_seq"], exported["partition_date"], exported["event_seq"]) == (2, "2024-07-19", 2)
    assert len(exported["seal_hash"]) == 64
    assert run("audit", "verify", "--head", str(head_file)) == 0

    _rewrite_everything(sealed, DAY, NEXT_DAY)
    capsys.readouterr()
    assert run("audit", "verify") == 0  # consistent inside the database
    capsys.readouterr()
    assert run("audit", "verify", "--head", str(head_file)) == 1
    out = capsys.readouterr().out
    assert out.startswith("chain head mismatch: seal 2 now has hash ")


def test_a_file_that_is_not_a_head_is_a_usage_error(sealed, tmp_path):
    bad = tmp_path / "head.json"
    bad.write_text('{"seal_seq": 2}')
    with pytest.raises(UsageError, match="needs seal_seq and seal_hash"):
        run("audit", "verify", "--head", str(bad))
    with pytest.raises(UsageError, match="cannot read the exported head"):
        run("audit", "verify", "--head", str(tmp_path / "missing.json"))


def test_prove_prints_a_checkable_proof(sealed, capsys):
    assert run("audit", "prove", "--txn-id", "1002") == 0
    out, err = capsys.readouterr()
    (proof,) = json.loads(out)
    assert proof["verified"] is True
    assert [(line["line_no"], line["leaf_index"]) for line in proof["lines"]] == [(1, 3), (2, 4), (3, 5)]
    assert proof["seal"]["seal_seq"] == 1 and proof["seal"]["tree_size"] == 9
    assert err.startswith("txn 1002: 3 line(s) proven in seal 1 of 2024-07-18")

    sealed.rows("UPDATE ledger.journal_lines SET account_code = '9999' WHERE txn_id = 1002 AND line_no = 2 RETURNING 1")
    assert run("audit", "prove", "--txn-id", "1002") == 1
    err = capsys.readouterr().err
    assert "NOT proven: line 2 differs from the line sealed at leaf 4" in err
