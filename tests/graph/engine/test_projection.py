"""Projection from a small folder of CSV files written here, checked edge by edge."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credgraph.graph.engine.policy import CHANNELS, load_policy
from credgraph.graph.engine.projection import REL_TABLES, Projection, build_projection
from credgraph.graph.errors import InputError
from credgraph.loaders.tables import tables_from_folder

AS_OF = date(2024, 1, 1)

FILES = {
    "persons": """id,name,birth_date,country,national_id,net_worth
P1,Ann,1970-01-01,CN,X1,1000
P2,Bob,,CN,,
P1,Duplicate,,,,5
""",
    "firms": """id,name,registration_no,country,region,industry,founded_on,status,registered_capital,equity,total_assets
F1,Alpha,R1,CN,,,2000-01-01,active,10,500,2000
F2,Beta,R2,CN,,,2001-01-01,active,10,100,900
BANK,Bank,R3,CN,,,1990-01-01,active,10,10000,99999
F3,NoEquity,R4,CN,,,2010-01-01,active,10,,
""",
    "ownership": """owner_id,firm_id,share,since,until
P1,F1,0.6,2010-01-01,
P2,F1,0.2,,
F1,F2,,,
P2,F2,0.3,,2023-06-30
F1,F1,0.1,,
GHOST,F2,0.5,,
""",
    "roles": """person_id,firm_id,role,since,until
P2,F1,legal_representative,2015-01-01,
P1,F2,director,,
P2,F2,director,2024-06-01,
""",
    "loans": """id,lender_id,borrower_id,amount,currency,issued_on,maturity_on,status,status_on,days_overdue,disputed
L1,BANK,F2,2000,CNY,2020-01-01,,defaulted,2022-01-01,,false
L2,BANK,F2,3000,CNY,2021-01-01,,overdue,2023-12-01,90,true
L3,BANK,F1,5000,CNY,2019-01-01,,repaid,2023-01-01,,
L4,BANK,F1,1000,CNY,2019-01-01,,repaid,2024-03-01,,
L5,F3,F1,50,CNY,2024-05-01,,performing,,,
L6,F1,F3,10,CNY,2020-01-01,,performing,,,
""",
    "guarantees": """id,guarantor_id,loan_id,amount,kind,since,until
G1,F1,L1,100,joint,,
G2,P1,L1,5000,limited,,
G3,P2,L2,10,joint,,
G4,F1,L3,100,joint,,
G5,F1,L-missing,100,joint,,
""",
    "blacklist": """id,subject_id,list,authority,reason,listed_on,expires_on,delisted_on,severity,source_url,disputed
B1,P2,sanctions,OFAC,,2020-01-01,,,,,
B2,F1,tax_violation,tax,,2021-01-01,2022-01-01,,,,
B3,F2,court_dishonest_debtor,court,,2022-06-01,,,0.6,,yes
B4,NOBODY,sanctions,OFAC,,2020-01-01,,,,,
""",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("input")
    for name, text in FILES.items():
        (d / f"{name}.csv").write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def proj(folder: Path) -> Projection:
    return build_projection(tables_from_folder(folder), load_policy(), AS_OF)


def edges(p: Projection, domain: str) -> dict[tuple[str, str], tuple[float, list[tuple[str, str]]]]:
    g = p.graphs[domain]
    ids = p.subjects.ids
    out = {}
    for e in range(g.n_edges):
        rels = sorted(
            (CHANNELS[g.rel_channel[k]], p.relationship_id(int(g.rel_table[k]), int(g.rel_row[k])))
            for k in range(g.rel_ptr[e], g.rel_ptr[e + 1])
        )
        out[(str(ids[g.src[e]]), str(ids[g.dst[e]]))] = (float(g.weight[e]), rels)
    return out


def test_tables_are_typed(folder: Path) -> None:
    t = tables_from_folder(folder)
    assert set(t) == set(FILES)
    loans = t["loans"]
    assert pd.api.types.is_datetime64_any_dtype(loans["issued_on"])
    assert loans["amount"].dtype == np.float64
    assert str(loans["days_overdue"].dtype) == "Int64"
    assert loans["disputed"].dtype == bool and loans["disputed"].tolist()[:2] == [False, True]
    assert t["blacklist"]["disputed"].tolist() == [False, False, True, False]
    assert t["ownership"]["share"].isna().sum() == 1
    assert pd.api.types.is_string_dtype(t["persons"]["id"])


def test_subjects(proj: Projection) -> None:
    s = proj.subjects
    # persons, then firms, each by id whatever the order of the rows (S7)
    assert s.ids.tolist() == ["P1", "P2", "BANK", "F1", "F2", "F3"]
    assert s.kind.tolist() == ["person"] * 2 + ["firm"] * 4
    assert s.net_worth[0] == 1000.0 and np.isnan(s.net_worth[1])  # first P1 row wins
    assert s.capacity[3] == 500.0 and np.isnan(s.capacity[5])
    assert s.index_of("F2") == 4
    with pytest.raises(KeyError):
        s.index_of("nope")
    assert proj.dropped == {
        "subjects.duplicate_id": 1,
        "ownership.owner_id": 1,
        "blacklist.subject_id": 1,
        "guarantees.loan_id": 1,
    }


def test_records(proj: Projection) -> None:
    r = proj.records
    got = {
        str(i): (str(k), str(lab), int(d), str(st))
        for i, k, lab, d, st in zip(r.id, r.kind, r.label, r.domain, r.status, strict=True)
    }
    assert got == {
        "L1": ("loan", "defaulted", 0, "active"),
        "L2": ("loan", "overdue", 0, "disputed"),
        "B1": ("blacklist", "sanctions", 1, "active"),
        "B2": ("blacklist", "tax_violation", 1, "expired"),
        "B3": ("blacklist", "court_dishonest_debtor", 0, "disputed"),
    }
    assert np.all(np.diff(r.subject) >= 0)  # sorted by subject
    k = r.id.tolist().index("L1")
    assert r.effective[k] == pytest.approx(0.8 * 0.5)  # 730 days, half-life 730
    assert r.severity[r.id.tolist().index("B3")] == 0.6


def test_credit_edges(proj: Projection) -> None:
    e = edges(proj, "credit")
    assert e == {
        # L1 2000/10000 and L2 3000/10000, noisy-OR; L3 repaid; L4 repaid after as-of
        ("F2", "BANK"): (pytest.approx(1 - 0.8 * 0.7), [("lending", "L1"), ("lending", "L2")]),
        ("F1", "BANK"): (pytest.approx(0.1), [("lending", "L4")]),
        ("F3", "F1"): (pytest.approx(10 / 500), [("lending", "L6")]),
        # guarantees of L1 (borrower F2): F1 100/500, P1 5000/1000 -> 1; G3 on L2: P2 no net worth
        ("F2", "F1"): (
            pytest.approx(1 - (1 - 0.2) * (1 - 0.25)),
            [("guarantee", "G1"), ("ownership_to_owner", "F1|F2")],
        ),
        ("F2", "P1"): (1.0, [("guarantee", "G2")]),
        ("F2", "P2"): (0.5, [("guarantee", "G3")]),
        # credit flows firm -> owner by share; missing share F1|F2 -> 0.25; P2|F2 ended
        ("F1", "P1"): (0.6, [("ownership_to_owner", "P1|F1")]),
        ("F1", "P2"): (0.2, [("ownership_to_owner", "P2|F1")]),
    }


def test_compliance_edges(proj: Projection) -> None:
    e = edges(proj, "compliance")
    assert e == {
        ("P1", "F1"): (1.0, [("control_to_firm", "P1|F1")]),  # 60% >= 50%: control
        ("P2", "F1"): (
            1.0,
            [("legal_representative_to_firm", "P2|F1|legal_representative"),
             ("ownership_to_firm", "P2|F1")],
        ),
        ("F1", "P2"): (0.5, [("legal_representative_to_person", "P2|F1|legal_representative")]),
        ("F1", "F2"): (0.25, [("ownership_to_firm", "F1|F2")]),
        ("F2", "P1"): (0.3, [("director_to_person", "P1|F2|director")]),
    }  # fmt: skip


def test_csr_and_transpose_agree(proj: Projection) -> None:
    for g in proj.graphs.values():
        w = g.matrix().toarray()
        assert np.array_equal(g.transpose_matrix().toarray(), w.T)
        for e in range(g.n_edges):
            assert g.edge(int(g.src[e]), int(g.dst[e])) == e
        assert g.edge(0, 0) == -1
        assert np.all(np.diff(g.src) >= 0)
        assert np.all((g.weight > 0) & (g.weight <= 1))
        assert set(g.rel_table.tolist()) <= set(range(len(REL_TABLES)))


def test_parquet_and_errors(tmp_path: Path, folder: Path) -> None:
    t = tables_from_folder(folder)
    pq = tmp_path / "pq"
    pq.mkdir()
    for name, df in t.items():
        df.to_parquet(pq / f"{name}.parquet")
    p2 = build_projection(tables_from_folder(pq), load_policy(), AS_OF)
    p1 = build_projection(t, load_policy(), AS_OF)
    for d in p1.graphs:
        assert np.array_equal(p1.graphs[d].weight, p2.graphs[d].weight)
    (pq / "persons.csv").write_text(FILES["persons"], encoding="utf-8")
    with pytest.raises(InputError, match="both"):
        tables_from_folder(pq)
    with pytest.raises(InputError, match="not found"):
        tables_from_folder(tmp_path / "missing")


def test_python_dates_and_partial_tables() -> None:
    """Plain python dates and missing optional columns are accepted."""
    t = {
        "persons": pd.DataFrame({"id": ["P"], "name": ["p"]}),
        "firms": pd.DataFrame({"id": ["F"], "name": ["f"]}),
        "ownership": pd.DataFrame({"owner_id": ["P"], "firm_id": ["F"], "share": [0.7]}),
        "blacklist": pd.DataFrame(
            {
                "id": ["B"],
                "subject_id": ["P"],
                "list": ["sanctions"],
                "listed_on": [date(2020, 1, 1)],
            }
        ),
    }
    p = build_projection(t, load_policy(), AS_OF)
    assert p.records.status.tolist() == ["active"]
    assert edges(p, "compliance") == {("P", "F"): (1.0, [("control_to_firm", "P|F")])}
    assert edges(p, "credit") == {("F", "P"): (0.7, [("ownership_to_owner", "P|F")])}
