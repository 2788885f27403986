"""What people read about the scores: the asset's metadata and the ``fraud-report`` text.

- :func:`flagged_per_test`: how many transactions each test flagged;
- :func:`riskiest_table`: the riskiest transactions with their reasons, as Markdown;
- :func:`benford_markdown` and :func:`benford_svg`: observed vs expected first digits per company
  (a text bar chart the Dagster UI renders, and an SVG file linked from the metadata);
- :func:`format_report`: the command line's listing.
"""

from __future__ import annotations

import json
from html import escape

import polars as pl

from journal_pipeline.fraud.config import TESTS

BAR_WIDTH = 40  # characters of the text bar chart for a 40 % share


def flagged_per_test(findings: pl.DataFrame) -> dict[str, int]:
    """Transactions flagged by each test, in the order of config.TESTS (0 for silent tests)."""
    counted = dict(findings.group_by("test").agg(pl.col("txn_id").n_unique()).iter_rows())
    return {test: int(counted.get(test, 0)) for test in TESTS}


def reasons_text(reasons_json: str, *, separator: str = "; ") -> str:
    """'test (weight): evidence; ...' from a reasons JSON array."""
    reasons = json.loads(reasons_json)
    return separator.join(f"{r['test']} ({r['weight']:.2f}): {r['evidence']}" for r in reasons)


def riskiest_table(scores: pl.DataFrame, top: int = 10) -> str:
    """Markdown table of the ``top`` highest scores (ties: earlier day, lower txn_id first)."""
    order = ["risk_score", "journal_date", "txn_id"]
    riskiest = scores.sort(order, descending=[True, False, False]).head(top)
    if riskiest.height == 0:
        return "_no transactions scored_"
    lines = ["| txn_id | date | company | risk | reasons |", "|---|---|---|---|---|"]
    for row in riskiest.iter_rows(named=True):
        reasons = reasons_text(row["reasons"], separator="<br>").replace("|", "\\|") or "_none_"
        lines.append(
            "| "
            + " | ".join(str(row[c]) for c in ("txn_id", "journal_date", "company_id", "risk_score"))
            + f" | {reasons} |"
        )
    return "\n".join(lines)


def benford_markdown(distribution: pl.DataFrame) -> str:
    """A text bar chart of the window's first digits, all companies together, then each
    company's MAD; ``distribution`` from benford.first_digit_distribution."""
    overall = distribution.filter(pl.col("company_id").is_null())
    if overall.height == 0 or overall["n"][0] == 0:
        return "_no amounts_"
    n, mad = int(overall["n"][0]), float(overall["mad"][0])
    lines = [
        f"First digits of the window's {n:,} net amounts (transaction currency) against Benford's law; "
        f"MAD {mad:.4f} (Nigrini: close conformity up to 0.006, nonconformity above 0.015).",
        "",
        "| digit | observed | expected | observed (█) vs expected (│) |",
        "|---|---|---|---|",
    ]
    for row in overall.iter_rows(named=True):
        lines.append(
            f"| {row['first_digit']} | {100 * row['observed']:.1f} % | {100 * row['expected']:.1f} % | "
            f"`{_bar(row['observed'], row['expected'])}` |"
        )
    per_company = (
        distribution.filter(pl.col("company_id").is_not_null())
        .group_by("company_id")
        .agg(pl.col("n").first(), pl.col("mad").first())
    )
    lines += ["", "| company | amounts | MAD |", "|---|---|---|"]
    for row in per_company.sort("company_id").iter_rows(named=True):
        lines.append(f"| {row['company_id']} | {row['n']:,} | {row['mad']:.4f} |")
    return "\n".join(lines)


def _bar(observed: float, expected: float) -> str:
    filled = round(observed / 0.4 * BAR_WIDTH)
    marker = min(round(expected / 0.4 * BAR_WIDTH), BAR_WIDTH)
    cells = ["█" if i < filled else " " for i in range(BAR_WIDTH + 1)]
    cells[marker] = "│" if cells[marker] == " " else "┃"
    return "".join(cells).rstrip()


def benford_svg(distribution: pl.DataFrame, title: str) -> str:
    """An SVG chart: one panel per company and one for all, bars = observed share of each first
    digit, dots = Benford's expected share."""
    panels = [None, *sorted(c for c in distribution["company_id"].unique().to_list() if c is not None)]
    width, height, margin = 300, 180, 30
    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{columns * width}" height="{rows * height + 30}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="14">{escape(title)}</text>',
    ]
    for index, company in enumerate(panels):
        frame = distribution.filter(
            pl.col("company_id").is_null() if company is None else pl.col("company_id") == company
        ).sort("first_digit")
        x0, y0 = (index % columns) * width, 30 + (index // columns) * height
        plot_h, step = height - 2 * margin, (width - 2 * margin) / 9
        n = int(frame["n"][0]) if frame.height else 0
        mad = float(frame["mad"][0]) if frame.height and n else 0.0
        label = "all companies" if company is None else f"company {company}"
        caption = f"{escape(label)}: {n:,} amounts, MAD {mad:.4f}"
        parts.append(f'<text x="{x0 + margin}" y="{y0 + 14}">{caption}</text>')
        base = y0 + margin + plot_h
        axis = f'x1="{x0 + margin}" y1="{base}" x2="{x0 + width - margin}" y2="{base}"'
        parts.append(f'<line {axis} stroke="#888"/>')
        for row in frame.iter_rows(named=True):
            left = x0 + margin + (row["first_digit"] - 1) * step
            bar = (row["observed"] or 0.0) / 0.4 * plot_h
            dot = row["expected"] / 0.4 * plot_h
            parts.append(
                f'<rect x="{left + 3:.1f}" y="{base - bar:.1f}" width="{step - 6:.1f}" '
                f'height="{bar:.1f}" fill="#4a7ab7"/>'
            )
            parts.append(f'<circle cx="{left + step / 2:.1f}" cy="{base - dot:.1f}" r="3" fill="#d9534f"/>')
            parts.append(f'<text x="{left + step / 2 - 3:.1f}" y="{base + 13}">{row["first_digit"]}</text>')
    legend = "bars: observed share; dots: Benford log10(1 + 1/d)"
    parts.append(f'<text x="10" y="{rows * height + 24}">{legend}</text></svg>')
    return "\n".join(parts)


def format_report(
    riskiest: pl.DataFrame,
    scored: int,
    flagged: int,
    versions: str,
    first: str,
    last: str,
) -> str:
    """The ``fraud-report`` listing: a header, then each transaction with one reason per line."""
    lines = [
        f"fraud scores {first}..{last}: {scored:,} transactions scored, {flagged:,} with at least one reason "
        f"(model {versions or '-'})",
    ]
    if riskiest.height == 0:
        lines.append("no scores in this range: materialize fraud_scores for these days first")
        return "\n".join(lines)
    lines.append("")
    for rank, row in enumerate(riskiest.iter_rows(named=True), start=1):
        lines.append(
            f"{rank:>3}. txn {row['txn_id']}  {row['journal_date']}  company {row['company_id']}  "
            f"risk {row['risk_score']}"
        )
        reasons = json.loads(row["reasons"])
        if not reasons:
            lines.append("       no test fired")
        for reason in reasons:
            lines.append(f"       {reason['test']} ({reason['weight']:.2f}): {reason['evidence']}")
    return "\n".join(lines)
