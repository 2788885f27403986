"""CPU time spent on a piece of benchmarked work: by the PostgreSQL server and by this process.

Wall time says how long a day took; CPU time says how much work it was, and on a machine of
``n`` cores no schedule can finish ``w`` core-seconds of work in less than ``w / n`` seconds of
wall time. The benchmark reads both around the pipeline's day and around the floor, so that its
table shows how much of the pipeline/floor ratio is work that has to be done somewhere.

The server's CPU time is read from ``/proc`` (Linux) when the server runs on this machine: the
postmaster is the parent of the backend serving a connection, and the server's time is the
postmaster's own, that of its live children (backends, parallel workers, the checkpointer, the
WAL writer) and that of the children it has already reaped (``cutime``/``cstime``, where a backend
that exits mid-measurement ends up). A server elsewhere reads as ``None``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SETTLE_S = 0.05
SETTLE_TRIES = 20


@dataclass(frozen=True)
class CpuReading:
    """Cumulative CPU seconds at one moment: the server's (None if unreadable) and this process's."""

    server_s: float | None
    process_s: float


@dataclass(frozen=True)
class CpuSpent:
    """CPU seconds spent between two readings."""

    server_s: float | None
    process_s: float

    @property
    def total_s(self) -> float | None:
        return None if self.server_s is None else self.server_s + self.process_s


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards), or None."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _is_postgres(pid: int) -> bool:
    try:
        return (_PROC / str(pid) / "comm").read_text().strip() == "postgres"
    except OSError:
        return False


def local_postmaster(url: str) -> int | None:
    """The process id of the postmaster serving ``url`` if it runs on this machine, else None."""
    with psycopg.connect(url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        if not _is_postgres(backend):  # a server elsewhere (or the id is another process's here)
            return None
        fields = _stat_fields(backend)
    if fields is None:
        return None
    parent = int(fields[1])
    return parent if _is_postgres(parent) else None


def _server_seconds(postmaster: int) -> float | None:
    own = _stat_fields(postmaster)
    if own is None:
        return None
    ticks = sum(map(int, own[11:15]))  # utime, stime, cutime, cstime
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICKS


class CpuMeter:
    """Reads the server's and this process's cumulative CPU seconds; subtract two readings."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster

    @classmethod
    def for_server(cls, url: str) -> CpuMeter:
        return cls(local_postmaster(url))

    def read(self) -> CpuReading:
        """The seconds so far. A backend whose connection has just closed may still be exiting, its
        time neither in /proc nor yet in the postmaster's ``cutime``: the server's figure is read
        again every SETTLE_S until it stops changing (at most SETTLE_TRIES times)."""
        times = os.times()
        process = times.user + times.system
        if self.postmaster is None:
            return CpuReading(server_s=None, process_s=process)
        server = _server_seconds(self.postmaster)
        for _ in range(SETTLE_TRIES):
            time.sleep(SETTLE_S)
            again = _server_seconds(self.postmaster)
            if again == server:
                break
            server = again
        return CpuReading(server_s=server, process_s=process)

    @staticmethod
    def spent(start: CpuReading, end: CpuReading) -> CpuSpent:
        server = None if start.server_s is None or end.server_s is None else end.server_s - start.server_s
        return CpuSpent(server_s=server, process_s=end.process_s - start.process_s)
