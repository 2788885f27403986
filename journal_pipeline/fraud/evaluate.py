"""How well the scores find the planted anomalies (SPEC section 5): ``journal-pipeline fraud-eval``.

Reads ``ledger.fraud_scores`` and ``eval.ground_truth`` (category ``anomaly``, which only the
admin role may read) for a date range and measures, with pure Polars functions:

- per anomaly kind, recall within the top 1 %, 2 % and 5 % of scores: the share of the kind's
  planted transactions ranked that high;
- overall precision at K (K = the number of planted transactions) and ROC AUC, the latter by
  the rank statistic (Mann-Whitney U / (positives x negatives), ties counted half);
- Benford fabrication per group, as it is planted: whether each fabricating poster's group was
  judged nonconforming, and whether any company group was (none should be).

Ties are resolved by expectation, not by luck: when several transactions share the score at
the boundary of the top K, each counts as the share of them that fits (the expected value under
a random order). A tie therefore never flatters nor penalises a detector.

Which rows can be detected at all: a duplicate's original, or the first part of a split, is an
ordinary transaction on the day it is scored; it becomes one of a pair only when its partner is
keyed, maybe days later, and a day's scores never look at later days. For the multi-row kinds
(duplicate, near_duplicate, split_transaction) the report therefore also gives recall over the
rows that had a partner on or before their own day ("detectable"), reading the partner txn_ids
from the ground truth's detail text ("txn 123", "txns 123, 456").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from journal_pipeline.db.copy import copy_to_polars

TOP_SHARES = (0.01, 0.02, 0.05)
MULTI_ROW_KINDS = ("duplicate", "near_duplicate", "split_transaction")
GROUP_KINDS = ("benford_fabrication",)

SCORES_QUERY = """
SELECT txn_id, journal_date, company_id, risk_score::float8 AS risk_score, reasons::text AS reasons
FROM ledger.fraud_scores WHERE journal_date BETWEEN {first_day} AND {last_day}
"""
TRUTH_QUERY = """
SELECT g.txn_id, g.kind, g.detail, s.txn_date, s.created_by, s.company_id
FROM eval.ground_truth g JOIN legacy.src_transactions s USING (txn_id)
WHERE g.category = 'anomaly' AND s.txn_date BETWEEN {first_day} AND {last_day}
"""
SCORES_SCHEMA = {
    "txn_id": pl.Int64(),
    "journal_date": pl.Date(),
    "company_id": pl.Int32(),
    "risk_score": pl.Float64(),
    "reasons": pl.String(),
}
TRUTH_SCHEMA = {
    "txn_id": pl.Int64(),
    "kind": pl.String(),
    "detail": pl.String(),
    "txn_date": pl.Date(),
    "created_by": pl.String(),
    "company_id": pl.Int32(),
}
REASON_DTYPE = pl.List(
    pl.Struct({"test": pl.String(), "weight": pl.Float64(), "evidence": pl.String(), "group": pl.String()})
)


def read_scores(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> pl.DataFrame:
    query = sql.SQL(SCORES_QUERY).format(first_day=sql.Literal(first_day), last_day=sql.Literal(last_day))
    return copy_to_polars(conn, query, SCORES_SCHEMA)  # type: ignore[arg-type]


def read_truth(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> pl.DataFrame:
    query = sql.SQL(TRUTH_QUERY).format(first_day=sql.Literal(first_day), last_day=sql.Literal(last_day))
    return copy_to_polars(conn, query, TRUTH_SCHEMA)  # type: ignore[arg-type]


# --- pure metrics ------------------------------------------------------------------------------------


def chance_in_top(scores: pl.DataFrame, k: int) -> pl.DataFrame:
    """Adds ``in_top``: the probability that the row is among the k highest ``risk_score``s when
    ties are ordered at random (1 above the boundary, 0 below it, a share at it)."""
    higher = pl.col("risk_score").rank("min", descending=True) - 1  # rows strictly above
    tied = pl.len().over("risk_score")
    return scores.with_columns(
        pl.when(higher >= k)
        .then(0.0)
        .when(higher + tied <= k)
        .then(1.0)
        .otherwise((k - higher).cast(pl.Float64) / tied)
        .alias("in_top")
    )


def roc_auc(scores: pl.Series, positive: pl.Series) -> float | None:
    """Area under the ROC curve by the rank statistic: (sum of positives' average ranks -
    P (P + 1) / 2) / (P N). None when either class is empty."""
    frame = pl.DataFrame({"score": scores, "positive": positive})
    positives = int(frame["positive"].sum())
    negatives = frame.height - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = frame.with_columns(pl.col("score").rank("average").alias("rank"))
    rank_sum = float(ranks.filter(pl.col("positive"))["rank"].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def partner_ids(detail: pl.Expr) -> pl.Expr:
    """The txn_ids a ground-truth detail names after 'txn' or 'txns' ("... txns 12, 15")."""
    return detail.str.extract(r"\btxns? ((?:\d+)(?:, \d+)*)", 1).str.split(", ").cast(pl.List(pl.Int64))


def detectable(truth: pl.DataFrame) -> pl.DataFrame:
    """Adds ``detectable``: for the multi-row kinds, whether a partner of the row had been keyed
    on or before the row's day (otherwise nothing on that day shows the pattern); true for the
    other kinds."""
    partners = (
        truth.filter(pl.col("kind").is_in(MULTI_ROW_KINDS))
        .select("txn_id", "kind", "txn_date", partner_ids(pl.col("detail")).alias("partner"))
        .explode("partner")
        .filter(pl.col("partner") != pl.col("txn_id"))
        .join(
            truth.select(partner="txn_id", partner_date="txn_date").unique(),
            on="partner",
            how="left",
        )
        .group_by("txn_id", "kind")
        .agg((pl.col("partner_date") <= pl.col("txn_date")).any().alias("detectable"))
    )
    return truth.join(partners, on=["txn_id", "kind"], how="left").with_columns(
        pl.when(pl.col("kind").is_in(MULTI_ROW_KINDS))
        .then(pl.col("detectable").fill_null(False))
        .otherwise(True)
        .alias("detectable")
    )


@dataclass(frozen=True)
class Evaluation:
    first_day: dt.date
    last_day: dt.date
    scored: int
    planted: int  # distinct planted transactions among the scored
    by_kind: pl.DataFrame  # kind, planted, recall_top_1pct, ..., detectable rows and recall
    precision_at_k: float | None
    roc_auc: float | None  # every planted transaction positive
    roc_auc_row_kinds: float | None  # kinds judged per transaction (Benford: per group, left out)
    roc_auc_detectable: float | None  # those kinds' rows that show their anomaly on their own day
    fabricators: pl.DataFrame  # poster, entries, flagged (group judged nonconforming), tests
    flagged_companies: pl.DataFrame  # company groups judged nonconforming (should be none)

    def describe(self) -> str:
        lines = [
            f"fraud scores {self.first_day}..{self.last_day}: {self.scored:,} scored transactions, "
            f"{self.planted:,} with a planted anomaly",
            "",
            "recall of planted transactions within the top share of scores (ties by expectation):",
        ]
        tops = " ".join(f"{f'top {round(100 * share)}%':>7}" for share in TOP_SHARES)
        lines.append(f"  {'kind':<20} {'planted':>7} {tops}   detectable: rows  top 2%")
        for row in self.by_kind.iter_rows(named=True):
            detect = ""
            if row["kind"] in MULTI_ROW_KINDS:
                detect = f"   {row['detectable_rows']:>16}  {_pct(row['detectable_recall_top_2pct'])}"
            elif row["kind"] in GROUP_KINDS:
                detect = "   (judged per poster below)"
            lines.append(
                f"  {row['kind']:<20} {row['planted']:>7} {_pct(row['recall_top_1pct'])} "
                f"{_pct(row['recall_top_2pct'])} {_pct(row['recall_top_5pct'])}{detect}"
            )
        lines += [
            "",
            f"precision at K = {self.planted:,} (planted transactions): {_num(self.precision_at_k)}",
            f"ROC AUC, kinds judged per transaction (Benford: per group): {_num(self.roc_auc_row_kinds)}",
            f"ROC AUC, their rows detectable on their own day: {_num(self.roc_auc_detectable)}",
            f"ROC AUC, every planted transaction positive (Benford rows too): {_num(self.roc_auc)}",
            "",
            "Benford fabrication, judged per group:",
        ]
        if self.fabricators.height == 0:
            lines.append("  no fabricating poster in these days")
        for row in self.fabricators.iter_rows(named=True):
            verdict = "nonconforming" if row["flagged"] else "NOT flagged"
            tests = f" ({row['tests']})" if row["tests"] else ""
            entries = f"{row['entries']} fabricated entries"
            lines.append(f"  poster {row['poster']}: {entries}; group {verdict}{tests}")
        if self.flagged_companies.height == 0:
            lines.append("  company groups judged nonconforming: none")
        else:
            for row in self.flagged_companies.iter_rows(named=True):
                verdict = f"judged nonconforming ({row['tests']})"
                lines.append(f"  company group {row['group']} {verdict}: a false alarm")
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return f"{'-':>7}" if value is None else f"{100 * value:6.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def evaluate(scores: pl.DataFrame, truth: pl.DataFrame, first_day: dt.date, last_day: dt.date) -> Evaluation:
    """Every figure of the report from the scores of a range and its ground truth (pure)."""
    truth = detectable(truth.join(scores.select("txn_id"), on="txn_id", how="semi"))
    n = scores.height
    planted_ids = truth.select("txn_id").unique()
    ranked = scores.select("txn_id", "risk_score")
    for share in TOP_SHARES:
        k = max(1, round(share * n))
        ranked = ranked.join(
            chance_in_top(scores.select("txn_id", "risk_score"), k).select(
                "txn_id", pl.col("in_top").alias(f"top_{_tag(share)}")
            ),
            on="txn_id",
        )
    with_ranks = truth.join(ranked, on="txn_id")
    by_kind = (
        with_ranks.group_by("kind")
        .agg(
            pl.len().alias("planted"),
            *[pl.col(f"top_{_tag(s)}").mean().alias(f"recall_top_{_tag(s)}") for s in TOP_SHARES],
            pl.col("detectable").sum().alias("detectable_rows"),
            pl.col("top_2pct").filter(pl.col("detectable")).mean().alias("detectable_recall_top_2pct"),
        )
        .sort("kind")
    )
    k = planted_ids.height
    precision = None
    if k:
        top_k = chance_in_top(scores.select("txn_id", "risk_score"), k)
        hits = top_k.join(planted_ids, on="txn_id", how="semi")["in_top"].sum()
        precision = float(hits) / k
    auc = _auc_over(scores, planted_ids, planted_ids)
    per_row = truth.filter(~pl.col("kind").is_in(GROUP_KINDS))
    auc_rows = _auc_over(scores, per_row.select("txn_id").unique(), planted_ids)
    detectable_rows = per_row.filter(pl.col("detectable")).select("txn_id").unique()
    auc_detectable = _auc_over(scores, detectable_rows, planted_ids)
    fabricators, companies = benford_groups(scores, truth)
    return Evaluation(
        first_day=first_day,
        last_day=last_day,
        scored=n,
        planted=k,
        by_kind=by_kind,
        precision_at_k=precision,
        roc_auc=auc,
        roc_auc_row_kinds=auc_rows,
        roc_auc_detectable=auc_detectable,
        fabricators=fabricators,
        flagged_companies=companies,
    )


def _auc_over(scores: pl.DataFrame, positives: pl.DataFrame, planted: pl.DataFrame) -> float | None:
    """ROC AUC with ``positives`` as the positive class; other planted transactions are left out
    (neither positive nor negative), so that only ordinary transactions are negatives."""
    left_out = planted.join(positives, on="txn_id", how="anti")
    population = scores.join(left_out, on="txn_id", how="anti")
    positive = population.select(pl.col("txn_id").is_in(positives["txn_id"].implode()).alias("p"))["p"]
    return roc_auc(population["risk_score"], positive)


def _tag(share: float) -> str:
    return f"{round(share * 100)}pct"


def benford_groups(scores: pl.DataFrame, truth: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fabricating posters with whether any Benford test judged their group nonconforming, and
    the company groups any Benford test judged nonconforming."""
    reasons = (
        scores.select(pl.col("reasons").str.json_decode(REASON_DTYPE).alias("reason"))
        .explode("reason")
        .unnest("reason")
        .filter(pl.col("test").str.starts_with("benford_") & pl.col("group").is_not_null())
        .select("group", "test")
        .unique()
    )
    flagged = reasons.group_by("group").agg(pl.col("test").sort().str.join(", ").alias("tests"))
    fabricators = (
        truth.filter(pl.col("kind") == "benford_fabrication")
        .group_by(pl.col("created_by").alias("poster"))
        .agg(pl.len().alias("entries"))
        .with_columns((pl.lit("poster ") + pl.col("poster")).alias("group"))
        .join(flagged, on="group", how="left")
        .with_columns(pl.col("tests").is_not_null().alias("flagged"))
        .select("poster", "entries", "flagged", "tests")
        .sort("poster")
    )
    companies = flagged.filter(pl.col("group").str.starts_with("company ")).sort("group")
    return fabricators, companies


def evaluate_range(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> Evaluation:
    """Read the scores and the ground truth of [first_day, last_day] and evaluate them."""
    scores = read_scores(conn, first_day, last_day)
    if scores.height == 0:
        raise ValueError(
            f"ledger.fraud_scores has no rows from {first_day} to {last_day}: materialize fraud_scores first"
        )
    truth = read_truth(conn, first_day, last_day)
    return evaluate(scores, truth, first_day, last_day)
