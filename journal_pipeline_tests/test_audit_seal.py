"""Sealing days of ledger.journal_lines and catching every kind of tampering, on the embedded PostgreSQL.

Lines are written directly with SQL as the admin role (the posting step is not under test here);
sealing, verifying and proving run as the pipeline role, with its least privileges.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import dagster as dg
import polars as pl
import psycopg
import pytest

from journal_pipeline.audit import store
from journal_pipeline.audit.chain import GENESIS_HASH, seal_hash
from journal_pipeline.audit.encoding import LINE_IDENTITY, EncodingError
from journal_pipeline.audit.leaves import digest_day
from journal_pipeline.audit.merkle import EMPTY_ROOT
from journal_pipeline.audit.seal import (
    AuditError,
    check_line_proof,
    head,
    prove,
    read_day_lines,
    record_event,
    seal_partitions,
    verify,
)
from journal_pipeline.audit.seal_check import check_new_seals
from journal_pipeline.defs.maintenance import verify_audit_trail
from journal_pipeline.defs.resources import JournalDatabase

DAY = dt.date(2024, 7, 18)
NEXT_DAY = dt.date(2024, 7, 19)
COLUMNS = (
    "journal_date",
    "company_id",
    "journal_type",
    "journal_no",
    "line_no",
    "txn_id",
    "account_code",
    "period",
    "dc",
    "amount_base",
    "amount_txn",
    "currency",
    "fx_rate",
    "description",
    "cost_center",
    "counterparty",
    "document_ref",
)
INSERT_LINE = f"INSERT INTO ledger.journal_lines ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"


def day_lines(day: dt.date, first_txn: int, txns: int, company_id: int = 1) -> list[dict[str, object]]:
    """Balanced vouchers: net and tax on the debit side, the gross on the credit side."""
    lines = []
    for n in range(txns):
        txn_id = first_txn + n
        net = Decimal(100 + 7 * n) + Decimal("0.25")
        tax = (net * Decimal("0.2")).quantize(Decimal("0.01"))
        common = {
            "journal_date": day,
            "company_id": company_id,
            "journal_type": "AP",
            "journal_no": n + 1,
            "txn_id": txn_id,
            "period": day.year * 1000 + day.month,
            "currency": "EUR",
            "fx_rate": Decimal("1"),
            "description": f"Invoice {txn_id}",
            "cost_center": "CC1" if n % 2 else None,
            "counterparty": "ACME",
            "document_ref": f"INV-{txn_id}",
        }
        for line_no, account, dc, amount in ((1, "6000", "D", net), (2, "2200", "D", tax), (3, "4000", "C", net + tax)):
            lines.append(
                {
                    **common,
                    "line_no": line_no,
                    "account_code": account,
                    "dc": dc,
                    "amount_base": amount,
                    "amount_txn": amount,
                }
            )
    return lines


def insert_lines(db, lines: list[dict[str, object]]) -> None:
    with db.connect() as conn, conn.cursor() as cursor:
        cursor.executemany(INSERT_LINE, [tuple(line[c] for c in COLUMNS) for line in lines])


def seal(db, *days: dt.date, run_id: str = "run-1"):
    with psycopg.connect(db.pipeline_url, autocommit=True) as conn:
        return seal_partitions(conn, days, run_id, "test-0.1")


def check(db, **kwargs):
    with psycopg.connect(db.pipeline_url) as conn:
        return verify(conn, **kwargs)


def kinds(report) -> list[tuple[object, ...]]:
    return [(f.kind, f.partition_date, f.company_id, f.txn_id, f.line_no) for f in report.findings]


@pytest.fixture
def sealed_day(db):
    """Two sealed days: DAY with 4 transactions (12 lines) of two companies, NEXT_DAY with 2 (6 lines)."""
    insert_lines(db, day_lines(DAY, 1001, 3) + day_lines(DAY, 2001, 1, company_id=2) + day_lines(NEXT_DAY, 3001, 2))
    seal(db, DAY, NEXT_DAY)
    return db


# --- sealing ----------------------------------------------------------------------------------------


def test_the_pipeline_role_seals_days_into_one_chain(db):
    lines = day_lines(DAY, 1001, 3) + day_lines(DAY, 2001, 1, company_id=2)
    insert_lines(db, lines + day_lines(NEXT_DAY, 3001, 2))
    first, second = seal(db, NEXT_DAY, DAY)  # sealed in date order whatever the order asked

    assert (first.seal_seq, first.partition_date, first.prev_seal_hash) == (1, DAY, GENESIS_HASH)
    assert (second.seal_seq, second.partition_date, second.prev_seal_hash) == (2, NEXT_DAY, first.seal_hash)
    assert (first.line_count, first.total_debit, first.total_credit) == (12, Decimal("506.40"), Decimal("506.40"))
    assert (second.line_count, second.total_debit, second.total_credit) == (6, Decimal("249.00"), Decimal("249.00"))
    # The root is the pure computation over the lines as inserted (no database in between).
    assert first.merkle_root == digest_day(pl.DataFrame(lines)).root
    assert seal_hash(first) == first.seal_hash
    stored = db.rows("SELECT seal_seq, encode(seal_hash, 'hex'), run_id, code_version FROM audit.seals ORDER BY 1")
    assert stored == [(1, first.seal_hash.hex(), "run-1", "test-0.1"), (2, second.seal_hash.hex(), "run-1", "test-0.1")]
    assert db.rows("SELECT event_seq, event_type, partition_date FROM audit.events ORDER BY 1") == [
        (1, "partition_sealed", DAY),
        (2, "partition_sealed", NEXT_DAY),
    ]
    assert db.scalar("SELECT octet_length(leaf_hashes) FROM audit.seal_leaves WHERE seal_seq = 1") == 12 * 32

    report = check(db)
    assert report.ok, report.findings
    assert (report.seals_checked, report.events_checked, report.days_checked, report.lines_checked) == (
        2,
        2,
        [DAY, NEXT_DAY],
        18,
    )


def test_reading_the_ledger_keeps_every_text_value_exact(db):
    nasty = day_lines(DAY, 1001, 1)
    nasty[0].update(
        description='Café "déjà", vu\r\nline two,\t~ 3:', cost_center="", counterparty=None, document_ref="  padded  "
    )
    nasty[1].update(description="", amount_txn=Decimal("20.0500000"))  # scale is not content
    nasty[2].update(description="\\N", cost_center="NULL", document_ref="")  # '' in the last column too
    insert_lines(db, nasty)
    with psycopg.connect(db.pipeline_url) as conn:
        read = read_day_lines(conn, DAY)
    values = read.sort(list(LINE_IDENTITY)).select("description", "cost_center", "counterparty", "document_ref").rows()
    assert values == [
        ('Café "déjà", vu\r\nline two,\t~ 3:', "", None, "  padded  "),
        ("", None, "ACME", "INV-1001"),
        ("\\N", "NULL", "ACME", ""),
    ]
    (sealed,) = seal(db, DAY)
    assert sealed.merkle_root == digest_day(pl.DataFrame(nasty)).root
    assert check(db).ok


def test_an_empty_day_is_sealed_with_the_empty_tree_root(db):
    (sealed,) = seal(db, DAY)
    assert (sealed.line_count, sealed.merkle_root, sealed.total_debit) == (0, EMPTY_ROOT, Decimal("0.00"))
    assert check(db).ok
    insert_lines(db, day_lines(DAY, 1001, 1)[:1])
    assert kinds(check(db)) == [("day_changed", DAY, None, None, None), ("line_inserted", DAY, 1, 1001, 1)]


def test_resealing_appends_a_seal_that_supersedes_and_nothing_is_overwritten(sealed_day):
    db = sealed_day
    before = db.rows("SELECT * FROM audit.seals ORDER BY seal_seq")
    # A legitimate repost of DAY (one more transaction), then the pipeline reseals it.
    insert_lines(db, day_lines(DAY, 1004, 1))
    (resealed,) = seal(db, DAY, run_id="run-2")
    assert (resealed.seal_seq, resealed.supersedes_seq, resealed.line_count) == (3, 1, 15)
    assert db.rows("SELECT * FROM audit.seals WHERE seal_seq <= 2 ORDER BY seal_seq") == before
    (again,) = seal(db, DAY, run_id="run-3")
    assert (again.seal_seq, again.supersedes_seq, again.merkle_root) == (4, 3, resealed.merkle_root)
    events = db.rows("SELECT payload->>'supersedes_seq', payload->>'root_changed' FROM audit.events ORDER BY 1")
    assert sorted(events, key=str) == sorted([(None, None), (None, None), ("1", "true"), ("3", "false")], key=str)
    report = check(db)
    assert report.ok, report.findings
    assert report.days_checked == [DAY, NEXT_DAY]
    assert report.lines_checked == 15 + 6  # only the latest seal of DAY is checked against the ledger


def test_a_new_ledger_column_stops_sealing_until_the_encoding_covers_it(db):
    with db.connect() as conn:
        conn.execute("ALTER TABLE ledger.journal_lines ADD COLUMN approved_by text")
    with pytest.raises(AuditError, match=r"column\(s\) approved_by are not encoded"):
        seal(db, DAY)
    assert db.scalar("SELECT count(*) FROM audit.seals") == 0


def test_record_event_chains_its_own_events(db):
    with psycopg.connect(db.pipeline_url, autocommit=True) as conn:
        first = record_event(conn, "partition_posted", DAY, {"lines": 12, "total": Decimal("506.40")}, "run-1")
        second = record_event(conn, "backfill_started", None, {"b": [1, 2], "a": "é"}, None)
    assert (first.event_seq, first.prev_event_hash) == (1, GENESIS_HASH)
    assert (second.event_seq, second.prev_event_hash) == (2, first.event_hash)
    assert second.payload_text == '{"a": "é", "b": [1, 2]}'  # jsonb's rendering is what is hashed
    assert first.payload == {"lines": 12, "total": "506.40"}
    assert check(db).ok


# --- tampering with the ledger ------------------------------------------------------------------------


def test_an_edited_amount_is_named_with_its_day_and_line(sealed_day):
    sealed_day.rows(
        "UPDATE ledger.journal_lines SET amount_base = amount_base + 0.01 "
        "WHERE journal_date = %s AND txn_id = 1002 AND line_no = 2 RETURNING 1",
        (DAY,),
    )
    report = check(sealed_day)
    assert kinds(report) == [("day_changed", DAY, None, None, None), ("line_edited", DAY, 1, 1002, 2)]
    assert report.findings[1].seal_seq == 1
    assert report.findings[1].leaf_index == 4
    assert str(report.findings[1]) == (
        "2024-07-18 line edited: company 1 txn 1002 line 2 (leaf 4) differs from the line sealed in seal 1"
    )
    assert "debit 506.41" in report.findings[0].message
    assert check(sealed_day, date=NEXT_DAY).ok  # the other day is intact


def test_a_deleted_line_is_named(sealed_day):
    sealed_day.rows("DELETE FROM ledger.journal_lines WHERE txn_id = 2001 AND line_no = 3 RETURNING 1")
    assert kinds(check(sealed_day)) == [("day_changed", DAY, None, None, None), ("line_deleted", DAY, 2, 2001, 3)]


def test_an_inserted_line_is_named(sealed_day):
    extra = {**day_lines(NEXT_DAY, 3001, 1)[0], "line_no": 4, "description": "rounding"}
    insert_lines(sealed_day, [extra])
    assert kinds(check(sealed_day)) == [
        ("day_changed", NEXT_DAY, None, None, None),
        ("line_inserted", NEXT_DAY, 1, 3001, 4),
    ]


def test_two_lines_swapped_are_named_as_moved(sealed_day):
    # Reordering, when the leaf order is the sort on (company, txn, line): lines 1 and 3 of txn 1003
    # trade places, each keeping its content (account, side, amount) under the other's line_no.
    with sealed_day.connect(autocommit=False) as conn:
        for old, new in ((1, 99), (3, 1), (99, 3)):  # the primary key is checked row by row
            conn.execute(
                "UPDATE ledger.journal_lines SET line_no = %s WHERE txn_id = 1003 AND line_no = %s", (new, old)
            )
    report = check(sealed_day)
    assert kinds(report) == [
        ("day_changed", DAY, None, None, None),
        ("line_moved", DAY, 1, 1003, 1),
        ("line_moved", DAY, 1, 1003, 3),
    ]
    assert "company 1 txn 1003 line 1 now holds the content sealed as company 1 txn 1003 line 3 (leaf 8)" in str(
        report.findings[1]
    )
    # Day totals and the voucher's balance are unchanged, and still it is caught.
    assert "debit 506.40, credit 506.40" in report.findings[0].message


def test_two_amounts_swapped_between_lines_are_named_as_edited(sealed_day):
    # The two debit lines of txn 1001 trade amounts: totals, balances and line count are unchanged.
    sealed_day.rows(
        "UPDATE ledger.journal_lines l SET amount_base = o.amount_base, amount_txn = o.amount_txn "
        "FROM ledger.journal_lines o WHERE l.journal_date = %s AND o.journal_date = l.journal_date "
        "AND l.txn_id = 1001 AND o.txn_id = 1001 AND l.line_no IN (1, 2) AND o.line_no = 3 - l.line_no RETURNING 1",
        (DAY,),
    )
    assert kinds(check(sealed_day)) == [
        ("day_changed", DAY, None, None, None),
        ("line_edited", DAY, 1, 1001, 1),
        ("line_edited", DAY, 1, 1001, 2),
    ]


def test_a_line_moved_to_another_day_is_named_on_both_days(sealed_day):
    sealed_day.rows(
        "UPDATE ledger.journal_lines SET journal_date = %s WHERE txn_id = 1001 AND line_no = 1 RETURNING 1",
        (NEXT_DAY,),
    )
    assert kinds(check(sealed_day)) == [
        ("day_changed", DAY, None, None, None),
        ("line_deleted", DAY, 1, 1001, 1),
        ("day_changed", NEXT_DAY, None, None, None),
        ("line_inserted", NEXT_DAY, 1, 1001, 1),
    ]


def test_a_value_with_no_canonical_form_is_named_and_cannot_be_sealed(sealed_day):
    # numeric accepts 'NaN' and 'Infinity', and both pass CHECK (amount_txn >= 0).
    sealed_day.rows(
        "UPDATE ledger.journal_lines SET amount_txn = 'NaN' WHERE txn_id = 3001 AND line_no = 2 RETURNING 1"
    )
    report = check(sealed_day)
    assert kinds(report) == [("day_changed", NEXT_DAY, None, None, None), ("line_edited", NEXT_DAY, 1, 3001, 2)]
    assert "amount_txn 'NaN' of the journal line (company_id 1, txn_id 3001, line_no 2)" in report.findings[1].message
    with pytest.raises(EncodingError, match="is not a plain decimal number"):
        seal(sealed_day, NEXT_DAY)


def test_sealing_refuses_a_transaction_that_cannot_see_the_latest_head(db):
    with psycopg.connect(db.pipeline_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with pytest.raises(AuditError, match="needs a READ COMMITTED transaction, not repeatable read"):
            seal_partitions(conn, [DAY], "run-1", "test")


def test_a_value_rewritten_with_another_scale_is_not_a_change(sealed_day):
    sealed_day.rows("UPDATE ledger.journal_lines SET amount_txn = amount_txn::numeric(30,6) RETURNING 1")
    assert sealed_day.scalar("SELECT amount_txn::text FROM ledger.journal_lines LIMIT 1").endswith("0000")
    assert check(sealed_day).ok


# --- tampering with the audit trail -----------------------------------------------------------------


def as_superuser_without_triggers(db, *statements: str) -> None:
    with db.connect() as conn:
        for table in ("audit.seals", "audit.seal_leaves", "audit.events"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        for statement in statements:
            conn.execute(statement)
        for table in ("audit.seals", "audit.seal_leaves", "audit.events"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")


def test_a_seal_edited_by_a_superuser_is_named(sealed_day):
    as_superuser_without_triggers(sealed_day, "UPDATE audit.seals SET run_id = 'innocent' WHERE seal_seq = 1")
    report = check(sealed_day)
    assert [(f.kind, f.seal_seq, f.partition_date) for f in report.findings] == [("seal_edited", 1, DAY)]
    assert "seal 1 stores seal_hash" in report.findings[0].message


def test_a_seal_and_ledger_edited_together_are_both_named(sealed_day):
    # The forger changes an amount and the seal's totals and root to match... but not its hash.
    db = sealed_day
    db.rows("UPDATE ledger.journal_lines SET amount_base = 999.99 WHERE txn_id = 3002 AND line_no = 1 RETURNING 1")
    with psycopg.connect(db.pipeline_url) as conn:
        forged = digest_day(read_day_lines(conn, NEXT_DAY))
    as_superuser_without_triggers(
        db,
        f"UPDATE audit.seals SET merkle_root = '\\x{forged.root.hex()}', total_debit = {forged.total_debit} "
        "WHERE seal_seq = 2",
    )
    found = [(f.kind, f.seal_seq) for f in check(db).findings]
    assert ("seal_edited", 2) in found
    assert ("seal_event_mismatch", 2) in found  # the event still records the true root


def test_edited_seal_leaves_are_named(sealed_day):
    as_superuser_without_triggers(
        sealed_day,
        "UPDATE audit.seal_leaves SET leaf_hashes = overlay(leaf_hashes placing '\\xff' from 1) WHERE seal_seq = 1",
    )
    assert [(f.kind, f.seal_seq) for f in check(sealed_day).findings] == [("leaves_edited", 1)]


def test_a_removed_seal_is_named(sealed_day):
    as_superuser_without_triggers(
        sealed_day, "DELETE FROM audit.seal_leaves WHERE seal_seq = 1", "DELETE FROM audit.seals WHERE seal_seq = 1"
    )
    found = [(f.kind, f.seal_seq) for f in check(sealed_day).findings]
    assert ("chain_broken", 2) in found
    assert ("seal_event_mismatch", 1) in found


def _rewrite_everything(db, *days: dt.date) -> None:
    """A superuser empties the audit trail and seals again: a wholly consistent, wholly new chain."""
    as_superuser_without_triggers(
        db, "DELETE FROM audit.seal_leaves", "DELETE FROM audit.seals", "DELETE FROM audit.events"
    )
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        seal_partitions(conn, days, "run-1", "test-0.1")


def test_a_chain_rewritten_after_its_head_was_exported_is_caught_with_the_head(sealed_day, tmp_path):
    db = sealed_day
    with psycopg.connect(db.pipeline_url) as conn:
        exported = head(conn)
    assert exported["seal_seq"] == 2 and exported["partition_date"] == "2024-07-19"
    db.rows("UPDATE ledger.journal_lines SET amount_base = 0.01 WHERE txn_id = 1001 AND line_no = 1 RETURNING 1")
    assert not check(db).ok
    _rewrite_everything(db, DAY, NEXT_DAY)

    assert check(db).ok  # inside the database, the forged chain is consistent...
    report = check(db, head=exported)  # ...but it no longer holds the head kept outside
    assert [(f.kind, f.seal_seq) for f in report.findings] == [("head_mismatch", 2), ("head_mismatch", None)]
    assert "seal 2 now has hash" in report.findings[0].message
    assert "the chain was rewritten after the head was exported" in report.findings[0].message


def test_a_truncated_chain_is_caught_with_the_head(sealed_day):
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        exported = head(conn)
    _rewrite_everything(sealed_day, DAY)  # NEXT_DAY's seal dropped
    report = check(sealed_day, head=exported)
    assert "the exported head is seal 2" in report.findings[0].message
    assert "ends at seal 1: seals were removed" in report.findings[0].message


def test_rewriting_only_the_seals_is_caught_by_the_events_without_a_head(sealed_day):
    db = sealed_day
    with db.connect() as conn:
        events = conn.execute("SELECT * FROM audit.events ORDER BY event_seq").fetchall()
    _rewrite_everything(db, DAY, NEXT_DAY)
    as_superuser_without_triggers(db, "DELETE FROM audit.events")
    with db.connect() as conn, conn.cursor() as cursor:
        cursor.execute("ALTER TABLE audit.events DISABLE TRIGGER ALL")
        cursor.executemany(
            "INSERT INTO audit.events VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(*e[:3], psycopg.types.json.Jsonb(e[3]), *e[4:]) for e in events],
        )
        cursor.execute("ALTER TABLE audit.events ENABLE TRIGGER ALL")
    found = [(f.kind, f.seal_seq) for f in check(db).findings]
    assert found == [("seal_event_mismatch", 1), ("seal_event_mismatch", 2)]


def test_an_edited_event_is_named(sealed_day):
    as_superuser_without_triggers(sealed_day, "UPDATE audit.events SET payload = '{}' WHERE event_seq = 2")
    found = [(f.kind, f.partition_date) for f in check(sealed_day).findings]
    assert ("event_edited", NEXT_DAY) in found


# --- the database refuses changes ---------------------------------------------------------------------

AUDIT_TABLES = ("audit.seals", "audit.seal_leaves", "audit.events")
CHANGES = {
    "audit.seals": ("UPDATE audit.seals SET run_id = 'x'", "DELETE FROM audit.seals WHERE seal_seq = 2"),
    "audit.seal_leaves": ("UPDATE audit.seal_leaves SET leaf_count = leaf_count", "DELETE FROM audit.seal_leaves"),
    "audit.events": ("UPDATE audit.events SET run_id = 'x'", "DELETE FROM audit.events"),
}


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_pipeline_role_may_not_update_delete_or_truncate(sealed_day, table):
    for statement in (*CHANGES[table], f"TRUNCATE {table} CASCADE"):
        with psycopg.connect(sealed_day.pipeline_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_triggers_refuse_update_delete_and_truncate_even_to_a_superuser(sealed_day, table):
    for statement, operation in zip(
        (*CHANGES[table], f"TRUNCATE {table} CASCADE"), ("UPDATE", "DELETE", "TRUNCATE"), strict=True
    ):
        with sealed_day.connect() as conn, pytest.raises(psycopg.errors.RaiseException) as refused:
            conn.execute(statement)
        assert f"{operation} on " in str(refused.value)
        assert "refused: the audit trail is append-only" in str(refused.value)
    assert sealed_day.scalar("SELECT count(*) FROM audit.seals") == 2
    assert check(sealed_day).ok


def test_the_database_refuses_a_seal_that_does_not_extend_the_head(sealed_day):
    db = sealed_day
    columns = (
        "seal_seq, partition_date, line_count, total_debit, total_credit, merkle_root, leaf_identities_sha256, "
        "encoding_version, prev_seal_hash, seal_hash, sealed_at, run_id, code_version, supersedes_seq"
    )
    fork = (
        f"INSERT INTO audit.seals ({columns}) SELECT 3, partition_date, line_count, total_debit, total_credit, "
        "merkle_root, leaf_identities_sha256, encoding_version, prev_seal_hash, sha256(seal_hash), sealed_at, "
        "run_id, code_version, 1 FROM audit.seals WHERE seal_seq = 2"
    )
    with (
        psycopg.connect(db.pipeline_url) as conn,
        pytest.raises(
            psycopg.errors.IntegrityConstraintViolation, match="does not extend the chain, whose head is seal 2"
        ),
    ):
        conn.execute(fork)  # links to seal 1's hash, as seal 2 does: a fork
    with db.connect() as conn:  # even with the chain trigger off, the UNIQUE link refuses the fork
        conn.execute("ALTER TABLE audit.seals DISABLE TRIGGER seals_extend_chain")
        with pytest.raises(psycopg.errors.UniqueViolation, match="prev_seal_hash"):
            conn.execute(fork)


def test_concurrent_sealers_never_fork_the_chain(db):
    insert_lines(db, day_lines(DAY, 1001, 50) + day_lines(NEXT_DAY, 3001, 50))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sealer(day: dt.date, worker: int) -> None:
        try:
            with psycopg.connect(db.pipeline_url, autocommit=True) as conn:
                barrier.wait()
                for attempt in range(5):
                    seal_partitions(conn, [day], f"worker-{worker}-{attempt}", "test-0.1")
        except BaseException as exc:  # reported below, from the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=sealer, args=(day, n)) for n, day in enumerate((DAY, DAY, NEXT_DAY, NEXT_DAY))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    links = db.rows(
        "SELECT seal_seq, prev_seal_hash, seal_hash, partition_date, supersedes_seq FROM audit.seals ORDER BY seal_seq"
    )
    assert [row[0] for row in links] == list(range(1, 21))
    assert bytes(links[0][1]) == GENESIS_HASH
    assert all(bytes(links[i][1]) == bytes(links[i - 1][2]) for i in range(1, 20))
    for day in (DAY, NEXT_DAY):
        of_day = [row for row in links if row[3] == day]
        assert [row[4] for row in of_day] == [None] + [row[0] for row in of_day[:-1]]
    assert db.scalar("SELECT count(*) FROM audit.events") == 20
    report = check(db)
    assert report.ok, report.findings


# --- inclusion proofs --------------------------------------------------------------------------------------


def test_a_transaction_is_proven_line_by_line(sealed_day):
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        (proof,) = prove(conn, 1002)
    assert proof.ok
    assert (proof.partition_date, proof.seal.seal_seq, proof.tree_size) == (DAY, 1, 12)
    assert [(line.line_no, line.leaf_index, len(line.audit_path)) for line in proof.lines] == [
        (1, 3, 4),
        (2, 4, 4),
        (3, 5, 4),
    ]
    exported = proof.to_dict()
    for line in exported["lines"]:
        assert check_line_proof(line, exported["seal"]["merkle_root"], exported["seal"]["tree_size"])
    forged = {**exported["lines"][0], "encoding": exported["lines"][0]["encoding"].replace("107.25", "107.26")}
    assert not check_line_proof(forged, exported["seal"]["merkle_root"], 12)


def test_a_proof_of_an_edited_or_deleted_line_fails(sealed_day):
    sealed_day.rows("UPDATE ledger.journal_lines SET description = 'x' WHERE txn_id = 1002 AND line_no = 1 RETURNING 1")
    sealed_day.rows("DELETE FROM ledger.journal_lines WHERE txn_id = 1002 AND line_no = 3 RETURNING 1")
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        (proof,) = prove(conn, 1002, DAY)
    assert not proof.ok
    assert [(line.line_no, line.verified) for line in proof.lines] == [(1, False), (2, True)]
    assert proof.problems == [
        "company 1 txn 1002 line 3 (leaf 5) was sealed in seal 1 and is no longer in ledger.journal_lines"
    ]


def test_proving_an_unknown_transaction_says_so(sealed_day):
    with psycopg.connect(sealed_day.pipeline_url) as conn, pytest.raises(AuditError, match="txn 42 has no lines"):
        prove(conn, 42)


def test_verifying_a_day_without_a_seal_fails(db):
    insert_lines(db, day_lines(DAY, 1001, 1))
    report = check(db, date=DAY)
    assert kinds(report) == [("not_sealed", DAY, None, None, None)]
    assert check(db).ok and "1 day(s) with posted lines have no seal yet" in check(db).notes[0]


# --- the documented bytes, reimplemented in plain SQL -------------------------------------------------

NETSTRING_FUNCTION = """
CREATE FUNCTION pg_temp.ns(value text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(octet_length(convert_to(value, 'UTF8'))::text || ':' || value || ',', '~') $$
"""


def test_leaf_hashes_and_seal_hashes_follow_the_documented_bytes(sealed_day):
    """An independent implementation, from the docstrings only, gives the same hashes."""
    with sealed_day.connect() as conn:
        conn.execute("SET datestyle = 'ISO, YMD'")
        conn.execute(NETSTRING_FUNCTION)
        leaves = conn.execute(
            """
            SELECT string_agg(sha256('\\x00'::bytea || convert_to(
                       pg_temp.ns(journal_date::text) || pg_temp.ns(company_id::text) || pg_temp.ns(journal_type)
                       || pg_temp.ns(journal_no::text) || pg_temp.ns(line_no::text) || pg_temp.ns(txn_id::text)
                       || pg_temp.ns(account_code) || pg_temp.ns(period::text) || pg_temp.ns(dc)
                       || pg_temp.ns(amount_base::text) || pg_temp.ns(trim_scale(amount_txn)::text)
                       || pg_temp.ns(currency) || pg_temp.ns(fx_rate::text) || pg_temp.ns(description)
                       || pg_temp.ns(cost_center) || pg_temp.ns(counterparty) || pg_temp.ns(document_ref), 'UTF8')),
                   ''::bytea ORDER BY company_id, txn_id, line_no)
            FROM ledger.journal_lines WHERE journal_date = %s
            """,
            (DAY,),
        ).fetchone()[0]
        assert leaves == conn.execute("SELECT leaf_hashes FROM audit.seal_leaves WHERE seal_seq = 1").fetchone()[0]
        recomputed = conn.execute(
            """
            SELECT seal_seq, sha256(prev_seal_hash || merkle_root || convert_to(
                       pg_temp.ns('journal_pipeline/seal/v1') || pg_temp.ns(seal_seq::text)
                       || pg_temp.ns(partition_date::text) || pg_temp.ns(line_count::text)
                       || pg_temp.ns(total_debit::text) || pg_temp.ns(total_credit::text)
                       || pg_temp.ns(encode(leaf_identities_sha256, 'hex')) || pg_temp.ns(encoding_version)
                       || pg_temp.ns(to_char(sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                       || pg_temp.ns(run_id) || pg_temp.ns(code_version) || pg_temp.ns(supersedes_seq::text), 'UTF8'))
                   = seal_hash,
                   sha256(identities) = leaf_identities_sha256
            FROM audit.seals JOIN audit.seal_leaves USING (seal_seq) ORDER BY seal_seq
            """
        ).fetchall()
    assert recomputed == [(1, True, True), (2, True, True)]


# --- reading a day block by block ---------------------------------------------------------------


def test_a_day_read_in_blocks_is_the_day_read_whole(sealed_day):
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        whole = read_day_lines(conn, DAY)
        blocks: list[pl.DataFrame] = []
        store.read_day_lines_in_blocks(conn, DAY, blocks.append, block_bytes=1)  # one line a block
        digest = store.digest_ledger_day(conn, DAY)
    assert len(blocks) == whole.height == 12
    assert pl.concat(blocks).sort(list(LINE_IDENTITY)).equals(whole.sort(list(LINE_IDENTITY)))
    assert digest == digest_day(whole)
    assert digest.root == sealed_day.scalar("SELECT merkle_root FROM audit.seals WHERE seal_seq = 1")


def test_a_block_that_does_not_encode_leaves_the_snapshot_usable(sealed_day):
    sealed_day.rows(
        "UPDATE ledger.journal_lines SET amount_txn = 'NaN' WHERE txn_id = 1001 AND line_no = 1 RETURNING 1"
    )
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        handled: list[int] = []

        def refuse_the_first(block: pl.DataFrame) -> None:
            handled.append(block.height)
            raise EncodingError("refused")

        with pytest.raises(EncodingError, match="refused"):
            store.read_day_lines_in_blocks(conn, DAY, refuse_the_first, block_bytes=1)
        assert handled == [1]  # the rest of the COPY was read and dropped, not handed on...
        assert conn.execute("SELECT count(*) FROM ledger.journal_lines").fetchone() == (18,)  # ...nor cancelled
        with pytest.raises(EncodingError, match="is not a plain decimal number"):
            store.digest_ledger_day(conn, DAY)
        assert store.digest_ledger_day(conn, NEXT_DAY).line_count == 6


def test_an_error_on_the_server_in_the_middle_of_the_copy_is_raised(sealed_day, monkeypatch):
    failing = store._DAY_LINES_COPY.replace("AS null_mask", "+ 0 * (1 / (txn_id - 1003)) AS null_mask")
    assert failing != store._DAY_LINES_COPY
    monkeypatch.setattr(store, "_DAY_LINES_COPY", failing)
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            store.digest_ledger_day(conn, DAY)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM audit.seals").fetchone() == (2,)


# --- the blocking check of audit_seals: seal_check.check_new_seals ---------------------------------


def check_new(db, seals):
    with psycopg.connect(db.pipeline_url) as conn:
        return check_new_seals(conn, seals)


def test_new_seals_check_out_against_the_ledger_as_sql_counts_it(db):
    insert_lines(db, day_lines(DAY, 1001, 3) + day_lines(DAY, 2001, 1, company_id=2) + day_lines(NEXT_DAY, 3001, 2))
    seals = seal(db, DAY, NEXT_DAY)
    report = check_new(db, seals)
    assert report.ok, report.findings
    assert (report.seals_checked, report.events_checked, report.days_checked, report.lines_checked) == (
        2,
        2,
        [DAY, NEXT_DAY],
        18,
    )
    (empty,) = seal(db, dt.date(2024, 7, 20))
    assert check_new(db, [empty]).ok
    (resealed,) = seal(db, DAY, run_id="run-2")
    assert resealed.supersedes_seq == 1
    assert check_new(db, [resealed]).ok


def test_the_check_catches_a_seal_that_does_not_cover_the_day(sealed_day):
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        seals = [store.read_seal(conn, 1), store.read_seal(conn, 2)]
    assert check_new(sealed_day, seals).ok
    sealed_day.rows("DELETE FROM ledger.journal_lines WHERE txn_id = 2001 AND line_no = 3 RETURNING 1")
    report = check_new(sealed_day, seals)
    assert [(f.kind, f.seal_seq) for f in report.findings] == [("day_changed", 1)]
    assert "has 11 lines of 2024-07-18 (debit 506.40, credit 386.10); seal 1 sealed 12" in report.findings[0].message


def test_the_check_catches_other_lines_with_the_same_count_and_totals(sealed_day):
    sealed_day.rows("UPDATE ledger.journal_lines SET line_no = 4 WHERE txn_id = 3002 AND line_no = 3 RETURNING 1")
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        report = check_new_seals(conn, [store.read_seal(conn, 2)])
    assert [(f.kind, f.seal_seq) for f in report.findings] == [("day_changed", 2)]
    assert "identities (company_id, txn_id, line_no) differ" in report.findings[0].message


def test_the_check_catches_seals_and_leaves_not_stored_as_appended(sealed_day):
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        seals = [store.read_seal(conn, 1), store.read_seal(conn, 2)]
    as_superuser_without_triggers(
        sealed_day,
        "UPDATE audit.seals SET run_id = 'innocent' WHERE seal_seq = 1",
        "UPDATE audit.seal_leaves SET identities = overlay(identities placing '\\x09' from 4) WHERE seal_seq = 2",
        "UPDATE audit.events SET run_id = 'innocent' WHERE event_seq = 2",
    )
    found = [(f.kind, f.partition_date) for f in check_new(sealed_day, seals).findings]
    assert found == [("seal_edited", DAY), ("event_edited", NEXT_DAY), ("leaves_edited", NEXT_DAY)]
    as_superuser_without_triggers(sealed_day, "UPDATE audit.events SET payload = '{}' WHERE event_seq = 1")
    assert ("seal_event_mismatch", DAY) in [(f.kind, f.partition_date) for f in check_new(sealed_day, seals).findings]


def test_the_check_leaves_re_hashing_the_lines_to_verify(sealed_day):
    """Two lines trade amounts: count, totals and identities are unchanged, only the leaves differ."""
    sealed_day.rows(
        "UPDATE ledger.journal_lines l SET amount_base = o.amount_base, amount_txn = o.amount_txn "
        "FROM ledger.journal_lines o WHERE l.journal_date = %s AND o.journal_date = l.journal_date "
        "AND l.txn_id = 1001 AND o.txn_id = 1001 AND l.line_no IN (1, 2) AND o.line_no = 3 - l.line_no RETURNING 1",
        (DAY,),
    )
    with psycopg.connect(sealed_day.pipeline_url) as conn:
        assert check_new_seals(conn, [store.read_seal(conn, 1)]).ok  # by design: see seal_check
    assert ("line_edited", DAY, 1, 1001, 1) in kinds(check(sealed_day, date=DAY))


# --- the weekly full verification: maintenance.verify_audit_trail ---------------------------------


def test_the_weekly_verification_recomputes_the_whole_trail_and_fails_naming_a_finding(sealed_day):
    database = JournalDatabase(url=sealed_day.pipeline_url)
    (output,) = verify_audit_trail(dg.build_op_context(), database=database)
    assert {key: output.metadata[key].value for key in ("seals", "events", "days", "lines", "findings")} == {
        "seals": 2,
        "events": 2,
        "days": 2,
        "lines": 18,
        "findings": 0,
    }
    sealed_day.rows("UPDATE ledger.journal_lines SET description = 'x' WHERE txn_id = 3001 AND line_no = 2 RETURNING 1")
    with pytest.raises(dg.Failure, match="audit verification failed: 2 finding") as failed:
        list(verify_audit_trail(dg.build_op_context(), database=database))
    assert "company 1 txn 3001 line 2" in failed.value.metadata["first_findings"].value
