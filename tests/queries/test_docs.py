"""docs/queries.md is generated from the headers and kept up to date; the Browser
favourites hold every query."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from credgraph.queries.docs import favourites_zip, markdown
from credgraph.services.queries import list_queries

ROOT = Path(__file__).resolve().parents[2]


def test_docs_queries_md_is_up_to_date() -> None:
    want = markdown(list_queries())
    have = (ROOT / "docs" / "queries.md").read_text(encoding="utf-8")
    assert have == want, (
        "docs/queries.md is out of date: run "
        "`credgraph query --list --format markdown > docs/queries.md`"
    )


def test_every_query_is_in_the_docs_with_its_parameters() -> None:
    text = markdown(list_queries())
    for q in list_queries():
        assert f"## {q.name}\n" in text
        for p in q.params:
            assert f"| `{p.name}` | {p.type} |" in text


def test_browser_favourites_hold_every_query() -> None:
    z = zipfile.ZipFile(io.BytesIO(favourites_zip(list_queries())))
    names = sorted(z.namelist())
    assert names == sorted(f"credgraph/{q.name}.cypher" for q in list_queries())
    text = z.read("credgraph/ultimate_owners.cypher").decode()
    assert text.startswith("// ultimate_owners: Who ultimately owns this firm?")
    assert "// :param threshold => 0.25" in text
    assert "MATCH p = (o:Subject)-[:OWNS*1..6]->(f:Firm {id: $firm})" in text
