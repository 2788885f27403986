"""The Prometheus exporter (journal_pipeline/metrics.py) against real runs in a Dagster instance and the
embedded PostgreSQL; test_operations_deployment.py scrapes it over HTTP in the production shape."""

from __future__ import annotations

import re

import dagster as dg
import yaml
from prometheus_client.parser import text_string_to_metric_families

from journal_pipeline import metrics
from journal_pipeline.config import project_root
from journal_pipeline.db.connection import with_database
from journal_pipeline.metrics import exposition, registry_for
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases
from journal_pipeline_tests.conftest import Database

ALERT_RULES = project_root() / "deploy" / "journal-pipeline-alerts.yml"


def families(text: str) -> dict[str, dict[tuple, float]]:
    """{family: {(sample name, sorted labels): value}}, as Prometheus parses the exposition."""
    return {
        family.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def documented() -> set[str]:
    """The metric names of the table in journal_pipeline/metrics.py's docstring."""
    return set(re.findall(r"^\| ``([a-z_]+)`` \|", metrics.__doc__ or "", flags=re.MULTILINE))


def test_every_documented_metric_is_exported_and_every_alert_rule_uses_exported_ones(
    db: Database, instance: dg.DagsterInstance
) -> None:
    registry, _ = registry_for(instance, db.pipeline_url)
    text = exposition(registry)
    exported = set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))
    sample_names = exported | {
        f"{name}_{suffix}" for name in exported for suffix in ("total", "bucket", "count", "sum")
    }
    assert len(documented()) == 8 and documented() <= sample_names
    rules = yaml.safe_load(ALERT_RULES.read_text())["groups"][0]["rules"]
    used = {name for rule in rules for name in re.findall(r"\b(journal_[a-z_]+)\b", rule["expr"])}
    assert used and used <= sample_names, used - sample_names


def test_the_counters_count_each_run_once_and_survive_a_restart(db: Database, instance: dg.DagsterInstance) -> None:
    with db.connect() as conn:
        cases.load_cases(conn)
    registry, collector = registry_for(instance, db.pipeline_url)
    assert families(exposition(registry))["journal_rows_posted"] == {("journal_rows_posted_total", ()): 0.0}

    # one run over both days: each day's materialization carries the run's figures, counted once
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    scraped = families(exposition(registry))
    assert scraped["journal_rows_posted"] == {("journal_rows_posted_total", ()): 20.0}
    assert scraped["journal_rows_quarantined"] == {("journal_rows_quarantined_total", ()): 16.0}
    assert scraped["journal_runs"] == {("journal_runs_total", (("job", "daily_journal_job"), ("status", "SUCCESS"))): 1}
    assert families(exposition(registry)) == scraped  # a second scrape reads nothing twice

    # a rerun posts the same rows again: the counters count work done
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    assert families(exposition(registry))["journal_rows_posted"] == {("journal_rows_posted_total", ()): 40.0}
    # a new exporter (a restart) recomputes the same figures from the instance's history
    restarted, _ = registry_for(instance, db.pipeline_url)
    assert families(exposition(restarted)) == families(exposition(registry))
    assert collector.sources_up == {"dagster": True, "ledger": True}


def test_a_ledger_it_cannot_read_is_reported_and_the_rest_still_served(
    db: Database, instance: dg.DagsterInstance
) -> None:
    unreachable = with_database(db.pipeline_url, "no_such_database")
    registry, collector = registry_for(instance, unreachable)
    scraped = families(exposition(registry))
    assert scraped["journal_metrics_source_up"] == {
        ("journal_metrics_source_up", (("source", "dagster"),)): 1.0,
        ("journal_metrics_source_up", (("source", "ledger"),)): 0.0,
    }
    assert scraped["journal_last_sealed_day_timestamp_seconds"] == {}
    assert scraped["journal_rows_posted"] == {("journal_rows_posted_total", ()): 0.0}
    assert collector.sources_up == {"dagster": True, "ledger": False}
