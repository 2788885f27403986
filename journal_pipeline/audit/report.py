"""What a verification found, in terms an auditor can act on: which day, which line, which seal."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FindingKind = Literal[
    "day_changed",  # the ledger's root for a sealed day differs from the sealed root (summary)
    "line_edited",  # a sealed line is still there, with different content
    "line_deleted",  # a sealed line is no longer in the ledger
    "line_inserted",  # a ledger line that the seal does not contain
    "line_moved",  # a ledger line holds the content sealed under another identity (reordered)
    "leaves_edited",  # audit.seal_leaves no longer matches its seal
    "seal_edited",  # a seal's stored hash is not the hash of its fields
    "chain_broken",  # a seal is missing, out of order or does not link to its predecessor
    "event_edited",  # an audit event's stored hash is not the hash of its fields
    "event_chain_broken",  # an event is missing, out of order or does not link to its predecessor
    "seal_event_mismatch",  # a seal and its partition_sealed event disagree
    "head_mismatch",  # the chain no longer contains the exported head
    "not_sealed",  # the day asked for has no seal
]


@dataclass(frozen=True)
class Finding:
    """One discrepancy. ``company_id``/``txn_id``/``line_no`` name the line when it is about one."""

    kind: FindingKind
    message: str
    partition_date: dt.date | None = None
    seal_seq: int | None = None
    company_id: int | None = None
    txn_id: int | None = None
    line_no: int | None = None
    leaf_index: int | None = None

    def __str__(self) -> str:
        day = self.partition_date.isoformat() if self.partition_date else "chain"
        return f"{day} {self.kind.replace('_', ' ')}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["partition_date"] = self.partition_date.isoformat() if self.partition_date else None
        return data


@dataclass
class VerificationReport:
    """The outcome of :func:`journal_pipeline.audit.seal.verify`: ok when nothing was found."""

    findings: list[Finding] = field(default_factory=list)
    seals_checked: int = 0
    events_checked: int = 0
    days_checked: list[dt.date] = field(default_factory=list)
    lines_checked: int = 0
    head_checked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: FindingKind, message: str, **where: Any) -> None:
        """Record a finding; ``where`` names its day, seal and line (see :class:`Finding`)."""
        self.findings.append(Finding(kind, message, **where))

    def summary(self) -> str:
        """One line: what was checked and the verdict."""
        checked = (
            f"{self.seals_checked} seal(s), {self.events_checked} event(s), {len(self.days_checked)} day(s), "
            f"{self.lines_checked} line(s)" + (", exported head" if self.head_checked else "")
        )
        if self.ok:
            return f"audit verified: {checked} check out"
        return f"audit verification failed: {len(self.findings)} finding(s) in {checked}; first: {self.findings[0]}"

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "seals_checked": self.seals_checked,
            "events_checked": self.events_checked,
            "days_checked": [day.isoformat() for day in self.days_checked],
            "lines_checked": self.lines_checked,
            "head_checked": self.head_checked,
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": list(self.notes),
        }
