"""Shared fixtures. Database tests talk to a real Neo4j: the managed server,
started once per test session in a temporary home on a free loopback port, so
tests never touch a user's own database. Mark such tests ``integration``.

If the server cannot be started the database tests fail (they are never
skipped): CI must see that they did not run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(home: Path, port: int, **extra: object) -> Settings:
    # Tests never use a server named by the environment: always a managed one.
    for var in ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USERNAME", "NEO4J_DATABASE"):
        os.environ.pop(var, None)
    return load_settings(home=home, bolt_port=port, heap="768m", pagecache="256m", **extra)


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    settings = make_settings(tmp_path_factory.mktemp("credgraph-home"), free_port())
    server = ManagedServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(neo4j_server: ManagedServer) -> Settings:
    return neo4j_server.settings


@pytest.fixture(scope="session")
def session_gateway(settings: Settings) -> Iterator[Gateway]:
    gw = Gateway(settings)
    yield gw
    gw.close()


def wipe(gw: Gateway, *, schema: bool = False) -> None:
    """Empty the database (in batches); with schema=True drop constraints and indexes too."""
    gw.run_schema("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")
    if schema:
        for row in gw.read("SHOW CONSTRAINTS YIELD name RETURN name"):
            gw.run_schema(f"DROP CONSTRAINT `{row['name']}` IF EXISTS")  # type: ignore[arg-type]
        for row in gw.read("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
            gw.run_schema(f"DROP INDEX `{row['name']}` IF EXISTS")  # type: ignore[arg-type]


@pytest.fixture
def gateway(session_gateway: Gateway) -> Gateway:
    """A gateway to an empty database (schema kept)."""
    wipe(session_gateway)
    return session_gateway
