"""``check_new_seals``: the blocking check ``seal_matches_ledger`` of ``audit_seals``, cheap and by another path.

Why not :func:`~journal_pipeline.audit.verification.verify` right after sealing: it would read,
encode and hash the same lines again, in the same moment, with the same code that has just done
so to seal them, so it can only agree with itself, and it costs as much as the sealing. What can
go wrong at this point is different, and cheaper to catch: a seal that does not cover exactly
the day's lines (a line read twice, or missed), totals added up wrongly, a seal or leaves row not
stored as computed, a broken link. So, for each new seal, in one read-only snapshot:

1. the seal as stored: its ``seal_hash`` recomputed from its fields, its link to the seal before
   it (``seal_seq - 1``, or the genesis hash) and the day's previous seal as ``supersedes_seq``;
2. its ``partition_sealed`` event: exactly one, recording the seal's hash and root, with its own
   hash recomputed and its link to the event before it;
3. the ledger, counted by PostgreSQL: the day's ``count(*)``, sum of debits and sum of credits in
   ``ledger.journal_lines`` (numeric sums in SQL) equal the seal's line count and totals;
4. the line identities, packed by PostgreSQL (``int4send(company_id) || int8send(txn_id) ||
   int2send(line_no)``, the stored format) and sorted here, equal the identities stored in
   ``audit.seal_leaves``, whose SHA-256 is the seal's ``leaf_identities_sha256``: the seal's leaves
   are the day's lines, each exactly once, in leaf order;
5. ``audit.seal_leaves`` holds one 32-byte leaf hash per line.

It costs one aggregate scan of the day (about 0.1 s for 300,000 lines) and a few key look-ups.
What it leaves out, re-encoding and re-hashing every line, is the full recomputation that
``journal-pipeline audit verify`` does; ``weekly_maintenance_job`` runs it over every sealed day
(journal_pipeline/defs/maintenance.py), and an auditor can run it at any time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg

from journal_pipeline.audit.chain import event_hash, seal_hash
from journal_pipeline.audit.leaves import IDENTITY_DTYPE, identities_sha256
from journal_pipeline.audit.merkle import HASH_SIZE
from journal_pipeline.audit.report import VerificationReport
from journal_pipeline.audit.store import (
    SEALED_EVENT,
    Seal,
    event_hash_at,
    ledger_day_summary,
    one_snapshot,
    previous_seal_of_day,
    read_seal,
    read_seal_leaves_summary,
    seal_hash_at,
    sealed_events_of,
)


def sorted_identities(packed: bytes) -> bytes:
    """14-byte line identities (the stored format), in leaf order: by company_id, txn_id, line_no."""
    identities = np.frombuffer(packed, dtype=IDENTITY_DTYPE)
    order = np.lexsort([identities[name] for name in reversed(IDENTITY_DTYPE.names or ())])
    return identities[order].tobytes()


def _check_seal_row(conn: psycopg.Connection, appended: Seal, report: VerificationReport) -> Seal | None:
    where = {"partition_date": appended.partition_date, "seal_seq": appended.seal_seq}
    seal = read_seal(conn, appended.seal_seq)
    if seal is None:
        report.add("chain_broken", f"seal {appended.seal_seq} is not in audit.seals", **where)
        return None
    if seal != appended or seal_hash(seal) != seal.seal_hash:
        report.add(
            "seal_edited",
            f"seal {seal.seal_seq} as stored is not the seal that was appended, or its fields no longer hash to "
            f"its seal_hash {seal.seal_hash.hex()}",
            **where,
        )
    before = seal_hash_at(conn, seal.seal_seq - 1)
    if before != seal.prev_seal_hash:
        report.add(
            "chain_broken",
            f"seal {seal.seal_seq} links to {seal.prev_seal_hash.hex()}, but seal {seal.seal_seq - 1} has hash "
            f"{before.hex() if before else 'none (it is missing)'}",
            **where,
        )
    previous = previous_seal_of_day(conn, seal.partition_date, seal.seal_seq)
    if seal.supersedes_seq != previous:
        report.add(
            "chain_broken",
            f"seal {seal.seal_seq} supersedes {seal.supersedes_seq}, but the previous seal of "
            f"{seal.partition_date} is {previous}",
            **where,
        )
    return seal


def _check_event(conn: psycopg.Connection, seal: Seal, report: VerificationReport) -> None:
    where = {"partition_date": seal.partition_date, "seal_seq": seal.seal_seq}
    events = sealed_events_of(conn, seal)
    report.events_checked += len(events)
    if len(events) != 1:
        report.add(
            "seal_event_mismatch", f"seal {seal.seal_seq} has {len(events)} {SEALED_EVENT} events, not one", **where
        )
        return
    (event,) = events
    said = event.payload
    if said.get("seal_hash") != seal.seal_hash.hex() or said.get("merkle_root") != seal.merkle_root.hex():
        report.add(
            "seal_event_mismatch",
            f"seal {seal.seal_seq} has hash {seal.seal_hash.hex()} and root {seal.merkle_root.hex()}, but event "
            f"{event.event_seq} recorded hash {said.get('seal_hash')} and root {said.get('merkle_root')}",
            **where,
        )
    if event_hash(event) != event.event_hash:
        report.add(
            "event_edited",
            f"event {event.event_seq} ({event.event_type}) no longer hashes to its event_hash",
            partition_date=seal.partition_date,
        )
    before = event_hash_at(conn, event.event_seq - 1)
    if before != event.prev_event_hash:
        report.add(
            "event_chain_broken",
            f"event {event.event_seq} links to {event.prev_event_hash.hex()}, but event {event.event_seq - 1} has "
            f"hash {before.hex() if before else 'none (it is missing)'}",
            partition_date=seal.partition_date,
        )


def _check_against_ledger(conn: psycopg.Connection, seal: Seal, report: VerificationReport) -> None:
    day = seal.partition_date
    where = {"partition_date": day, "seal_seq": seal.seal_seq}
    ledger = ledger_day_summary(conn, day)
    report.lines_checked += ledger.line_count
    counted = (ledger.line_count, ledger.total_debit, ledger.total_credit)
    if counted != (seal.line_count, seal.total_debit, seal.total_credit):
        report.add(
            "day_changed",
            f"ledger.journal_lines has {ledger.line_count} lines of {day} (debit {ledger.total_debit}, credit "
            f"{ledger.total_credit}); seal {seal.seal_seq} sealed {seal.line_count} (debit {seal.total_debit}, "
            f"credit {seal.total_credit})",
            **where,
        )
    stored = read_seal_leaves_summary(conn, seal.seal_seq)
    if stored is None:
        report.add("leaves_edited", f"seal {seal.seal_seq} has no row in audit.seal_leaves", **where)
        return
    if stored.leaf_count != seal.line_count or stored.leaf_hashes_bytes != HASH_SIZE * seal.line_count:
        report.add(
            "leaves_edited",
            f"audit.seal_leaves holds {stored.leaf_hashes_bytes // HASH_SIZE} leaf hash(es) for seal "
            f"{seal.seal_seq} of {seal.line_count} lines",
            **where,
        )
    if identities_sha256(stored.identities) != seal.leaf_identities_sha256:
        report.add(
            "leaves_edited",
            f"the line identities stored with seal {seal.seal_seq} do not hash to its leaf_identities_sha256",
            **where,
        )
    elif ledger.line_count == seal.line_count and sorted_identities(ledger.identities_unordered) != stored.identities:
        # (with another count the identities differ too, and the day is named above already)
        report.add(
            "day_changed",
            f"the lines of {day} in ledger.journal_lines are not the lines sealed in seal {seal.seal_seq}: their "
            "identities (company_id, txn_id, line_no) differ",
            **where,
        )


def check_new_seals(conn: psycopg.Connection, seals: Sequence[Seal]) -> VerificationReport:
    """Check seals just appended by :func:`~journal_pipeline.audit.seal.seal_partitions` (see the module docstring).

    Reads only, in one snapshot. No line is re-encoded or re-hashed here: that is ``verify``.
    """
    report = VerificationReport()
    with one_snapshot(conn):
        for appended in seals:
            report.seals_checked += 1
            seal = _check_seal_row(conn, appended, report)
            if seal is None:
                continue
            _check_event(conn, seal, report)
            _check_against_ledger(conn, seal, report)
            report.days_checked.append(seal.partition_date)
    report.notes.append("no line was re-encoded or re-hashed: `journal-pipeline audit verify` does that")
    return report
