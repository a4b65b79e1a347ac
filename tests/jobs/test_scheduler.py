"""`credgraph scheduler` processes against a real Neo4j: two at once, one killed,
one whose database goes away."""

from __future__ import annotations

import signal
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.changes import changes_since_current, settle_abandoned
from credgraph.graph.engine.policy import load_policy
from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import LEASE_ID, Lease
from credgraph.graph.managed import ManagedServer
from credgraph.graph.runs import Runs
from credgraph.graph.schema import ensure_schema
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from credgraph.services.caller import Caller
from credgraph.services.disputes import dispute
from tests.conftest import free_port, make_settings
from tests.jobs.helpers import events, start_scheduler, stop, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    generate(folder, 300, 5, "csv")
    return folder


def runs_in(gw: Gateway) -> list[dict[str, Any]]:
    return gw.read(
        "MATCH (r:Run) RETURN r.id AS id, r.status AS status, r.current AS current, "
        "r.started_at AS started_at, r.ended_at AS ended_at, r.trigger AS trigger, "
        "r.error AS error ORDER BY r.started_at"
    )


def current_id(gw: Gateway) -> str | None:
    rows = gw.read("MATCH (r:Run {current: true}) RETURN r.id AS id")
    assert len(rows) <= 1
    return rows[0]["id"] if rows else None


def lease_holder(gw: Gateway) -> str | None:
    rows = gw.read("MATCH (l:Lease {id: $id}) RETURN l.holder AS h", id=LEASE_ID)
    return rows[0]["h"] if rows else None


def tagged_run(gw: Gateway, settings: Settings) -> str:
    """A run tagged as the scheduler tags its own."""
    return Runs(gw, settings).run(load_policy(None), date.today(), tags={"trigger": "test"}).run_id


def check_fires_accounted(log: Path) -> list[dict[str, Any]]:
    """Every fire of the schedule is a tick, coalesced into one, or pending at stop;
    ticks are numbered 1, 2, ... without gaps. Returns the tick events."""
    ticks = events(log, "tick")
    fired = events(log, "fired")
    stopped = events(log, "stopped")
    assert len(stopped) == 1, "the scheduler did not log its stop"
    assert [t["tick"] for t in ticks] == list(range(1, len(ticks) + 1))
    assert len(fired) == len(ticks) + sum(t["coalesced"] for t in ticks) + stopped[0]["pending"]
    return ticks


def test_two_schedulers_never_overlap_and_lose_no_tick(
    gateway: Gateway, settings: Settings, small: Path, tmp_path: Path
) -> None:
    load(gateway, small, source="small", rejects_path=tmp_path / "r.csv")
    env = {"CREDGRAPH_SCHEDULE_EVERY": "1s", "CREDGRAPH_SCHEDULE_NOW": "true"}
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start_scheduler(settings, log, **env) for log in logs]
    try:
        wait_for(
            "six completed runs",
            lambda: sum(r["status"] == "completed" for r in runs_in(gateway)) >= 6,
            timeout=150,
        )
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]

    runs = runs_in(gateway)
    assert all(r["ended_at"] is not None for r in runs), "a run was left running"
    for before, after in zip(runs, runs[1:], strict=False):
        assert after["started_at"] >= before["ended_at"], f"{before['id']} overlaps {after['id']}"
    assert {r["trigger"] for r in runs} == {"scheduler"}

    ticks = [t for log in logs for t in check_fires_accounted(log)]
    outcomes = {t["outcome"] for t in ticks}
    assert outcomes <= {"completed", "busy", "abandoned"}, ticks
    assert "busy" in outcomes  # they did collide: the second found the lease held
    ran = {t["run"] for t in ticks if t["outcome"] == "completed"}
    assert ran == {r["id"] for r in runs if r["status"] == "completed"}
    for t in ticks:
        if t["outcome"] == "abandoned" and t.get("run"):  # stopped mid-run by the SIGTERM
            gone = next(r for r in runs if r["id"] == t["run"])
            assert gone["status"] == "failed" and "SIGTERM" in gone["error"]
    # the newest completed run is current (the last runs may be ones the stops abandoned:
    # the second scheduler can begin a run between the first's stop and its own)
    completed = [r["id"] for r in runs if r["status"] == "completed"]
    assert current_id(gateway) == completed[-1]
    last = next(i for i, r in enumerate(runs) if r["id"] == completed[-1])
    assert all(r["status"] == "completed" for r in runs[:last])
    for r in runs[last + 1 :]:
        assert r["status"] == "failed" and "SIGTERM" in r["error"], r
    assert lease_holder(gateway) is None


def test_killed_scheduler_mid_run(
    gateway: Gateway, settings: Settings, small: Path, tmp_path: Path
) -> None:
    """SIGKILL in the middle of a scheduled run: the previous run stays current all
    along; the next scheduler takes the dead one's lease over at once and its first
    tick runs."""
    load(gateway, small, source="small", rejects_path=tmp_path / "r.csv")
    first = Runs(gateway, settings).run(load_policy(None), date.today()).run_id
    env = {"CREDGRAPH_SCHEDULE_EVERY": "1h", "CREDGRAPH_SCHEDULE_NOW": "true"}
    a_log = tmp_path / "a.log"
    # the test hook holds the run for 10 minutes once exported and scored, before its
    # write-back: killed there, it is a run in the middle (running, holding the lease)
    doomed = start_scheduler(settings, a_log, CREDGRAPH_SCHEDULE_TEST_PAUSE="write-back=10m", **env)

    def paused() -> str | None:
        assert current_id(gateway) == first
        ev = events(a_log, "test_pause")
        return ev[0]["run"] if ev else None

    try:
        killed = wait_for("the scheduled run's pause", paused, timeout=180)
        assert doomed.poll() is None
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    assert {r["id"]: r["status"] for r in runs_in(gateway)}[killed] == "running"
    assert lease_holder(gateway) == killed
    assert current_id(gateway) == first

    log = tmp_path / "b.log"
    nxt = start_scheduler(settings, log, **env)
    seen = [first]  # the current runs, in the order they were seen
    try:

        def first_tick() -> dict[str, Any] | None:
            cur = current_id(gateway)
            if cur != seen[-1]:
                seen.append(cur)  # type: ignore[arg-type]
            ticks = events(log, "tick")
            return ticks[0] if ticks else None

        tick = wait_for("the next scheduler's first tick", first_tick, timeout=180)
    finally:
        assert stop(nxt) == 0
    # the previous run stayed current until the next one completed; never the killed one
    assert seen in ([first], [first, tick["run"]]), seen
    # it ran at its first tick, at its first attempt: no wait for the lease's ttl
    assert (tick["tick"], tick["outcome"], tick["attempts"]) == (1, "completed", 1), tick
    assert not events(log, "attempt_failed")
    assert current_id(gateway) == tick["run"]
    status = {r["id"]: r["status"] for r in runs_in(gateway)}
    assert status == {first: "completed", killed: "interrupted", tick["run"]: "completed"}
    assert lease_holder(gateway) is None


def test_only_if_changed_skips_until_a_dispute(
    gateway: Gateway, settings: Settings, small: Path, tmp_path: Path
) -> None:
    load(gateway, small, source="small", rejects_path=tmp_path / "r.csv")
    first = tagged_run(gateway, settings)  # counts the loads it saw, as a scheduled run does
    log = tmp_path / "s.log"
    proc = start_scheduler(
        settings,
        log,
        CREDGRAPH_SCHEDULE_EVERY="1s",
        CREDGRAPH_SCHEDULE_NOW="true",
        CREDGRAPH_SCHEDULE_ONLY_IF_CHANGED="true",
    )
    try:
        wait_for("two unchanged ticks", lambda: len(events(log, "tick")) >= 2, timeout=120)
        assert current_id(gateway) == first
        entry = gateway.read("MATCH (b:BlacklistEntry) RETURN b.id AS id ORDER BY id LIMIT 1")[0]
        dispute(gateway, entry["id"], reason="wrong person", resolve=False, caller=Caller("t", "t"))

        def ran() -> list[dict[str, Any]]:
            return [t for t in events(log, "tick") if t["outcome"] == "completed"]

        done = wait_for("a run after the dispute", ran, timeout=120)
        wait_for(
            "an unchanged tick after it", lambda: events(log, "tick")[-1]["outcome"] == "unchanged"
        )
    finally:
        assert stop(proc) == 0
    ticks = check_fires_accounted(log)
    assert len(done) == 1  # one run for one dispute; the ticks after it find nothing new
    # the SIGTERM may catch the last tick in its check: abandoned, before any run
    if ticks[-1]["outcome"] == "abandoned":
        assert ticks[-1]["run"] is None
        ticks = ticks[:-1]
    assert {t["outcome"] for t in ticks} == {"unchanged", "completed"}
    (changed,) = events(log, "changed")
    assert changed["reasons"] == ["1 dispute action(s) since"]
    assert current_id(gateway) == done[0]["run"]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ManagedServer]:
    """A server of this test's own: it is stopped and started again."""
    server = ManagedServer(make_settings(tmp_path / "home", free_port()))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:  # noqa: S310
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_database_away_is_logged_retried_and_recovered(
    own_server: ManagedServer, small: Path, tmp_path: Path
) -> None:
    """The database is stopped when a tick comes: nothing can be recorded, so the
    failure is logged and counted, and the tick retried with back-off until the
    database is back; then it runs, and its run replaces the previous one."""
    settings = own_server.settings
    with Gateway(settings) as gw:
        ensure_schema(gw)
        load(gw, small, source="small", rejects_path=tmp_path / "r.csv")
        first = Runs(gw, settings).run(load_policy(None), date.today()).run_id
    own_server.stop()
    port = free_port()
    log = tmp_path / "s.log"
    proc = start_scheduler(
        settings,
        log,
        CREDGRAPH_SCHEDULE_EVERY="2s",
        CREDGRAPH_SCHEDULE_NOW="true",
        CREDGRAPH_SCHEDULE_RETRIES="100",
        CREDGRAPH_SCHEDULE_RETRY_DELAY="1s",
        CREDGRAPH_SCHEDULE_RETRY_MAX="2s",
        CREDGRAPH_METRICS_PORT=str(port),
    )
    try:
        wait_for("a retry", lambda: len(events(log, "retrying")) >= 2, timeout=120)
        failed = events(log, "attempt_failed")
        assert {f["code"] for f in failed} == {"database_error"}
        assert "not reachable" in failed[0]["error"]
        assert not events(log, "tick")  # still the first tick, retrying
        down = scrape(port)
        assert down["credgraph_scheduler_failures_total"] >= 2
        assert down["credgraph_scheduler_last_success_timestamp_seconds"] == 0  # unknown yet
        own_server.start()

        def recovered() -> dict[str, Any] | None:
            done = [t for t in events(log, "tick") if t["outcome"] == "completed"]
            return done[0] if done else None

        tick = wait_for("a completed run after the restart", recovered, timeout=240)
        up = scrape(port)
    finally:
        assert stop(proc) == 0
    # the first tick, retried until the database was back: nothing lost
    assert tick["tick"] == 1 and tick["attempts"] > 2, tick
    assert tick["coalesced"] >= 1  # the fires that came while it retried
    check_fires_accounted(log)
    assert up["credgraph_scheduler_failures_total"] == tick["attempts"] - 1
    assert up['credgraph_scheduler_ticks_total{outcome="completed"}'] == 1
    assert up["credgraph_scheduler_last_success_subjects"] == 300
    assert up["credgraph_scheduler_last_success_timestamp_seconds"] > 0
    with Gateway(settings) as gw:
        assert current_id(gw) == tick["run"]
        runs = {r["id"]: (r["status"], r["error"]) for r in runs_in(gw)}
        assert runs.pop(first)[0] == "completed"
        assert runs.pop(tick["run"])[0] == "completed"
        # the next tick may have begun when the SIGTERM came: its run, if it was
        # created, is marked failed by the stop (never left running)
        abandoned = [t for t in events(log, "tick") if t["outcome"] == "abandoned"]
        assert len(runs) <= len(abandoned) <= 1, (runs, abandoned)
        for status, error in runs.values():
            assert status == "failed" and "SIGTERM" in error, (status, error)
        assert lease_holder(gw) is None


# ------------------------------------------------------------------ the store's part
def test_changes_since_the_current_run(gateway: Gateway, settings: Settings, small: Path) -> None:
    policy = load_policy(None)
    assert changes_since_current(gateway) == ["no completed run yet"]
    load(gateway, small, source="small")
    tagged_run(gateway, settings)
    # the day the run scored as of (read back: the test's own clock may cross midnight)
    today = gateway.read("MATCH (r:Run {current: true}) RETURN r.as_of AS d")[0]["d"].to_native()
    assert changes_since_current(gateway, policy_hash=policy.hash, as_of=today) == []
    entry = gateway.read("MATCH (b:BlacklistEntry) RETURN b.id AS id ORDER BY id LIMIT 1")[0]
    dispute(gateway, entry["id"], reason="wrong person", resolve=False, caller=Caller("t", "t"))
    assert changes_since_current(gateway, policy_hash=policy.hash) == ["1 dispute action(s) since"]
    tagged_run(gateway, settings)
    assert changes_since_current(gateway, as_of=today) == []
    load(gateway, small, source="small")  # the same input again: still a completed load
    reasons = changes_since_current(gateway, policy_hash="other", as_of=date(2020, 1, 1))
    assert len(reasons) == 3
    assert reasons[0] == "1 load(s) completed since"
    assert reasons[1] == "another policy"
    assert reasons[2].startswith("as of 2020-01-01")


def test_a_run_abandoned_while_the_database_was_away_is_settled(gateway: Gateway) -> None:
    gateway.write(
        "CREATE (:Run {id: 'run-cut', status: 'running', current: false, started_at: datetime()})"
    )
    gateway.write(
        "CREATE (:Run {id: 'run-done', status: 'completed', current: true, started_at: datetime()})"
    )
    lease = Lease(gateway, "run-cut", "propagate")
    lease.acquire()
    try:
        lease._stop.set()  # as if its process lost the database: no renewal, no release
        assert lease_holder(gateway) == "run-cut"
        assert settle_abandoned(gateway, "run-cut", "DatabaseError: Neo4j is not reachable")
        rows = {r["id"]: (r["status"], r["error"]) for r in runs_in(gateway)}
        assert rows["run-cut"] == ("failed", "DatabaseError: Neo4j is not reachable")
        assert rows["run-done"] == ("completed", None)
        assert lease_holder(gateway) is None
        assert not settle_abandoned(gateway, "run-done", "no")  # a completed run is left alone
        assert current_id(gateway) == "run-done"
    finally:
        # the session's gateway is shared: never leave it fenced by this test's lease
        lease.release()


def test_a_second_signal_while_stopping_is_ignored(settings: Settings, tmp_path: Path) -> None:
    """The scheduler exits 0 on SIGTERM, and a second SIGTERM while it shuts down is
    ignored (it once restored the default handlers first: a later signal gave 143)."""
    log = tmp_path / "sched.log"
    proc = start_scheduler(settings, log, CREDGRAPH_SCHEDULE_EVERY="1h")
    try:
        wait_for("started", lambda: events(log, "started"))
        proc.send_signal(signal.SIGTERM)
        for _ in range(20):  # keep signalling through the shutdown
            time.sleep(0.05)
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_run_stopped_after_its_cleanup_lost_the_database_is_settled(
    gateway: Gateway, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the database was away: the run's own cleanup could not mark it
    failed, and its lease was handed back once the database returned. The scheduler
    still marks it failed as it stops (it was left `running`)."""
    from apscheduler.triggers.interval import IntervalTrigger

    from credgraph.jobs import scheduler as sched_mod

    def propagate(settings: Settings, *, on_phase: Any, **_: Any) -> None:
        gateway.write(
            "CREATE (:Run {id: 'run-stopped', status: 'running', current: false, "
            "started_at: datetime()})"
        )
        on_phase("export", "run-stopped")
        raise sched_mod.SchedulerStopped("the scheduler was stopped by SIGTERM")

    monkeypatch.setattr(sched_mod, "propagate", propagate)
    sched = sched_mod.Scheduler(settings, IntervalTrigger(hours=1))
    try:
        res = sched._attempt(1, 0)
    finally:
        if sched._gw is not None:
            sched._gw.close()
    assert res.outcome == "abandoned" and res.fields["run"] == "run-stopped"
    rows = {r["id"]: (r["status"], r["error"]) for r in runs_in(gateway)}
    assert rows["run-stopped"] == (
        "failed",
        "SchedulerStopped: the scheduler was stopped by SIGTERM",
    )
