"""``journal-pipeline fraud-report`` and ``fraud-eval``.

cli.py registers them with one line: ``add_fraud_commands(commands, add)``, where ``add`` is its
``add(name, handler, help)`` helper (or without ``add``: plain ``add_parser`` calls).

- ``fraud-report --start D [--end D] [--top N]``: the riskiest transactions with their reasons,
  from ``ledger.fraud_scores`` (the pipeline's role may read it);
- ``fraud-eval --start D --end D``: recall per planted anomaly kind in the top 1, 2 and 5 % of
  scores, precision at K and ROC AUC, and the Benford verdict per fabricating poster, from
  ``ledger.fraud_scores`` and ``eval.ground_truth`` (as the admin role: the pipeline's role
  cannot read the ground truth, by design).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable

from journal_pipeline.arguments import date_argument, positive_argument

Handler = Callable[[argparse.Namespace], int]
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]

DEFAULT_TOP = 20


def _range(start: dt.date, end: dt.date | None) -> tuple[dt.date, dt.date]:
    end = end or start
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return start, end


def cmd_fraud_report(args: argparse.Namespace) -> int:
    """Print the ``--top`` riskiest transactions of the range with every reason and its evidence."""
    from journal_pipeline.db import connect, pipeline_url
    from journal_pipeline.fraud.report import format_report
    from journal_pipeline.fraud.store import riskiest, summary

    first, last = _range(args.start, args.end)
    with connect(pipeline_url(), application_name="journal-pipeline fraud-report") as conn:
        scored, flagged, versions = summary(conn, first, last)
        top = riskiest(conn, first, last, args.top)
    print(format_report(top, scored, flagged, versions, str(first), str(last)))
    return 0 if scored else 1


def cmd_fraud_eval(args: argparse.Namespace) -> int:
    """Print recall per kind, precision at K, ROC AUC and the Benford group verdicts."""
    from journal_pipeline.db import admin_url, connect
    from journal_pipeline.fraud.evaluate import evaluate_range

    first, last = _range(args.start, args.end)
    with connect(admin_url(), application_name="journal-pipeline fraud-eval") as conn:
        evaluation = evaluate_range(conn, first, last)
    print(evaluation.describe())
    return 0


def add_fraud_commands(subparsers: argparse._SubParsersAction, add: AddCommand | None = None) -> None:
    """Register ``fraud-report`` and ``fraud-eval`` on the CLI's subparsers."""

    def register(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        if add is not None:
            return add(name, handler, help_text)
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(handler=handler)
        return parser

    report = register("fraud-report", cmd_fraud_report, "print the riskiest transactions with their reasons")
    report.add_argument("--start", type=date_argument, required=True, help="first day (YYYY-MM-DD)")
    report.add_argument("--end", type=date_argument, help="last day (inclusive); default: --start")
    report.add_argument(
        "--top", type=positive_argument, default=DEFAULT_TOP, help=f"how many transactions (default {DEFAULT_TOP})"
    )

    evaluation = register(
        "fraud-eval",
        cmd_fraud_eval,
        "measure the fraud scores against the planted anomalies (eval.ground_truth)",
    )
    evaluation.add_argument("--start", type=date_argument, required=True, help="first day (YYYY-MM-DD)")
    evaluation.add_argument("--end", type=date_argument, required=True, help="last day (inclusive)")
