"""The benchmark's CPU meter on the embedded server: it finds the postmaster serving a connection,
and work done by the server, even by a backend that has exited since, is counted as the server's."""

from __future__ import annotations

import os

import psycopg

from journal_pipeline.bench_cpu import CpuMeter, local_postmaster

# enough server work to be seen at the kernel's 100 ticks a second, whatever the machine
WORK = "SELECT count(*) FROM generate_series(1, 3000000) AS n WHERE n % 7 = 0"


def test_finds_the_postmaster_of_the_local_server(server_url):
    postmaster = local_postmaster(server_url)
    assert postmaster is not None and postmaster != os.getpid()
    with psycopg.connect(server_url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with open(f"/proc/{backend}/stat") as stat:
            assert int(stat.read().rsplit(")", 1)[1].split()[1]) == postmaster


def test_counts_the_work_of_a_backend_that_has_exited(server_url):
    meter = CpuMeter.for_server(server_url)
    start = meter.read()
    with psycopg.connect(server_url) as conn:  # closed, its backend gone, before the second reading
        assert conn.execute(WORK).fetchone()[0] == 3000000 // 7
    spent = meter.spent(start, meter.read())
    assert spent.server_s is not None and spent.server_s > 0
    assert spent.total_s == spent.server_s + spent.process_s


def test_a_server_elsewhere_reads_as_unknown():
    meter = CpuMeter(postmaster=None)
    spent = meter.spent(meter.read(), meter.read())
    assert spent.server_s is None and spent.total_s is None and spent.process_s >= 0
