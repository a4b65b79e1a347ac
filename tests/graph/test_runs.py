"""Propagation runs against the real Neo4j: write-back, switch, history, kill, disputes."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from credgraph.cli.main import main
from credgraph.graph.engine.pipeline import NOT_STORED, score_rows, upgrade_score_row
from credgraph.graph.engine.policy import DOMAINS, load_policy
from credgraph.graph.engine.projection import build_projection
from credgraph.graph.errors import Conflict, NotFound
from credgraph.graph.export import export_tables
from credgraph.graph.gateway import Gateway
from credgraph.graph.interrupt import interrupt, shielded
from credgraph.graph.lease import Busy
from credgraph.graph.managed import ManagedServer
from credgraph.graph.runs import Runs
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from credgraph.loaders.tables import tables_from_folder
from credgraph.services.caller import Caller
from credgraph.services.disputes import dispute
from credgraph.services.scores import export_scores, score_lookup
from credgraph.services.stress import stress

pytestmark = pytest.mark.integration

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, 1500, 3, "csv")
    return folder


@pytest.fixture
def loaded(gateway: Gateway, sample: Path, tmp_path: Path) -> Gateway:
    load(gateway, sample, source="sample", rejects_path=tmp_path / "r.csv")
    return gateway


def env_for(server: ManagedServer, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CREDGRAPH_HOME=str(server.home), CREDGRAPH_BOLT_PORT=str(server.port), **extra)
    return env


def cli(server: ManagedServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credgraph.cli.main", *args],
        env=env_for(server),
        capture_output=True,
        text=True,
        check=False,
    )


def test_export_gives_the_same_projection_as_the_files(loaded: Gateway, sample: Path) -> None:
    policy = load_policy(None)
    from_db = build_projection(export_tables(loaded), policy, AS_OF)
    from_files = build_projection(tables_from_folder(sample), policy, AS_OF)
    assert sorted(from_db.subjects.ids) == sorted(from_files.subjects.ids)
    for d in DOMAINS:
        a, b = from_db.graphs[d], from_files.graphs[d]
        ka = sorted(
            zip(
                from_db.subjects.ids[a.src],
                from_db.subjects.ids[a.dst],
                a.weight.round(12),
                strict=True,
            )
        )
        kb = sorted(
            zip(
                from_files.subjects.ids[b.src],
                from_files.subjects.ids[b.dst],
                b.weight.round(12),
                strict=True,
            )
        )
        assert ka == kb
    ra = dict(zip(from_db.records.id, from_db.records.effective, strict=True))
    rb = dict(zip(from_files.records.id, from_files.records.effective, strict=True))
    assert ra == rb


def test_run_writes_scores_and_becomes_current(loaded: Gateway, settings: Settings) -> None:
    runs = Runs(loaded, settings)
    assert runs.current() is None
    res = runs.run(load_policy(None), AS_OF)
    cur = runs.current()
    assert cur is not None and cur["id"] == res.run_id and cur["status"] == "completed"
    n = loaded.read("MATCH (sc:Score {run: $r}) RETURN count(sc) AS n", r=res.run_id)[0]["n"]
    assert n == 1500
    linked = loaded.read(  # each Score names a subject of the graph, each subject once
        "MATCH (sc:Score {run: $r}) MATCH (s:Subject {id: sc.subject}) "
        "RETURN count(*) AS n, count(DISTINCT s) AS subjects",
        r=res.run_id,
    )
    assert linked == [{"n": 1500, "subjects": 1500}]
    stored = loaded.read(
        "MATCH (sc:Score {run: $r}) RETURN sc.subject AS id, sc.trust_score AS t", r=res.run_id
    )
    assert res.projection is not None and res.scores is not None
    trust = dict(zip(res.projection.subjects.ids, res.scores.trust, strict=True))
    assert all(abs(row["t"] - trust[row["id"]]) < 1e-12 for row in stored)
    assert all(0.0 <= row["t"] <= 100.0 for row in stored)
    # Each Score node holds exactly its row (values sent by position: a column out of
    # place shows here), without the columns not stored and without nulls; read back,
    # the row is whole again (`<d>_network_uncapped` filled from `<d>_network`).
    assert res.centrality is not None
    rows = {r["subject"]: r for r in score_rows(res.projection, res.scores, res.centrality)}
    nodes = {
        r["sc"]["subject"]: r["sc"]
        for r in loaded.read("MATCH (sc:Score {run: $r}) RETURN properties(sc) AS sc", r=res.run_id)
    }
    assert nodes.keys() == rows.keys()
    for sid, row in rows.items():
        want = {k: v for k, v in row.items() if k not in NOT_STORED and v is not None}
        assert nodes[sid] == want | {"run": res.run_id}
    some = sorted(rows)[::300]
    for sid in some:
        back = runs.score_row(res.run_id, sid)
        assert back is not None
        whole = {k: v for k, v in rows[sid].items() if v is not None}
        assert upgrade_score_row(back) == whole | {"run": res.run_id}
    assert json.loads(cur["timings"]).keys() >= {
        "export",
        "projection",
        "write_back",
        "write_scores",
        "write_circles",
    }
    assert cur["policy_hash"] == load_policy(None).hash
    loads = loaded.read(
        "MATCH (l:Load) WHERE l.outcome STARTS WITH 'completed' RETURN count(*) AS n"
    )
    assert cur["seen_loads"] == loads[0]["n"] > 0
    assert "trigger" not in cur  # untagged


def test_a_run_carries_its_tags_from_its_creation(loaded: Gateway, settings: Settings) -> None:
    runs = Runs(loaded, settings)
    seen: list[tuple[str, object, object]] = []

    def on_phase(phase: str, run_id: str) -> None:
        rows = loaded.read("MATCH (r:Run {id: $id}) RETURN r.trigger AS t, r.tick AS k", id=run_id)
        seen.append((phase, rows[0]["t"], rows[0]["k"]))

    res = runs.run(load_policy(None), AS_OF, tags={"trigger": "test", "tick": 7}, on_phase=on_phase)
    assert seen == [(p, "test", 7) for p in ("export", "compute", "write-back")]
    assert runs.get(res.run_id)["trigger"] == "test"
    for own in ("status", "id", "seen_loads"):
        with pytest.raises(ValueError, match=f"own properties: \\['{own}'\\]"):
            runs.run(load_policy(None), AS_OF, tags={own: "x", "trigger": "test"})
    assert len(loaded.read("MATCH (r:Run) RETURN r.id AS id")) == 1  # refused before writing


def test_score_json_contract_and_explanation_adds_up(
    loaded: Gateway, settings: Settings, neo4j_server: ManagedServer
) -> None:
    res = Runs(loaded, settings).run(load_policy(None), AS_OF)
    assert res.scores is not None and res.projection is not None
    net = res.scores.network["credit"]
    i = int(np.argmax(net))
    sid = str(res.projection.subjects.ids[i])
    proc = cli(neo4j_server, "score", sid, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"subject", "trust_score", "risk", "domains", "contributions", "run"} <= doc.keys()
    assert doc["risk"].keys() == {"intrinsic", "network", "total"}
    assert set(doc["domains"]) == set(DOMAINS)
    assert doc["run"]["id"] == res.run_id
    for c in doc["contributions"]:
        assert {"domain", "records", "source_subject", "amount", "path"} <= c.keys()
        assert c["path"][0] == c["source_subject"] and c["path"][-1] == sid
    for d in DOMAINS:
        # S5: the contributions combine by noisy-OR (docs/policy.md)
        keep = np.prod([1 - c["amount"] for c in doc["contributions"] if c["domain"] == d])
        assert 1 - keep == pytest.approx(doc["domains"][d]["network_uncapped"], abs=1e-6)
        assert doc["domains"][d]["network"] == min(1.0, doc["domains"][d]["network_uncapped"])
        assert 0 <= doc["domains"][d]["network"] <= 1
    amounts = [c["amount"] for c in doc["contributions"]]
    assert amounts == sorted(amounts, reverse=True)
    # the text output shows each path's relationships as they are: "-[KIND id]->"
    text = cli(neo4j_server, "score", sid).stdout
    first = doc["contributions"][0]["path"][1]["relationships"][0]
    assert f"-[{first['kind']} {first['id']}" in text
    top = json.loads(cli(neo4j_server, "score", sid, "--json", "--top", "1").stdout)
    assert len(top["contributions"]) == 1
    miss = cli(neo4j_server, "score", "NO-SUCH-ID")
    assert miss.returncode == 1 and "error: no subject 'NO-SUCH-ID'" in miss.stderr
    assert "internal error" not in miss.stderr


def test_every_score_lookup_is_audited(
    loaded: Gateway, settings: Settings, neo4j_server: ManagedServer
) -> None:
    """Who looked up whom, when and why: written before the answer, also for a miss."""
    Runs(loaded, settings).run(load_policy(None), AS_OF)
    sid = loaded.read("MATCH (sc:Score) RETURN sc.subject AS s ORDER BY s LIMIT 1")[0]["s"]
    assert loaded.read("MATCH (e:AuditEvent) RETURN count(e) AS n") == [{"n": 0}]
    ok = cli(neo4j_server, "score", sid, "--reason", "credit review #42", "--actor", "ana")
    assert ok.returncode == 0, ok.stderr
    miss = cli(neo4j_server, "score", "NO-SUCH-ID", "--json")
    assert miss.returncode == 1 and "error: no subject 'NO-SUCH-ID'" in miss.stderr
    events = json.loads(cli(neo4j_server, "audit", "--json").stdout)
    assert [(e["subject"], e["action"], e["via"]) for e in events] == [
        ("NO-SUCH-ID", "score", "cli"),
        (sid, "score", "cli"),
    ]
    assert events[1]["actor"] == "ana" and events[1]["reason"] == "credit review #42"
    # no --run asked: the event names the current run the score was read from
    current = Runs(loaded, settings).get(None)["id"]
    assert events[0]["run"] == events[1]["run"] == current
    assert events[0]["actor"] and events[0]["reason"] is None  # the login name; no why given
    assert events[1]["at"] <= events[0]["at"]
    mine = json.loads(cli(neo4j_server, "audit", "--subject", sid, "--json").stdout)
    assert [e["id"] for e in mine] == [events[1]["id"]]
    table = cli(neo4j_server, "audit", "--actor", "ana").stdout
    assert sid in table and "credit review #42" in table
    # the table tells a refused lookup from an answered one (its detail column)
    bad = cli(neo4j_server, "score", sid, "--run", "bad!!", "--actor", "cy")
    assert bad.returncode != 0
    table = cli(neo4j_server, "audit", "--actor", "cy").stdout
    assert "detail" in table and "refused:" in table
    # an export of every score is one lookup of every subject
    assert cli(neo4j_server, "scores", "--reason", "monthly feed", "--actor", "bo").returncode == 0
    (export,) = json.loads(cli(neo4j_server, "audit", "--actor", "bo", "--json").stdout)
    assert (export["subject"], export["action"], export["reason"]) == (
        "*",
        "scores",
        "monthly feed",
    )
    assert export["run"] == Runs(loaded, settings).get(None)["id"]


def test_demo_runs_the_main_job_end_to_end(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """The README's first command (`make run` is `credgraph demo`), on a small sample."""
    proc = cli(neo4j_server, "demo", "--out", str(tmp_path / "sample"), "--scale", "400")
    assert proc.returncode == 0, proc.stderr
    for step in (
        "1. Neo4j",
        "2. Generated 400 subjects",
        "3. Schema",
        "4. Loaded",
        "5. Propagated",
    ):
        assert step in proc.stdout
    assert "lowest trust scores" in proc.stdout
    (event,) = gateway.read("MATCH (e:AuditEvent) RETURN e.action AS a, e.subject AS s")
    assert event == {"a": "summary", "s": "*"}
    assert gateway.read("MATCH (r:Run) RETURN r.trigger AS t") == [{"t": "cli"}]


def test_scores_export_formats(
    loaded: Gateway, settings: Settings, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    run_id = Runs(loaded, settings).run(load_policy(None), AS_OF).run_id
    csv_out = cli(neo4j_server, "scores", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert len(rows) == 1500 and {r["run"] for r in rows} == {run_id}
    assert {"id", "kind", "trust_score", "credit_total", "compliance_network"} <= rows[0].keys()
    js = json.loads(cli(neo4j_server, "scores", "--format", "json").stdout)
    assert len(js) == 1500
    # in no guarantee circle: null (empty in CSV), as `score --json` says, never -1
    circles = [r["circle"] for r in js]
    assert None in circles and all(c is None or c >= 0 for c in circles)
    assert {r["circle"] for r in rows} >= {""} and "-1" not in {r["circle"] for r in rows}
    pq = tmp_path / "s.parquet"
    assert cli(neo4j_server, "scores", "--format", "parquet", "--out", str(pq)).returncode == 0
    df = pd.read_parquet(pq)
    assert len(df) == 1500 and df["trust_score"].between(0, 100).all()
    bad = cli(neo4j_server, "scores", "--format", "xml")
    assert bad.returncode == 2 and "xml" in bad.stderr and "internal error" not in bad.stderr
    # a parquet file that cannot be written is named (was "cannot use: Cannot save ...")
    nowhere = tmp_path / "missing" / "s.parquet"
    bad = cli(neo4j_server, "scores", "--format", "parquet", "--out", str(nowhere))
    assert bad.returncode == 1 and "cannot use" in bad.stderr
    assert f"cannotuse{nowhere}:" in "".join(bad.stderr.split())  # rich may wrap it


def test_history_and_pruning(
    loaded: Gateway, settings: Settings, neo4j_server: ManagedServer
) -> None:
    keep_one = settings.model_copy(update={"runs_kept": 2})
    runs = Runs(loaded, keep_one)
    ids = [runs.run(load_policy(None), AS_OF).run_id for _ in range(3)]
    hist = runs.history()
    assert [h["id"] for h in hist] == ids[::-1]
    assert [h.get("current") for h in hist] == [True, False, False]
    kept = loaded.read("MATCH (sc:Score) RETURN DISTINCT sc.run AS r ORDER BY r")
    assert [r["r"] for r in kept] == sorted(ids[1:])
    # the pruned run's snapshot is gone with its scores; the kept runs keep theirs
    assert not runs.store.path_of(ids[0]).exists()
    assert all(runs.store.exists(i) for i in ids[1:])
    sid = loaded.read("MATCH (sc:Score) RETURN sc.subject AS s LIMIT 1")[0]["s"]
    doc = score_lookup(loaded, keep_one, sid, caller=Caller("tester", "test"))
    assert [h["run"] for h in doc["history"]] == ids[:0:-1]
    text = cli(neo4j_server, "score", sid).stdout
    lines = text[text.index("history (newest first):") :].splitlines()[1:]
    assert [line.split()[0] for line in lines] == ids[:0:-1]
    assert lines[0].endswith("(current)") and not lines[1].endswith("(current)")
    # asking the pruned run says so (it once blamed the subject's load time)
    with pytest.raises(NotFound, match="was pruned") as info:
        score_lookup(loaded, keep_one, sid, caller=Caller("tester", "test"), run_id=ids[0])
    assert info.value.code == "run_pruned"
    # so does exporting it (it was an empty export with code 0)
    with pytest.raises(NotFound, match="was pruned") as info:
        export_scores(loaded, keep_one, caller=Caller("tester", "test"), run_id=ids[0])
    assert info.value.code == "run_pruned"
    assert len(list(export_scores(loaded, keep_one, caller=Caller("t", "t"), run_id=ids[1])[2]))


def test_run_that_lost_its_lease_is_not_made_current(loaded: Gateway, settings: Settings) -> None:
    runs = Runs(loaded, settings)
    first = runs.run(load_policy(None), AS_OF).run_id

    def take_over(phase: str, _run: str) -> None:
        if phase == "write-back":  # another writer takes the lease while this run writes
            loaded.write("MATCH (l:Lease) SET l.holder = 'load-other'")

    with pytest.raises(Busy, match="lost the graph's writer lease to load-other"):
        runs.run(load_policy(None), AS_OF, on_phase=take_over)
    assert runs.get(None)["id"] == first
    statuses = loaded.read("MATCH (r:Run) RETURN r.status AS s ORDER BY r.started_at")
    assert [r["s"] for r in statuses] == ["completed", "failed"]
    # asking the failed run names the run, not the subject's load time
    failed = runs.history(1)[0]["id"]
    sid = loaded.read("MATCH (s:Subject) RETURN s.id AS s ORDER BY s.id LIMIT 1")[0]["s"]
    with pytest.raises(NotFound, match=f"run {failed} is failed: it has no scores") as info:
        score_lookup(loaded, settings, sid, caller=Caller("tester", "test"), run_id=failed)
    assert info.value.code == "not_scored"


def test_killed_write_back_keeps_previous_run_current(
    loaded: Gateway, settings: Settings, neo4j_server: ManagedServer
) -> None:
    first = Runs(loaded, settings).run(load_policy(None), AS_OF).run_id
    proc = subprocess.Popen(
        [sys.executable, "-m", "credgraph.cli.main", "propagate", "--as-of", "2026-06-30"],
        env=env_for(neo4j_server, CREDGRAPH_BATCH_SIZE="20"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    killed_run = None
    while time.monotonic() < deadline and proc.poll() is None:
        rows = loaded.read(
            "MATCH (sc:Score) WHERE sc.run <> $first RETURN sc.run AS r, count(*) AS n",
            first=first,
        )
        if rows and rows[0]["n"] > 100:
            killed_run = rows[0]["r"]
            break
        time.sleep(0.05)
    assert killed_run is not None and proc.poll() is None, "write-back ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs = Runs(loaded, settings)
    cur = runs.current()
    assert cur is not None and cur["id"] == first
    assert runs.get(killed_run)["status"] == "running"
    # readers still see exactly the first run
    assert cli(neo4j_server, "scores").stdout.count(first) == 1500
    nxt = runs.run(load_policy(None), AS_OF).run_id
    assert runs.current()["id"] == nxt  # type: ignore[index]
    assert runs.get(killed_run)["status"] == "interrupted"
    left = loaded.read("MATCH (sc:Score {run: $r}) RETURN count(*) AS n", r=killed_run)
    assert left == [{"n": 0}]
    # the killed run had saved its snapshot before the write-back: gone with its scores
    assert not runs.store.path_of(killed_run).exists()
    assert not list(runs.store.root.glob(f".tmp-{killed_run}-*"))
    assert runs.store.exists(nxt)


def test_dispute_takes_record_out_of_scoring(loaded: Gateway, settings: Settings) -> None:
    runs = Runs(loaded, settings)
    row = loaded.read(
        "MATCH (s:Subject)-[:LISTED]->(b:BlacklistEntry) "
        "WHERE b.delisted_on IS NULL AND b.expires_on IS NULL "
        "RETURN s.id AS s, b.id AS b ORDER BY b.id LIMIT 1"
    )[0]
    before = runs.run(load_policy(None), AS_OF)
    ev = dispute(
        loaded, row["b"], reason="wrong person", resolve=False, caller=Caller("tester", "test")
    )
    after = runs.run(load_policy(None), AS_OF)
    assert before.scores is not None and after.scores is not None
    assert np.all(after.scores.trust >= before.scores.trust - 1e-12)  # S2: never lowers any
    doc = score_lookup(loaded, settings, row["s"], caller=Caller("tester", "test"))
    rec = next(r for r in doc["records"] if r["id"] == row["b"])
    assert rec["status"] == "disputed" and rec["effective"] == 0.0  # S6: shown as such
    audit = loaded.read(
        "MATCH (d:Dispute)-[:ABOUT]->(b:BlacklistEntry {id: $b}) "
        "RETURN d.action AS a, d.actor AS who, d.reason AS why",
        b=row["b"],
    )
    assert audit == [{"a": "opened", "who": "tester", "why": "wrong person"}]
    assert ev["action"] == "opened"
    with pytest.raises(Exception, match="already disputed"):
        dispute(loaded, row["b"], reason="again", resolve=False, caller=Caller("tester", "test"))
    dispute(loaded, row["b"], reason=None, resolve=True, caller=Caller("tester", "test"))
    again = runs.run(load_policy(None), AS_OF)
    assert again.scores is not None
    assert np.allclose(again.scores.trust, before.scores.trust)


def test_dispute_refuses_an_id_that_is_both_a_loan_and_an_entry(loaded: Gateway) -> None:
    """A loan and a blacklist entry may share an id (two id spaces); one dispute marked
    both and failed on the Dispute id constraint with a raw database error."""
    row = loaded.read("MATCH (b:BlacklistEntry) RETURN b.id AS b ORDER BY b.id LIMIT 1")[0]
    loaded.write("CREATE (:Loan {id: $id})", id=row["b"])
    with pytest.raises(Conflict, match="both a loan and a blacklist entry") as exc:
        dispute(loaded, row["b"], reason="which?", resolve=False, caller=Caller("t", "t"))
    assert exc.value.code == "ambiguous_record"
    left = loaded.read(
        "MATCH (r {id: $id}) WHERE r:Loan OR r:BlacklistEntry "
        "RETURN count(r.disputed) AS flagged, COUNT { (:Dispute) } AS disputes",
        id=row["b"],
    )
    assert left == [{"flagged": 0, "disputes": 0}]


def test_stress_reads_only(loaded: Gateway) -> None:
    bank = loaded.read(
        "MATCH (b:Firm)-[:BORROWED]->(:Loan) WHERE b.equity > 0 "
        "RETURN b.id AS id, count(*) AS n ORDER BY n DESC, id LIMIT 1"
    )[0]["id"]
    count = "MATCH (n) RETURN count(n) AS n UNION ALL MATCH ()-[r]->() RETURN count(r) AS n"
    before = loaded.read(count)
    res = stress(loaded, {bank: 1.0}, AS_OF)
    assert loaded.read(count) == before
    assert res["distress"][bank] == 1.0 and bank in res["defaults"]
    assert res["debtrank"] >= 0.0
    assert all(0.0 <= h <= 1.0 for h in res["distress"].values())


def test_cli_stress_and_runs_json(
    loaded: Gateway,
    neo4j_server: ManagedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sid = loaded.read("MATCH (f:Firm) WHERE f.equity > 0 RETURN f.id AS id LIMIT 1")[0]["id"]
    proc = cli(neo4j_server, "stress", "--shock", f"{sid}=0.5", "--json", "--as-of", "2026-06-30")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"debtrank", "defaults", "distress", "unassessed"} <= doc.keys()
    assert doc["distress"][sid] == 0.5
    bad = cli(neo4j_server, "stress", "--shock", f"{sid}=1.5")
    assert bad.returncode == 2 and "fraction must be in (0, 1], not 1.5" in bad.stderr
    nope = cli(neo4j_server, "stress", "--shock", "NOPE")
    assert nope.returncode == 1 and "error: no subject 'NOPE' to shock" in nope.stderr
    assert "internal error" not in nope.stderr
    # in a home of its own with no server (never the default home): a clear error
    monkeypatch.setenv("CREDGRAPH_HOME", str(tmp_path / "home"))
    for var in ("NEO4J_URI", "NEO4J_PASSWORD", "CREDGRAPH_BOLT_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert main(["runs", "--json"]) == 1
    err = capsys.readouterr().err
    assert "never started" in err and "internal error" not in err


def _query(gw: Gateway, name: str, **given: object) -> list[dict[str, object]]:
    from credgraph.queries.library import check_params, library
    from credgraph.queries.runner import run_read

    q = library()[name]
    return run_read(gw, q.cypher, check_params(q, given)).rows


def test_stored_ranks_and_drops_answer_like_a_full_sort(
    loaded: Gateway, settings: Settings
) -> None:
    """systemic_subjects and score_drops read the ranks and drops a run stores on its
    Score nodes; the same queries on runs without them (as stored before schema
    version 4) sort every Score instead: both must give the same rows, ties and all."""
    runs = Runs(loaded, settings)
    policy = load_policy(None)
    first = runs.run(policy, date(2028, 6, 30))  # records decayed: higher trust
    second = runs.run(policy, AS_OF)
    stored = loaded.read(
        "MATCH (r:Run {id: $id}) RETURN r.ranked AS ranked, r.drop_from AS drop_from",
        id=second.run_id,
    )
    assert stored == [{"ranked": True, "drop_from": first.run_id}]
    fast = {
        by: _query(loaded, "systemic_subjects", by=by, limit=60)
        for by in ("pagerank", "betweenness", "kcore")
    }
    drops_fast = _query(loaded, "score_drops", limit=1000)
    loaded.write("MATCH (r:Run) REMOVE r.ranked, r.drop_from")
    for by, rows in fast.items():
        assert len(rows) == 60
        assert rows == _query(loaded, "systemic_subjects", by=by, limit=60), by
    assert len(drops_fast) > 20  # a year less of decay: many subjects fell
    assert drops_fast == _query(loaded, "score_drops", limit=1000)
    assert {(r["previous_run"], r["current_run"]) for r in drops_fast} == {
        (first.run_id, second.run_id)
    }


class _Stop(BaseException):
    pass


def test_a_stop_as_the_run_is_created_marks_it_failed(loaded: Gateway, settings: Settings) -> None:
    """A stop by signal (graph/interrupt.py) that comes while the Run node is being
    written is raised as that write returns: the run must end `failed`, not stay
    `running`, and the lease be free (a scheduler stopped then left it running). Its
    tags are on it all the same (a scheduler that tagged its run after the creation
    left an untagged one when stopped then)."""

    class StoppedAtCreate(Gateway):
        def write(self, cypher: Any, *, fenced: bool = True, **params: Any) -> Any:
            if "CREATE (r:Run" not in cypher:
                return super().write(cypher, fenced=fenced, **params)
            with shielded():
                out = super().write(cypher, fenced=fenced, **params)
                interrupt(_Stop("stopped by the test"))  # as a signal would, mid-write
            return out

    phases: list[str] = []
    with StoppedAtCreate(settings) as gw, pytest.raises(_Stop):
        Runs(gw, settings).run(
            load_policy(None),
            AS_OF,
            tags={"trigger": "scheduler", "tick": 3},
            on_phase=lambda p, _run: phases.append(p),
        )
    assert phases == []
    runs = loaded.read(
        "MATCH (r:Run) RETURN r.status AS status, r.error AS error, r.trigger AS trigger, "
        "r.tick AS tick"
    )
    assert runs == [
        {
            "status": "failed",
            "error": "_Stop: stopped by the test",
            "trigger": "scheduler",
            "tick": 3,
        }
    ]
    assert loaded.read("MATCH (l:Lease) RETURN l.holder AS h") == [{"h": None}]


def test_lists_the_policy_does_not_name_are_reported_by_the_run(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """A list name is kept as loaded: "Sanctions" or " sanctions" is not the policy's
    `sanctions` and scores with `lists.default` (0.5, compliance), not 1.0. The run says
    so (stderr, --json, its Run node) instead of scoring a misspelt list quietly."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "persons.csv").write_text("id,name\nP1,Ann\nP2,Bo\nP3,Cy\nP4,Di\n")
    (data / "blacklist.csv").write_text(
        "id,subject_id,list,listed_on\n"
        "B1,P1,Sanctions,2024-01-01\nB2,P2,Sanctions,2024-01-01\n"
        "B3,P3,sanctions,2024-01-01\nB4,P4,Court_Dishonest_Debtor,2024-01-01\n"
    )
    load(gateway, data, source="hand", rejects_path=tmp_path / "r.csv")
    proc = cli(neo4j_server, "propagate", "--as-of", "2025-01-01")
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning: blacklist entries on lists the policy does not name were scored with its "
        "`lists.default`: 'Court_Dishonest_Debtor' (1), 'Sanctions' (2)"
    ) in proc.stderr
    (run,) = gateway.read(
        "MATCH (r:Run {current: true}) RETURN r.unnamed_lists AS names, r.unnamed_list_entries AS n"
    )
    assert run == {"names": ["Court_Dishonest_Debtor", "Sanctions"], "n": [1, 2]}
    trust = dict(
        gateway.read_values("MATCH (s:Score) RETURN collect([s.subject, s.trust_score])")[0][0]
    )
    assert trust["P1"] == trust["P4"] > trust["P3"]  # the default's 0.5 against sanctions' 1.0
    again = cli(neo4j_server, "propagate", "--as-of", "2025-01-01", "--json")
    assert json.loads(again.stdout)["unnamed_lists"] == {
        "Court_Dishonest_Debtor": 1,
        "Sanctions": 2,
    }
