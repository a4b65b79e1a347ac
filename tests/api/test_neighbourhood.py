"""The neighbourhood walk against a reference breadth-first walk over the same graph,
and the current run that the audit statement reads with every lookup."""

from __future__ import annotations

from collections import defaultdict

import pytest

from credgraph.graph.audit import audit_events
from credgraph.services.caller import Caller
from credgraph.services.subjects import EDGE_KINDS, neighbourhood, search, subject_view
from tests.api.conftest import World

pytestmark = pytest.mark.integration

CALLER = Caller(actor="walk-test", via="api", role="investigator")


def graph_of(world: World) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Every node's neighbours (keys ``kind:id``) along the walk's relationship kinds,
    and every relationship of those kinds as (source key, target key, kind)."""
    rows = world.gw.read(
        "MATCH (a)-[r]->(b) WHERE type(r) IN $types "
        "RETURN labels(a) AS la, a.id AS a, labels(b) AS lb, b.id AS b, type(r) AS t",
        types=list(EDGE_KINDS.values()),
    )
    kinds = {
        "Person": "person",
        "Firm": "firm",
        "Loan": "loan",
        "BlacklistEntry": "blacklist_entry",
    }

    def key(labels: list[str], nid: str) -> str:
        return next(f"{kinds[lab]}:{nid}" for lab in kinds if lab in labels)

    adjacent: dict[str, set[str]] = defaultdict(set)
    rels = []
    for r in rows:
        a, b = key(r["la"], r["a"]), key(r["lb"], r["b"])
        adjacent[a].add(b)
        adjacent[b].add(a)
        rels.append((a, b, r["t"].lower()))
    return adjacent, rels


def distances(adjacent: dict[str, set[str]], start: str, depth: int) -> dict[str, int]:
    dist = {start: 0}
    frontier = [start]
    for d in range(1, depth + 1):
        frontier = [n for f in frontier for n in adjacent[f] if n not in dist]
        for n in frontier:
            dist.setdefault(n, d)
    return dist


def test_the_walk_equals_a_reference_walk(world: World) -> None:
    adjacent, rels = graph_of(world)
    loan = world.gw.read("MATCH (l:Loan) RETURN l.id AS id ORDER BY l.id LIMIT 1")[0]["id"]
    centres = [world.hub, world.person, world.explained, loan]
    checked = 0
    for centre in centres:
        for depth in (1, 2, 3):
            for limit in (500, 7):
                out = neighbourhood(
                    world.gw, world.settings, centre, caller=CALLER, depth=depth, limit=limit
                )
                start = out["centre"]
                assert start.endswith(f":{centre}") and out["nodes"][0]["key"] == start
                want = distances(adjacent, start, depth)
                got = {n["key"]: n["depth"] for n in out["nodes"]}
                # breadth first: every node at its true distance, whatever the cut
                assert all(want[k] == d for k, d in got.items()), (centre, depth, limit)
                if out["truncated"] is None:
                    assert got == want, (centre, depth, limit)
                else:
                    assert out["truncated"] == "limit" and len(got) == limit < len(want)
                edges = sorted((e["source"], e["target"], e["kind"]) for e in out["edges"])
                assert edges == sorted(r for r in rels if r[0] in got and r[1] in got)
                checked += len(got)
    assert checked > 100


def test_a_limit_of_one_is_the_centre_alone(world: World) -> None:
    out = neighbourhood(world.gw, world.settings, world.hub, caller=CALLER, depth=3, limit=1)
    assert [n["id"] for n in out["nodes"]] == [world.hub]
    assert out["edges"] == [] and out["truncated"] is None


def test_each_lookup_reads_the_current_run_afresh(world: World) -> None:
    """No run id is kept between lookups: a new current run (or none) is seen by the
    very next one, in its answer and in its audit event alike."""
    gw = world.gw

    def last_event_run(action: str) -> str | None:
        events = [
            e for e in audit_events(gw, actor=CALLER.actor, limit=20) if e["action"] == action
        ]
        return events[0]["run"]  # type: ignore[no-any-return]

    def lookups() -> list[str | None]:
        runs = [
            neighbourhood(gw, world.settings, world.hub, caller=CALLER)["run"],
            subject_view(gw, world.settings, world.hub, caller=CALLER)["score"],
            search(gw, world.settings, world.hub, caller=CALLER)["run"],
        ]
        events = [last_event_run(a) for a in ("neighbourhood", "subject", "search")]
        subject_score = runs[1]["run"] if runs[1] else None
        return [runs[0], subject_score, runs[2], *events]

    assert lookups() == [world.run] * 6
    try:
        gw.write(
            "MATCH (r:Run {id: $old}) SET r.current = false "
            "CREATE (:Run {id: 'run-20990101T000000-aaaaaa', current: true, status: 'completed'})",
            old=world.run,
        )
        # the new run has no scores: the subject view shows none, the others name it
        new = "run-20990101T000000-aaaaaa"
        assert lookups() == [new, None, new, new, new, new]
        gw.write("MATCH (r:Run {id: 'run-20990101T000000-aaaaaa'}) SET r.current = false")
        assert lookups() == [None] * 6
    finally:
        gw.write("MATCH (r:Run {id: 'run-20990101T000000-aaaaaa'}) DETACH DELETE r")
        gw.write("MATCH (r:Run {id: $old}) SET r.current = true", old=world.run)
    assert lookups() == [world.run] * 6
