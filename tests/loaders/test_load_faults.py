"""A load killed half-way (SIGKILL) and run again ends exactly as one clean load."""

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

VOLATILE = {"loaded_at", "load_id"}


def content(gw: Gateway) -> dict[str, Any]:
    """The graph's data and provenance, less the fields that name a particular load.

    Fully sorted (not just by ids): two GUARANTEES may join the same guarantor and loan.
    """

    def clean(props: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if k not in VOLATILE}

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
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_into_relationships(gw: Gateway, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        n = gw.read("MATCH ()-[r:DIRECTOR_OF|OWNS|LENT]->() RETURN count(r) AS n")[0]["n"]
        if n > 2000:
            return
        time.sleep(0.05)
    raise AssertionError("the load finished before the fault could be injected")


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

    report = load(gateway, data, source="s", rejects_path=tmp_path / "r2.csv")
    assert report.outcome == "completed"
    assert content(gateway) == clean
    assert orphans(gateway) == 0


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
