"""``verify``: recompute the audit trail from the ledger and name every discrepancy (SPEC section 6).

What is checked, in one read-only snapshot:

1. the seal chain: numbering without gaps, each link, each seal's hash recomputed from its fields,
   each reseal superseding the day's previous seal;
2. the event chain, likewise, and each seal against the ``partition_sealed`` event recorded with
   it (a seal chain rewritten without its events is caught here, without an exported head);
3. with an exported head: that the chain still holds that seal (and event) with that hash, the
   one rewrite (by a superuser, triggers disabled, chain recomputed) nothing inside the database
   can reveal;
4. each sealed day: the leaves, root, line count and totals of its lines now against its latest
   seal; a day that differs is narrowed down to lines (edited, deleted, inserted, moved) through
   the leaves stored with the seal, after checking those against the seal's root.

Each day is read, encoded and hashed block by block, as sealing does it, and its lines are kept
whole only when the day differs. This is the full recomputation that the pipeline's own blocking
check leaves out (journal_pipeline/audit/seal_check.py); ``journal-pipeline audit verify`` runs it,
and ``weekly_maintenance_job`` (journal_pipeline/defs/maintenance.py) runs it every week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import psycopg

from journal_pipeline.audit.chain import GENESIS_HASH, event_hash, seal_hash
from journal_pipeline.audit.diff import localise_changes
from journal_pipeline.audit.encoding import ENCODING_VERSION, EncodingError, in_leaf_order
from journal_pipeline.audit.leaves import split_hashes, unpack_identities
from journal_pipeline.audit.report import VerificationReport
from journal_pipeline.audit.store import (
    SEALED_EVENT,
    Event,
    Seal,
    check_ledger_columns,
    digest_ledger_day,
    one_snapshot,
    read_day_lines,
    read_events,
    read_seal_leaves,
    read_seals,
    stored_leaves_problem,
)


def _check_seal_chain(seals: list[Seal], report: VerificationReport) -> None:
    expected_seq, expected_prev = 1, GENESIS_HASH
    latest_of_day: dict[dt.date, int] = {}
    for seal in seals:
        where = {"partition_date": seal.partition_date, "seal_seq": seal.seal_seq}
        if seal.seal_seq != expected_seq:  # read in seal_seq order: only a gap is possible
            report.add(
                "chain_broken",
                f"seal {seal.seal_seq} follows seal {expected_seq - 1}: seal(s) {expected_seq}..{seal.seal_seq - 1} "
                "are missing",
                **where,
            )
        if seal.prev_seal_hash != expected_prev:
            report.add(
                "chain_broken",
                f"seal {seal.seal_seq} links to {seal.prev_seal_hash.hex()}, not to the hash of the seal before it "
                f"({expected_prev.hex()})",
                **where,
            )
        recomputed = seal_hash(seal)
        if recomputed != seal.seal_hash:
            report.add(
                "seal_edited",
                f"seal {seal.seal_seq} stores seal_hash {seal.seal_hash.hex()} but its fields hash to "
                f"{recomputed.hex()}: the seal row was changed after it was written",
                **where,
            )
        previous = latest_of_day.get(seal.partition_date)
        if seal.supersedes_seq != previous:
            report.add(
                "chain_broken",
                f"seal {seal.seal_seq} supersedes {seal.supersedes_seq}, but the previous seal of "
                f"{seal.partition_date} is {previous}",
                **where,
            )
        latest_of_day[seal.partition_date] = seal.seal_seq
        expected_seq, expected_prev = seal.seal_seq + 1, seal.seal_hash
    report.seals_checked = len(seals)


def _check_event_chain(events: list[Event], report: VerificationReport) -> None:
    expected_seq, expected_prev = 1, GENESIS_HASH
    for event in events:
        where = {"partition_date": event.partition_date}
        if event.event_seq != expected_seq:
            report.add(
                "event_chain_broken",
                f"event {event.event_seq} follows event {expected_seq - 1}: the events in between are missing",
                **where,
            )
        if event.prev_event_hash != expected_prev:
            report.add(
                "event_chain_broken",
                f"event {event.event_seq} links to {event.prev_event_hash.hex()}, not to the hash of the event "
                f"before it ({expected_prev.hex()})",
                **where,
            )
        recomputed = event_hash(event)
        if recomputed != event.event_hash:
            report.add(
                "event_edited",
                f"event {event.event_seq} ({event.event_type}) stores event_hash {event.event_hash.hex()} but its "
                f"fields hash to {recomputed.hex()}: the event row was changed after it was written",
                **where,
            )
        expected_seq, expected_prev = event.event_seq + 1, event.event_hash
    report.events_checked = len(events)


def _check_seals_against_events(seals: list[Seal], events: list[Event], report: VerificationReport) -> None:
    recorded: dict[int, list[Event]] = {}
    for event in events:
        seal_seq = event.payload.get("seal_seq") if event.event_type == SEALED_EVENT else None
        if isinstance(seal_seq, int):
            recorded.setdefault(seal_seq, []).append(event)
    for seal in seals:
        where = {"partition_date": seal.partition_date, "seal_seq": seal.seal_seq}
        of_seal = recorded.pop(seal.seal_seq, [])
        if len(of_seal) != 1:
            report.add(
                "seal_event_mismatch",
                f"seal {seal.seal_seq} has {len(of_seal)} {SEALED_EVENT} events, not one",
                **where,
            )
            continue
        event = of_seal[0]
        said = event.payload
        if said.get("seal_hash") != seal.seal_hash.hex() or said.get("merkle_root") != seal.merkle_root.hex():
            report.add(
                "seal_event_mismatch",
                f"seal {seal.seal_seq} has hash {seal.seal_hash.hex()} and root {seal.merkle_root.hex()}, but "
                f"event {event.event_seq} recorded hash {said.get('seal_hash')} and root {said.get('merkle_root')}: "
                "the seal chain was rewritten",
                **where,
            )
    for seal_seq, of_seal in sorted(recorded.items()):
        report.add(
            "seal_event_mismatch",
            f"event(s) {', '.join(str(e.event_seq) for e in of_seal)} record seal {seal_seq}, which is not in "
            "audit.seals: the seal was removed",
            partition_date=of_seal[0].partition_date,
            seal_seq=seal_seq,
        )


def _check_head(
    exported: Mapping[str, Any], seals: list[Seal], events: list[Event], report: VerificationReport
) -> None:
    report.head_checked = True
    chains = (
        ("seal", "seal_seq", "seal_hash", {s.seal_seq: s.seal_hash for s in seals}),
        ("event", "event_seq", "event_hash", {e.event_seq: e.event_hash for e in events}),
    )
    for kind, seq_key, hash_key, hashes in chains:
        if seq_key not in exported or int(exported[seq_key]) == 0:
            continue  # an older export without the event head, or an export of an empty chain
        seq, digest = int(exported[seq_key]), str(exported[hash_key])
        seal_seq = seq if kind == "seal" else None
        if seq not in hashes:
            last = max(hashes, default=0)
            where = f"ends at {kind} {last}: {kind}s were removed" if seq > last else f"has no {kind} {seq}"
            report.add(
                "head_mismatch",
                f"the exported head is {kind} {seq} ({digest}) but the chain {where}",
                seal_seq=seal_seq,
            )
        elif hashes[seq].hex() != digest:
            report.add(
                "head_mismatch",
                f"{kind} {seq} now has hash {hashes[seq].hex()}, but the exported head recorded {digest}: the chain "
                "was rewritten after the head was exported",
                seal_seq=seal_seq,
            )


def _check_day(conn: psycopg.Connection, seal: Seal, report: VerificationReport) -> None:
    day = seal.partition_date
    where = {"partition_date": day, "seal_seq": seal.seal_seq}
    if seal.encoding_version != ENCODING_VERSION:
        report.add(
            "day_changed",
            f"seal {seal.seal_seq} uses encoding {seal.encoding_version}, which this code ({ENCODING_VERSION}) "
            "cannot recompute",
            **where,
        )
        return
    try:
        digest = digest_ledger_day(conn, day)
    except EncodingError as refused:
        # Sealing refuses such a line, so in a sealed day it was put there afterwards.
        report.add("day_changed", f"the lines of {day} no longer hash: {refused}", **where)
        if refused.line is not None:
            report.add("line_edited", f"{refused}", **where, **refused.line)
        return
    report.lines_checked += digest.line_count
    stored = read_seal_leaves(conn, seal.seal_seq)
    if (digest.root, digest.line_count, digest.total_debit, digest.total_credit) == (
        seal.merkle_root,
        seal.line_count,
        seal.total_debit,
        seal.total_credit,
    ):
        if stored != (digest.identities, digest.leaf_blob):
            report.add(
                "leaves_edited",
                f"the ledger matches seal {seal.seal_seq}, but audit.seal_leaves for that seal was changed",
                **where,
            )
        return
    report.add(
        "day_changed",
        f"the lines of {day} hash to root {digest.root.hex()} ({digest.line_count} lines, debit "
        f"{digest.total_debit}, credit {digest.total_credit}); seal {seal.seal_seq} sealed root "
        f"{seal.merkle_root.hex()} ({seal.line_count} lines, debit {seal.total_debit}, credit {seal.total_credit})",
        **where,
    )
    problem = stored_leaves_problem(seal, stored)
    if problem is not None or stored is None:
        report.add("leaves_edited", f"the changed lines of {day} cannot be named: {problem}", **where)
        return
    # Only now, for a day that differs, are its lines kept whole: naming a moved line re-encodes it.
    report.findings.extend(
        localise_changes(
            unpack_identities(stored[0]),
            split_hashes(stored[1]),
            in_leaf_order(read_day_lines(conn, day)),
            digest.leaves,
            partition_date=day,
            seal_seq=seal.seal_seq,
        )
    )


def verify(
    conn: psycopg.Connection, date: dt.date | None = None, head: Mapping[str, Any] | None = None
) -> VerificationReport:
    """Check the whole audit trail; with ``date``, only that day's lines (the chains are always checked).

    Recomputes every seal and event hash and their links, checks each seal against its
    ``partition_sealed`` event, recomputes every leaf and root of each day's latest seal from
    ``ledger.journal_lines`` and, when a day differs, names each edited, deleted, inserted or moved
    line. With ``head`` (a dict exported by :func:`~journal_pipeline.audit.seal.head`), also checks
    that the chain still holds that head unchanged. Reads only, in one snapshot.
    """
    report = VerificationReport()
    with one_snapshot(conn):
        check_ledger_columns(conn)
        seals = read_seals(conn)
        events = read_events(conn)
        _check_seal_chain(seals, report)
        _check_event_chain(events, report)
        _check_seals_against_events(seals, events, report)
        if head is not None:
            _check_head(head, seals, events, report)
        latest = {seal.partition_date: seal for seal in seals}  # chain order: the last one wins
        if date is not None:
            if date not in latest:
                report.add("not_sealed", f"{date} has no seal: its lines cannot be verified", partition_date=date)
            days = [date] if date in latest else []
        else:
            days = sorted(latest)
            posted = {row[0] for row in conn.execute("SELECT DISTINCT journal_date FROM ledger.journal_lines")}
            unsealed = sorted(posted - set(latest))
            if unsealed:
                report.notes.append(
                    f"{len(unsealed)} day(s) with posted lines have no seal yet (first {unsealed[0]}, last "
                    f"{unsealed[-1]}): not sealed, so not verifiable"
                )
        for day in days:
            _check_day(conn, latest[day], report)
            report.days_checked.append(day)
    return report
