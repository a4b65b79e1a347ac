"""Explanations from any process that reaches Neo4j and the run store, against the real
server: a second home, crafted run ids, tampered snapshots, threads sharing the cache."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from credgraph.graph.engine.policy import load_policy
from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.runs import Runs
from credgraph.graph.runstore import MANIFEST, sha256_bytes
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from credgraph.services.caller import Caller
from credgraph.services.scores import score_lookup, snapshot_cache
from tests.services.helpers import home_env, remote_env, run_cli

pytestmark = pytest.mark.integration

AS_OF = date(2026, 6, 30)
CALLER = Caller("tester", "test")
CRAFTED = "../../tmp/x"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, 400, 11, "csv")
    return folder


@pytest.fixture
def shared(settings: Settings, tmp_path: Path) -> Settings:
    """The test server's settings with a run store of its own, deep enough that
    ``../../tmp/x`` from it still lies inside this test's folder."""
    return settings.model_copy(update={"run_store": tmp_path / "a" / "b" / "store"})


@pytest.fixture
def scored(gateway: Gateway, shared: Settings, sample: Path, tmp_path: Path) -> dict[str, Any]:
    load(gateway, sample, source="sample", rejects_path=tmp_path / "r.csv")
    snapshot_cache(shared).clear()
    res = Runs(gateway, shared).run(load_policy(None), AS_OF)
    assert res.scores is not None and res.projection is not None
    i = int(np.argmax(res.scores.network["credit"] + res.scores.network["compliance"]))
    return {"run": res.run_id, "subject": str(res.projection.subjects.ids[i])}


def paths_in(text: str, *paths: Path) -> list[str]:
    return [str(p) for p in paths if str(p) in text]


def test_a_second_home_explains_through_the_shared_store(
    gateway: Gateway, shared: Settings, settings: Settings, scored: dict[str, Any], tmp_path: Path
) -> None:
    sid = scored["subject"]
    here = score_lookup(gateway, shared, sid, caller=CALLER)
    assert here["contributions"], "the chosen subject has network risk"
    run = Runs(gateway, shared).get(None)
    assert run["snapshot_sha256"] == sha256_bytes(
        (shared.run_store_dir / scored["run"] / MANIFEST).read_bytes()
    )

    home2 = tmp_path / "home2"
    store = shared.run_store_dir
    env = remote_env(settings, home2, CREDGRAPH_RUN_STORE=str(store))
    proc = run_cli(env, "score", sid, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["run"]["id"] == scored["run"]
    assert doc["contributions"] is not None and "explanation_note" not in doc
    assert doc["contributions"] == json.loads(json.dumps(here["contributions"]))
    assert doc["records"] == json.loads(json.dumps(here["records"]))
    for d, v in doc["domains"].items():
        # S5 by the policy's rule: contributions combine by noisy-OR (docs/policy.md)
        keep = 1.0
        for c in doc["contributions"]:
            if c["domain"] == d:
                keep *= 1.0 - c["amount"]
        assert 1.0 - keep == pytest.approx(v["network"], abs=1e-6)
    assert not (home2 / "runs").exists()  # it read the shared store, wrote nothing of its own

    # without CREDGRAPH_RUN_STORE: the store the run recorded (this host, private)
    assert run["snapshot_store"] == str(store.resolve())
    proc = run_cli(remote_env(settings, home2), "score", sid, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contributions"] == json.loads(json.dumps(here["contributions"]))
    assert "explanation_note" not in doc
    assert not (home2 / "runs").exists()

    # a recorded store that is not private to this account is not read: the score, no
    # explanation, and why (no path)
    store.chmod(0o755)
    try:
        proc = run_cli(remote_env(settings, home2), "score", sid, "--json")
    finally:
        store.chmod(0o700)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contributions"] is None and doc["records"] is None
    assert doc["trust_score"] == here["trust_score"]
    assert doc["explanation_unavailable"] == "missing"
    assert scored["run"] in doc["explanation_note"]
    assert "holds no snapshot" in doc["explanation_note"]
    assert not paths_in(doc["explanation_note"], home2, store, settings.home, tmp_path)
    store.rename(store.with_name("moved"))  # gone from where the run wrote it
    text = run_cli(remote_env(settings, home2), "score", sid)
    assert text.returncode == 0 and "holds no snapshot" in text.stdout
    assert not paths_in(text.stdout, home2, store, settings.home, tmp_path)


def decoy_at(target: Path, source: Path, run_id: str) -> str:
    """A whole, valid snapshot filed under ``run_id`` at ``target``: were a reader to
    follow a crafted id there, it would explain from it. Returns its manifest hash."""
    shutil.copytree(source, target)
    m = json.loads((target / MANIFEST).read_bytes())
    m["run"] = run_id
    data = json.dumps(m).encode()
    (target / MANIFEST).write_bytes(data)
    return sha256_bytes(data)


@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_a_crafted_run_id_cannot_reach_outside_the_store(
    gateway: Gateway, shared: Settings, scored: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    store = shared.run_store_dir
    target = tmp_path / "a" / "tmp" / "x"
    crafted = CRAFTED if kind == "relative" else str(target)
    assert (store / crafted).resolve() == target.resolve()  # where a naive join would go
    sha = decoy_at(target, store / scored["run"], crafted)
    # The database says: the current run is `crafted`, with the decoy's hash, and the
    # scores of the real run are its own.
    props = Runs(gateway, shared).get(scored["run"])
    props.update(id=crafted, current=True, snapshot_sha256=sha)
    gateway.write("MATCH (real:Run {id: $real}) SET real.current = false", real=scored["run"])
    gateway.write("CREATE (r:Run) SET r = $props", props=props)
    gateway.write(
        "MATCH (sc:Score {run: $real}) SET sc.run = $crafted", real=scored["run"], crafted=crafted
    )
    snapshot_cache(shared).clear()

    doc = score_lookup(gateway, shared, scored["subject"], caller=CALLER)
    assert doc["run"]["id"] == crafted and doc["trust_score"] is not None
    assert doc["contributions"] is None, "the decoy was read"
    assert doc["explanation_unavailable"] == "refused"
    assert "not a run id" in doc["explanation_note"]
    assert not paths_in(doc["explanation_note"], store, tmp_path)
    assert snapshot_cache(shared).keys() == []

    # asked for by name: a usage error before any path is formed
    env = home_env_for(shared)
    proc = run_cli(env, "score", scored["subject"], "--run", crafted, "--json")
    assert proc.returncode == 2 and "is not a run id" in proc.stderr

    # pruning a crafted run deletes no file outside the store
    gateway.write(
        "MATCH (r:Run {id: $crafted}) SET r.status = 'failed', r.current = false, "
        "r.started_at = datetime('2000-01-01T00:00:00Z')",
        crafted=crafted,
    )
    Runs(gateway, shared).run(load_policy(None), AS_OF)
    assert gateway.read("MATCH (r:Run {id: $c}) RETURN r.pruned AS p", c=crafted) == [{"p": True}]
    assert (target / MANIFEST).is_file() and (target / "scores.arrow").is_file()


def home_env_for(shared: Settings) -> dict[str, str]:
    server = ManagedServer(shared)
    return home_env(server, CREDGRAPH_RUN_STORE=str(shared.run_store_dir))


def test_a_tampered_snapshot_is_refused(
    gateway: Gateway, shared: Settings, scored: dict[str, Any], tmp_path: Path
) -> None:
    folder = shared.run_store_dir / scored["run"]
    env = home_env_for(shared)
    ok = json.loads(run_cli(env, "score", scored["subject"], "--json").stdout)
    assert ok["contributions"]

    # a changed score file: its hash no longer matches the manifest
    f = folder / "scores.arrow"
    original = f.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 3] ^= 0x40
    f.write_bytes(bytes(changed))
    proc = run_cli(env, "score", scored["subject"], "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contributions"] is None and doc["explanation_unavailable"] == "corrupt"
    assert "integrity check" in doc["explanation_note"]
    assert not paths_in(doc["explanation_note"], shared.run_store_dir, tmp_path)
    f.write_bytes(original)

    # a manifest made consistent with changed data: its hash differs from the Run node's
    m = json.loads((folder / MANIFEST).read_bytes())
    m["files"][0]["sha256"] = sha256_bytes(b"other")
    (folder / MANIFEST).write_bytes(json.dumps(m).encode())
    snapshot_cache(shared).clear()
    doc = score_lookup(gateway, shared, scored["subject"], caller=CALLER)
    assert doc["contributions"] is None and doc["explanation_unavailable"] == "corrupt"
    assert "differs from the one recorded on the run" in doc["explanation_note"]

    # a run with no hash on record (an earlier version's run): not read
    gateway.write("MATCH (r:Run {id: $id}) REMOVE r.snapshot_sha256", id=scored["run"])
    doc = score_lookup(gateway, shared, scored["subject"], caller=CALLER)
    assert doc["contributions"] is None and doc["explanation_unavailable"] == "refused"


def test_threads_share_one_cached_snapshot(
    gateway: Gateway, shared: Settings, scored: dict[str, Any]
) -> None:
    """What a threaded web server does: many lookups at once, one snapshot decoded."""
    snapshot_cache(shared).clear()
    ids = [
        r["s"]
        for r in gateway.read(
            "MATCH (sc:Score {run: $run}) RETURN sc.subject AS s ORDER BY s LIMIT 24",
            run=scored["run"],
        )
    ] + [scored["subject"]]
    answers: dict[str, Any] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(k: int) -> None:
        try:
            start.wait()
            for sid in ids[k::8]:
                answers[sid] = score_lookup(gateway, shared, sid, caller=CALLER)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(answers) == len(set(ids))
    assert all(a["contributions"] is not None for a in answers.values())
    run = Runs(gateway, shared).get(None)
    assert snapshot_cache(shared).keys() == [
        (str(shared.run_store_dir), scored["run"], run["snapshot_sha256"])
    ]
    serial = score_lookup(gateway, shared, scored["subject"], caller=CALLER)
    assert answers[scored["subject"]]["contributions"] == serial["contributions"]


def test_deleting_a_runs_outputs_deletes_its_snapshot(
    gateway: Gateway, shared: Settings, scored: dict[str, Any]
) -> None:
    keep_one = shared.model_copy(update={"runs_kept": 1})
    runs = Runs(gateway, keep_one)
    nxt = runs.run(load_policy(None), AS_OF).run_id
    assert not runs.store.path_of(scored["run"]).exists()
    assert runs.store.exists(nxt)
    assert sorted(p.name for p in keep_one.run_store_dir.iterdir()) == [nxt]
