"""The managed Neo4j server against a real JVM: start, status, stop, two homes, busy port."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from credgraph.cli.main import main
from credgraph.graph.errors import ServerError
from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from tests.conftest import free_port, make_settings

pytestmark = pytest.mark.integration


def test_running_server_answers_and_keeps_secrets(neo4j_server: ManagedServer) -> None:
    st = neo4j_server.status()
    assert st["running"] is True
    assert st["uri"] == f"bolt://127.0.0.1:{neo4j_server.port}"
    mode = stat.S_IMODE(os.stat(neo4j_server.credentials_file).st_mode)
    assert mode == 0o600
    conf = (neo4j_server.conf_dir / "neo4j.conf").read_text()
    assert f"server.bolt.listen_address=127.0.0.1:{neo4j_server.port}" in conf
    assert "server.http.enabled=false" in conf
    assert "dbms.usage_report.enabled=false" in conf
    assert f"server.directories.import={neo4j_server.import_dir}" in conf
    with Gateway(neo4j_server.settings) as gw:
        rows = gw.read("CALL dbms.components() YIELD versions, edition RETURN versions, edition")
    assert rows[0]["edition"] == "community"
    assert rows[0]["versions"][0].startswith("5.26")


def test_start_when_running_is_a_noop(neo4j_server: ManagedServer) -> None:
    pid = neo4j_server.pid()
    st = neo4j_server.start()
    assert st["already_running"] is True
    assert neo4j_server.pid() == pid


def test_wrong_password_is_refused(neo4j_server: ManagedServer) -> None:
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    with GraphDatabase.driver(neo4j_server.uri, auth=("neo4j", "not-the-password")) as d:
        with pytest.raises(AuthError):
            d.verify_connectivity()


def test_status_json_via_cli(
    neo4j_server: ManagedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGRAPH_HOME", str(neo4j_server.home))
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", str(neo4j_server.port))
    assert main(["neo4j", "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["running"] is True and st["uri"] == neo4j_server.uri


def test_second_home_runs_beside_the_first_and_stops(
    neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    other = ManagedServer(make_settings(tmp_path / "home2", free_port()))
    assert other.status()["running"] is False
    other.start()
    try:
        assert other.status()["running"] is True
        assert other.credentials().password != neo4j_server.credentials().password
        with Gateway(other.settings) as gw2, Gateway(neo4j_server.settings) as gw1:
            gw2.write("CREATE (:Run {id: 'only-in-home2'})")
            assert gw1.read("MATCH (r:Run {id: 'only-in-home2'}) RETURN r") == []
            assert len(gw2.read("MATCH (r:Run {id: 'only-in-home2'}) RETURN r")) == 1
    finally:
        assert other.stop() is True
    st = other.status()
    assert st["running"] is False and st["pid"] is None
    assert other.stop() is False  # stopping a stopped server is harmless
    assert neo4j_server.status()["running"] is True


def test_busy_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = ManagedServer(make_settings(tmp_path / "home3", port))
        with pytest.raises(ServerError, match=f"port {port} on 127.0.0.1 is taken"):
            server.start()
    assert server.pid() is None


def test_cli_reports_busy_port_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        monkeypatch.setenv("CREDGRAPH_HOME", str(tmp_path / "home4"))
        monkeypatch.setenv("CREDGRAPH_BOLT_PORT", str(blocker.getsockname()[1]))
        assert main(["neo4j", "start"]) == 1
    captured = capsys.readouterr().err
    assert "error: port" in captured and "Traceback" not in captured


def test_server_that_dies_points_at_its_log(tmp_path: Path) -> None:
    # A heap far below what Neo4j needs makes the JVM exit during start-up.
    server = ManagedServer(make_settings(tmp_path / "home5", free_port()))
    server.settings.heap = "8m"
    with pytest.raises(ServerError) as info:
        server.start(timeout=90)
    assert "exited during start-up" in info.value.message
    assert str(server.console_log) in (info.value.hint or "")
    assert server.pid() is None


def test_missing_java_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(ServerError, match="Java is not installed"):
        ManagedServer.java_version()


def test_conf_refuses_unvalidated_settings(tmp_path: Path) -> None:
    """Settings built around validation (model_copy) still cannot add lines to neo4j.conf."""
    good = make_settings(tmp_path / "h", free_port())
    for bad in ({"heap": "1g\ndbms.security.auth_enabled=false"}, {"pagecache": "1 g"}):
        with pytest.raises(ServerError, match="not a memory size"):
            ManagedServer(good.model_copy(update=bad)).write_conf()
    conf = ManagedServer(good).write_conf()
    assert oct(conf.stat().st_mode & 0o777) == oct(0o600)
    assert "auth_enabled=false" not in conf.read_text()


def test_a_failed_start_names_its_own_reason_not_an_older_log_line(tmp_path: Path) -> None:
    """A heap the JVM cannot reserve: the error shows the JVM's words, not an ERROR line
    an earlier run left in neo4j.log."""
    settings = make_settings(tmp_path / "home-heap", free_port())
    server = ManagedServer(settings.model_copy(update={"heap": "9999999g"}))
    server.logs_dir.mkdir(mode=0o700, parents=True)
    (server.logs_dir / "neo4j.log").write_text("2026-01-01 ERROR an old, unrelated failure\n")
    server.console_log.write_text("2026-01-01 INFO  an earlier start's output\n")
    with pytest.raises(ServerError) as e:
        server.start(timeout=120)
    assert "old, unrelated" not in str(e.value)
    assert "earlier start" not in str(e.value)
    assert "heap" in str(e.value).lower() or "initialization of VM" in str(e.value)


@pytest.mark.integration
def test_a_start_killed_while_setting_the_password_leaves_no_password_behind(
    tmp_path: Path,
) -> None:
    """A first start killed while neo4j-admin ran leaves run/initial-password.<pid>.args
    (a password never used): the next start removes it; the file of a start still
    running (this process) is left alone."""
    import subprocess
    import sys

    server = ManagedServer(make_settings(tmp_path / "home-pw", free_port()))
    run_dir = server.home / "run"
    run_dir.mkdir(parents=True, mode=0o700)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = run_dir / f"initial-password.{int(gone.stdout)}.args"
    stale.write_text('"pOldUnusedPassword"\n')
    odd = run_dir / "initial-password.x.args"
    odd.write_text('"pOdd"\n')
    server._init_credentials()
    assert not stale.exists() and not odd.exists()
    assert server.credentials_file.is_file()
    assert list(run_dir.glob("initial-password.*")) == []
