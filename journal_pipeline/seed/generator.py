"""``journal-pipeline seed``: fill the legacy schema with deterministic, realistic synthetic data.

One call seeds ``days`` days from ``start`` for a group of ``companies`` companies with
``txns_per_day`` transactions per company and day on average, in one database transaction:

1. reference data (companies, charts of accounts, posting rules, users), the first time only;
2. FX rates from ten days before ``start`` to the last day (weekdays), added without conflicts;
3. the transactions, drawn column by column (:mod:`.transactions`), with invalid rows and
   planted anomalies (:mod:`.anomalies`), rendered to COPY text (:mod:`.render`) and loaded
   with COPY, one day at a time with a progress message per day;
4. the ground truth of every invalid and planted row in ``eval.ground_truth``;
5. a row in ``eval.seed_runs``.

The same arguments give byte-identical rows: every random draw comes from numpy generators seeded
with ``(seed, ...)`` and nothing depends on the clock, the machine or dictionary order.

Seeding again into the same database adds days: allowed when the database was seeded with the
same ``--seed`` and ``--companies`` (its reference data must still be exactly what they produce)
and none of the new days has transactions yet. ``txn_id`` continues after the largest one,
rates that already exist are kept (they are identical: a rate is a function of seed and date).
Anything else is refused with a one-line ValueError before a single row is written; a failure
half-way rolls the whole run back. An advisory lock keeps two seeds from interleaving.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import sql

from journal_pipeline.seed.anomalies import ANOMALY_KINDS, INVALID_KINDS, plant
from journal_pipeline.seed.fx import check_dates, fx_rate_rows, usd_values
from journal_pipeline.seed.reference import Reference, build_reference
from journal_pipeline.seed.render import COLUMNS, Rendered, ground_truth_rows, render
from journal_pipeline.seed.transactions import (
    FX_LEAD_DAYS,
    Context,
    assign_approvers,
    build_calendar,
    ordinary_plan,
)

_LOCK_KEY = 0x5345454452554E  # "SEEDRUN": one seed at a time per database
STREAM_RUN = 100
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SeedSummary:
    """What one seed run wrote, for the command line and the tests."""

    seed: int
    start: dt.date
    end: dt.date
    companies: int
    days: int
    transactions: int
    first_txn_id: int
    last_txn_id: int
    fx_rates_added: int
    reference_created: bool
    invalid_by_kind: dict[str, int] = field(default_factory=dict)
    anomalies_by_kind: dict[str, int] = field(default_factory=dict)
    not_planted: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.transactions / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        invalid = sum(self.invalid_by_kind.values())
        anomalies = sum(self.anomalies_by_kind.values())

        def share(count: int) -> str:
            return f"{100 * count / self.transactions:.2f} %" if self.transactions else "-"

        lines = [
            f"seeded {self.transactions:,} transactions (txn_id {self.first_txn_id:,}..{self.last_txn_id:,}) for "
            f"{self.companies} {'company' if self.companies == 1 else 'companies'} over {self.days} "
            f"{'day' if self.days == 1 else 'days'} ({self.start}..{self.end}), seed {self.seed}",
            f"reference data {'created' if self.reference_created else 'reused'}; "
            f"{self.fx_rates_added:,} fx rates added",
            f"invalid rows: {invalid:,} ({share(invalid)}): "
            + ", ".join(f"{k} {v}" for k, v in self.invalid_by_kind.items()),
            f"anomaly rows: {anomalies:,} ({share(anomalies)}): "
            + ", ".join(f"{k} {v}" for k, v in self.anomalies_by_kind.items()),
        ]
        lines += [f"not planted: {kind} ({why})" for kind, why in self.not_planted.items()]
        lines.append(f"{self.seconds:.1f} s, {self.rows_per_second:,.0f} rows/s")
        return "\n".join(lines)


def seed_database(
    url: str,
    *,
    start: dt.date,
    days: int,
    companies: int = 5,
    txns_per_day: int = 2000,
    seed: int = 42,
    progress: Progress | None = None,
) -> SeedSummary:
    """Seed ``days`` days from ``start`` into the database at ``url`` (see the module docstring)."""
    began = time.perf_counter()
    say = progress or (lambda _message: None)
    if days < 1 or txns_per_day < 1:
        raise ValueError(f"--days and --txns-per-day must be at least 1 (got {days} and {txns_per_day})")
    end = start + dt.timedelta(days=days - 1)
    check_dates(start - dt.timedelta(days=FX_LEAD_DAYS), end)
    ref = build_reference(seed, companies)

    with psycopg.connect(url, application_name="journal-pipeline seed") as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("SET LOCAL synchronous_commit = off")  # a seed can simply be run again after a crash
        reference_created = _check_existing(conn, ref, seed, start, end)
        first_txn_id = _next_txn_id(conn)

        run = generate_run(ref, start=start, days=days, txns_per_day=txns_per_day, first_txn_id=first_txn_id)
        say(f"seed: generated {run.transactions:,} transactions in {time.perf_counter() - began:.1f} s")

        if reference_created:
            _insert_reference(conn, ref)
            say(
                f"seed: reference data: {len(ref.companies)} companies, {len(ref.accounts):,} accounts, "
                f"{len(ref.rules)} posting rules, {len(ref.users)} users"
            )
        fx_added = _insert_fx_rates(conn, seed, ref, start - dt.timedelta(days=FX_LEAD_DAYS), end)
        say(f"seed: fx_rates: {fx_added:,} rows added")
        _copy_transactions(conn, run.rendered, say)
        _copy_rows(conn, "eval.ground_truth", ("txn_id", "category", "kind", "detail"), run.truth)
        last_txn_id = first_txn_id + run.transactions - 1
        conn.execute(
            "INSERT INTO eval.seed_runs (seed, start_date, days, companies, txns_per_day, first_txn_id, last_txn_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (seed, start, days, companies, txns_per_day, first_txn_id, last_txn_id),
        )

    counts = Counter((category, kind) for _, category, kind, _ in run.truth)
    return SeedSummary(
        seed=seed,
        start=start,
        end=end,
        companies=companies,
        days=days,
        transactions=run.transactions,
        first_txn_id=first_txn_id,
        last_txn_id=last_txn_id,
        fx_rates_added=fx_added,
        reference_created=reference_created,
        invalid_by_kind={k: counts[("invalid", k)] for k in INVALID_KINDS},
        anomalies_by_kind={k: counts[("anomaly", k)] for k in ANOMALY_KINDS},
        not_planted=run.not_planted,
        seconds=time.perf_counter() - began,
    )


@dataclass(frozen=True)
class GeneratedRun:
    """One run's transactions, ready for COPY, and its ground truth: made without a database."""

    rendered: Rendered
    truth: list[tuple[int, str, str, str]]  # (txn_id, category, kind, detail)
    not_planted: dict[str, str]

    @property
    def transactions(self) -> int:
        return self.rendered.frame.height


def generate_run(ref: Reference, *, start: dt.date, days: int, txns_per_day: int, first_txn_id: int) -> GeneratedRun:
    """Draw the run's transactions, plant invalid rows and anomalies, approve, order and number them.

    The random stream depends on every argument of the run, so seeding other days draws other
    transactions, and the same arguments draw the same ones.
    """
    companies = len(ref.companies)
    rng = np.random.default_rng([ref.seed, STREAM_RUN, start.toordinal(), days, companies, txns_per_day])
    calendar = build_calendar(ref, start, days, txns_per_day, rng)
    end = start + dt.timedelta(days=days - 1)
    ctx = Context(ref, calendar, usd_values(ref.seed, start - dt.timedelta(days=FX_LEAD_DAYS), end))
    plan = ordinary_plan(ctx, rng)
    planter = plant(ctx, plan, rng)
    assign_approvers(ctx, plan, rng)
    rendered = render(ctx, plan, planter.overrides, first_txn_id)
    return GeneratedRun(
        rendered=rendered,
        truth=ground_truth_rows(planter.truth, rendered.txn_id),
        not_planted=dict(planter.not_planted),
    )


# --- what is there already ---------------------------------------------------------------------------


def _check_existing(conn: psycopg.Connection, ref: Reference, seed: int, start: dt.date, end: dt.date) -> bool:
    """True when the database is empty; raises ValueError when adding to it would not be clean."""
    runs = conn.execute("SELECT DISTINCT seed, companies FROM eval.seed_runs").fetchall()
    holdings = conn.execute(
        "SELECT (SELECT count(*) FROM legacy.companies), (SELECT count(*) FROM legacy.users),"
        " (SELECT count(*) FROM legacy.accounts), (SELECT count(*) FROM legacy.posting_rules),"
        " EXISTS (SELECT 1 FROM legacy.src_transactions)"
    ).fetchone()
    assert holdings is not None
    if not runs:
        if any(holdings):
            raise ValueError(
                "the legacy schema already holds data that the seed command did not write "
                "(eval.seed_runs is empty); seed into an empty database"
            )
        return True
    if len(runs) > 1 or runs[0] != (seed, len(ref.companies)):
        seeded = ", ".join(f"--seed {s} --companies {c}" for s, c in runs)
        raise ValueError(
            f"this database was seeded with {seeded}; add days with the same arguments "
            f"(not --seed {seed} --companies {len(ref.companies)}) or use an empty database"
        )
    overlap = conn.execute(
        "SELECT min(txn_date), max(txn_date) FROM legacy.src_transactions WHERE txn_date BETWEEN %s AND %s",
        (start, end),
    ).fetchone()
    seeded_runs = conn.execute(
        "SELECT start_date, start_date + days - 1 FROM eval.seed_runs"
        " WHERE start_date <= %s AND start_date + days - 1 >= %s ORDER BY start_date",
        (end, start),
    ).fetchall()
    if (overlap and overlap[0] is not None) or seeded_runs:
        first, last = (overlap[0], overlap[1]) if overlap and overlap[0] else seeded_runs[0]
        raise ValueError(
            f"days {start}..{end} overlap days already seeded ({first}..{last}); "
            "seed only days that have no transactions yet"
        )
    if _reference_in_database(conn) != _reference_rows(ref):
        raise ValueError(
            f"the reference data in the database differs from what --seed {seed} --companies "
            f"{len(ref.companies)} generates (was it edited?); refusing to add days to it"
        )
    return False


def _reference_rows(ref: Reference) -> dict[str, list[tuple]]:
    return {
        "companies": sorted((c.company_id, c.name, c.base_currency, c.timezone) for c in ref.companies),
        "accounts": sorted(
            (a.company_id, a.account_code, a.account_name, a.account_type, a.is_suspense, a.is_active)
            for a in ref.accounts
        ),
        "posting_rules": sorted(
            (r.company_id, r.txn_type, r.journal_type, r.net_account, r.net_side, r.tax_account, r.contra_account)
            for r in ref.rules
        ),
        "users": sorted((u.user_id, u.display_name, u.approval_limit) for u in ref.users),
    }


def _reference_in_database(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    queries = {
        "companies": "SELECT company_id, name, base_currency, timezone FROM legacy.companies",
        "accounts": "SELECT company_id, account_code, account_name, account_type, is_suspense, is_active"
        " FROM legacy.accounts",
        "posting_rules": "SELECT company_id, txn_type, journal_type, net_account, net_side, tax_account,"
        " contra_account FROM legacy.posting_rules",
        "users": "SELECT user_id, display_name, approval_limit FROM legacy.users",
    }
    return {name: sorted(tuple(row) for row in conn.execute(query).fetchall()) for name, query in queries.items()}


def _next_txn_id(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT greatest((SELECT max(txn_id) FROM legacy.src_transactions),"
        " (SELECT max(last_txn_id) FROM eval.seed_runs), 0)"
    ).fetchone()
    return int(row[0]) + 1 if row else 1


# --- writing ------------------------------------------------------------------------------------------


def _copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_reference(conn: psycopg.Connection, ref: Reference) -> None:
    rows = _reference_rows(ref)
    _copy_rows(conn, "legacy.companies", ("company_id", "name", "base_currency", "timezone"), rows["companies"])
    _copy_rows(
        conn,
        "legacy.accounts",
        ("company_id", "account_code", "account_name", "account_type", "is_suspense", "is_active"),
        rows["accounts"],
    )
    _copy_rows(
        conn,
        "legacy.posting_rules",
        ("company_id", "txn_type", "journal_type", "net_account", "net_side", "tax_account", "contra_account"),
        rows["posting_rules"],
    )
    _copy_rows(conn, "legacy.users", ("user_id", "display_name", "approval_limit"), rows["users"])


def _insert_fx_rates(conn: psycopg.Connection, seed: int, ref: Reference, first: dt.date, last: dt.date) -> int:
    rates = fx_rate_rows(seed, [c.base_currency for c in ref.companies], first, last)
    conn.execute("CREATE TEMP TABLE seed_fx_rates (LIKE legacy.fx_rates) ON COMMIT DROP")
    with conn.cursor().copy("COPY seed_fx_rates (rate_date, currency, base_currency, rate) FROM STDIN") as copy:
        copy.write(rates.write_csv(separator="\t", include_header=False, quote_style="never"))
    inserted = conn.execute(
        "INSERT INTO legacy.fx_rates SELECT * FROM seed_fx_rates ORDER BY rate_date, currency, base_currency"
        " ON CONFLICT (rate_date, currency, base_currency) DO NOTHING"
    )
    return inserted.rowcount


def _copy_transactions(conn: psycopg.Connection, rendered: Rendered, say: Progress) -> None:
    total = rendered.frame.height
    done = 0
    statement = f"COPY legacy.src_transactions ({', '.join(COLUMNS)}) FROM STDIN"  # fixed table and column names
    with conn.cursor().copy(statement) as copy:
        for day, first, end in rendered.day_bounds:
            payload = rendered.copy_chunk(first, end)
            for offset in range(0, len(payload), 1 << 22):
                copy.write(payload[offset : offset + (1 << 22)])
            done += end - first
            say(f"seed: {day}: {end - first:,} transactions loaded ({done:,} of {total:,})")
