"""fraud-eval's arithmetic on hand-made scores and ground truth: AUC by ranks, recall and
precision with ties by expectation, which planted rows are detectable, Benford per group."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from journal_pipeline.fraud.evaluate import chance_in_top, detectable, evaluate, roc_auc

DAY = dt.date(2024, 7, 18)


def test_roc_auc_is_the_rank_statistic_with_ties_counted_half():
    scores = pl.Series([0.9, 0.8, 0.8, 0.1])
    positive = pl.Series([True, False, True, False])
    # positives outrank the 0.1 twice, the 0.8 negative once and tie with it once: 3.5 of 4 pairs
    assert roc_auc(scores, positive) == pytest.approx(0.875)
    assert roc_auc(pl.Series([0.5, 0.5]), pl.Series([True, False])) == pytest.approx(0.5)
    assert roc_auc(pl.Series([0.5]), pl.Series([True])) is None


def test_ties_at_the_boundary_of_the_top_count_by_expectation():
    scores = pl.DataFrame({"txn_id": [1, 2, 3, 4, 5], "risk_score": [0.9, 0.5, 0.5, 0.5, 0.1]})
    chance = dict(chance_in_top(scores, 2).select("txn_id", "in_top").iter_rows())
    assert chance == {
        1: 1.0,
        2: pytest.approx(1 / 3),
        3: pytest.approx(1 / 3),
        4: pytest.approx(1 / 3),
        5: 0.0,
    }


def _truth(rows: list[tuple[int, str, str, dt.date, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(t, k, d, day, who, 1) for t, k, d, day, who in rows],
        schema={
            "txn_id": pl.Int64(),
            "kind": pl.String(),
            "detail": pl.String(),
            "txn_date": pl.Date(),
            "created_by": pl.String(),
            "company_id": pl.Int32(),
        },
        orient="row",
    )


SPLIT = "u1 keyed 1,000.00 GBP gross (limit 900.00) as txns 5, 6, 7"


def test_a_pattern_row_is_detectable_once_a_partner_was_keyed_on_or_before_its_day():
    later = DAY + dt.timedelta(days=2)
    truth = _truth(
        [
            (1, "duplicate", "PURCH_INV 10.00 GBP: original of duplicate txn 2", DAY, "u1"),
            (2, "duplicate", "PURCH_INV 10.00 GBP: exact duplicate of txn 1", later, "u1"),
            (3, "near_duplicate", "X: original of near-duplicate txn 4", DAY, "u1"),
            (4, "near_duplicate", "X: same counterparty and amount as txn 3, suffix -A", DAY, "u1"),
            (5, "split_transaction", f"part 1 of 3: {SPLIT}", DAY, "u1"),
            (6, "split_transaction", f"part 2 of 3: {SPLIT}", later, "u1"),
            (7, "split_transaction", f"part 3 of 3: {SPLIT}", later, "u1"),
            (8, "self_approval", "u1 approved their own X", DAY, "u1"),
        ]
    )  # fmt: skip
    assert dict(detectable(truth).select("txn_id", "detectable").iter_rows()) == {
        1: False,  # its copy came two days later
        2: True,
        3: True,  # the copy was keyed the same day
        4: True,
        5: False,
        6: True,
        7: True,
        8: True,
    }


def _reasons(*tests: tuple[str, str | None]) -> str:
    reasons = [{"test": t, "weight": 0.2, "evidence": "e"} | ({"group": g} if g else {}) for t, g in tests]
    return json.dumps(reasons)


def test_recall_precision_auc_and_the_benford_verdicts():
    n = 200
    scores = pl.DataFrame(
        {
            "txn_id": list(range(1, n + 1)),
            "journal_date": [DAY] * n,
            "company_id": [1] * n,
            "risk_score": [0.9, 0.8, 0.7, 0.2, 0.2] + [0.0] * (n - 5),
            "reasons": [_reasons(("self_approval", None))] * 3
            + [_reasons(("benford_first_digit", "poster u9"))] * 2
            + ["[]"] * (n - 5),
        }
    )
    truth = _truth(
        [
            (1, "self_approval", "", DAY, "u1"),
            (2, "self_approval", "", DAY, "u1"),
            (6, "self_approval", "", DAY, "u1"),  # missed
            (4, "benford_fabrication", "", DAY, "u9"),
            (5, "benford_fabrication", "", DAY, "u9"),
            (7, "benford_fabrication", "", DAY, "u8"),
        ]
    )
    result = evaluate(scores, truth, DAY, DAY)
    kinds = {row["kind"]: row for row in result.by_kind.iter_rows(named=True)}
    # top 1 % of 200 = 2 transactions: txns 1 and 2; top 2 % = 4; top 5 % = 10
    assert kinds["self_approval"]["recall_top_1pct"] == pytest.approx(2 / 3)
    # top 5 %: txns 1-5 and 5 of the 195 tied at 0, so txn 6 has a 5/195 chance
    assert kinds["self_approval"]["recall_top_5pct"] == pytest.approx((2 + 5 / 195) / 3)
    # top 2 %: txns 1-3, then one of the two tied at 0.2 (4 and 5): each half in
    assert kinds["benford_fabrication"]["recall_top_2pct"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert result.planted == 6
    # top 6: 1-5 and one of the 195 ties at 0; of which 4 planted, plus 1/195 of txn 6 and 7 each
    assert result.precision_at_k == pytest.approx((4 + 2 / 195) / 6)
    assert result.fabricators.rows() == [("u8", 1, False, None), ("u9", 2, True, "benford_first_digit")]
    assert result.flagged_companies.height == 0
    # per-transaction kinds: positives 1, 2, 6 against the 194 ordinary rows (Benford rows left out):
    # 1 and 2 outrank all of them, 6 (at 0) ties with the 193 at 0 and is below txn 3 (0.7)
    expected = (2 * 194 + 193 / 2) / (3 * 194)
    assert result.roc_auc_row_kinds == pytest.approx(expected)
    text = result.describe()
    assert "poster u9: 2 fabricated entries; group nonconforming (benford_first_digit)" in text
    assert "poster u8: 1 fabricated entries; group NOT flagged" in text
    assert "company groups judged nonconforming: none" in text
