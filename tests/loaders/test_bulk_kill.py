"""A bulk load killed (SIGKILL) or stopped (SIGTERM) at each step of its store swap.

The swap is journaled (loaders/bulk.py, graph/managed/server.py); the bulk
module's test hook ``CREDGRAPH_TEST_BULK_STEP=<step>:<crash|pause>`` stops the
load at a step. Afterwards the server starts, the store is whole (the one before
the load, or the imported one once the swap was committed), the load is marked,
and a rerun completes. A server of its own: these tests stop and start it often.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import Lease
from credgraph.graph.loads import mark_interrupted
from credgraph.graph.managed import ManagedServer
from credgraph.loaders import bulk
from credgraph.loaders.bulk import bulk_load
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from tests.conftest import free_port, make_settings, wipe
from tests.loaders.test_load_faults import content

pytestmark = pytest.mark.integration

SUBJECTS = 60
BEFORE_COMMIT = ["journal", "stopped", "rename-1", "rename-2", "rename-3", "rename-4"]
BEFORE_COMMIT += ["started", "restored", "recorded"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    s = ManagedServer(make_settings(tmp_path_factory.mktemp("bulk-kill-home"), free_port()))
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bulk-kill-data")
    generate(folder, SUBJECTS, 5, "csv")
    return folder


@pytest.fixture(scope="module")
def expected(server: ManagedServer, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The graph one online load of ``data`` gives."""
    with Gateway(server.settings) as gw:
        wipe(gw)
        load(gw, data, source="s", rejects_path=tmp_path_factory.mktemp("r") / "r.csv")
        snap = content(gw)
        wipe(gw)
    return snap


@pytest.fixture
def gw(server: ManagedServer) -> Iterator[Gateway]:
    server.start()
    with Gateway(server.settings) as g:
        wipe(g)
        yield g


def start_bulk(
    server: ManagedServer, data: Path, rejects: Path, hook: str
) -> subprocess.Popen[str]:
    env = dict(os.environ)
    s = server.settings
    env.update(
        CREDGRAPH_HOME=str(s.home),
        CREDGRAPH_BOLT_PORT=str(s.bolt_port),
        CREDGRAPH_HEAP=s.heap,
        CREDGRAPH_PAGECACHE=s.pagecache,
    )
    env[bulk.TEST_HOOK] = hook
    cmd = [sys.executable, "-m", "credgraph.cli.main", "load", str(data), "--bulk"]
    cmd += ["--source", "s", "--rejects", str(rejects)]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_paused(proc: subprocess.Popen[str], step: str) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if f"credgraph-test-hook: paused at {step}" in line:
            return
    raise AssertionError(f"the load never paused at {step} (exit {proc.poll()})")


def records(gw: Gateway) -> dict[str, str]:
    rows = gw.read("MATCH (l:Load) RETURN l.id AS id, l.outcome AS o")
    return {r["id"]: r["o"] for r in rows}


def assert_clean_home(server: ManagedServer) -> None:
    assert not server.journal_file.exists()
    assert not (server.home / bulk.STAGING).exists() or not any(
        (server.home / bulk.STAGING).iterdir()
    )


@pytest.mark.parametrize("step", [*BEFORE_COMMIT, "committed"])
def test_sigkill_at_each_step_of_the_swap(
    server: ManagedServer, gw: Gateway, data: Path, expected: Any, tmp_path: Path, step: str
) -> None:
    proc = start_bulk(server, data, tmp_path / "r.csv", f"{step}:crash")
    assert proc.wait(timeout=300) == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert server.journal_file.exists()  # the swap had begun and not ended

    # `credgraph neo4j start`: a new server object, as a new process would make
    status = ManagedServer(server.settings).start()
    assert status["running"]
    assert_clean_home(server)
    with Gateway(server.settings) as after:
        (load_id, outcome), *more = records(after).items()
        assert not more
        if step == "committed":  # finished: the imported store, the load completed
            assert outcome == "completed"
            assert content(after) == expected
            report = load(after, data, source="s", rejects_path=tmp_path / "r2.csv")
            assert report.outcome == "completed" and report.written == sum(
                f.unchanged for f in report.files
            )
            return
        # rolled back: the store of before the load, whose record still says running
        assert outcome == "running"
        assert content(after) == {"nodes": [], "rels": []}
        if step in ("rename-2", "started"):  # a rerun (the next writer) marks it, completes
            report = bulk_load(server, data, source="s", rejects_path=tmp_path / "r2.csv")
            after.read("RETURN 1 AS one")
            assert report.outcome == "completed"
            assert records(after) == {load_id: "interrupted", report.load_id: "completed"}
            assert content(after) == expected
        else:  # the next writer, in short
            with Lease(after, "load-next", "load"):
                assert mark_interrupted(after, "load-next") == [load_id]


@pytest.mark.parametrize("step", ["rename-2", "recorded", "committed"])
def test_sigterm_at_a_step_of_the_swap(
    server: ManagedServer, gw: Gateway, data: Path, expected: Any, tmp_path: Path, step: str
) -> None:
    """SIGTERM: the swap is rolled back on the spot (committed: finished), the server
    runs on a whole store, the record says so, the lease is free, the exit code 143."""
    proc = start_bulk(server, data, tmp_path / "r.csv", f"{step}:pause")
    wait_paused(proc, step)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=300)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert_clean_home(server)
    assert server.status()["running"]
    with Gateway(server.settings) as after:
        (load_id, outcome), *more = records(after).items()
        assert not more
        lease = after.read("MATCH (l:Lease) RETURN l.holder AS holder")
        assert lease == [{"holder": None}]
        if step == "committed":
            assert code == 0, stderr
            assert outcome == "completed" and content(after) == expected
            return
        assert code == 128 + signal.SIGTERM, stderr
        assert "interrupted by SIGTERM" in stderr and "rolled back" in stderr
        assert outcome == "interrupted"
        assert content(after) == {"nodes": [], "rels": []}
        if step == "rename-2":
            report = bulk_load(server, data, source="s", rejects_path=tmp_path / "r2.csv")
            after.read("RETURN 1 AS one")
            assert report.outcome == "completed" and content(after) == expected
