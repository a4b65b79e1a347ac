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


@pytest.mark.parametrize(
    "value", ["1g\nserver.bolt.listen_address=0.0.0.0:7687", "1 g", "0g", "-1g", "1gb", "", "1024"]
)
def test_memory_sizes_are_checked_before_neo4j_conf(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A newline (or anything but digits and one unit) never reaches neo4j.conf."""
    monkeypatch.setenv("CREDGRAPH_HEAP", value)
    with pytest.raises(ConfigError, match="heap") as info:
        load_settings()
    assert "CREDGRAPH_HEAP" in (info.value.hint or "")
    monkeypatch.delenv("CREDGRAPH_HEAP")
    monkeypatch.setenv("CREDGRAPH_PAGECACHE", value)
    with pytest.raises(ConfigError, match="pagecache"):
        load_settings()


def test_good_memory_sizes_and_ports_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGRAPH_HEAP", "768m")
    monkeypatch.setenv("CREDGRAPH_PAGECACHE", "2G")
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "65535")
    s = load_settings()
    assert (s.heap, s.pagecache, s.bolt_port) == ("768m", "2G", 65535)
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "0")
    with pytest.raises(ConfigError, match="bolt_port"):
        load_settings()


def test_a_home_with_a_line_break_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGRAPH_HOME", "/tmp/x\nserver.bolt.listen_address=0.0.0.0:1")
    with pytest.raises(ConfigError, match="home"):
        load_settings()


def test_the_password_never_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cret-Pa55word-xyz"
    monkeypatch.setenv("NEO4J_URI", "bolt://example.invalid:7687")
    monkeypatch.setenv("NEO4J_PASSWORD", secret)
    s = load_settings()
    assert secret not in repr(s) and secret not in str(s)
    assert secret not in s.model_dump_json()
    assert secret not in repr(s.model_dump())
    assert connection(s)[1] == ("neo4j", secret)  # the driver gets the real value
    # an error about another setting does not show it either
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert secret not in str(info.value) and secret not in repr(info.value.__cause__)


def test_managed_credentials_never_print(tmp_path: Path) -> None:
    from credgraph.graph.managed import ManagedServer

    home = tmp_path / "h"
    home.mkdir()
    (home / "credentials.json").write_text('{"username": "neo4j", "password": "pw-123456789"}')
    creds = ManagedServer(load_settings(home=home)).credentials()
    assert "pw-123456789" not in repr(creds) and "pw-123456789" not in str(creds)
    assert creds.password.get_secret_value() == "pw-123456789"
