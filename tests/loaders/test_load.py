"""The loader against the real Neo4j: upserts, provenance, rejects, strict, FtM."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.errors import InputError, UsageError
from credgraph.graph.gateway import Gateway
from credgraph.graph.model import not_bookkeeping
from credgraph.loaders.load import load

pytestmark = pytest.mark.integration

FTM_SAMPLE = Path(__file__).parent / "data" / "opensanctions-eu-fsf-sample.ftm.json"

BASE: dict[str, list[list[str]]] = {
    "persons": [
        ["id", "name", "birth_date", "country", "national_id", "net_worth"],
        ["P1", "Ada Lovelace", "1815-12-10", "GB", "X-1", "1000"],
        ["P2", '=HYPERLINK("http://x")', "", "", "", ""],
    ],
    "firms": [
        [
            "id",
            "name",
            "registration_no",
            "country",
            "region",
            "industry",
            "founded_on",
            "status",
            "registered_capital",
            "equity",
            "total_assets",
        ],
        ["F1", "Bank One", "R1", "GB", "", "banking", "1990-01-01", "active", "1e6", "5e6", "9e7"],
        [
            "F2",
            "MATCH (n) DETACH DELETE n",
            "R2",
            "GB",
            "",
            "retail",
            "",
            "active",
            "",
            "100",
            "900",
        ],
        ["F3", 'Steel, "Ltd"\nsecond line', "", "", "", "", "", "bankrupt", "", "", ""],
    ],
    "roles": [
        ["person_id", "firm_id", "role", "since", "until"],
        ["P1", "F2", "legal_representative", "2020-01-01", ""],
        ["P1", "F2", "director", "", ""],
    ],
    "ownership": [
        ["owner_id", "firm_id", "share", "since", "until"],
        ["P1", "F2", "0.6", "", ""],
        ["F2", "F3", "1", "", ""],
    ],
    "loans": [
        [
            "id",
            "lender_id",
            "borrower_id",
            "amount",
            "currency",
            "issued_on",
            "maturity_on",
            "status",
            "status_on",
            "days_overdue",
        ],
        ["L1", "F1", "F2", "500", "EUR", "2024-01-01", "", "overdue", "2025-01-01", "40"],
        ["L2", "F1", "F3", "900", "EUR", "2023-01-01", "", "defaulted", "2024-06-01", ""],
    ],
    "guarantees": [
        ["id", "guarantor_id", "loan_id", "amount", "kind", "since", "until"],
        ["G1", "F2", "L2", "300", "joint", "", ""],
        ["G2", "P1", "L1", "100", "", "", ""],
    ],
    "blacklist": [
        [
            "id",
            "subject_id",
            "list",
            "authority",
            "reason",
            "listed_on",
            "expires_on",
            "delisted_on",
            "severity",
            "source_url",
        ],
        ["B1", "F3", "court_dishonest_debtor", "court", "r", "2024-07-01", "", "", "", ""],
    ],
}


def write_folder(folder: Path, tables: dict[str, list[list[str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    return folder


def snapshot(gw: Gateway) -> dict[str, Any]:
    """Everything in the graph but the bookkeeping of loads (Load records, the writer
    lease), comparable across loads."""
    nodes = gw.read(
        "MATCH (n) WHERE " + not_bookkeeping("n") + " "
        "RETURN labels(n) AS labels, properties(n) AS props ORDER BY n.id"
    )
    rels = gw.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS props "
        "ORDER BY a, t, b"
    )
    return {"nodes": nodes, "rels": rels}


def counts(report: Any) -> dict[str, tuple[int, int, int, int]]:
    return {f.file: (f.created, f.updated, f.unchanged, f.rejected) for f in report.files}


def test_load_twice_is_idempotent(gateway: Gateway, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "in", BASE)
    first = load(gateway, folder, source="test", rejects_path=tmp_path / "r.csv")
    assert first.outcome == "completed" and first.rejected == 0
    assert counts(first)["persons.csv"] == (2, 0, 0, 0)
    assert counts(first)["roles.csv"] == (2, 0, 0, 0)
    assert not (tmp_path / "r.csv").exists()
    before = snapshot(gateway)
    second = load(gateway, folder, source="test", rejects_path=tmp_path / "r.csv")
    assert all(c[:2] == (0, 0) for c in counts(second).values())
    assert counts(second)["loans.csv"] == (0, 0, 2, 0)
    assert snapshot(gateway) == before
    loads = gateway.read("MATCH (l:Load) RETURN l.outcome AS o, l.files AS f ORDER BY l.started_at")
    assert [r["o"] for r in loads] == ["completed", "completed"]
    assert '"sha256": "' in loads[0]["f"]


def test_values_and_provenance_are_stored_verbatim(gateway: Gateway, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "in", BASE)
    report = load(gateway, folder, source="registry-2026")
    rows = gateway.read(
        "MATCH (f:Firm) MATCH (ld:Load {num: f.load}) "
        "RETURN f.id AS id, f.name AS name, ld.source AS source, "
        "ld.file_names[f.file] AS file, f.row AS row, ld.id AS load ORDER BY id"
    )
    assert [r["name"] for r in rows] == [
        "Bank One",
        "MATCH (n) DETACH DELETE n",
        'Steel, "Ltd"\nsecond line',
    ]
    assert {r["source"] for r in rows} == {"registry-2026"}
    assert [r["file"] for r in rows] == ["firms.csv"] * 3
    assert [r["row"] for r in rows] == [2, 3, 4]
    assert {r["load"] for r in rows} == {report.load_id}
    p2 = gateway.read("MATCH (p:Person {id: 'P2'}) RETURN p.name AS n")[0]["n"]
    assert p2 == '=HYPERLINK("http://x")'
    # every relationship carries provenance
    missing = gateway.read(
        "MATCH ()-[r]->() WHERE r.load IS NULL OR r.file IS NULL OR r.row IS NULL "
        "OR NOT EXISTS { MATCH (:Load {num: r.load}) } RETURN type(r) AS t"
    )
    assert missing == []
    loan = gateway.read(
        "MATCH (a)-[:LENT]->(l:Loan {id: 'L1'})<-[:BORROWED]-(b) "
        "RETURN a.id AS a, b.id AS b, l.amount AS amount, l.issued_on AS issued, "
        "l.days_overdue AS d"
    )[0]
    assert (loan["a"], loan["b"], loan["amount"], loan["d"]) == ("F1", "F2", 500.0, 40)
    assert str(loan["issued"]) == "2024-01-01"
    g = gateway.read("MATCH (s)-[g:GUARANTEES {id: 'G1'}]->(l) RETURN s.id AS s, l.id AS l")
    assert g == [{"s": "F2", "l": "L2"}]


def test_changed_row_updates_and_moves(gateway: Gateway, tmp_path: Path) -> None:
    load(gateway, write_folder(tmp_path / "a", BASE))
    gateway.write("MATCH (b:BlacklistEntry {id: 'B1'}) SET b.disputed = true")
    changed = {k: [list(r) for r in v] for k, v in BASE.items()}
    changed["loans"][1][2] = "F3"  # L1 now borrowed by F3
    changed["loans"][1][7] = "defaulted"
    changed["persons"][1][5] = ""  # net worth no longer known
    changed["blacklist"][1][4] = "new reason"
    report = load(gateway, write_folder(tmp_path / "b", changed))
    assert counts(report)["loans.csv"] == (0, 1, 1, 0)
    assert counts(report)["persons.csv"] == (0, 1, 1, 0)
    rows = gateway.read(
        "MATCH (b)-[:BORROWED]->(l:Loan {id: 'L1'}) RETURN b.id AS b, l.status AS s"
    )
    assert rows == [{"b": "F3", "s": "defaulted"}]
    assert gateway.read("MATCH (p:Person {id: 'P1'}) RETURN p.net_worth AS w") == [{"w": None}]
    b1 = gateway.read("MATCH (b:BlacklistEntry {id: 'B1'}) RETURN b.reason AS r, b.disputed AS d")
    assert b1 == [{"r": "new reason", "d": True}]  # a dispute survives an update


def test_bad_rows_are_rejected_and_nothing_else_is_touched(
    gateway: Gateway, tmp_path: Path
) -> None:
    load(gateway, write_folder(tmp_path / "a", BASE))
    before = snapshot(gateway)
    bad = {
        "loans": [
            BASE["loans"][0],
            ["L9", "F1", "F2", "-5", "EUR", "2024-01-01", "", "overdue", "", ""],
            ["L10", "F1", "NOPE", "5", "EUR", "2024-01-01", "", "overdue", "", ""],
        ],
        "guarantees": [BASE["guarantees"][0], ["G9", "F2", "L9", "1", "", "", ""]],
        "blacklist": [
            BASE["blacklist"][0],
            ["B9", "F2", "tax_violation", "", "", "2024-02-30", "", "", "", ""],
        ],
    }
    rejects = tmp_path / "rejects.csv"
    report = load(gateway, write_folder(tmp_path / "b", bad), rejects_path=rejects)
    assert report.outcome == "completed_with_rejects" and report.rejected == 4
    assert snapshot(gateway) == before
    with open(rejects, newline="") as fh:
        got = [(r["file"], r["row"], r["column"]) for r in csv.DictReader(fh)]
    assert ("loans.csv", "2", "amount") in got
    assert ("loans.csv", "3", "borrower_id") in got
    assert ("guarantees.csv", "2", "loan_id") in got
    assert ("blacklist.csv", "2", "listed_on") in got


def test_strict_writes_nothing(gateway: Gateway, tmp_path: Path) -> None:
    tables = {k: [list(r) for r in v] for k, v in BASE.items()}
    tables["guarantees"].append(["G3", "F2", "L404", "1", "", "", ""])
    with pytest.raises(InputError, match="nothing was written") as info:
        load(
            gateway,
            write_folder(tmp_path / "in", tables),
            strict=True,
            rejects_path=tmp_path / "r.csv",
        )
    assert "guarantees.csv row 4 column loan_id" in info.value.message
    assert gateway.read("MATCH (s:Subject) RETURN count(s) AS n") == [{"n": 0}]
    assert gateway.read("MATCH (l:Load) RETURN l.outcome AS o") == [{"o": "refused"}]
    assert (tmp_path / "r.csv").read_text().count("\n") == 2


def test_missing_header_column_fails_before_writing(gateway: Gateway, tmp_path: Path) -> None:
    tables = {"persons": [["id", "country"], ["P1", "GB"]]}
    with pytest.raises(InputError, match="persons.csv.*name"):
        load(gateway, write_folder(tmp_path / "in", tables))
    assert gateway.read("MATCH (n) WHERE NOT n:CredgraphSchema RETURN count(n) AS n") == [{"n": 0}]


def test_opensanctions_sample(gateway: Gateway, tmp_path: Path) -> None:
    report = load(gateway, FTM_SAMPLE, rejects_path=tmp_path / "r.csv")
    assert report.rejected == 0
    rows = gateway.read(
        "MATCH (s:Subject)-[:LISTED]->(b:BlacklistEntry) "
        "RETURN s.id AS id, labels(s) AS labels, s.aliases AS aliases, b.list AS list"
    )
    assert len(rows) == 6
    assert {r["list"] for r in rows} == {"sanctions"}
    assert sum("Person" in r["labels"] for r in rows) == 4
    aliases = {a for r in rows for a in r["aliases"]}
    assert "Виталий Юрьевич КУЗЬМЕНКО" in aliases
    assert any("Εταιρία" in a for a in aliases)
    again = load(gateway, FTM_SAMPLE, rejects_path=tmp_path / "r.csv")
    assert all(f.created == 0 and f.updated == 0 for f in again.files)


def test_a_rejects_file_that_cannot_be_written_is_refused_before_anything(
    gateway: Gateway, tmp_path: Path
) -> None:
    """A folder, or a place no file can be made in (checked by trying: permissions do
    not stop root), is a usage error before the Load record or any row is written."""
    folder = write_folder(tmp_path / "in", {"persons": BASE["persons"]})
    (tmp_path / "a-file").write_text("x")
    for bad in (tmp_path, tmp_path / "a-file" / "r.csv"):
        with pytest.raises(UsageError, match="rejects file"):
            load(gateway, folder, rejects_path=bad)
    assert gateway.read("MATCH (n) WHERE NOT n:CredgraphSchema RETURN count(n) AS n") == [{"n": 0}]
    # a folder that does not exist yet is made, as before
    report = load(gateway, folder, rejects_path=tmp_path / "new" / "r.csv")
    assert report.outcome == "completed" and not (tmp_path / "new" / "r.csv").exists()


def test_names_that_are_not_utf8_are_recorded_escaped(gateway: Gateway, tmp_path: Path) -> None:
    """A byte that is not UTF-8 in the folder's name, an ignored file's name, --source or
    an FtM file's name once failed the load as an internal error (the driver cannot send
    it); the Load record now holds it escaped, as the rejects file does."""
    folder = write_folder(
        Path(os.fsdecode(bytes(tmp_path) + b"/in\xff")), {"persons": BASE["persons"]}
    )
    (folder / os.fsdecode(b"junk\xfe.txt")).write_text("")
    report = load(gateway, folder, source=os.fsdecode(b"src\xfd"), rejects_path=tmp_path / "r.csv")
    assert report.outcome == "completed"
    ftm = Path(os.fsdecode(bytes(tmp_path) + b"/x\xfc.ftm.json"))
    ftm.write_text('{"id": "p9", "schema": "Person", "properties": {"name": ["Zed"]}}\n')
    report = load(gateway, ftm, rejects_path=tmp_path / "r.csv")
    assert report.outcome == "completed"
    got = gateway.read(
        "MATCH (l:Load) RETURN l.source AS source, l.path AS path, l.notes AS notes, "
        "l.file_names AS names ORDER BY l.num"
    )
    assert got[0]["source"] == "src\\udcfd"
    assert got[0]["path"].endswith("/in\\udcff")
    assert got[0]["notes"] == ["ignored junk\\udcfe.txt: not an input file"]
    assert got[1]["names"] == ["x\\udcfc.ftm.json"]
    assert gateway.read("MATCH (p:Person) RETURN p.id AS id ORDER BY id") == [
        {"id": "P1"},
        {"id": "P2"},
        {"id": "p9"},
    ]


def test_one_csv_file_is_a_usage_error_not_an_ftm_file(gateway: Gateway, tmp_path: Path) -> None:
    """A layout file given alone was read as FtM JSON: every row rejected as bad JSON."""
    folder = write_folder(tmp_path / "in", {"persons": BASE["persons"]})
    with pytest.raises(UsageError, match="load the folder that holds it") as info:
        load(gateway, folder / "persons.csv", rejects_path=tmp_path / "r.csv")
    assert "credgraph load " + str(folder) in (info.value.hint or "")
    assert gateway.read("MATCH (n) WHERE NOT n:CredgraphSchema RETURN count(n) AS n") == [{"n": 0}]


def _ftm_lines(path: Path, entities: list[dict[str, Any]]) -> Path:
    import json

    path.write_text("".join(json.dumps(e) + "\n" for e in entities), encoding="utf-8")
    return path


def test_an_ftm_update_removes_the_extras_the_entity_no_longer_has(
    gateway: Gateway, tmp_path: Path
) -> None:
    """An FtM entity loaded again without its role text, or with one owner where it had
    two, kept the stale ftm_role and ftm_parties of the earlier load: the graph then
    differed from loading the new file alone."""

    def entities(owners: list[str], role: list[str]) -> list[dict[str, Any]]:
        return [
            {"id": "p1", "schema": "Person", "properties": {"name": ["One"]}},
            {"id": "p2", "schema": "Person", "properties": {"name": ["Two"]}},
            {"id": "c1", "schema": "Company", "properties": {"name": ["Co"]}},
            {
                "id": "o1",
                "schema": "Ownership",
                "properties": {"owner": owners, "asset": ["c1"], "percentage": ["30"]},
            },
            {
                "id": "d1",
                "schema": "Directorship",
                "properties": {"director": ["p1"], "organization": ["c1"], "role": role},
            },
        ]

    first = _ftm_lines(tmp_path / "v1.ftm.json", entities(["p1", "p2"], ["Board member"]))
    again = _ftm_lines(tmp_path / "v2.ftm.json", entities(["p1"], []))
    load(gateway, first, rejects_path=tmp_path / "r.csv")
    load(gateway, again, rejects_path=tmp_path / "r.csv")
    got = gateway.read(
        "MATCH (:Person {id: 'p1'})-[r]->(:Firm {id: 'c1'}) "
        "RETURN type(r) AS t, r.ftm_role AS role, r.ftm_parties AS parties, r.share AS share "
        "ORDER BY t"
    )
    assert got == [
        {"t": "DIRECTOR_OF", "role": None, "parties": None, "share": None},
        {"t": "OWNS", "role": None, "parties": None, "share": 0.3},
    ]


def test_ftm_entities_of_unmapped_schemas_are_named_in_the_notes(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Entities of schemas the graph has no place for (Address, Vessel) were dropped
    without a word: the load said 'completed' and nothing told how many were left out."""
    ftm = _ftm_lines(
        tmp_path / "in.ftm.json",
        [
            {"id": "p1", "schema": "Person", "properties": {"name": ["One"]}},
            {"id": "a1", "schema": "Address", "properties": {"full": ["x"]}},
            {"id": "a2", "schema": "Address", "properties": {"full": ["y"]}},
            {"id": "v1", "schema": "Vessel", "properties": {"name": ["Boat"]}},
        ],
    )
    report = load(gateway, ftm, rejects_path=tmp_path / "r.csv")
    assert report.outcome == "completed"
    note = "skipped FtM entities whose schema maps to nothing in the graph: Address 2, Vessel 1"
    assert report.notes == [note]
    assert gateway.read("MATCH (l:Load) RETURN l.notes AS notes") == [{"notes": [note]}]


def test_columns_not_in_the_layout_are_named_in_the_notes(gateway: Gateway, tmp_path: Path) -> None:
    """A misspelt optional column (``birthdate``) was dropped without a word, its values
    lost; ignored files were noted, ignored columns not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write_folder(
        tmp_path / "in",
        {
            "persons": [
                ["id", "name", "birthdate", "", "name_en"],
                ["P1", "Ada", "1815-12-10", "", "A"],
            ]
        },
    )
    pq.write_table(
        pa.table({"id": ["F1"], "name": ["Co"], "Equity": ["5"]}), folder / "firms.parquet"
    )
    report = load(gateway, folder, rejects_path=tmp_path / "r.csv")
    assert report.outcome == "completed"
    assert report.notes == [
        "ignored columns of persons.csv not in the layout: birthdate, name_en",
        "ignored columns of firms.parquet not in the layout: Equity",
    ]


def test_format_csv_on_a_file_is_a_usage_error(gateway: Gateway, tmp_path: Path) -> None:
    """--format csv with an FtM file was an input error (exit 1), while --format ftm with
    a folder is a usage error (exit 2): both are the same mistake."""
    ftm = _ftm_lines(tmp_path / "in.ftm.json", [{"id": "p1", "schema": "Person"}])
    for fmt in ("csv", "parquet"):
        with pytest.raises(UsageError, match=f"--format {fmt} needs a folder"):
            load(gateway, ftm, fmt=fmt, rejects_path=tmp_path / "r.csv")
    assert gateway.read("MATCH (n) WHERE NOT n:CredgraphSchema RETURN count(n) AS n") == [{"n": 0}]


def test_a_csv_update_of_an_ftm_record_leaves_no_ftm_extras(
    gateway: Gateway, tmp_path: Path
) -> None:
    """A CSV row that updated a record an FtM load wrote kept its FtM extras (aliases,
    ftm_schema, source_entity, topics, ftm_role): the record's provenance then named
    the CSV row while source_entity named an FtM entity. Every record the CSV updates
    is now as the CSV alone writes it (provenance aside); `disputed` stays."""
    from tests.conftest import wipe

    ftm = _ftm_lines(
        tmp_path / "in.ftm.json",
        [
            {
                "id": "p1",
                "schema": "Person",
                "properties": {"name": ["Ann"], "alias": ["Анна"], "topics": ["sanction"]},
            },
            {"id": "c1", "schema": "Company", "properties": {"name": ["Co"]}},
            {
                "id": "d1",
                "schema": "Directorship",
                "properties": {"director": ["p1"], "organization": ["c1"], "role": ["Board"]},
            },
            {
                "id": "o1",
                "schema": "Ownership",
                "properties": {"owner": ["p1"], "asset": ["c1"], "percentage": ["30"]},
            },
            {
                "id": "debt1",
                "schema": "Debt",
                "properties": {
                    "creditor": ["c1"],
                    "debtor": ["p1"],
                    "amount": ["5"],
                    "date": ["2023-01-01"],
                },
            },
            {"id": "s1", "schema": "Sanction", "properties": {"entity": ["c1"]}},
        ],
    )
    csv_in = write_folder(
        tmp_path / "csv",
        {
            "persons": [["id", "name"], ["p1", "Ann B."]],
            "firms": [["id", "name"], ["c1", "Co Ltd"]],
            "roles": [["person_id", "firm_id", "role"], ["p1", "c1", "director"]],
            "ownership": [["owner_id", "firm_id", "share"], ["p1", "c1", "0.4"]],
            "loans": [
                ["id", "lender_id", "borrower_id", "amount", "issued_on", "status"],
                ["debt1", "c1", "p1", "6", "2024-01-01", "defaulted"],
            ],
            "blacklist": [
                ["id", "subject_id", "list", "listed_on"],
                ["s1", "c1", "sanctions", "2024-02-01"],
            ],
        },
    )

    def plain() -> dict[str, Any]:
        got = snapshot(gateway)
        for item in [*got["nodes"], *got["rels"]]:
            for k in ("load", "file", "row"):
                item["props"].pop(k, None)
        return got

    load(gateway, ftm, rejects_path=tmp_path / "r.csv")
    gateway.write("MATCH (l:Loan {id: 'debt1'}) SET l.disputed = true")
    report = load(gateway, csv_in, rejects_path=tmp_path / "r.csv")
    assert {f.file: f.updated for f in report.files} == {
        "persons.csv": 1,
        "firms.csv": 1,
        "roles.csv": 1,
        "ownership.csv": 1,
        "loans.csv": 1,
        "blacklist.csv": 1,
    }
    after = plain()
    extras = {"aliases", "ftm_schema", "source_entity", "topics", "ftm_role", "ftm_parties"}
    # the FtM topic's own entry (ftm-sanction:p1) is a record the CSV does not update
    updated = [
        x for x in [*after["nodes"], *after["rels"]] if x["props"].get("id") != "ftm-sanction:p1"
    ]
    for x in updated:
        assert not extras & set(x["props"]), x
    wipe(gateway)
    load(gateway, csv_in, rejects_path=tmp_path / "r.csv")
    gateway.write("MATCH (l:Loan {id: 'debt1'}) SET l.disputed = true")
    alone = plain()
    kept = {"nodes": after["nodes"], "rels": after["rels"]}
    kept["nodes"] = [n for n in kept["nodes"] if n["props"].get("id") != "ftm-sanction:p1"]
    kept["rels"] = [r for r in kept["rels"] if r["b"] != "ftm-sanction:p1"]
    assert kept == alone
