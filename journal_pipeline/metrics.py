"""Prometheus metrics of the pipeline, served by ``journal-pipeline metrics`` for a Prometheus server to scrape.

| metric | type | labels | what |
|---|---|---|---|
| ``journal_process_seconds`` | histogram | job, step | how long each successful step (asset, maintenance op) took |
| ``journal_errors_total`` | counter | job, kind | ``run_failure``, ``step_failure``, ``check_failure`` (ERROR check) |
| ``journal_runs_total`` | counter | job, status | finished runs: ``SUCCESS``, ``FAILURE``, ``CANCELED`` |
| ``journal_rows_posted_total`` | counter | | journal lines written to ``ledger.journal_lines`` |
| ``journal_rows_quarantined_total`` | counter | | transactions written to ``ledger.quarantine`` |
| ``journal_rows_flagged_total`` | counter | | transactions scored with a risk above 0 in ``ledger.fraud_scores`` |
| ``journal_last_sealed_day_timestamp_seconds`` | gauge | | the latest sealed day (midnight UTC), from ``audit.seals`` |
| ``journal_metrics_source_up`` | gauge | source | 1 when ``dagster`` (the instance) or ``ledger`` could be read |

Where the figures come from: every finished run in the Dagster instance (its step events, failed checks
and the materialization metadata of ``gl_postings`` and ``fraud_scores``), read once per run, and the
audit schema for the freshness gauge. A failed check of WARN severity is not an error (the UI shows it).
Runs launched from the asset graph (backfills, "Materialize") carry Dagster's implicit job name,
``__ASSET_JOB``; the schedule's runs are ``daily_journal_job``.

The counters count work done: rerunning a day posts its lines again and counts them again, which is what
a rate over time should show. Because they are recomputed from the instance's durable history, they
never go backwards, also across a restart of the exporter, which reads the whole history on its first
scrape and only the newly finished runs after that. A source that cannot be read is reported by
``journal_metrics_source_up`` (and logged); the other one is still served.

``journal-pipeline metrics --once`` prints the same text once, for node_exporter's textfile collector
or a quick look. docs/operations.md has the Prometheus scrape configuration and example alerts.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

import dagster as dg
import psycopg
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from journal_pipeline.db.connection import connect

log = logging.getLogger(__name__)

# Steps take from under a second (a quiet day's extract) to many minutes (a week's backfill run, a VACUUM).
DURATION_BUCKETS: Final = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
FINISHED: Final = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# metric (without _total) -> (asset, key of its materialization metadata)
ROW_COUNTERS: Final = {
    "journal_rows_posted": ("gl_postings", "journal_lines"),
    "journal_rows_quarantined": ("gl_postings", "quarantined"),
    "journal_rows_flagged": ("fraud_scores", "flagged"),
}
ROW_HELP: Final = {
    "journal_rows_posted": "Journal lines written to ledger.journal_lines (reruns count again).",
    "journal_rows_quarantined": "Transactions written to ledger.quarantine (reruns count again).",
    "journal_rows_flagged": "Transactions scored with a risk above 0 in ledger.fraud_scores (reruns count again).",
}
_RUN_EVENTS: Final = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
}
# A run's update time is written by whichever process finishes it; reading a little before the newest one
# seen catches a run that committed late or on a skewed clock (each run is still counted once).
_OVERLAP: Final = dt.timedelta(minutes=10)
_PAGE: Final = 500
_LAST_SEALED_DAY: Final = "SELECT max(partition_date) FROM audit.seals"


@dataclass
class Histogram:
    """Cumulative bucket counts, as Prometheus exposes them."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(DURATION_BUCKETS):
            if value <= bound:
                self.buckets[index] += 1
        self.count += 1
        self.total += value

    def exposed(self) -> list[tuple[str, float]]:
        return [*((str(bound), count) for bound, count in zip(DURATION_BUCKETS, self.buckets, strict=True)),
                ("+Inf", self.count)]  # fmt: skip


@dataclass
class RunHistory:
    """Figures over every finished run of the instance, each run read once (:meth:`update`)."""

    durations: defaultdict[tuple[str, str], Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    runs: Counter[tuple[str, str]] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set)
    _newest: dt.datetime | None = None

    def update(self, instance: dg.DagsterInstance) -> int:
        """Read the runs that finished since the last update; return how many were new."""
        after = self._newest - _OVERLAP if self._newest else None
        added = 0
        while True:
            records = instance.get_run_records(
                filters=dg.RunsFilter(statuses=FINISHED, updated_after=after),
                order_by="update_timestamp",
                ascending=True,
                limit=_PAGE,
            )
            for record in records:
                run = record.dagster_run
                if run.run_id not in self._seen:
                    self._add(instance, run)
                    self._seen.add(run.run_id)
                    added += 1
                if self._newest is None or record.update_timestamp > self._newest:
                    self._newest = record.update_timestamp
            if len(records) < _PAGE:
                return added
            after = records[-1].update_timestamp

    def _add(self, instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
        records = instance.get_records_for_run(run.run_id, of_type=_RUN_EVENTS).records  # read all, then count
        job = run.job_name
        self.runs[(job, run.status.value)] += 1
        if run.status == dg.DagsterRunStatus.FAILURE:
            self.errors[(job, "run_failure")] += 1
        metadata_seen: set[str] = set()  # a ranged run materializes each day with the same metadata: count it once
        for record in records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                self.durations[(job, event.step_key or "")].observe(event.event_specific_data.duration_ms / 1000)
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                self.errors[(job, "step_failure")] += 1
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                    self.errors[(job, "check_failure")] += 1
            elif event.asset_key is not None:
                asset = event.asset_key.to_user_string()
                if asset not in metadata_seen:
                    metadata_seen.add(asset)
                    self._count_rows(asset, event.event_specific_data.materialization.metadata)

    def _count_rows(self, asset: str, metadata: Mapping[str, object]) -> None:
        for metric, (source, key) in ROW_COUNTERS.items():
            if source == asset and key in metadata:
                value = metadata[key]
                self.rows[metric] += int(getattr(value, "value", value))  # type: ignore[call-overload]


def last_sealed_day(conninfo: str) -> dt.date | None:
    with connect(conninfo, application_name="journal-pipeline metrics") as conn:
        conn.read_only = True
        row = conn.execute(_LAST_SEALED_DAY).fetchone()
    return row[0] if row else None


class PipelineCollector(Collector):
    """Computes the metrics at scrape time (prometheus_client calls :meth:`collect` once per scrape)."""

    def __init__(self, instance: dg.DagsterInstance, ledger_conninfo: str) -> None:
        self._instance = instance
        self._ledger_conninfo = ledger_conninfo
        self._history = RunHistory()
        self._lock = threading.Lock()  # the HTTP server answers scrapes on several threads
        self.sources_up: dict[str, bool] = {}  # as of the last scrape

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to query when the collector is registered

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            up = GaugeMetricFamily("journal_metrics_source_up", "1 when the source was read at this scrape.",
                                   labels=["source"])  # fmt: skip
            try:
                self._history.update(self._instance)
                self.sources_up["dagster"] = True
            except Exception:  # keep serving what is known; the gauge and the log say what is missing
                log.exception("journal-pipeline metrics: cannot read the Dagster instance")
                self.sources_up["dagster"] = False
            yield from self._run_metrics()
            sealed = None
            try:
                sealed = last_sealed_day(self._ledger_conninfo)
                self.sources_up["ledger"] = True
            except (psycopg.Error, ConnectionError) as exc:
                log.warning("journal-pipeline metrics: cannot read the ledger: %s", exc)
                self.sources_up["ledger"] = False
            last_sealed = GaugeMetricFamily(
                "journal_last_sealed_day_timestamp_seconds",
                "The latest day with an audit seal, as the Unix time of its midnight UTC (absent: none yet).",
            )
            if sealed is not None:
                last_sealed.add_metric([], dt.datetime.combine(sealed, dt.time(), tzinfo=dt.UTC).timestamp())
            yield last_sealed
            for source, is_up in self.sources_up.items():
                up.add_metric([source], 1 if is_up else 0)
            yield up

    def _run_metrics(self) -> Iterator[Metric]:
        history = self._history
        seconds = HistogramMetricFamily(
            "journal_process_seconds", "Seconds each successful step took, per job and step.", labels=["job", "step"]
        )
        for (job, step), histogram in sorted(history.durations.items()):
            seconds.add_metric([job, step], histogram.exposed(), sum_value=histogram.total)
        yield seconds
        errors = CounterMetricFamily(
            "journal_errors",
            "Failed runs, failed steps and failed asset checks, per job and kind.",
            labels=["job", "kind"],
        )
        for (job, kind), count in sorted(history.errors.items()):
            errors.add_metric([job, kind], count)
        yield errors
        runs = CounterMetricFamily("journal_runs", "Finished runs, per job and status.", labels=["job", "status"])
        for (job, status), count in sorted(history.runs.items()):
            runs.add_metric([job, status], count)
        yield runs
        for metric in ROW_COUNTERS:
            yield CounterMetricFamily(metric, ROW_HELP[metric], value=history.rows[metric])


def registry_for(instance: dg.DagsterInstance, ledger_conninfo: str) -> tuple[CollectorRegistry, PipelineCollector]:
    registry = CollectorRegistry(auto_describe=False)
    collector = PipelineCollector(instance, ledger_conninfo)
    registry.register(collector)
    return registry, collector


def exposition(registry: CollectorRegistry) -> str:
    """The metrics in Prometheus' text format, as a scrape would get them."""
    return generate_latest(registry).decode()


def serve(registry: CollectorRegistry, host: str, port: int) -> None:
    """Serve ``/metrics`` on host:port until interrupted."""
    _server, thread = start_http_server(port, addr=host, registry=registry)
    thread.join()
