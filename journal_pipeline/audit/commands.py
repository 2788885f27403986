"""``journal-pipeline audit ...``: verify the seals, prove a transaction, export the chain head.

Registered on the main parser by :func:`add_audit_commands`. Exit status: 0 when everything checks
out, 1 when tampering is found (each finding on stdout with its day and line or seal, a one-line
verdict on stderr). The audit commands only read: they connect as the pipeline role, in read-only
transactions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from journal_pipeline.arguments import date_argument
from journal_pipeline.db import connect, pipeline_url

# Findings printed per run; the rest are counted (a day rewritten wholesale has one per line).
MAX_PRINTED_FINDINGS = 200


def _txn_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a transaction id (a whole number)") from None


def _read_head(path: Path) -> dict[str, Any]:
    """The head exported earlier; a file that is not one is a usage error (exit 2), not tampering."""
    from journal_pipeline.cli import UsageError  # here, not at the top: cli imports this module

    try:
        exported = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the exported head {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not an exported head (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    if not isinstance(exported, dict) or not {"seal_seq", "seal_hash"} <= exported.keys():
        raise UsageError(f"{path} is not an exported head: it needs seal_seq and seal_hash (see `audit head`)")
    return exported


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify the chains, the exported head (``--head``) and every sealed day (or ``--date``)."""
    from journal_pipeline.audit.seal import verify

    exported = _read_head(args.head) if args.head else None
    with connect(pipeline_url()) as conn:
        report = verify(conn, date=args.date, head=exported)
    for finding in report.findings[:MAX_PRINTED_FINDINGS]:
        print(finding)
    if len(report.findings) > MAX_PRINTED_FINDINGS:
        print(f"... and {len(report.findings) - MAX_PRINTED_FINDINGS} more finding(s)")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_audit_prove(args: argparse.Namespace) -> int:
    """Print the inclusion proof of every line of a transaction, checked against its day's seal."""
    from journal_pipeline.audit.seal import prove

    with connect(pipeline_url()) as conn:
        proofs = prove(conn, args.txn_id, args.date)
    print(json.dumps([proof.to_dict() for proof in proofs], indent=2, ensure_ascii=False))
    failed = [proof for proof in proofs if not proof.ok]
    for proof in failed:
        reasons = proof.problems + [line.problem for line in proof.lines if line.problem]
        print(f"txn {proof.txn_id} on {proof.partition_date}: NOT proven: {'; '.join(reasons)}", file=sys.stderr)
    if failed:
        return 1
    for proof in proofs:
        assert proof.seal is not None
        print(
            f"txn {proof.txn_id}: {len(proof.lines)} line(s) proven in seal {proof.seal.seal_seq} of "
            f"{proof.partition_date} (root {proof.seal.merkle_root.hex()}, {proof.tree_size} leaves)",
            file=sys.stderr,
        )
    return 0


def cmd_audit_head(args: argparse.Namespace) -> int:
    """Print the chain head as JSON and, with ``--output``, write it to a file to keep elsewhere."""
    from journal_pipeline.audit.seal import head

    with connect(pipeline_url()) as conn:
        conn.read_only = True
        exported = head(conn)
    text = json.dumps(exported, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"chain head (seal {exported['seal_seq']}) written to {args.output}", file=sys.stderr)
    sys.stdout.write(text)
    return 0


def add_audit_commands(subparsers: Any) -> None:
    """Register ``audit verify|prove|head`` on the main parser's subparsers."""
    audit = subparsers.add_parser(
        "audit",
        help="verify the audit seals, prove a transaction, export the chain head",
        description="Verify the hash-chained day seals against the ledger, prove that a transaction's lines were "
        "sealed, export the chain head to keep outside the database. Exit status 1 means tampering was found.",
    )
    actions = audit.add_subparsers(dest="audit_action", required=True, metavar="ACTION")

    verify = actions.add_parser(
        "verify",
        help="check every seal and every sealed line",
        description="Recompute every seal and event hash, every day's Merkle root from ledger.journal_lines, "
        "and name each edited, deleted, inserted or moved line.",
    )
    verify.add_argument(
        "--date", type=date_argument, help="check only this day's lines (YYYY-MM-DD); chains are always checked"
    )
    verify.add_argument("--head", type=Path, metavar="FILE", help="a head exported by `audit head --output FILE`")
    verify.set_defaults(handler=cmd_audit_verify)

    prove = actions.add_parser(
        "prove",
        help="print and check the inclusion proof of a transaction's lines",
        description="Print the RFC 9162 inclusion proof of each line of the transaction in its day's seal, "
        "and check it.",
    )
    prove.add_argument("--txn-id", type=_txn_id, required=True, help="the transaction id")
    prove.add_argument("--date", type=date_argument, help="its journal date, if known (spares a scan of the ledger)")
    prove.set_defaults(handler=cmd_audit_prove)

    head = actions.add_parser(
        "head",
        help="print (and save) the chain head",
        description="Print the latest seal (and event) number and hash as JSON, to keep outside the database and "
        "pass later to `audit verify --head FILE`.",
    )
    head.add_argument("--output", type=Path, metavar="FILE", help="also write the head to this file")
    head.set_defaults(handler=cmd_audit_head)
