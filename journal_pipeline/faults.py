"""Test-only fault injection: stop a run at a named point, to prove what a crash there leaves behind.

The reliability tests (journal_pipeline_tests/test_reliability_crash.py) kill a run with SIGKILL
at each step, in the middle of the posting's COPY, just before and just after its COMMIT and in
the middle of sealing, and then check that the ledger and the audit chain are intact. Those
moments last microseconds and cannot be hit by timing a signal, so the code calls
:func:`fault_point` there; by default that is one environment look-up and nothing else.

It acts only when **both** variables are set, so that it cannot be turned on by accident:

- ``JOURNAL_FAULT_INJECTION``: ``<point>[#<n>]:<action>``, e.g. ``gl_postings.commit:pause`` or
  ``audit_seals.seal#2:kill``;
- ``JOURNAL_FAULT_INJECTION_ARMED``: exactly ``ARMING_PHRASE`` ("test-only: kill my runs").

``#n`` fires at the n-th time the process reaches the point (default: the first). Actions:
``kill`` sends SIGKILL to the process itself; ``pause`` prints ``fault injection: paused at
<point> (pid <pid>)`` on stderr and waits to be killed from outside (the tests use it to look at
the database mid-flight before they send SIGKILL), killing itself after ``PAUSE_LIMIT_S`` so that
a forgotten process never lingers. An unknown point or action is refused with a message rather
than silently never firing; ``JOURNAL_FAULT_INJECTION`` without the arming variable is ignored
with a warning.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections import Counter
from typing import Final

FAULT_ENV: Final = "JOURNAL_FAULT_INJECTION"
ARMED_ENV: Final = "JOURNAL_FAULT_INJECTION_ARMED"
ARMING_PHRASE: Final = "test-only: kill my runs"
PAUSE_LIMIT_S: Final = 600

# Every point the code calls, and where it is. "<asset>.connect" is reached through
# journal_pipeline.db.connection.connect() when a step opens its (first) database connection,
# "<asset>.copy" through journal_pipeline.db.copy.copy_from_polars() in the middle of a COPY.
POINTS: Final = {
    "source_transactions.connect": "extract: before the source is read",
    "journal_lines.connect": "transform: lines computed, before their audit event",
    "vouchers.connect": "vouchers: headers built, before their audit event",
    "gl_postings.connect": "posting: before the posting transaction starts",
    "gl_postings.copy": "posting: in the middle of the first COPY (its first rows sent, the COPY not ended)",
    "gl_postings.commit": "posting: rows written and checked, before COMMIT",
    "gl_postings.committed": "posting: after COMMIT, before the step's audit events",
    "fraud_scores.connect": "fraud: scores computed, before they are written",
    "audit_seals.connect": "sealing: before the first day is sealed",
    "audit_seals.seal": "sealing: a day's seal and leaves inserted, its event and COMMIT not yet",
}
ACTIONS: Final = ("kill", "pause")

_reached: Counter[str] = Counter()
_log = logging.getLogger(__name__)


class FaultInjectionError(ValueError):
    """JOURNAL_FAULT_INJECTION names a point or action that does not exist."""


def parse(spec: str) -> tuple[str, int, str]:
    """``point[#n]:action`` as (point, n, action); refuses anything else with the valid choices."""
    target, _, action = spec.strip().rpartition(":")
    point, _, nth = target.partition("#")
    if point not in POINTS or action not in ACTIONS or (nth and not nth.isdigit()) or nth == "0":
        raise FaultInjectionError(
            f"{FAULT_ENV}={spec!r} is not <point>[#n]:<action>; points: {', '.join(POINTS)}; actions: "
            f"{', '.join(ACTIONS)}"
        )
    return point, int(nth or 1), action


def _current_asset() -> str | None:
    """The Dagster asset whose step is running in this thread, if any (only asked when armed)."""
    import dagster as dg

    try:
        return dg.AssetExecutionContext.get().asset_key.to_user_string()
    except dg.DagsterInvariantViolationError:
        return None


def fault_point(name: str) -> None:
    """Reach the point ``name``: nothing happens unless fault injection is armed and names it.

    ``name`` is a key of POINTS, or ``"connect"`` or ``"copy"``, which stand for
    ``<current asset>.connect`` and ``<current asset>.copy``.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    if os.environ.get(ARMED_ENV) != ARMING_PHRASE:
        if not _reached["<unarmed>"]:
            _log.warning("%s is set but %s is not: fault injection ignored", FAULT_ENV, ARMED_ENV)
        _reached["<unarmed>"] += 1
        return
    point, nth, action = parse(spec)
    if name in ("connect", "copy"):
        asset = _current_asset()
        if asset is None:
            return
        name = f"{asset}.{name}"
    _reached[name] += 1
    if name != point or _reached[name] != nth:
        return
    verb = "paused" if action == "pause" else "killed"
    print(f"fault injection: {verb} at {name} (pid {os.getpid()})", file=sys.stderr, flush=True)
    if action == "pause":
        deadline = time.monotonic() + PAUSE_LIMIT_S
        while time.monotonic() < deadline:
            time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGKILL)
