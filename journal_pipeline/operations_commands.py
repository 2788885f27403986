"""``journal-pipeline metrics`` and ``journal-pipeline provision``: the command-line side of operating
the pipeline (docs/operations.md). Registered on the main parser by :func:`add_operations_commands`."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

DEFAULT_METRICS_PORT = 9464


def cmd_metrics(args: argparse.Namespace) -> int:
    """Serve the Prometheus metrics (or print them once) from the Dagster instance and the ledger."""
    from journal_pipeline.db import pipeline_url
    from journal_pipeline.metrics import exposition, registry_for, serve
    from journal_pipeline.runner import local_instance

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with local_instance() as instance:
        registry, collector = registry_for(instance, pipeline_url())
        if args.once:
            sys.stdout.write(exposition(registry))
            down = sorted(source for source, up in collector.sources_up.items() if not up)
            if down:
                print(f"could not read: {', '.join(down)} (see the log above)", file=sys.stderr)
            return 1 if down else 0
        print(f"serving Prometheus metrics on http://{args.host}:{args.port}/metrics", file=sys.stderr, flush=True)
        serve(registry, args.host, args.port)
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    """Set the pipeline role's password and create Dagster's role and database, from the environment."""
    from journal_pipeline.cli import UsageError  # here, not at the top: cli imports this module
    from journal_pipeline.db import admin_url
    from journal_pipeline.provision import ProvisionPlan, provision

    plan = ProvisionPlan.from_environment()
    if plan.empty:
        raise UsageError(
            "nothing to provision: set JOURNAL_PIPELINE_PASSWORD and/or DAGSTER_POSTGRES_USER, "
            "DAGSTER_POSTGRES_PASSWORD and DAGSTER_POSTGRES_DB"
        )
    for line in provision(admin_url(), plan):
        print(line)
    return 0


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def add_operations_commands(subparsers: Any) -> None:
    """Register ``metrics`` and ``provision`` on the main parser's subparsers."""
    metrics = subparsers.add_parser(
        "metrics",
        help="serve the Prometheus metrics (run durations, errors, rows posted, quarantined, flagged)",
        description="Serve /metrics for a Prometheus server: step durations, errors and rows from the Dagster "
        "instance ($DAGSTER_HOME), the latest sealed day from the ledger. See docs/operations.md.",
    )
    metrics.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    metrics.add_argument(
        "--port", type=_port, default=DEFAULT_METRICS_PORT, help=f"port (default {DEFAULT_METRICS_PORT})"
    )
    metrics.add_argument("--once", action="store_true", help="print the metrics once and exit (textfile collector)")
    metrics.set_defaults(handler=cmd_metrics)

    provision = subparsers.add_parser(
        "provision",
        help="set the pipeline role's password and create Dagster's own role and database; safe to run again",
        description="After `migrate`, as the admin (JOURNAL_DATABASE_URL): set the password of journal_pipeline "
        "from JOURNAL_PIPELINE_PASSWORD and create the role and database of Dagster's storage from "
        "DAGSTER_POSTGRES_USER, DAGSTER_POSTGRES_PASSWORD and DAGSTER_POSTGRES_DB.",
    )
    provision.set_defaults(handler=cmd_provision)
