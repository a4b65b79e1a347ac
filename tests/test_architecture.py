"""The rooms and their arrows (docs/architecture.md), checked on the imports.

edges (cli, api, jobs) -> use cases (services) -> engine / store (graph) / loaders;
the engine imports nothing of Neo4j, the store, the loaders, the use cases or the
edges; nothing imports the CLI; everything imports under ``credgraph.``.
Reads the source with ``ast`` (imports inside functions count too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("graph", "loaders", "services", "queries", "api", "jobs", "cli")
FIRST_PARTY = {*ROOMS, "credgraph"}


def modules(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def room_of(module: str) -> str | None:
    """``credgraph.graph.engine.x`` -> ``engine``; ``credgraph.graph.x`` -> ``graph``."""
    parts = module.split(".")
    if parts[0] != "credgraph" or len(parts) < 2:
        return None
    if parts[1] == "graph" and len(parts) > 2 and parts[2] == "engine":
        return "engine"
    return parts[1]


# room -> rooms it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "engine": {"errors"},
    "graph": {"engine"},
    "loaders": {"graph", "engine"},
    "services": {"graph", "engine", "loaders", "queries"},
    "queries": {"graph", "engine"},
    "api": {"services", "graph", "engine", "queries"},
    "jobs": {"services", "graph", "engine"},
    "cli": {"services", "graph", "engine", "loaders", "queries", "api", "jobs"},
}


def own_room(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] == "graph" and len(rel) > 1 and rel[1] == "engine":
        return "engine"
    return rel[0]


def all_sources() -> list[Path]:
    return [p for room in ROOMS for p in modules(room)]


@pytest.mark.parametrize("path", all_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_arrows(path: Path) -> None:
    me = own_room(path)
    bad = []
    for name in imports(path):
        top = name.split(".")[0]
        assert top not in ROOMS, f"{name}: import it as credgraph.{name} (one namespace)"
        room = room_of(name)
        if room is None or room == me:
            continue
        if me == "engine" and name == "credgraph.graph.errors":
            continue
        if room not in ALLOWED[me]:
            bad.append(name)
    assert not bad, f"{path.relative_to(ROOT)} ({me}) must not import {bad}"


@pytest.mark.parametrize("path", modules("graph/engine"), ids=lambda p: p.name)
def test_the_engine_knows_no_database_and_no_edge(path: Path) -> None:
    forbidden = {"neo4j", "fastapi", "typer", "rich", "uvicorn", "apscheduler", "pickle"}
    found = {n.split(".")[0] for n in imports(path)} & forbidden
    assert not found, f"{path.name} imports {found}"


# Pickle in the product: none, anywhere (a pickle is code; run snapshots are Arrow
# files and JSON, graph/runstore.py; loaders spill rows as JSON Lines, loaders/spill.py).
UNSERIALISERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal"}
PICKLE_CALLS = ("read_pickle", "to_pickle", "allow_pickle=True", "joblib")


def uses_pickle(path: Path) -> set[str]:
    found = {n.split(".")[0] for n in imports(path)} & UNSERIALISERS
    text = path.read_text(encoding="utf-8")
    return found | {c for c in PICKLE_CALLS if c in text}


@pytest.mark.parametrize("path", all_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pickle_in_the_product(path: Path) -> None:
    found = uses_pickle(path)
    assert not found, f"{path.relative_to(ROOT)} uses {sorted(found)}: no pickle in the product"


def test_the_pickle_check_can_fail(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("def f(p):\n    import pickle as q\n    return pd.read_pickle(p)\n")
    assert uses_pickle(f) == {"pickle", "read_pickle"}


def test_the_namespace_links_every_room() -> None:
    pkg = ROOT / "credgraph"
    for room in ROOMS:
        link = pkg / room
        assert link.is_symlink() and link.resolve() == (ROOT / room).resolve(), room
        assert (ROOT / room / "__init__.py").is_file(), room


def test_this_check_can_fail(tmp_path: Path) -> None:
    """The parser sees an import buried in a function (the check is not vacuous)."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from credgraph.cli.main import app\n    import neo4j\n")
    assert imports(f) == ["credgraph.cli.main", "neo4j"]
    assert room_of("credgraph.cli.main") == "cli"
    assert room_of("credgraph.graph.engine.pipeline") == "engine"
