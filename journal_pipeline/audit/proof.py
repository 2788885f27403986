"""``prove``: the inclusion proof of a transaction's journal lines in their day's seal (SPEC section 6).

For each line of the transaction as it is in ``ledger.journal_lines`` now: its canonical encoding,
its leaf hash, its index among the day's sealed leaves and the RFC 9162 audit path from there to
the seal's Merkle root, checked on the spot. The exported JSON carries everything needed to check
it again without this code or the database (see :func:`check_line_proof`): the encoding, the path,
the leaf index, the tree size, the root, and the seal that chains the root.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import psycopg

from journal_pipeline.audit.chain import seal_hash
from journal_pipeline.audit.encoding import LINE_IDENTITY, canonical_encodings, leaf_hash_of_encoding
from journal_pipeline.audit.leaves import unpack_identities
from journal_pipeline.audit.merkle import MerkleTree, verify_inclusion
from journal_pipeline.audit.store import (
    AuditError,
    Seal,
    check_ledger_columns,
    latest_seal_of_day,
    one_snapshot,
    read_day_lines,
    read_seal_leaves,
    stored_leaves_problem,
)


@dataclass(frozen=True)
class LineProof:
    """The inclusion proof of one journal line, as it is in the ledger now, in its day's seal."""

    company_id: int
    txn_id: int
    line_no: int
    encoding: str
    leaf_hash: bytes
    leaf_index: int | None
    audit_path: list[bytes]
    verified: bool
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "company_id": self.company_id,
            "txn_id": self.txn_id,
            "line_no": self.line_no,
            "encoding": self.encoding,
            "leaf_hash": self.leaf_hash.hex(),
            "leaf_index": self.leaf_index,
            "audit_path": [node.hex() for node in self.audit_path],
            "verified": self.verified,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class TransactionProof:
    """Inclusion proofs of every line of one transaction on one day, against the day's latest seal."""

    txn_id: int
    partition_date: dt.date
    seal: Seal | None
    tree_size: int
    lines: list[LineProof]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.seal is not None and not self.problems and all(line.verified for line in self.lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "txn_id": self.txn_id,
            "partition_date": self.partition_date.isoformat(),
            "verified": self.ok,
            "seal": None if self.seal is None else {**self.seal.to_dict(), "tree_size": self.tree_size},
            "lines": [line.to_dict() for line in self.lines],
            "problems": list(self.problems),
            "how_to_check": (
                "leaf_hash = SHA-256(0x00 || UTF-8 bytes of encoding); fold audit_path into it with the algorithm of "
                "RFC 9162 section 2.1.3.2 for leaf_index and tree_size; the result must be seal.merkle_root"
            ),
        }


def check_line_proof(line: Mapping[str, Any], merkle_root_hex: str, tree_size: int) -> bool:
    """Check one exported line proof from its own fields: encoding -> leaf hash -> root. Pure."""
    leaf = leaf_hash_of_encoding(str(line["encoding"]).encode("utf-8"))
    if leaf.hex() != line["leaf_hash"] or line["leaf_index"] is None:
        return False
    path = [bytes.fromhex(node) for node in line["audit_path"]]
    return verify_inclusion(leaf, int(line["leaf_index"]), tree_size, path, bytes.fromhex(merkle_root_hex))


def _prove_on_day(conn: psycopg.Connection, txn_id: int, day: dt.date) -> TransactionProof:
    seal = latest_seal_of_day(conn, day)
    if seal is None:
        return TransactionProof(txn_id, day, None, 0, [], [f"{day} has no seal: txn {txn_id} cannot be proven yet"])
    problems = []
    if seal_hash(seal) != seal.seal_hash:
        problems.append(f"seal {seal.seal_seq} was edited: its fields no longer hash to its seal_hash")
    stored = read_seal_leaves(conn, seal.seal_seq)
    problem = stored_leaves_problem(seal, stored)
    if problem is not None or stored is None:
        problems.append(f"seal {seal.seal_seq}: {problem}")
        return TransactionProof(txn_id, day, seal, seal.line_count, [], problems)
    tree = MerkleTree.from_concatenated(stored[1])
    sealed = unpack_identities(stored[0]).with_row_index("leaf_index").filter(pl.col("txn_id") == txn_id)
    index_of = {(row["company_id"], row["line_no"]): row["leaf_index"] for row in sealed.iter_rows(named=True)}
    lines = read_day_lines(conn, day, txn_id).sort(list(LINE_IDENTITY))
    proofs = []
    for line, encoding in zip(lines.iter_rows(named=True), canonical_encodings(lines).to_list(), strict=True):
        company_id, line_no = line["company_id"], line["line_no"]
        leaf = leaf_hash_of_encoding(encoding.encode("utf-8"))
        index = index_of.pop((company_id, line_no), None)
        if index is None:
            problem = f"line {line_no} is not in seal {seal.seal_seq}: it was inserted after sealing"
            proofs.append(LineProof(company_id, txn_id, line_no, encoding, leaf, None, [], False, problem))
            continue
        path = tree.inclusion_proof(index)
        verified = verify_inclusion(leaf, index, tree.size, path, seal.merkle_root)
        problem = None if verified else f"line {line_no} differs from the line sealed at leaf {index}"
        proofs.append(LineProof(company_id, txn_id, line_no, encoding, leaf, index, path, verified, problem))
    for (company_id, line_no), index in sorted(index_of.items(), key=lambda item: item[1]):
        problems.append(
            f"company {company_id} txn {txn_id} line {line_no} (leaf {index}) was sealed in seal {seal.seal_seq} "
            "and is no longer in ledger.journal_lines"
        )
    return TransactionProof(txn_id, day, seal, tree.size, proofs, problems)


def prove(conn: psycopg.Connection, txn_id: int, date: dt.date | None = None) -> list[TransactionProof]:
    """The inclusion proof of every line of ``txn_id``, checked against its day's latest seal.

    Normally one day; a list because nothing in the ledger stops a transaction's lines from sitting
    on two days. Without ``date`` the ledger is searched by ``txn_id`` (a scan: journal_lines is
    indexed by day first). Raises :class:`AuditError` when the ledger has no line of that transaction.
    """
    with one_snapshot(conn):
        check_ledger_columns(conn)
        if date is None:
            days = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT journal_date FROM ledger.journal_lines WHERE txn_id = %s ORDER BY 1", (txn_id,)
                )
            ]
        else:
            found = conn.execute(
                "SELECT 1 FROM ledger.journal_lines WHERE journal_date = %s AND txn_id = %s LIMIT 1", (date, txn_id)
            ).fetchone()
            days = [date] if found else []
        if not days:
            on = f" on {date}" if date else ""
            raise AuditError(f"txn {txn_id} has no lines in ledger.journal_lines{on}: there is nothing to prove")
        return [_prove_on_day(conn, txn_id, day) for day in days]
