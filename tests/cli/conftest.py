"""Every CLI test runs in a temporary home with no server named by the environment:
the suite never reads or writes the user's default ~/.credgraph."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def temporary_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "credgraph-home"
    monkeypatch.setenv("CREDGRAPH_HOME", str(home))
    for var in ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USERNAME", "NEO4J_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    return home
