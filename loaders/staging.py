"""The bulk load's staging folders under the home, and the importer a killed bulk
load may leave running.

A bulk load (loaders/bulk.py) writes the importer's CSV files into
``$CREDGRAPH_HOME/import-staging/<load id>/`` and notes there which process imports
(``importer.pid``: pid and start time; the importer runs in a session of its own).
A bulk load killed outright (SIGKILL) leaves both: the folder, a full copy of its
input, and possibly the importer, which goes on for minutes. The next writer that
holds the lease, a bulk load or an online one (loaders/load.py), stops that importer
and removes the folder (:func:`remove_stale_staging`).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from contextlib import suppress
from pathlib import Path

from credgraph.graph.managed.server import ManagedServer, process_started

STAGING = "import-staging"
IMPORTER_PID = "importer.pid"


def note_importer(folder: Path, pid: int) -> None:
    """Write which process imports into ``folder`` (pid and start time), so that the
    next bulk load can stop it if this one is killed outright (SIGKILL: the importer
    runs in a session of its own and would go on for minutes beside a new one)."""
    started = process_started(pid, live=True)
    if started is not None:
        fd = os.open(folder / IMPORTER_PID, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{pid} {started}\n")


def _stop_orphan_importer(folder: Path) -> None:
    """Kill the importer a killed bulk load left running in ``folder`` (its whole
    session), if that very process still runs (same pid and start time)."""
    try:
        pid, started = map(int, (folder / IMPORTER_PID).read_text().split())
    except (OSError, ValueError):
        return
    # a zombie (killed, not yet reaped) is gone: live=True
    if pid <= 1 or process_started(pid, live=True) != started:
        return
    try:
        os.killpg(pid, signal.SIGKILL)  # its own session: the process group is its pid
    except OSError:
        return
    for _ in range(100):  # reaped by init; gone from /proc within moments
        if process_started(pid, live=True) != started:
            return
        time.sleep(0.05)


def remove_stale_staging(server: ManagedServer, keep: Path | None = None) -> list[str]:
    """Remove the staging folders of bulk loads that were killed, after stopping an
    importer such a load left running; returns their names (load ids). Only for a
    writer that holds the lease (then no bulk load stages), with ``keep`` its own
    folder: the next bulk load, and the next online load too (a killed bulk load's
    staging is a full copy of its input, which would otherwise stay in the home)."""
    staging = server.home / STAGING
    removed: list[str] = []
    if staging.is_dir():
        for other in sorted(staging.iterdir()):
            if other != keep:
                _stop_orphan_importer(other)
                shutil.rmtree(other, ignore_errors=True)
                removed.append(other.name)
        if keep is None:
            with suppress(OSError):
                staging.rmdir()
    return removed
