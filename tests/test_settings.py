"""Configuration: one settings object from the environment, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from credgraph.graph.errors import ConfigError, DatabaseError
from credgraph.graph.gateway import connection
from credgraph.graph.settings import load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NEO4J_URI", "CREDGRAPH_HOME", "CREDGRAPH_BOLT_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.bolt_port == 7687
    assert s.home == Path.home() / ".credgraph"
    assert s.managed is True
    assert s.neo4j_database == "neo4j"


def test_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CREDGRAPH_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "7790")
    monkeypatch.setenv("NEO4J_URI", "bolt://example.invalid:7687")
    monkeypatch.setenv("NEO4J_PASSWORD", "pw")
    monkeypatch.setenv("NEO4J_DATABASE", "credit")
    s = load_settings()
    assert s.home == tmp_path / "h" and s.bolt_port == 7790
    assert s.managed is False and s.neo4j_database == "credit"
    assert connection(s) == ("bolt://example.invalid:7687", ("neo4j", "pw"))


def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "seventy")
    with pytest.raises(ConfigError, match="bolt_port") as info:
        load_settings()
    assert "CREDGRAPH_BOLT_PORT" in (info.value.hint or "")
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "70000")
    with pytest.raises(ConfigError, match="bolt_port"):
        load_settings()


def test_uri_without_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    with pytest.raises(DatabaseError, match="NEO4J_PASSWORD"):
        connection(load_settings())


def test_managed_without_start_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("CREDGRAPH_HOME", str(tmp_path))
    with pytest.raises(Exception, match="never started"):
        connection(load_settings())
