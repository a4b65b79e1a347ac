"""The graph's writer lease against the real Neo4j: one load or run at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.engine.policy import load_policy
from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import (
    LEASE_ID,
    Busy,
    Lease,
    LeaseLost,
    _machine,
    own_holder,
)
from credgraph.graph.managed import ManagedServer
from credgraph.graph.managed.server import process_started
from credgraph.graph.runs import Runs
from credgraph.graph.schema import ensure_schema
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate

pytestmark = pytest.mark.integration


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    ensure_schema(gateway)
    return gateway


def lease_node(gw: Gateway) -> dict[str, object]:
    rows = gw.read("MATCH (l:Lease {id: $id}) RETURN properties(l) AS p", id=LEASE_ID)
    return dict(rows[0]["p"]) if rows else {}


def set_holder(
    gw: Gateway,
    host: str,
    pid: int,
    age_s: int,
    *,
    machine: str | None = None,
    pid_started: int | None = None,
    ttl: float = 60.0,
) -> None:
    """Record a holder as another process would have (heartbeat ``age_s`` seconds old);
    not fenced: another process's write, whatever lease this test's gateway holds."""
    params = {
        "id": LEASE_ID,
        "host": host,
        "machine": machine or host,
        "pid": pid,
        "started": pid_started,
        "ttl": ttl,
        "age": age_s,
    }
    gw.write_tx(
        lambda tx: tx.run(
            "MERGE (l:Lease {id: $id}) SET l.holder = 'load-other', l.what = 'load', "
            "l.host = $host, l.machine = $machine, l.pid = $pid, l.pid_started = $started, "
            "l.ttl = $ttl, l.acquired_at = datetime(), "
            "l.heartbeat_at = datetime() - duration({seconds: $age}), "
            "l.token = coalesce(l.token, 0) + 1",
            params,
        ).consume(),
        fenced=False,
    )


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_taken_and_released(gw: Gateway) -> None:
    with Lease(gw, "load-a", "load"):
        node = lease_node(gw)
        assert node["holder"] == "load-a" and node["what"] == "load"
        assert node["pid"] == os.getpid()
        with pytest.raises(Busy, match=r"another load is at work on this graph: load-a"):
            Lease(gw, "run-b", "propagate").acquire()
    node = lease_node(gw)
    assert node.get("holder") is None and node["previous"] == "load-a"
    with Lease(gw, "run-b", "propagate"):
        assert lease_node(gw)["holder"] == "run-b"


def test_own_holder_names_only_a_lease_this_process_took(gw: Gateway) -> None:
    """What a process abandoning its work on a signal frees: only its own lease."""
    assert own_holder(gw) is None
    lease = Lease(gw, "run-own", "propagate")
    lease.acquire()
    try:
        lease._stop.set()  # as if the signal came before its cleanup: no renewal
        assert own_holder(gw) == "run-own"
    finally:
        lease.release()
    assert own_holder(gw) is None
    set_holder(gw, "h", dead_pid(), age_s=0, machine=_machine())  # another process
    assert own_holder(gw) is None
    set_holder(gw, "another-host", os.getpid(), age_s=0)  # our pid, another machine
    assert own_holder(gw) is None


def test_live_holder_elsewhere_refuses_and_a_silent_one_is_taken_over(gw: Gateway) -> None:
    set_holder(gw, "another-host", 1, age_s=5)
    with pytest.raises(Busy, match=r"load-other on another-host \(process 1\)"):
        Lease(gw, "load-a", "load", ttl=60).acquire()
    assert lease_node(gw)["holder"] == "load-other"
    set_holder(gw, "another-host", 1, age_s=120)  # no heartbeat for two minutes
    with Lease(gw, "load-a", "load", ttl=60):
        node = lease_node(gw)
        assert node["holder"] == "load-a" and node["previous"] == "load-other"


def test_dead_process_on_this_host_is_taken_over_at_once(gw: Gateway) -> None:
    here = _machine()
    set_holder(gw, "h", dead_pid(), age_s=0, machine=here)
    with Lease(gw, "load-a", "load"):
        assert lease_node(gw)["holder"] == "load-a"
    # the same with this very process as the recorded holder, but not active here
    set_holder(gw, "h", os.getpid(), age_s=0, machine=here)
    with Lease(gw, "load-b", "load"):
        assert lease_node(gw)["holder"] == "load-b"


def test_a_live_process_keeps_it_and_a_reused_id_does_not(gw: Gateway) -> None:
    here = _machine()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_started(child.pid)
        assert started is not None
        set_holder(gw, "h", child.pid, age_s=0, machine=here, pid_started=started)
        with pytest.raises(Busy):
            Lease(gw, "load-a", "load").acquire()
        # same host name, another container (another pid namespace): not "this host"
        set_holder(gw, "h", dead_pid(), age_s=0, machine=here + "-elsewhere")
        with pytest.raises(Busy):
            Lease(gw, "load-a", "load").acquire()
        # the recorded id now belongs to another process (another start time)
        set_holder(gw, "h", child.pid, age_s=0, machine=here, pid_started=started - 1)
        with Lease(gw, "load-a", "load"):
            assert lease_node(gw)["holder"] == "load-a"
    finally:
        child.kill()
        child.wait()


def test_silence_is_measured_by_the_holders_ttl(gw: Gateway) -> None:
    set_holder(gw, "another-host", 1, age_s=5, ttl=60)
    with pytest.raises(Busy):
        Lease(gw, "load-a", "load", ttl=1).acquire()
    set_holder(gw, "another-host", 1, age_s=5, ttl=2)
    with Lease(gw, "load-a", "load", ttl=60):
        assert lease_node(gw)["holder"] == "load-a"


def test_racing_writers_one_wins(gw: Gateway) -> None:
    """Eight threads of one process ask at once: exactly one gets it."""
    barrier = threading.Barrier(8)
    won: list[str] = []
    refused: list[str] = []
    leases = [Lease(gw, f"load-{k}", "load") for k in range(8)]

    def attempt(lease: Lease) -> None:
        barrier.wait()
        try:
            lease.acquire()
            won.append(lease.holder)
        except Busy:
            refused.append(lease.holder)

    threads = [threading.Thread(target=attempt, args=(x,)) for x in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(won) == 1 and len(refused) == 7
        assert lease_node(gw)["holder"] == won[0]
    finally:
        for x in leases:
            if x.holder in won:
                x.release()


def test_heartbeat_renews(gw: Gateway) -> None:
    lease = Lease(gw, "load-a", "load", ttl=0.4)
    with lease:
        gw.write("MATCH (l:Lease) SET l.heartbeat_at = datetime('2000-01-01T00:00:00Z')")
        deadline = time.monotonic() + 10
        while lease_node(gw)["heartbeat_at"].year == 2000:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.05)
    assert not lease.lost


def test_a_holder_taken_over_knows_it(gw: Gateway) -> None:
    lease = Lease(gw, "load-a", "load", ttl=0.4)
    with lease:
        lease.check()
        set_holder(gw, "another-host", 1, age_s=0)  # as if taken over after a silence
        deadline = time.monotonic() + 10
        while not lease.lost:
            assert time.monotonic() < deadline, "the renewal did not notice"
            time.sleep(0.05)
        with pytest.raises(Busy, match="load-a lost the graph's writer lease"):
            lease.check()
    assert lease_node(gw)["holder"] == "load-other"  # releasing does not free another's


def cli(server: ManagedServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(CREDGRAPH_HOME=str(server.home), CREDGRAPH_BOLT_PORT=str(server.port))
    return subprocess.run(
        [sys.executable, "-m", "credgraph.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_load_and_propagate_wait_their_turn(
    gw: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """While another process holds the lease, `load` and `propagate` are refused and write
    nothing (no data, no Load record, no Run); once it is released, they work."""
    sample = tmp_path / "s"
    generate(sample, 200, 1, "csv")
    with Lease(gw, "run-other", "propagate"):
        for args in (["load", str(sample)], ["propagate"]):
            proc = cli(neo4j_server, *args)
            assert proc.returncode == 1, proc.stderr
            assert "another propagate is at work on this graph: run-other" in proc.stderr
        left = gw.read("MATCH (n) WHERE NOT n:CredgraphSchema AND NOT n:Lease RETURN count(n) AS n")
        assert left[0]["n"] == 0
    assert cli(neo4j_server, "load", str(sample)).returncode == 0
    assert cli(neo4j_server, "propagate").returncode == 0
    assert lease_node(gw).get("holder") is None


def test_a_second_load_while_one_runs_is_refused(
    gw: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """Two `credgraph load` processes at once: the second stops at once, naming the
    first; the first completes as if alone."""
    sample = tmp_path / "s"
    generate(sample, 8000, 2, "csv")
    env = dict(os.environ)
    env.update(CREDGRAPH_HOME=str(neo4j_server.home), CREDGRAPH_BOLT_PORT=str(neo4j_server.port))
    first = subprocess.Popen(
        [sys.executable, "-m", "credgraph.cli.main", "load", str(sample), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not str(lease_node(gw).get("holder") or "").startswith("load-"):
            assert first.poll() is None, "the first load ended before it was seen at work"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        holder = lease_node(gw)["holder"]
        second = cli(neo4j_server, "load", str(sample))
        assert second.returncode == 1
        assert f"another load is at work on this graph: {holder}" in second.stderr
        out, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0
    assert json.loads(out)["load_id"] == holder
    loads = gw.read("MATCH (l:Load) RETURN l.id AS id, l.outcome AS outcome")
    assert loads == [{"id": holder, "outcome": "completed"}]
    assert lease_node(gw).get("holder") is None


# ------------------------------------------------------------------------------ fencing


def age_heartbeat(gw: Gateway, seconds: int = 600) -> None:
    """The holder went silent (paused) for ``seconds``: as its heartbeat would show."""
    gw.write_tx(
        lambda tx: tx.run(
            "MATCH (l:Lease {id: $id}) SET l.heartbeat_at = datetime() - duration({seconds: $s})",
            id=LEASE_ID,
            s=seconds,
        ).consume(),
        fenced=False,
    )


def subjects(gw: Gateway, *ids: str) -> list[str]:
    rows = gw.read("MATCH (n:Subject) WHERE n.id IN $ids RETURN n.id AS id ORDER BY id", ids=ids)
    return [r["id"] for r in rows]


def test_a_paused_holder_taken_over_commits_nothing_more(gw: Gateway, settings: Settings) -> None:
    """A holder whose lease was taken over while it was paused (its renewal never ran)
    cannot commit another transaction: the fence in each one rolls it back."""
    with Gateway(settings) as own:
        paused = Lease(own, "load-paused", "load", ttl=60)
        paused.acquire()
        try:
            own.write("CREATE (:Subject:Person {id: 'before'})")
            age_heartbeat(gw)
            with Lease(gw, "load-next", "load"):
                assert not paused.lost  # its renewal has not noticed (ttl / 4 = 15 s)
                with pytest.raises(LeaseLost, match="load-paused lost the graph's writer lease"):
                    own.write("CREATE (:Subject:Person {id: 'after'})")
                with pytest.raises(LeaseLost):
                    own.write_tx(
                        lambda tx: tx.run("CREATE (:Subject:Person {id: 'after-tx'})").consume()
                    )
                assert paused.lost
                with pytest.raises(LeaseLost):
                    paused.check()
                gw.write("CREATE (:Subject:Person {id: 'by-next'})")  # the new holder writes
            assert subjects(gw, "before", "after", "after-tx", "by-next") == ["before", "by-next"]
        finally:
            paused.release()
    assert lease_node(gw).get("holder") is None


def test_a_holder_paused_inside_a_transaction_cannot_commit_it(
    gw: Gateway, settings: Settings
) -> None:
    """The takeover happens between a batch's writes and its commit: the fence (the
    transaction's last statement) sees it and the batch rolls back."""
    inside, go = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def batch(tx: object) -> None:
        tx.run("CREATE (:Subject:Person {id: 'mid'})").consume()  # type: ignore[attr-defined]
        inside.set()
        assert go.wait(60)

    with Gateway(settings) as own:
        paused = Lease(own, "load-paused", "load", ttl=60)
        paused.acquire()

        def run() -> None:
            try:
                own.write_tx(batch)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - inspected below
                outcome.append(exc)

        t = threading.Thread(target=run)
        t.start()
        try:
            assert inside.wait(60)
            age_heartbeat(gw)
            with Lease(gw, "load-next", "load"):
                go.set()
                t.join(60)
                assert len(outcome) == 1 and isinstance(outcome[0], LeaseLost)
                assert subjects(gw, "mid") == []
        finally:
            go.set()
            t.join(60)
            paused.release()


def swap_journal(
    load_id: str, pid: int, pid_started: Any, staging: Path, **kw: Any
) -> dict[str, Any]:
    """A bulk swap's journal (graph/managed: read_journal) of ``load_id``, written by
    process ``pid``; ``kw`` sets ``done`` and ``phase`` (default: nothing moved yet)."""
    return {
        "version": 1,
        "load_id": load_id,
        "pid": pid,
        "pid_started": pid_started,
        "staging": str(staging),
        "moves": [],
        "done": 0,
        "phase": "swapping",
    } | kw


def test_no_lease_while_a_bulk_swap_is_unfinished(
    gw: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """A journal of a swap whose load is gone: the store may yet be rolled back, so no
    writer takes the lease until the server's start has finished or undone it."""
    journal = swap_journal("load-gone", dead_pid(), 1, tmp_path / "staging")
    neo4j_server.journal_file.write_text(json.dumps(journal))
    try:
        with pytest.raises(Busy, match="load-gone.*stopped while it swapped") as info:
            Lease(gw, "load-a", "load").acquire()
        assert info.value.code == "swap_unfinished"
        # its own journal does not stop the process that writes it (the bulk load)
        journal.update(pid=os.getpid(), pid_started=process_started(os.getpid()))
        neo4j_server.journal_file.write_text(json.dumps(journal))
        with Lease(gw, "load-a", "load"):
            pass
    finally:
        neo4j_server.journal_file.unlink()


def test_a_run_during_a_bulk_swap_names_the_swap_not_the_missing_schema(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """The imported store has no schema until the bulk load builds it: a propagation run
    then is told a bulk load is swapping the store in, not to run `credgraph schema`."""
    parent = os.getppid()  # alive, and not this process: a load at work
    journal = swap_journal(
        "load-swapping",
        parent,
        process_started(parent),
        tmp_path / "staging",
        done=4,
        phase="started",
    )
    neo4j_server.journal_file.write_text(json.dumps(journal))
    try:
        with pytest.raises(Busy, match="load-swapping.*is swapping the store in"):
            Runs(gateway, neo4j_server.settings).run(load_policy(None), date(2026, 1, 1))
    finally:
        neo4j_server.journal_file.unlink()
