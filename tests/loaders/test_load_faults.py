"""A load killed half-way (SIGKILL) or stopped by a signal (SIGTERM, SIGHUP), and run
again, ends exactly as one clean load; the stopped load's record says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.model import not_bookkeeping
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from tests.conftest import wipe

pytestmark = pytest.mark.integration

VOLATILE = {"load"}  # the Load record's number: provenance by reference


def content(gw: Gateway, volatile: frozenset[str] | set[str] = VOLATILE) -> dict[str, Any]:
    """The graph's data and provenance, less the fields that name a particular load.

    Fully sorted (not just by ids): two GUARANTEES may join the same guarantor and loan.
    """

    def clean(props: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if k not in volatile}

    nodes = gw.read(
        "MATCH (n) WHERE " + not_bookkeeping("n") + " "
        "RETURN labels(n) AS labels, properties(n) AS props"
    )
    rels = gw.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS props"
    )

    def order(item: Any) -> str:
        return json.dumps(item, sort_keys=True, default=repr)

    return {
        "nodes": sorted(((sorted(n["labels"]), clean(n["props"])) for n in nodes), key=order),
        "rels": sorted(((r["a"], r["t"], r["b"], clean(r["props"])) for r in rels), key=order),
    }


def orphans(gw: Gateway) -> int:
    rows = gw.read(
        "MATCH (l:Loan) WHERE NOT (l)<-[:LENT]-() OR NOT (l)<-[:BORROWED]-() "
        "RETURN count(l) AS n UNION ALL "
        "MATCH (b:BlacklistEntry) WHERE NOT (b)<-[:LISTED]-() RETURN count(b) AS n"
    )
    return sum(r["n"] for r in rows)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    generate(folder, 4000, 11, "csv")
    return folder


@pytest.fixture(scope="module")
def clean(data: Path, session_gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The graph after one clean load of ``data``."""
    wipe(session_gateway)
    load(session_gateway, data, source="s", rejects_path=tmp_path_factory.mktemp("r") / "r.csv")
    snap = content(session_gateway)
    assert snap["nodes"] and orphans(session_gateway) == 0
    return snap


def start_load(server: ManagedServer, data: Path, rejects: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        CREDGRAPH_HOME=str(server.home),
        CREDGRAPH_BOLT_PORT=str(server.port),
        CREDGRAPH_BATCH_SIZE="200",
    )
    cmd = [sys.executable, "-m", "credgraph.cli.main", "load", str(data), "--source", "s"]
    cmd += ["--rejects", str(rejects)]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # A signal ignored here (pytest under nohup) would stay ignored by the load.
        preexec_fn=_default_stop_signals,
    )


def _default_stop_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def wait_until_into_relationships(gw: Gateway, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 900  # generous: a busy machine is slow, not wrong
    while time.monotonic() < deadline and proc.poll() is None:
        n = gw.read("MATCH ()-[r:DIRECTOR_OF|OWNS|LENT]->() RETURN count(r) AS n")[0]["n"]
        if n > 2000:
            return
        time.sleep(0.05)
    code = proc.poll()
    if code is None:
        raise AssertionError("the load did not reach its relationships in time")
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    raise AssertionError(f"the load ended (exit {code}) before the fault could be injected: {err}")


def test_killed_load_then_rerun_equals_clean_load(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path, data: Path, clean: Any
) -> None:
    wipe(gateway)
    proc = start_load(neo4j_server, data, tmp_path / "r1.csv")
    wait_until_into_relationships(gateway, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = content(gateway)
    assert 0 < len(partial["rels"]) < len(clean["rels"])
    assert orphans(gateway) == 0  # a record and its relationships commit together
    loads = gateway.read("MATCH (l:Load) RETURN l.outcome AS o")
    assert loads == [{"o": "running"}]  # the killed load says it never finished

    killed = gateway.read("MATCH (l:Load) RETURN l.id AS id")[0]["id"]

    report = load(gateway, data, source="s", rejects_path=tmp_path / "r2.csv")
    assert report.outcome == "completed"
    assert content(gateway) == clean
    assert orphans(gateway) == 0
    # the next writer found the killed load still "running" and marked it
    marked = gateway.read(
        "MATCH (l:Load {id: $id}) RETURN l.outcome AS o, l.note AS note", id=killed
    )
    assert marked[0]["o"] == "interrupted" and report.load_id in marked[0]["note"]
    assert any(killed in note for note in report.notes)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signalled_load_ends_cleanly_then_rerun_equals_clean_load(
    gateway: Gateway,
    neo4j_server: ManagedServer,
    tmp_path: Path,
    data: Path,
    clean: Any,
    sig: signal.Signals,
) -> None:
    """SIGTERM or SIGHUP: the batches in flight commit, the record says "interrupted"
    with what was written, the lease is free, the exit code is 128 + the signal."""
    wipe(gateway)
    proc = start_load(neo4j_server, data, tmp_path / "r1.csv")
    wait_until_into_relationships(gateway, proc)
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 128 + sig, stderr
    assert f"interrupted by {sig.name}" in stderr and "'interrupted'" in stderr
    assert "internal error" not in stderr
    assert orphans(gateway) == 0
    rec = gateway.read("MATCH (l:Load) RETURN properties(l) AS p")
    assert len(rec) == 1
    p = rec[0]["p"]
    assert p["outcome"] == "interrupted" and p["ended_at"] is not None
    files = json.loads(p["files"])
    written = sum(f["created"] + f["updated"] + f["unchanged"] for f in files)
    partial = content(gateway)
    assert (
        0
        < written
        == len(partial["nodes"])
        + sum(1 for r in partial["rels"] if r[1] not in ("LENT", "BORROWED", "LISTED"))
    )
    lease = gateway.read("MATCH (l:Lease) RETURN l.holder AS holder")
    assert lease == [{"holder": None}]  # released, not left to age out

    report = load(gateway, data, source="s", rejects_path=tmp_path / "r2.csv")
    assert report.outcome == "completed"
    assert content(gateway) == clean
    assert not any("marked interrupted" in note for note in report.notes)  # nothing stale


def test_neo4j_restarted_under_the_load_then_rerun_equals_clean_load(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path, data: Path, clean: Any
) -> None:
    wipe(gateway)
    proc = start_load(neo4j_server, data, tmp_path / "r1.csv")
    wait_until_into_relationships(gateway, proc)
    neo4j_server.stop()
    neo4j_server.start()
    code = proc.wait(timeout=300)
    # The driver retries transient failures for a while: the load may have survived
    # the restart (0) or stopped with a database error (1). Either way, no orphans.
    assert code in (0, 1), proc.stderr.read() if proc.stderr else ""
    if code == 1:
        assert b"error:" in (proc.stderr.read() if proc.stderr else b"")
    assert orphans(gateway) == 0
    report = load(gateway, data, source="s", rejects_path=tmp_path / "r2.csv")
    assert report.outcome == "completed"
    assert content(gateway) == clean
