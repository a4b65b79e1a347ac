"""The HTTP API against the real Neo4j: every route, the role matrix, the one error
shape, pagination, neighbourhood bounds, search with injection-looking input, the
audit trail, metrics, the viewer's page and the apikey commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from credgraph.api.app import create_app
from credgraph.api.models import Score
from credgraph.services.caller import Caller
from credgraph.services.subjects import initials, lucene_terms, mask, neighbourhood
from tests.api.conftest import World

pytestmark = pytest.mark.integration

ROUTES = [
    "/subjects",
    "/subjects/{s}",
    "/subjects/{s}/score",
    "/subjects/{s}/neighbourhood",
    "/runs",
    "/runs/{r}",
    "/queries",
    "/audit",
    "/metrics",
    "/openapi.json",
]


def is_error(res: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` in the one error shape; returns its error object."""
    assert res.status_code == status, res.text
    body = res.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "field", "hint", "status"}
    assert err["status"] == status and err["message"]
    assert "Traceback" not in res.text
    if code:
        assert err["code"] == code, err
    return err  # type: ignore[no-any-return]


def path(route: str, world: World) -> str:
    return route.replace("{s}", world.person).replace("{r}", world.run)


# ------------------------------------------------------------------ keys and roles
def test_health_needs_no_key(client: TestClient, world: World) -> None:
    res = client.get("/health")
    assert res.status_code == 200
    assert res.json() == {"status": "ok", "database": True, "current_run": world.run}


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_but_health_needs_a_valid_key(
    client: TestClient, world: World, route: str
) -> None:
    url = path(route, world)
    is_error(client.get(url), 401, "unauthenticated")
    is_error(client.get(url, headers={"X-API-Key": "cg_0123456789ab_" + "x" * 43}), 401)
    is_error(client.get(url, headers={"X-API-Key": "not a key"}), 401)
    is_error(client.get(url, headers=world.headers("revoked")), 401)
    # the same key as a bearer token is accepted
    res = client.get(url, headers={"Authorization": f"Bearer {world.keys['admin']}"})
    assert res.status_code == 200, res.text


def test_no_page_answers_without_a_key(client: TestClient, world: World) -> None:
    """FastAPI's /docs, /redoc and /openapi.json answered without a key; the
    description is now behind one, the pages are gone."""
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        is_error(client.get(page), 404, "not_found")
        is_error(client.get(page, headers=world.headers("admin")), 404, "not_found")
    is_error(client.get("/openapi.json"), 401, "unauthenticated")
    doc = client.get("/openapi.json", headers=world.headers("viewer")).json()
    assert "/subjects/{subject_id}" in doc["paths"] or any("/subjects/" in p for p in doc["paths"])


def test_a_key_is_stored_hashed(world: World) -> None:
    rows = world.gw.read("MATCH (k:ApiKey) RETURN properties(k) AS k")
    text = json.dumps(rows, default=str)
    for key in world.keys.values():
        assert key not in text and key.split("_", 2)[2] not in text
    assert all(len(r["k"]["hash"]) == 64 for r in rows)


ROLE_MATRIX = {
    # route -> the status for viewer, investigator, admin
    "/subjects/{s}": (200, 200, 200),
    "/subjects/{s}/score": (200, 200, 200),
    "/subjects/{s}/neighbourhood": (200, 200, 200),
    "/subjects?q={s}": (200, 200, 200),
    "/runs": (200, 200, 200),
    "/runs/{r}": (403, 403, 200),
    "/audit": (403, 403, 200),
    "/metrics": (200, 200, 200),
    "/openapi.json": (200, 200, 200),
}


@pytest.mark.parametrize("route", ROLE_MATRIX)
def test_role_matrix(client: TestClient, world: World, route: str) -> None:
    for role, status in zip(("viewer", "investigator", "admin"), ROLE_MATRIX[route], strict=True):
        res = client.get(path(route, world), headers=world.headers(role))
        if status == 403:
            is_error(res, 403, "forbidden")
        else:
            assert res.status_code == status, (role, res.text)


def test_who_sees_what_of_a_person(client: TestClient, world: World) -> None:
    clear = world.gw.read(
        "MATCH (p:Person {id: $id}) RETURN p.name AS name, toString(p.birth_date) AS birth, "
        "p.national_id AS nid, p.net_worth AS worth",
        id=world.person,
    )[0]
    seen = {
        role: client.get(f"/subjects/{world.person}", headers=world.headers(role)).json()
        for role in ("viewer", "investigator", "admin")
    }
    viewer = seen["viewer"]["fields"]
    assert viewer["name"] == initials(clear["name"]) != clear["name"]
    assert viewer["birth_date"] is None and viewer["national_id"] is None
    assert viewer["net_worth"] is None and viewer["aliases"] is None
    for role in ("investigator", "admin"):
        f = seen[role]["fields"]
        assert f["name"] == clear["name"]
        assert f["birth_date"] == clear["birth"]
        assert f["net_worth"] == clear["worth"]
        assert f["national_id"] == mask(clear["nid"]) != clear["nid"]
    # the viewer's name is initials in a search hit and in a neighbourhood too
    hits = client.get("/subjects", params={"q": world.person}, headers=world.headers("viewer"))
    assert hits.json()["items"][0]["name"] == initials(clear["name"])
    hood = client.get(
        f"/subjects/{world.person}/neighbourhood", headers=world.headers("viewer")
    ).json()
    centre = next(n for n in hood["nodes"] if n["id"] == world.person)
    assert centre["label"] == initials(clear["name"])
    # a national id never leaves in clear, whoever asks, whatever the route
    for role in ("viewer", "investigator", "admin"):
        for url in (
            f"/subjects/{world.person}",
            f"/subjects/{world.person}/score",
            f"/subjects/{world.person}/neighbourhood?depth=2",
            f"/subjects?q={world.person}",
        ):
            assert clear["nid"] not in client.get(url, headers=world.headers(role)).text


def test_redaction_helpers() -> None:
    assert initials("Anna Maria Berg") == "A. M. B."
    assert initials("  élise   van-dijk ") == "É. V."
    assert mask("AB1234567") == "*******67"
    assert mask("12") == "***12"


# ------------------------------------------------------------------ subjects
def test_subject_view_has_score_and_provenance(client: TestClient, world: World) -> None:
    res = client.get(f"/subjects/{world.explained}", headers=world.headers("viewer"))
    assert res.status_code == 200
    body = res.json()
    assert body["id"] == world.explained and body["kind"] in ("person", "firm")
    assert body["score"]["run"] == world.run
    assert 0 <= body["score"]["trust_score"] <= 100
    prov = body["provenance"]
    assert prov["source"] == "sample"
    # by reference in the graph (load, file, row), resolved through the Load record
    assert prov["source_file"] in ("persons.csv", "firms.csv") and prov["source_row"] >= 2
    assert prov["load_id"].startswith("load-") and prov["loaded_at"]


def test_a_listing_dated_by_its_load_says_so(client: TestClient, world: World) -> None:
    """An entry whose source gave no date counts from its load (listed_on_basis
    'loaded'): the subject's listings and the score's records carry that basis."""
    subject = world.gw.read(
        "MATCH (s:Subject)-[:LISTED]->(b:BlacklistEntry) RETURN s.id AS s, b.id AS b LIMIT 1"
    )[0]
    world.gw.write(
        "MATCH (b:BlacklistEntry {id: $b}) SET b.listed_on_basis = 'loaded'", b=subject["b"]
    )
    try:
        res = client.get(f"/subjects/{subject['s']}", headers=world.headers("viewer"))
    finally:
        world.gw.write("MATCH (b:BlacklistEntry {id: $b}) REMOVE b.listed_on_basis", b=subject["b"])
    assert res.status_code == 200
    listings = {x["id"]: x for x in res.json()["listings"]}
    assert listings[subject["b"]]["listed_on_basis"] == "loaded"
    # the score's records: the basis the run recorded, kept by the response model
    res = client.get(f"/subjects/{subject['s']}/score", headers=world.headers("viewer"))
    assert res.status_code == 200
    records = res.json()["records"]
    assert records and all(r["date_basis"] == "input" for r in records)
    record = {**records[0], "date_basis": "loaded"}
    assert (
        Score.model_validate(res.json() | {"records": [record]}).model_dump()["records"][0][
            "date_basis"
        ]
        == "loaded"
    )


def test_unknown_subject_is_404_and_audited(client: TestClient, world: World) -> None:
    for route in ("/subjects/NOPE", "/subjects/NOPE/score", "/subjects/NOPE/neighbourhood"):
        err = is_error(client.get(route, headers=world.headers("viewer")), 404, "not_found")
        assert err["field"] == "subject"
    events = world.gw.read(
        "MATCH (e:AuditEvent {subject: 'NOPE', actor: $actor}) RETURN e.action AS action",
        actor=world.key_ids["viewer"],
    )
    assert {"subject", "score", "neighbourhood"} <= {e["action"] for e in events}


def test_refused_lookups_are_audited_too(client: TestClient, world: World) -> None:
    """Every lookup is on the record, also one refused for a bad parameter (before or
    in its handler), for the caller's role, or for a named query's parameters."""
    s, long_id = world.person, "Z" * 201

    def events() -> int:
        return int(world.gw.read("MATCH (e:AuditEvent) RETURN count(e) AS n")[0]["n"])

    hv, hi = world.headers("viewer"), world.headers("investigator")
    refused = [
        (lambda: client.get(f"/subjects/{long_id}", headers=hv), 422, 1),
        (lambda: client.get(f"/subjects/{s}/score?top=0", headers=hv), 422, 1),
        (lambda: client.get(f"/subjects/{s}/neighbourhood?depth=9", headers=hv), 422, 1),
        (lambda: client.get(f"/subjects/{s}/neighbourhood?kinds=foo", headers=hv), 400, 1),
        (lambda: client.post("/queries/subject_profile", json={"id": s}, headers=hv), 403, 1),
        (
            lambda: client.post("/queries/subject_profile", json={"id": s, "zz": 1}, headers=hi),
            400,
            1,
        ),
        (
            lambda: client.post("/queries/shortest_path", json={"from": s, "to": "F1"}, headers=hv),
            403,
            2,  # one event per end
        ),
        (lambda: client.get(f"/subjects/{s}/score?top=0"), 401, 0),  # no caller to name
    ]
    for send, status, added in refused:
        before = events()
        is_error(send(), status)
        assert events() - before == added, (status, added)
    rows = world.gw.read(
        "MATCH (e:AuditEvent {actor: $actor}) WHERE e.detail STARTS WITH 'refused' "
        "RETURN e.subject AS subject, e.action AS action",
        actor=world.key_ids["viewer"],
    )
    got = {(r["subject"], r["action"]) for r in rows}
    assert {(s, "score"), (s, "neighbourhood"), (long_id[:200] + "…[201 chars]", "subject")} <= got


def test_refused_searches_and_query_bodies_are_audited(client: TestClient, world: World) -> None:
    """A search refused for its parameters (a limit over 100, an over-long q) and a named
    query refused for its body (not JSON, not an object) are lookups on the record too:
    FastAPI refuses them before the handler that audits them ran, and they left no trace."""
    hv, hi = world.headers("viewer"), world.headers("investigator")
    json_body = {**hi, "Content-Type": "application/json"}

    def mine(actor: str) -> list[dict[str, Any]]:
        return world.gw.read(
            "MATCH (e:AuditEvent {actor: $actor}) WHERE e.detail STARTS WITH 'refused' "
            "RETURN e.id AS id, e.subject AS subject, e.action AS action, e.detail AS detail",
            actor=world.key_ids[actor],
        )

    seen = {e["id"] for e in mine("viewer")} | {e["id"] for e in mine("investigator")}
    refused = [
        client.get("/subjects", params={"q": "Wang", "limit": 1000}, headers=hv),
        client.get("/subjects", params={"q": "x" * 201}, headers=hv),
        client.post("/queries/subject_profile", content=b"{bad", headers=json_body),
        client.post("/queries/guarantee_chains", content=b"[1, 2]", headers=json_body),
    ]
    for res in refused:
        err = is_error(res, 422, "invalid_request")
        assert err["field"] in {"limit", "q", "body"}, err  # a non-object body: "body" too
    new = [e for e in mine("viewer") + mine("investigator") if e["id"] not in seen]
    got = sorted((e["subject"], e["action"]) for e in new)
    assert got == [
        ("*", "query:guarantee_chains"),
        ("*", "query:subject_profile"),
        ("*", "search"),
        ("*", "search"),
    ]
    # what was searched for is on the record, as for an answered search
    assert any('"q": "Wang"' in e["detail"] and "limit" in e["detail"] for e in new)
    # a query the library does not have is no lookup: nothing to name
    before = len(mine("investigator"))
    is_error(client.post("/queries/no_such", content=b"[1]", headers=json_body), 422)
    assert len(mine("investigator")) == before


def test_a_score_refused_for_its_run_id_says_so(client: TestClient, world: World) -> None:
    """A malformed run id is refused (400) after the event is written; the event's detail
    says it was refused and why (it was empty, so the log read as a score shown)."""
    hv = world.headers("viewer", **{"X-Purpose": "bad run check"})
    err = is_error(client.get(f"/subjects/{world.person}/score?run=bad!!", headers=hv), 400)
    assert err["field"] == "run"
    (event,) = world.gw.read(
        "MATCH (e:AuditEvent {action: 'score', reason: 'bad run check'}) "
        "RETURN e.subject AS subject, e.detail AS detail"
    )
    assert event["subject"] == world.person
    assert event["detail"].startswith("refused: 'bad!!' is not a run id")


def test_the_audit_log_says_why_a_lookup_was_refused(client: TestClient, world: World) -> None:
    """GET /audit shows each event's detail: a refused lookup ("refused: why") is told
    from one answered, and a named query's parameters are there (they were written to
    the graph but left out of the listing)."""
    s, hi = world.person, world.headers("investigator", **{"X-Purpose": "detail check"})
    is_error(client.get(f"/subjects/{s}/neighbourhood?depth=9", headers=hi), 422)
    assert client.post("/queries/subject_profile", json={"id": s}, headers=hi).status_code == 200
    log = client.get(
        "/audit",
        params={"subject": s, "actor": world.key_ids["investigator"]},
        headers=world.headers("admin"),
    ).json()
    mine = {e["action"]: e for e in log["items"] if e["reason"] == "detail check"}
    assert mine["neighbourhood"]["detail"].startswith("refused: depth")
    assert '"id": "' + s + '"' in mine["query:subject_profile"]["detail"]


def test_a_search_is_audited_with_what_was_searched_for(client: TestClient, world: World) -> None:
    """A search is one event of subject '*'; its detail keeps the words asked and the
    ids shown, so the log says who looked for a name and whom they saw (the event alone
    said only that someone searched)."""
    name = world.gw.read("MATCH (p:Person {id: $id}) RETURN p.name AS n", id=world.person)[0]["n"]
    hi = world.headers("investigator", **{"X-Purpose": "search check"})
    res = client.get("/subjects", params={"q": name}, headers=hi)
    assert world.person in {i["id"] for i in res.json()["items"]}
    (event,) = world.gw.read(
        "MATCH (e:AuditEvent {action: 'search', reason: 'search check'}) "
        "RETURN e.subject AS subject, e.detail AS detail"
    )
    assert event["subject"] == "*" and json.loads(event["detail"])["q"] == name
    # and whom it showed: the ids of the page, in its order
    assert json.loads(event["detail"])["shown"] == [i["id"] for i in res.json()["items"]]


def test_a_body_that_is_not_json_names_the_body(client: TestClient, world: World) -> None:
    """Broken JSON is a 422 about the body (its field was the character offset, "1")."""
    res = client.post(
        "/queries/subject_profile",
        content=b"{bad json",
        headers=world.headers("investigator", **{"Content-Type": "application/json"}),
    )
    err = is_error(res, 422, "invalid_request")
    assert err["field"] == "body" and "not valid JSON" in err["message"]


def test_an_id_with_a_slash_can_be_looked_up(client: TestClient, world: World) -> None:
    """Ids may hold "/" (registration numbers do); sent as %2F, which the server
    decodes, they once matched no route (a generic 404, and no audit event)."""
    world.gw.write("CREATE (:Subject:Firm {id: 'HRB 12/34', name: 'Slash GmbH'})")
    try:
        hv = world.headers("viewer")
        res = client.get("/subjects/HRB%2012%2F34", headers=hv)
        assert res.status_code == 200, res.text
        assert res.json()["id"] == "HRB 12/34"
        hood = client.get("/subjects/HRB%2012%2F34/neighbourhood", headers=hv)
        assert hood.status_code == 200 and hood.json()["nodes"][0]["id"] == "HRB 12/34"
        # loaded after the current run: not scored, said so (not "no such route")
        is_error(client.get("/subjects/HRB%2012%2F34/score", headers=hv), 404, "not_scored")
        page = client.get("/ui/subjects/HRB%2012%2F34", headers=hv)
        assert page.status_code == 200
        events = world.gw.read(
            "MATCH (e:AuditEvent {subject: 'HRB 12/34'}) RETURN e.action AS a ORDER BY a"
        )
        assert [e["a"] for e in events] == ["neighbourhood", "score", "subject"]
    finally:
        world.gw.write("MATCH (n:Subject {id: 'HRB 12/34'}) DETACH DELETE n")


def test_score_is_served_with_its_explanation(client: TestClient, world: World) -> None:
    res = client.get(f"/subjects/{world.explained}/score", headers=world.headers("viewer"))
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["run"]["id"] == world.run
    assert body["contributions"], body.get("explanation_note")
    assert all(c["amount"] > 0 and c["path"] for c in body["contributions"])
    assert body["history"][0]["run"] == world.run
    top = client.get(
        f"/subjects/{world.explained}/score?top=1", headers=world.headers("viewer")
    ).json()
    assert len(top["contributions"]) == 1
    # a malformed run id is refused before it is looked up; a well-formed unknown one is a 404
    is_error(
        client.get("/subjects/X/score?run=run-none", headers=world.headers("viewer")),
        400,
        "bad_run_id",
    )
    is_error(
        client.get(
            f"/subjects/{world.explained}/score?run=run-20000101T000000-abcdef",
            headers=world.headers("viewer"),
        ),
        404,
        "no_such_run",
    )


def test_search_by_id_name_and_alias(client: TestClient, world: World) -> None:
    firm = world.gw.read(
        "MATCH (f:Firm) WHERE f.name CONTAINS ' ' RETURN f.id AS id, f.name AS name "
        "ORDER BY f.id LIMIT 1"
    )[0]
    hv = world.headers("investigator")
    by_id = client.get("/subjects", params={"q": firm["id"]}, headers=hv).json()
    assert by_id["items"][0] == {
        "id": firm["id"],
        "kind": "firm",
        "name": firm["name"],
        "trust_score": by_id["items"][0]["trust_score"],
        "matched": "id",
    }
    by_name = client.get("/subjects", params={"q": firm["name"], "limit": 100}, headers=hv)
    assert firm["id"] in [h["id"] for h in by_name.json()["items"]]
    # a prefix of the last word finds it too
    words = firm["name"].split()
    prefix = " ".join([*words[:-1], words[-1][:3]])
    hits = client.get("/subjects", params={"q": prefix, "limit": 100}, headers=hv).json()
    assert firm["id"] in [h["id"] for h in hits["items"]]
    # an alias (FtM subjects carry them) is searched as well
    world.gw.write("MATCH (f:Firm {id: $id}) SET f.aliases = ['Zyxwvut Holdings']", id=firm["id"])
    world.gw.run_schema("CALL db.index.fulltext.awaitEventuallyConsistentIndexRefresh()")
    alias = client.get("/subjects", params={"q": "zyxwvut"}, headers=hv).json()
    assert [h["id"] for h in alias["items"]] == [firm["id"]]


def _search_as_viewer_and_investigator(client: TestClient, world: World, name: str) -> None:
    for q in (name, "qwxzy"):
        found = {
            role: [
                h["id"]
                for h in client.get(
                    "/subjects", params={"q": q, "limit": 100}, headers=world.headers(role)
                ).json()["items"]
            ]
            for role in ("viewer", "investigator")
        }
        assert world.person in found["investigator"], q
        assert world.person not in found["viewer"], q


def test_a_viewer_cannot_confirm_a_persons_name_by_search(client: TestClient, world: World) -> None:
    """A viewer sees a person's initials; searching the words of the full name (or
    an alias) must not find that person, or the search would tell the name."""
    name = world.gw.read("MATCH (p:Person {id: $id}) RETURN p.name AS n", id=world.person)[0]["n"]
    world.gw.write("MATCH (p:Person {id: $id}) SET p.aliases = ['Qwxzy Alias']", id=world.person)
    world.gw.run_schema("CALL db.index.fulltext.awaitEventuallyConsistentIndexRefresh()")
    try:
        _search_as_viewer_and_investigator(client, world, name)
    finally:
        world.gw.write("MATCH (p:Person {id: $id}) REMOVE p.aliases", id=world.person)
    # by id the viewer still finds the person (shown as initials)
    hits = client.get("/subjects", params={"q": world.person}, headers=world.headers("viewer"))
    assert hits.json()["items"][0]["id"] == world.person
    # firms' names stay searchable for a viewer
    firm = world.gw.read("MATCH (f:Firm) RETURN f.id AS id, f.name AS n ORDER BY f.id LIMIT 1")[0]
    hits = client.get(
        "/subjects", params={"q": firm["n"], "limit": 100}, headers=world.headers("viewer")
    )
    assert firm["id"] in [h["id"] for h in hits.json()["items"]]


def test_search_pages(client: TestClient, world: World) -> None:
    hv = world.headers("viewer")
    total = world.gw.read("MATCH (s:Subject) RETURN count(s) AS n")[0]["n"]
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get("/subjects", params={"limit": 100, "offset": offset}, headers=hv)
        body = page.json()
        assert len(body["items"]) <= 100
        seen += [h["id"] for h in body["items"]]
        offset = body["next_offset"]
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen)
    is_error(client.get("/subjects?limit=0", headers=hv), 422, "invalid_request")
    assert is_error(client.get("/subjects?limit=101", headers=hv), 422)["field"] == "limit"


INJECTIONS = [
    "' OR 1=1 --",
    '") RETURN n //',
    "MATCH (n) DETACH DELETE n",
    "*",
    "name:*",
    "\\",
    '"unterminated',
    "AND OR NOT",
    "a~ b^2 [x TO y] {a TO b}",
    "}{)(][",
    "/regex.*/",
    "$id",
    "-+&&||!",
    "\u0000\u202e drop",
    "x" * 200,
]


def data_counts(world: World) -> dict[str, int]:
    rows = world.gw.read(
        "MATCH (n) WHERE NOT n:AuditEvent RETURN labels(n)[0] AS l, count(n) AS n ORDER BY l"
    )
    rels = world.gw.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    return {r["l"]: r["n"] for r in rows} | {"relationships": rels}


def test_search_with_injection_looking_input(client: TestClient, world: World) -> None:
    before = data_counts(world)
    for q in INJECTIONS:
        res = client.get("/subjects", params={"q": q}, headers=world.headers("viewer"))
        assert res.status_code in (200, 422), (q, res.text)
        if res.status_code == 422:
            is_error(res, 422)
        else:
            assert isinstance(res.json()["items"], list)
    assert data_counts(world) == before


def test_lucene_terms_escape_everything() -> None:
    assert lucene_terms("Acme Trading") == "Acme AND (Trading OR Trading*)"
    assert lucene_terms("name:* x") == "name\\:\\* AND (x OR x*)"
    assert lucene_terms("AND OR") == "and AND (or OR or*)"
    assert lucene_terms("*** ?? --") is None
    assert lucene_terms('a"b') == 'a\\"b OR a\\"b*'.join(["(", ")"])


# ------------------------------------------------------------------ neighbourhoods
def test_neighbourhood_matches_the_graph(client: TestClient, world: World) -> None:
    res = client.get(
        f"/subjects/{world.hub}/neighbourhood?depth=1&limit=500", headers=world.headers("viewer")
    )
    assert res.status_code == 200, res.text
    body = res.json()
    direct = world.gw.read(
        "MATCH (s:Subject {id: $id})-[r]-(n) WHERE NOT type(r) IN ['SCORED', 'IN_CIRCLE'] "
        "RETURN DISTINCT n.id AS id",
        id=world.hub,
    )
    assert body["truncated"] is None
    assert sorted(n["id"] for n in body["nodes"] if n["depth"] == 1) == sorted(
        r["id"] for r in direct
    )
    keys = {n["key"] for n in body["nodes"]}
    assert all(e["source"] in keys and e["target"] in keys for e in body["edges"])
    assert body["nodes"][0]["id"] == world.hub and body["nodes"][0]["depth"] == 0
    subjects = [n for n in body["nodes"] if n["kind"] in ("person", "firm")]
    assert all(n["trust_score"] is not None and n["risk"] for n in subjects)
    loans = [n for n in body["nodes"] if n["kind"] == "loan"]
    assert all(n["amount"] is not None for n in loans)
    owns = [e for e in body["edges"] if e["kind"] == "owns"]
    assert all(e["share"] is not None for e in owns)


def test_neighbourhood_edges_of_a_hub_cut_short(world: World) -> None:
    """A neighbourhood cut to fewer nodes than the hub has relationships: its edges
    (looked up pair by pair from a hub) are exactly the graph's relationships among
    the nodes it holds, listed here from the hub's own relationships."""
    caller = Caller(actor="test", via="api", role="investigator")
    degree = world.gw.read(
        "MATCH (s:Subject {id: $id}) RETURN COUNT { (s)-->() } AS n", id=world.hub
    )[0]["n"]
    limit = 4
    assert degree > limit  # the hub branch of the edge query is taken
    out = neighbourhood(world.gw, world.settings, world.hub, caller=caller, depth=1, limit=limit)
    assert len(out["nodes"]) == limit
    key_of = {n["id"]: n["key"] for n in out["nodes"]}
    rels = world.gw.read(
        "MATCH (a)-[r]->(b) WHERE a.id IN $ids AND b.id IN $ids "
        "AND NOT type(r) IN ['SCORED', 'IN_CIRCLE'] RETURN a.id AS a, b.id AS b, type(r) AS t",
        ids=list(key_of),
    )
    expected = sorted((key_of[r["a"]], key_of[r["b"]], r["t"].lower()) for r in rels)
    got = sorted((e["source"], e["target"], e["kind"]) for e in out["edges"])
    assert got == expected and got


def test_neighbourhood_depth_limit_and_kinds(client: TestClient, world: World) -> None:
    hv = world.headers("investigator")
    url = f"/subjects/{world.hub}/neighbourhood"
    one = client.get(url, params={"depth": 1, "limit": 500}, headers=hv).json()
    two = client.get(url, params={"depth": 2, "limit": 500}, headers=hv).json()
    assert {n["key"] for n in one["nodes"]} < {n["key"] for n in two["nodes"]}
    assert max(n["depth"] for n in two["nodes"]) == 2
    cut = client.get(url, params={"depth": 3, "limit": 5}, headers=hv).json()
    assert len(cut["nodes"]) == 5 and cut["truncated"] == "limit"
    owns = client.get(url, params={"depth": 2, "kinds": "owns"}, headers=hv).json()
    assert owns["kinds"] == ["owns"] and {e["kind"] for e in owns["edges"]} <= {"owns"}
    both = client.get(url, params=[("kinds", "owns"), ("kinds", "guarantees")], headers=hv)
    assert both.json()["kinds"] == ["owns", "guarantees"]
    for bad in ({"depth": 0}, {"depth": 4}, {"limit": 0}, {"limit": 501}):
        err = is_error(client.get(url, params=bad, headers=hv), 422, "invalid_request")
        assert err["field"] == next(iter(bad))
    err = is_error(client.get(url, params={"kinds": "SCORED"}, headers=hv), 400, "usage_error")
    assert err["field"] == "kinds"


def test_neighbourhood_is_cut_by_its_time_limit(world: World) -> None:
    caller = Caller(actor="test", via="api", role="viewer")
    out = neighbourhood(
        world.gw, world.settings, world.hub, caller=caller, depth=3, limit=500, time_limit=0.0
    )
    assert out["truncated"] == "time"
    assert [n["id"] for n in out["nodes"]] == [world.hub]
    # the setting, when no time limit is passed (the API passes none)
    quick = world.settings.model_copy(update={"neighbourhood_time_limit": 0.01})
    out = neighbourhood(world.gw, quick, world.hub, caller=caller, depth=3, limit=500)
    assert out["truncated"] == "time"
    assert [n["id"] for n in out["nodes"]] == [world.hub]
    whole = neighbourhood(world.gw, world.settings, world.hub, caller=caller, depth=1)
    assert whole["truncated"] != "time" and len(whole["nodes"]) > 1  # the default: 10 s


# ------------------------------------------------------------------ runs, audit, queries
def test_a_neighbourhood_is_audited_with_whom_it_showed(client: TestClient, world: World) -> None:
    """A neighbourhood shows up to 500 subjects (scores; an investigator sees their
    names): its event names what was asked and, like a search's, the ids shown, so the
    log says whom the caller saw (it named only the centre, with no detail)."""
    hi = world.headers("investigator", **{"X-Purpose": "neighbourhood check"})
    res = client.get(f"/subjects/{world.hub}/neighbourhood?depth=2&limit=40", headers=hi)
    assert res.status_code == 200, res.text
    subjects = [n["id"] for n in res.json()["nodes"] if n["kind"] in ("person", "firm")]
    assert len(subjects) > 1
    (event,) = world.gw.read(
        "MATCH (e:AuditEvent {action: 'neighbourhood', reason: 'neighbourhood check'}) "
        "RETURN e.subject AS subject, e.detail AS detail"
    )
    assert event["subject"] == world.hub
    detail = json.loads(event["detail"])
    assert detail["depth"] == 2 and detail["limit"] == 40 and detail["kinds"] is None
    assert detail["shown"] == subjects and detail["shown"][0] == world.hub
    # refused in the handler (an unknown kind): the detail says so and why
    bad = client.get(f"/subjects/{world.hub}/neighbourhood?kinds=nope", headers=hi)
    is_error(bad, 400, "usage_error")
    (refused,) = world.gw.read(
        "MATCH (e:AuditEvent {action: 'neighbourhood', reason: 'neighbourhood check'}) "
        "WHERE e.detail CONTAINS 'nope' RETURN e.detail AS detail"
    )
    assert refused["detail"].startswith("refused: unknown relationship kind")


def test_runs_and_run_details(client: TestClient, world: World) -> None:
    page = client.get("/runs?limit=1", headers=world.headers("viewer")).json()
    assert page["items"][0]["id"] == world.run and page["items"][0]["current"] is True
    assert "policy" not in page["items"][0]
    detail = client.get(f"/runs/{world.run}", headers=world.headers("admin")).json()
    assert detail["policy"]["damping"] if "damping" in detail["policy"] else detail["policy"]
    assert detail["status"] == "completed" and detail["subjects"] > 0
    is_error(client.get("/runs/run-none", headers=world.headers("admin")), 404, "no_such_run")
    is_error(
        client.get("/runs/run-20000101T000000-abcdef", headers=world.headers("admin")),
        404,
        "no_such_run",
    )


def test_reads_are_audited_with_key_role_and_purpose(client: TestClient, world: World) -> None:
    purpose = "credit review 42"
    for route in ("", "/score", "/neighbourhood"):
        res = client.get(
            f"/subjects/{world.explained}{route}",
            headers=world.headers("investigator", **{"X-Purpose": purpose}),
        )
        assert res.status_code == 200
    log = client.get(
        "/audit",
        params={"subject": world.explained, "actor": world.key_ids["investigator"]},
        headers=world.headers("admin"),
    ).json()
    mine = [e for e in log["items"] if e["reason"] == purpose]
    assert {e["action"] for e in mine} == {"subject", "score", "neighbourhood"}
    assert all(e["role"] == "investigator" and e["via"] == "api" and e["at"] for e in mine)
    # the score names the run it was asked for (none: the current one); the others the current
    assert all(e["run"] == world.run for e in mine if e["action"] != "score")
    # pages of the audit log
    first = client.get("/audit?limit=2", headers=world.headers("admin")).json()
    second = client.get("/audit?limit=2&offset=2", headers=world.headers("admin")).json()
    assert first["next_offset"] == 2
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}


def test_named_queries(client: TestClient, world: World) -> None:
    res = client.get("/queries", headers=world.headers("viewer"))
    assert res.status_code == 200, res.text
    names = {q["name"] for q in res.json()["items"]}
    assert {"subject_profile", "guarantee_chains", "provenance"} <= names
    hi = world.headers("investigator")
    # a viewer may list but not run: rows may name people
    is_error(
        client.post(
            "/queries/subject_profile", json={"id": world.person}, headers=world.headers("viewer")
        ),
        403,
        "forbidden",
    )
    run = client.post("/queries/subject_profile", json={"id": world.person}, headers=hi)
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["columns"][0] == "id" and [r["id"] for r in body["rows"]] == [world.person]
    assert body["rows"][0]["kind"] == "person" and body["truncated"] is False
    is_error(client.post("/queries/no_such_query", json={}, headers=hi), 404)
    bad = client.post("/queries/subject_profile", json={}, headers=hi)  # id is required
    assert bad.status_code == 400 and "parameter id" in bad.json()["error"]["message"], bad.text
    events = world.gw.read(
        "MATCH (e:AuditEvent {action: 'query:subject_profile', subject: $s}) "
        "RETURN e.actor AS actor, e.via AS via",
        s=world.person,
    )
    assert {"actor": world.key_ids["investigator"], "via": "api"} in events


def test_a_named_query_is_audited_with_whom_its_rows_showed(
    client: TestClient, world: World
) -> None:
    """A named query's rows name subjects besides its parameter (here a guarantor's
    guarantee chains): its event names them (``shown``), not only the subject asked about."""
    guarantor = world.gw.read(
        "MATCH (g:Subject)-[:GUARANTEES]->(:Loan) RETURN g.id AS id ORDER BY id LIMIT 1"
    )[0]["id"]
    hi = world.headers("investigator", **{"X-Purpose": "query shown check"})
    res = client.post("/queries/guarantee_chains", json={"id": guarantor, "depth": 3}, headers=hi)
    assert res.status_code == 200, res.text
    rows = res.json()["rows"]
    assert rows
    (event,) = world.gw.read(
        "MATCH (e:AuditEvent {action: 'query:guarantee_chains', reason: 'query shown check'}) "
        "RETURN e.subject AS subject, e.detail AS detail"
    )
    assert event["subject"] == guarantor
    shown = json.loads(event["detail"])["shown"]
    assert {r["subject"] for r in rows} <= set(shown)


# ------------------------------------------------------------------ errors, metrics, ui
def test_one_error_shape(client: TestClient, world: World) -> None:
    hv = world.headers("viewer")
    is_error(client.get("/nowhere", headers=hv), 404, "not_found")
    is_error(client.delete("/subjects", headers=hv), 405, "method_not_allowed")
    is_error(client.get("/runs?offset=-1", headers=hv), 422, "invalid_request")


def test_a_bug_is_a_500_without_its_trace(world: World) -> None:
    app = create_app(world.settings, gateway=world.gw)

    def boom() -> None:
        raise RuntimeError("secret internals at /srv/credgraph line 42")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        res = c.get("/boom")
    err = is_error(res, 500, "internal_error")
    assert "secret" not in res.text and "RuntimeError" not in res.text
    assert err["field"] is None


def test_metrics(client: TestClient, world: World) -> None:
    client.get(f"/subjects/{world.person}", headers=world.headers("viewer"))
    assert client.get("/ui/static/viewer.js").status_code == 200
    text = client.get("/metrics", headers=world.headers("viewer")).text
    assert 'route="/subjects/{subject_id}"' in text
    # the viewer's files under one label of their own (they were counted as unmatched)
    assert 'route="/ui/static/{path}",status="200"' in text
    assert 'route="unmatched",status="200"' not in text
    assert "credgraph_http_requests_total" in text
    assert "credgraph_http_request_duration_seconds_bucket" in text
    assert (
        f'credgraph_current_run_info{{as_of="{world.run and "2026-06-30"}",run="{world.run}"}} 1.0'
        in text
    )
    age = [ln for ln in text.splitlines() if ln.startswith("credgraph_current_run_age_seconds ")]
    assert age and float(age[0].split()[1]) >= 0


def test_viewer_page_and_assets_are_served_locally(client: TestClient, world: World) -> None:
    page = client.get(f"/ui/subjects/{world.person}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert world.person not in page.text  # a static shell: the data come with the key
    assert "http://" not in page.text.replace("http://www.w3.org", "")
    assert "https://" not in page.text
    for asset in ("viewer.js", "viewer.css"):
        res = client.get(f"/ui/static/{asset}")
        assert res.status_code == 200 and "https://" not in res.text


def test_apikey_commands(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from credgraph.cli.main import main

    monkeypatch.setenv("CREDGRAPH_HOME", str(world.settings.home))
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", str(world.settings.bolt_port))
    capsys.readouterr()
    assert main(["apikey", "create", "--role", "investigator", "--name", "cli", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["role"] == "investigator" and made["key"].startswith(f"cg_{made['id']}_")
    assert main(["apikey", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert made["id"] in [k["id"] for k in listed]
    assert made["key"] not in json.dumps(listed)
    app = create_app(world.settings, gateway=world.gw)
    with TestClient(app) as c:
        assert c.get("/runs", headers={"X-API-Key": made["key"]}).status_code == 200
        assert main(["apikey", "revoke", made["id"]]) == 0
        assert c.get("/runs", headers={"X-API-Key": made["key"]}).status_code == 401
    assert main(["apikey", "create", "--role", "root"]) == 2  # usage
    assert main(["apikey", "revoke", "000000000000"]) == 1
