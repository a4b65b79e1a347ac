"""A load killed half-way (SIGKILL) and run again ends exactly as one clean load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from graph.gateway import Gateway
from graph.managed import ManagedServer
from loaders.generate import generate
from loaders.load import load
from tests.conftest import wipe

pytestmark = pytest.mark.integration

VOLATILE = {"loaded_at", "load_id"}


def content(gw: Gateway) -> dict[str, Any]:
    """The graph's data and provenance, less the fields that name a particular load."""

    def clean(props: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if k not in VOLATILE}

    nodes = gw.read(
        "MATCH (n) WHERE NOT n:Load AND NOT n:CredgraphSchema "
        "RETURN labels(n) AS labels, properties(n) AS props ORDER BY n.id"
    )
    rels = gw.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS props "
        "ORDER BY a, t, b"
    )
    return {
        "nodes": [(sorted(n["labels"]), clean(n["props"])) for n in nodes],
        "rels": [(r["a"], r["t"], r["b"], clean(r["props"])) for r in rels],
    }


def orphans(gw: Gateway) -> int:
    rows = gw.read(
        "MATCH (l:Loan) WHERE NOT (l)<-[:LENT]-() OR NOT (l)<-[:BORROWED]-() "
        "RETURN count(l) AS n UNION ALL "
        "MATCH (b:BlacklistEntry) WHERE NOT (b)<-[:LISTED]-() RETURN count(b) AS n"
    )
    return sum(r["n"] for r in rows)


def test_killed_load_then_rerun_equals_clean_load(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    generate(data, 4000, 11, "csv")
    load(gateway, data, source="s", rejects_path=tmp_path / "r0.csv")
    clean = content(gateway)
    assert clean["nodes"] and orphans(gateway) == 0
    wipe(gateway)

    env = dict(os.environ)
    env.update(
        CREDGRAPH_HOME=str(neo4j_server.home),
        CREDGRAPH_BOLT_PORT=str(neo4j_server.port),
        CREDGRAPH_BATCH_SIZE="200",
    )
    cmd = [
        sys.executable,
        "-m",
        "cli.main",
        "load",
        str(data),
        "--source",
        "s",
        "--rejects",
        str(tmp_path / "r1.csv"),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Kill it once it is well into the relationship files.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        n = gateway.read("MATCH ()-[r:DIRECTOR_OF|OWNS|LENT]->() RETURN count(r) AS n")[0]["n"]
        if n > 2000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the load finished before it could be killed"
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
