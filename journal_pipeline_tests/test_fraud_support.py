"""Hand-made scored populations for the fraud tests (helpers only; no tests here).

``entry(...)`` is one posted transaction as journal_pipeline.fraud.features builds it, with
ordinary defaults (a purchase invoice keyed by an AP clerk in London on Thursday 2024-07-18 at
10:30 local time, approved by a colleague); a test overrides only what its case is about.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl

from journal_pipeline.fraud.features import ENTRY_SCHEMA
from journal_pipeline.fraud.population import Population

DAY = dt.date(2024, 7, 18)  # a Thursday


def entry(txn_id: int, **fields: object) -> dict[str, object]:
    day = fields.get("day", DAY)
    assert isinstance(day, dt.date)
    local = fields.pop("local_at", dt.datetime.combine(day, dt.time(10, 30)))
    amount = Decimal(str(fields.pop("amount", "1000.00")))
    row: dict[str, object] = {
        "txn_id": txn_id,
        "company_id": 1,
        "day": day,
        "created_at": dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC),
        "local_at": local,
        "source_system": "AP",
        "txn_type": "PURCH_INV",
        "created_by": "u010",
        "approved_by": "u020",
        "manual": True,
        "description": "Office supplies – ACME Ltd",
        "counterparty": "ACME Ltd",
        "document_ref": f"INV-2024-{txn_id:07d}",
        "currency": "GBP",
        "amount_txn": amount,
        "base_net": amount,
        "base_gross": amount,
        "net_account": "5000",
        "net_dc": "D",
        "contra_account": "2000",
        "net_suspense": False,
        "contra_suspense": False,
        "poster_limit": Decimal("5000.00"),
        "holiday": None,
    }
    for key, value in fields.items():
        if key not in row:
            raise KeyError(f"entry has no field {key!r}")
        row[key] = (
            Decimal(str(value))
            if key in ("amount_txn", "base_net", "base_gross", "poster_limit") and value is not None
            else value
        )
    return row


def entries(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ENTRY_SCHEMA).sort("day", "txn_id")


def population(
    rows: list[dict[str, object]],
    first: dt.date = DAY,
    last: dt.date | None = None,
) -> Population:
    return Population(entries(rows), first, last or first)


def synthetic_entries(seed: int, first: dt.date, days: int, per_day: int = 400) -> pl.DataFrame:
    """A few weeks of ordinary-looking entries for two companies with a sprinkling of red flags
    (duplicates, self-approvals, round amounts, late entries, rare accounts, an outsider, a
    poster who invents amounts), for the tests of the scoring's invariants rather than of one
    test's figures."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    company = rng.integers(1, 3, n)
    posters = np.array(["u010", "u011", "u012", "u013", "u001"])
    poster = posters[rng.integers(0, len(posters), n)]
    poster[rng.random(n) < 0.0003] = "u047"  # an outsider
    inventor = rng.random(n) < 0.04
    poster[inventor] = "u_fab"
    accounts = np.array([("5000", "2000"), ("4000", "1100"), ("6400", "2050"), ("7950", "1200")])
    which = np.where(rng.random(n) < 0.0004, 3, rng.integers(0, 3, n))
    cents = np.rint(10 ** rng.normal(3.2, 0.7, n) * 100).astype(np.int64)
    cents[inventor] = np.rint(rng.uniform(5, 8, int(inventor.sum())) * 1000 * 100).astype(np.int64)
    round_rows = rng.random(n) < 0.003
    cents[round_rows] = 2_500_000
    counterparties = np.array([f"Vendor {k:02d}" for k in range(40)])
    counterparty = counterparties[rng.integers(0, 40, n)]
    hour = np.where(rng.random(n) < 0.003, 23, rng.integers(8, 18, n))
    refs = np.array([f"INV-{k:07d}" for k in range(n)])
    duplicate = np.flatnonzero(rng.random(n) < 0.003)
    duplicate = duplicate[duplicate > per_day * 2]
    source = duplicate - per_day * rng.integers(0, 3, len(duplicate)) - 1
    for column in (cents, counterparty, refs, company):
        column[duplicate] = column[source]
    manual = poster != "u001"
    source = np.where(manual, np.where(rng.random(n) < 0.001, "CB", "AP"), "CB")  # a few manual bank entries
    approver = np.where(manual, np.where(rng.random(n) < 0.004, poster, "u020"), None)
    dates = [first + dt.timedelta(days=int(d)) for d in day]
    when = list(zip(dates, hour, strict=True))
    frame = pl.DataFrame(
        {
            "txn_id": np.arange(1, n + 1, dtype=np.int64),
            "company_id": company.astype(np.int32),
            "day": dates,
            "created_at": [dt.datetime.combine(d, dt.time(int(h) - 1, 15), tzinfo=dt.UTC) for d, h in when],
            "local_at": [dt.datetime.combine(d, dt.time(int(h), 15)) for d, h in when],
            "source_system": source,
            "txn_type": "PURCH_INV",
            "created_by": poster,
            "approved_by": approver,
            "manual": manual,
            "description": [f"Goods from {c}" for c in counterparty],
            "counterparty": counterparty,
            "document_ref": refs,
            "currency": "GBP",
            "amount_txn": [Decimal(int(c)).scaleb(-2) for c in cents],
            "base_net": [Decimal(int(c)).scaleb(-2) for c in cents],
            "base_gross": [Decimal(int(c)).scaleb(-2) for c in cents],
            "net_account": accounts[which, 0],
            "net_dc": "D",
            "contra_account": accounts[which, 1],
            "net_suspense": False,
            "contra_suspense": False,
            "poster_limit": [None if p == "u001" else Decimal("5000.00") for p in poster],
            "holiday": None,
        }
    )
    return frame.cast(ENTRY_SCHEMA).sort("day", "txn_id")  # type: ignore[arg-type]
