"""Neo4j Browser, opt-in: off by default (the HTTP connector stays off); with the
setting, served by the managed server on loopback only."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from credgraph.graph.managed import ManagedServer
from credgraph.graph.managed.browser import conf_lines
from tests.conftest import free_port, make_settings


def test_off_by_default(tmp_path: Path) -> None:
    s = make_settings(tmp_path, free_port())
    assert s.browser is False
    assert conf_lines(s) == ["server.http.enabled=false"]
    conf = ManagedServer(s).write_conf().read_text()
    assert "server.http.enabled=false" in conf and "server.http.listen_address" not in conf


def test_on_loopback_only_when_asked(tmp_path: Path) -> None:
    s = make_settings(tmp_path, free_port(), browser=True, http_port=17474)
    assert conf_lines(s) == [
        "server.http.enabled=true",
        "server.http.listen_address=127.0.0.1:17474",
        "server.http.advertised_address=127.0.0.1:17474",
    ]


@pytest.mark.integration
def test_the_managed_server_serves_the_browser(tmp_path: Path) -> None:
    http = free_port()
    server = ManagedServer(
        make_settings(tmp_path / "home", free_port(), browser=True, http_port=http)
    )
    server.start()
    try:
        # the HTTP connector comes up a moment after Bolt answers
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/browser/", timeout=30) as r:
                    status, page = r.status, r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        assert status == 200 and "<title>Neo4j Browser</title>" in page
    finally:
        server.stop()
