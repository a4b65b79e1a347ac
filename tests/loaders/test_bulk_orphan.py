"""An importer left running by a bulk load killed outright is stopped, and its staging
folder removed, by the next bulk load or online load (real processes in sessions of
their own, as the importer runs; only the online load needs the database)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.loaders import staging as stage
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from tests.conftest import make_settings


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "300"], start_new_session=True)


def _gone(proc: subprocess.Popen[bytes]) -> bool:
    for _ in range(100):
        if proc.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_the_next_bulk_load_stops_an_orphaned_importer(tmp_path: Path) -> None:
    server = ManagedServer(make_settings(tmp_path / "home", 7999))
    staging = server.home / stage.STAGING
    killed, keep = staging / "load-killed", staging / "load-now"
    for folder in (killed, keep):
        folder.mkdir(parents=True)
    orphan, ours = _sleeper(), _sleeper()
    try:
        stage.note_importer(killed, orphan.pid)
        stage.note_importer(keep, ours.pid)
        assert (killed / stage.IMPORTER_PID).stat().st_mode & 0o777 == 0o600
        stage.remove_stale_staging(server, keep)
        assert _gone(orphan), "the orphaned importer still runs"
        assert not killed.exists() and keep.is_dir()
        assert ours.poll() is None  # the running load's own importer is left alone
    finally:
        for p in (orphan, ours):
            p.kill()
            p.wait()


def test_a_pid_reused_by_another_process_is_left_alone(tmp_path: Path) -> None:
    server = ManagedServer(make_settings(tmp_path / "home", 7999))
    folder = server.home / stage.STAGING / "load-killed"
    folder.mkdir(parents=True)
    other = _sleeper()
    try:
        # the pid file names this pid, but a process that started at another time
        (folder / stage.IMPORTER_PID).write_text(f"{other.pid} 1\n")
        stage.remove_stale_staging(server, server.home / stage.STAGING / "load-now")
        assert other.poll() is None and not folder.exists()
        (folder.parent / "load-bad").mkdir()
        (folder.parent / "load-bad" / stage.IMPORTER_PID).write_text("not a pid")
        stage.remove_stale_staging(server, server.home / stage.STAGING / "load-now")
        assert other.poll() is None and not (folder.parent / "load-bad").exists()
    finally:
        other.kill()
        other.wait()


@pytest.mark.integration
def test_an_online_load_clears_what_a_killed_bulk_load_left(
    gateway: Gateway, tmp_path: Path
) -> None:
    """A bulk load killed before its swap leaves its staged copy of the input (and maybe
    its importer) in the home; the next writer may well load online (the database is
    no longer empty, or --bulk failed): that load, under the lease, clears them too."""
    server = ManagedServer(gateway.settings)
    staging = server.home / stage.STAGING
    killed = staging / "load-killed"
    killed.mkdir(parents=True)
    (killed / "persons.csv").write_text('"P1","a name"\n')
    orphan = _sleeper()
    data = tmp_path / "data"
    generate(data, 20, 1, "csv")
    try:
        stage.note_importer(killed, orphan.pid)
        report = load(gateway, data, source="s", rejects_path=tmp_path / "r.csv")
        assert report.outcome == "completed"
        assert _gone(orphan), "the orphaned importer still runs"
        assert not staging.exists()
        assert any("load-killed" in n for n in report.notes)
    finally:
        orphan.kill()
        orphan.wait()
