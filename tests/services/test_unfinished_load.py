"""Propagation refuses to score a half-loaded graph, against the real server: a load
killed outright, a load stopped by an error, the operator's override, a completed load."""

from __future__ import annotations

import getpass
import json
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from credgraph.graph.engine.policy import load_policy
from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import Busy, Lease
from credgraph.graph.loads import UnfinishedLoad, unfinished_load
from credgraph.graph.managed import ManagedServer
from credgraph.graph.runs import Runs
from credgraph.graph.schema import ensure_schema
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from tests.services.helpers import home_env, run_cli

pytestmark = pytest.mark.integration

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, 600, 13, "csv")
    return folder


def outcome(gw: Gateway, load_id: str) -> str:
    rows = gw.read("MATCH (l:Load {id: $id}) RETURN l.outcome AS o", id=load_id)
    return str(rows[0]["o"])


def runs_count(gw: Gateway) -> int:
    return int(gw.read("MATCH (r:Run) RETURN count(r) AS n")[0]["n"])


def kill_a_load(gw: Gateway, server: ManagedServer, sample: Path) -> str:
    """Start `credgraph load` in a process of its own and SIGKILL it once it has
    written some subjects; returns the id of the load it left `running`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "credgraph.cli.main", "load", str(sample), "--source", "killed"],
        env=home_env(server, CREDGRAPH_BATCH_SIZE="10"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    load_id = None
    while time.monotonic() < deadline and proc.poll() is None:
        rows = gw.read(
            "MATCH (l:Load {outcome: 'running'}) WITH l "
            "MATCH (p:Person) RETURN l.id AS id, count(p) AS n"
        )
        if rows and rows[0]["n"] > 50:
            load_id = rows[0]["id"]
            break
        time.sleep(0.05)
    assert load_id is not None and proc.poll() is None, "the load ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return str(load_id)


def test_killed_then_failed_then_completed_load(
    gateway: Gateway, settings: Settings, neo4j_server: ManagedServer, sample: Path, tmp_path: Path
) -> None:
    env = home_env(neo4j_server)
    killed = kill_a_load(gateway, neo4j_server, sample)
    assert outcome(gateway, killed) == "running"

    # 1. the killed load: marked interrupted by the run, which is refused
    proc = run_cli(env, "propagate", "--as-of", "2026-06-30")
    assert proc.returncode == 1
    assert f"load {killed} (source 'killed'" in proc.stderr
    assert "was interrupted (outcome interrupted)" in proc.stderr
    assert "--allow-unfinished-load" in proc.stderr  # the CLI's hint
    assert "credgraph load PATH" in proc.stderr
    assert outcome(gateway, killed) == "interrupted"
    assert runs_count(gateway) == 0  # a refused run leaves no record
    assert gateway.read("MATCH (l:Lease) RETURN l.holder AS h") == [{"h": None}]

    # 2. a load stopped by an error (after some batches were written): failed
    calls = []

    def stop_after_two_batches(_file: str, _n: int) -> None:
        calls.append(_file)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        load(
            gateway,
            sample,
            source="failed-one",
            rejects_path=tmp_path / "r.csv",
            batch_size=50,
            on_rows=stop_after_two_batches,
        )
    failed = gateway.read(
        "MATCH (l:Load {source: 'failed-one'}) RETURN l.id AS id, l.outcome AS o"
    )[0]
    assert failed["o"] == "failed"
    with pytest.raises(UnfinishedLoad) as exc:
        Runs(gateway, settings).run(load_policy(None), AS_OF)
    assert exc.value.code == "unfinished_load" and exc.value.http_status == 409
    assert exc.value.load["id"] == failed["id"] and exc.value.load["outcome"] == "failed"
    assert exc.value.load["source"] == "failed-one"
    assert f"load {failed['id']} (source 'failed-one'" in exc.value.message
    assert runs_count(gateway) == 0

    # 3. the operator's override: scored, and the run says so
    proc = run_cli(env, "propagate", "--as-of", "2026-06-30", "--allow-unfinished-load", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["unfinished_load"]["id"] == failed["id"]
    run = Runs(gateway, settings).get(summary["run"])
    assert run["current"] is True and run["status"] == "completed"
    assert run["override"] == "allow_unfinished_load"
    assert run["unfinished_load"] == failed["id"]
    assert run["unfinished_load_outcome"] == "failed"
    assert run["override_by"] == getpass.getuser()
    text = run_cli(env, "propagate", "--as-of", "2026-06-30", "--allow-unfinished-load")
    assert text.returncode == 0 and f"scored although load {failed['id']}" in text.stderr

    # 4. a later completed load rolls the graph forward: propagation runs unprompted
    report = load(gateway, sample, source="complete", rejects_path=tmp_path / "r2.csv")
    assert report.outcome in ("completed", "completed_with_rejects")
    assert unfinished_load(gateway) is None
    proc = run_cli(env, "propagate", "--as-of", "2026-06-30", "--json")
    assert proc.returncode == 0, proc.stderr
    clean = Runs(gateway, settings).get(json.loads(proc.stdout)["run"])
    assert "override" not in clean and "unfinished_load" not in clean


def test_a_load_at_work_makes_the_run_wait_its_turn(gateway: Gateway, settings: Settings) -> None:
    """A load that holds the writer lease is alive: the run is refused as busy and the
    load's record is left alone (it is not marked interrupted)."""
    ensure_schema(gateway)
    gateway.write(
        "CREATE (:Load {id: 'load-live', outcome: 'running', source: 's', started_at: datetime()})"
    )
    with Lease(gateway, "load-live", "load"):
        with pytest.raises(Busy):
            Runs(gateway, settings).run(load_policy(None), AS_OF)
    assert outcome(gateway, "load-live") == "running"
    # once its holder is gone, the next run finds it dead, marks it and refuses
    with pytest.raises(UnfinishedLoad, match="was interrupted"):
        Runs(gateway, settings).run(load_policy(None), AS_OF)
    assert outcome(gateway, "load-live") == "interrupted"


def test_which_load_counts(gateway: Gateway) -> None:
    """A failed or interrupted load counts until a later load of its input completes;
    a refused (strict) load wrote nothing and does not clear an earlier failure."""

    def add(load_id: str, result: str, minute: int) -> None:
        gateway.write(
            "CREATE (:Load {id: $id, outcome: $o, source: 'src', "
            "started_at: datetime({year: 2026, month: 11, day: 30, hour: 10, minute: $m})})",
            id=load_id,
            o=result,
            m=minute,
        )

    assert unfinished_load(gateway) is None
    add("load-a", "completed", 0)
    assert unfinished_load(gateway) is None
    add("load-b", "failed", 1)
    add("load-c", "refused", 2)
    found = unfinished_load(gateway)
    assert found is not None and (found["id"], found["outcome"]) == ("load-b", "failed")
    add("load-d", "completed_with_rejects", 3)
    assert unfinished_load(gateway) is None
    add("load-e", "interrupted", 4)
    assert unfinished_load(gateway)["id"] == "load-e"  # type: ignore[index]


def test_a_completed_load_of_another_input_does_not_clear_an_unfinished_one(
    gateway: Gateway,
) -> None:
    """An interrupted load of one input, then a load of another input that completes:
    the first input is still half in the graph, so runs stay refused until it is loaded
    again (by its path or its source), whatever came in between."""
    ensure_schema(gateway)

    def add(num: int, result: str, source: str, path: str) -> None:
        gateway.write(
            "CREATE (:Load {id: 'load-' + toString($num), num: $num, outcome: $o, "
            "source: $source, path: $path, "
            "started_at: datetime({year: 2026, month: 12, day: 1, hour: 10, minute: $num})})",
            num=num,
            o=result,
            source=source,
            path=path,
        )

    add(1, "completed", "market", "/in/market")
    add(2, "interrupted", "market", "/in/market")
    add(3, "completed", "tiny", "/in/tiny")  # another input: no help
    found = unfinished_load(gateway)
    assert found is not None and found["id"] == "load-2"
    add(4, "failed", "tiny", "/in/tiny")
    assert unfinished_load(gateway)["id"] == "load-4"  # type: ignore[index]
    add(5, "completed", "tiny", "/in/tiny-fixed")  # the same source from elsewhere
    assert unfinished_load(gateway)["id"] == "load-2"  # type: ignore[index]
    add(6, "completed", "renamed", "/in/market")  # the same folder, another --source
    assert unfinished_load(gateway) is None
