"""The API's fixtures: a generated market loaded and propagated once per test module,
one API key per role (and a revoked one), and a test client over ``create_app``.

The app reads explanations from the run store; the in-process cache of
services.scores is emptied first, so what the API serves comes from the store, as
on a server that did not run propagation itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from credgraph.api.app import create_app
from credgraph.graph.engine.policy import load_policy
from credgraph.graph.gateway import Gateway
from credgraph.graph.runs import Runs
from credgraph.graph.schema import ensure_schema
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate
from credgraph.loaders.load import load
from credgraph.services import scores
from credgraph.services.apikeys import create_key, revoke_key
from tests.conftest import wipe

AS_OF = date(2026, 6, 30)


@dataclass
class World:
    gw: Gateway
    settings: Settings
    run: str
    keys: dict[str, str]  # role -> key; also 'revoked'
    key_ids: dict[str, str]
    person: str  # a person with a birth date, national id and net worth
    explained: str  # a subject with network contributions in the current run
    hub: str  # the subject with the most relationships

    def headers(self, role: str, **extra: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role], **extra}


def build_world(gw: Gateway, settings: Settings, folder: Path) -> World:
    wipe(gw)
    ensure_schema(gw)
    generate(folder, 400, 11, "csv")
    load(gw, folder, source="sample", rejects_path=folder / "rejects.csv")
    gw.run_schema("CALL db.index.fulltext.awaitEventuallyConsistentIndexRefresh()")
    run = Runs(gw, settings).run(load_policy(None), AS_OF).run_id
    scores.snapshot_cache(settings).clear()  # explanations come from the run store, not memory
    keys, ids = {}, {}
    for role in ("viewer", "investigator", "admin", "revoked"):
        record, key = create_key(gw, "viewer" if role == "revoked" else role, f"test {role}")
        keys[role], ids[role] = key, record.id
    revoke_key(gw, ids["revoked"])
    person = gw.read(
        "MATCH (p:Person) WHERE p.national_id IS NOT NULL AND p.birth_date IS NOT NULL "
        "AND p.net_worth IS NOT NULL AND size(split(p.name, ' ')) > 1 "
        "RETURN p.id AS id ORDER BY p.id LIMIT 1"
    )[0]["id"]
    explained = gw.read(
        "MATCH (sc:Score {run: $run}) WHERE sc.network > 0 "
        "RETURN sc.subject AS id ORDER BY sc.network DESC, sc.subject LIMIT 1",
        run=run,
    )[0]["id"]
    hub = gw.read(
        "MATCH (s:Subject)-[r]-() WHERE NOT type(r) IN ['SCORED', 'IN_CIRCLE'] "
        "RETURN s.id AS id, count(r) AS n ORDER BY n DESC, id LIMIT 1"
    )[0]["id"]
    return World(gw, settings, run, keys, ids, person, explained, hub)


@pytest.fixture(scope="module")
def world(
    session_gateway: Gateway, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> World:
    return build_world(session_gateway, settings, tmp_path_factory.mktemp("api-sample"))


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.settings, gateway=world.gw)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
