"""The subject report: a real propagation run over the hand-built graph, then the
page: identity (identifiers only when asked for), score and explanation, records
with sources and disputes, history, the neighbourhood drawing, self-contained,
audited; and the command line around it and the query commands."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from credgraph.cli.main import main
from credgraph.graph.errors import NotFound
from credgraph.graph.gateway import Gateway
from credgraph.graph.schema import ensure_schema
from credgraph.graph.settings import Settings
from credgraph.services.caller import Caller
from credgraph.services.disputes import dispute
from credgraph.services.propagation import propagate
from credgraph.services.report import (
    explanation,
    layout,
    neighbourhood_svg,
    report_data,
    subject_report,
)
from tests.conftest import wipe
from tests.queries.graph import build

pytestmark = pytest.mark.integration

CALLER = Caller(actor="reporter", via="cli", reason="file review")


@pytest.fixture(scope="module")
def scored(session_gateway: Gateway, settings: Settings) -> Gateway:
    wipe(session_gateway)
    ensure_schema(session_gateway)
    build(session_gateway, runs=False)
    propagate(settings, as_of="2026-06-30")
    dispute(
        session_gateway, "L2", reason="restructured, not defaulted", resolve=False, caller=CALLER
    )
    propagate(settings, as_of="2026-06-30")
    return session_gateway


def audited(gw: Gateway, action: str) -> list[str]:
    return [
        r["s"]
        for r in gw.read(
            "MATCH (e:AuditEvent {action: $a, actor: 'reporter'}) RETURN e.subject AS s ORDER BY e.at",
            a=action,
        )
    ]


def test_report_of_a_firm(scored: Gateway, settings: Settings) -> None:
    page = subject_report(scored, settings, "F2", caller=CALLER)
    assert audited(scored, "report")[-1] == "F2"
    assert "<title>credgraph report: Beta (F2)</title>" in page
    # records with sources, dates and dispute status
    for text in (
        "E1",
        "court_dishonest_debtor",
        "blacklist.csv row 2",
        "2026-06-20",
        "L2",
        "loans.csv row 3",
        "restructured, not defaulted",
        "disputed",
        "L1",
        "guaranteed 400",
    ):
        assert text in page, text
    # the explanation in words, the score and its history over the two runs
    data = report_data(scored, settings, "F2", caller=CALLER)
    assert data["score"] is not None and len(data["score"]["history"]) == 2
    # the subject's own source: its reference (load, file, row) resolved on its Load record
    assert data["provenance"] == {
        "source": "test",
        "source_file": "firms.csv",
        "source_row": "3",
        "loaded_at": "2026-06-01 00:00:00 UTC",
    }
    assert f"{data['score']['trust_score']:.1f}" in page
    assert "Own record L2 (defaulted) counts nothing: it is disputed." in page
    assert "Own record E1 (court_dishonest_debtor, credit risk" in page
    # the neighbourhood: owners, guarantor, lender, director, with what ties them
    svg = page[page.index("<svg", page.index("Neighbourhood")) :]
    for text in (
        "(F1)",
        "(P2)",
        "(P1)",
        "(BANK)",
        "owns 50%",
        "lends L2",
        "guarantees L1",
        "director",
    ):
        assert text in svg, text
    # self-contained: nothing loaded from anywhere
    assert not re.search(r"<script|<link|<img|src=|@import|url\((?!#)", page)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}


def test_personal_identifiers_only_when_asked_for(scored: Gateway, settings: Settings) -> None:
    plain = subject_report(scored, settings, "P1", caller=CALLER)
    assert "Alice" in plain and "N-1" not in plain and "1970-01-02" not in plain
    full = subject_report(scored, settings, "P1", caller=CALLER, with_identifiers=True)
    assert "N-1" in full and "1970-01-02" in full
    # the audit log tells the report that showed identifiers from the one that did not
    details = scored.read(
        "MATCH (e:AuditEvent {action: 'report', actor: 'reporter', subject: 'P1'}) "
        "RETURN e.detail AS d ORDER BY e.at DESC LIMIT 2"
    )
    assert sorted(str(r["d"]) for r in details) == ["None", "with identifiers"]


def test_an_unknown_subject_is_not_found_and_audited(scored: Gateway, settings: Settings) -> None:
    with pytest.raises(NotFound, match="no subject 'nobody'"):
        subject_report(scored, settings, "nobody", caller=CALLER)
    assert audited(scored, "report")[-1] == "nobody"


def test_names_are_escaped(scored: Gateway, settings: Settings) -> None:
    scored.write("MATCH (s:Subject {id: 'F3'}) SET s.name = '<script>alert(1)</script> & Co'")
    try:
        page = subject_report(scored, settings, "F3", caller=CALLER)
    finally:
        scored.write("MATCH (s:Subject {id: 'F3'}) SET s.name = 'Gamma'")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page


def test_an_entry_dated_by_its_load_says_so(scored: Gateway, settings: Settings) -> None:
    """A sanction without any date in its source counts from its load
    (``listed_on_basis = 'loaded'``): the report's records and its explanation say
    so rather than showing the load day as the date it was listed."""
    scored.write("MATCH (b:BlacklistEntry {id: 'E2'}) SET b.listed_on_basis = 'loaded'")
    try:
        data = report_data(scored, settings, "P3", caller=CALLER)
        page = subject_report(scored, settings, "P3", caller=CALLER)
    finally:
        scored.write("MATCH (b:BlacklistEntry {id: 'E2'}) REMOVE b.listed_on_basis")
    (e2,) = [r for r in data["records"] if r["id"] == "E2"]
    assert e2["date_basis"] == "loaded" and e2["date"] == "2025-01-01"
    assert "no date in the source: counts from its load</span>" in page
    assert all(r["date_basis"] is None for r in data["records"] if r["id"] != "E2")
    # the explanation's sentence, from the run's own record of the basis
    score = {
        "trust_score": 40.0,
        "risk": {"total": 0.6, "intrinsic": 0.6, "network": 0.0},
        "records": [
            {
                "id": "E2",
                "label": "sanctions",
                "domain": "compliance",
                "date": "2025-01-01",
                "date_basis": "loaded",
                "effective": 1.0,
                "severity": 1.0,
                "decay": 1.0,
                "status": "active",
            },
            {
                "id": "E8",
                "label": "sanctions",
                "domain": "compliance",
                "date": "2019-05-01",
                "date_basis": "partial",
                "effective": 1.0,
                "severity": 1.0,
                "decay": 1.0,
                "status": "active",
            },
            {
                "id": "E9",
                "label": "sanctions",
                "domain": "compliance",
                "date": "2024-01-01",
                "date_basis": "input",
                "effective": 1.0,
                "severity": 1.0,
                "decay": 1.0,
                "status": "active",
            },
        ],
        "contributions": [
            {
                "domain": "compliance",
                "records": ["E5", "E6"],
                "record_date_basis": {"E5": "loaded"},
                "source_subject": "P9",
                "amount": 0.5,
                "path": ["P9", {"weight": 1.0, "relationships": []}, "P3"],
                "hops": 1,
                "strength": 1.0,
            }
        ],
    }
    words = explanation({"score": score})
    assert any(
        "(records E5 (no date in the source: counts from its load), E6)" in w for w in words
    ), words
    assert any(
        "E2 (sanctions, compliance risk, no date in the source: counts from its load on "
        "2025-01-01)" in w
        for w in words
    ), words
    assert any("E9 (sanctions, compliance risk, dated 2024-01-01)" in w for w in words), words
    assert any(
        "E8 (sanctions, compliance risk, the source gives only a year or month: counts from "
        "2019-05-01)" in w
        for w in words
    ), words


def test_layout_places_every_node_apart_inside_the_box() -> None:
    others = [f"N{i:02d}" for i in range(20)]
    pos = layout("ME", others, 760, 560)
    assert pos["ME"] == (380, 280) and len(pos) == 21
    pts = list(pos.values())
    assert all(20 < x < 740 and 20 < y < 540 for x, y in pts)
    assert (
        min(
            ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
            for i, a in enumerate(pts)
            for b in pts[i + 1 :]
        )
        > 40
    )


# ------------------------------------------------------------------ the CLI
@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings, scored: Gateway) -> None:
    monkeypatch.setenv("CREDGRAPH_HOME", str(settings.home))
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", str(settings.bolt_port))


def test_cli_report_query_and_cypher(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f2.html"
    assert main(["report", "F2", "--out", str(out), "--reason", "r", "--actor", "reporter"]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    capsys.readouterr()

    assert main(["query", "ultimate_owners", "--param", "firm=F2", "--format", "csv"]) == 0
    assert capsys.readouterr().out == (
        "owner,name,kind,share,chains,longest\nP2,Bob,person,0.7,2,2\nP1,Alice,person,0.3,1,2\n"
    )
    assert (
        main(["query", "guarantee_chains", "-p", "id=F4", "-p", "depth=2", "--format", "json"]) == 0
    )
    got = json.loads(capsys.readouterr().out)
    assert got["params"] == {"id": "F4", "depth": 2, "as_of": None}
    assert [r["chain"] for r in got["rows"]] == [["F4", "F1"], ["F4", "F1", "F2"]]
    assert main(["query", "disputed_records"]) == 0
    assert "restructured, not defaulted" in capsys.readouterr().out

    assert main(["query", "ultimate_owners", "--param", "firm=F2", "--param", "depth=9"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[0] == (
        "error: parameter depth must be between 1 and 6, not '9'"
    )
    # a query's parameter is hinted as --param, not as a command option of that name
    assert main(["query", "lender_exposure", "-p", "lender=BANK", "-p", "as_of=2026-13-01"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: parameter as_of must be an ISO date (YYYY-MM-DD) or 'today', not '2026-13-01'",
        "  hint: give it as --param as_of=VALUE (as_of date = today)",
    ]
    # a name the command line gave that names no query is a usage error, as a bad
    # parameter is (the API answers 404 for it: a resource that does not exist)
    assert main(["query", "no_such_query"]) == 2
    assert "no named query 'no_such_query'" in capsys.readouterr().err

    assert (
        main(
            [
                "cypher",
                "MATCH (s:Subject {id: $id}) RETURN s.name AS n",
                "-p",
                "id=F1",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "n\nAcme\n"
    assert main(["cypher", "MATCH (n) DETACH DELETE n"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: refused: the query writes; ad-hoc Cypher must be read-only"
    )
    assert main(["cypher", "MATCH (n:Subject RETURN n"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: syntax error: ") and err.count("\n") == 1
    assert (
        main(
            [
                "cypher",
                "UNWIND range(1, 2000000000) AS x WITH x WHERE x = -1 RETURN x",
                "--timeout",
                "1",
            ]
        )
        == 1
    )
    assert "time limit" in capsys.readouterr().err


def test_listed_means_listed_today(scored: Gateway, settings: Settings) -> None:
    """The red ring (``listed``) and the record's tag read the entry's dates against
    today: a delisting set for next year leaves F2 listed, one made yesterday does not;
    a listing that starts next year is not yet one (P1's neighbour F2 as well)."""

    def set_e1(listed: str, delisted: str | None) -> None:
        scored.write(
            "MATCH (e:BlacklistEntry {id: 'E1'}) "
            "SET e.listed_on = date() + duration({days: $l}), "
            "e.delisted_on = CASE WHEN $d IS NULL THEN null "
            "ELSE date() + duration({days: $d}) END",
            l=int(listed),
            d=None if delisted is None else int(delisted),
        )

    def ring(data: dict[str, Any], node: str) -> bool:
        svg = neighbourhood_svg(data)
        at = svg.index(f"({node})</text>")
        shape = max(svg.rfind("<circle", 0, at), svg.rfind("<rect", 0, at))
        return 'stroke="#b71c1c"' in svg[shape:at]

    try:
        for listed, delisted, shown, tag in (
            ("-30", "365", True, None),
            ("-30", "-1", False, "delisted"),
            ("365", None, False, "not yet listed"),
        ):
            set_e1(listed, delisted)
            data = report_data(scored, settings, "F2", caller=CALLER)
            (rec,) = [r for r in data["records"] if r["id"] == "E1"]
            assert bool(rec["delisted"]) is (tag == "delisted"), (listed, delisted)
            assert bool(rec["not_yet_listed"]) is (tag == "not yet listed")
            assert ring(data, "F2") is shown, (listed, delisted)
            page = subject_report(scored, settings, "F2", caller=CALLER)
            assert (f'<span class="tag">{tag}</span>' in page) if tag else True
            neighbours = {
                n["id"]: n["listed"]
                for n in report_data(scored, settings, "P1", caller=CALLER)["neighbours"]
            }
            assert neighbours["F2"] is shown, (listed, delisted)
    finally:
        scored.write(
            "MATCH (e:BlacklistEntry {id: 'E1'}) "
            "SET e.listed_on = date('2026-06-20'), e.delisted_on = null"
        )
