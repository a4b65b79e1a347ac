"""`credgraph load --bulk`: the offline importer gives exactly the online loader's graph."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import credgraph.loaders.bulk as bulk
from credgraph.graph.errors import CredgraphError, UsageError
from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.model import PROVENANCE, not_bookkeeping
from credgraph.graph.schema import SCHEMA_VERSION, STATEMENTS, schema_version
from credgraph.loaders.bulk import bulk_load
from credgraph.loaders.generate import generate
from credgraph.loaders.load import LoadReport, load
from tests.conftest import wipe
from tests.loaders.test_load_faults import content

pytestmark = pytest.mark.integration

FTM_SAMPLE = Path(__file__).parent / "data" / "opensanctions-eu-fsf-sample.ftm.json"


def heal(gw: Gateway) -> None:
    """The server restarted under the session driver: one retried read drops dead connections."""
    assert gw.read("RETURN 1 AS one") == [{"one": 1}]


def created(report: LoadReport) -> list[tuple[str, int, int, int, int]]:
    return [(f.file, f.read, f.created, f.updated, f.rejected) for f in report.files]


def online_then_bulk(
    gw: Gateway, server: ManagedServer, data: Path, tmp: Path, **kw: Any
) -> tuple[LoadReport, LoadReport, dict[str, Any]]:
    """Load ``data`` online, keep its content, wipe, bulk-load it: the two reports and content."""
    online = load(gw, data, source="s", rejects_path=tmp / "online.rejects.csv", **kw)
    expected = content(gw)
    wipe(gw)
    report = bulk_load(server, data, source="s", rejects_path=tmp / "bulk.rejects.csv", **kw)
    heal(gw)
    assert server.status()["running"]
    assert not (server.home / bulk.STAGING).exists()
    assert content(gw) == expected
    assert created(report) == created(online)
    assert report.outcome == online.outcome
    return online, report, expected


def assert_provenance(gw: Gateway, report: LoadReport) -> None:
    """Every loaded node and relationship carries this load's provenance."""
    checks = " AND ".join(f"x.{p} IS NOT NULL" for p in PROVENANCE)
    for match in (
        "MATCH (x) WHERE " + not_bookkeeping("x"),
        "MATCH ()-[x]->()",
    ):
        rows = gw.read(
            match + " RETURN count(x) AS n, "
            f"count(CASE WHEN {checks} AND x.load = $num THEN 1 END) AS ok, "
            "collect(DISTINCT valueType(x.row)) AS types",
            num=report.load_num,
        )
        assert rows[0]["n"] == rows[0]["ok"]
        assert rows[0]["types"] in ([], ["INTEGER NOT NULL"])
    (rec,) = gw.read("MATCH (l:Load {num: $num}) RETURN l.id AS id", num=report.load_num)
    assert rec["id"] == report.load_id


def test_bulk_equals_online_load(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    generate(data, 3000, 21, "csv")
    online, report, expected = online_then_bulk(gateway, neo4j_server, data, tmp_path)
    assert report.outcome == "completed" and report.rejected == 0
    assert len(expected["nodes"]) > 3000 and len(expected["rels"]) > 3000
    assert sum(f.created for f in report.files) > 3000
    assert not (tmp_path / "bulk.rejects.csv").exists()
    assert_provenance(gateway, report)
    # the bulk load held the writer lease on the imported store too, and let it go
    lease = gateway.read("MATCH (l:Lease) RETURN l.holder AS holder, l.previous AS previous")
    assert lease == [{"holder": None, "previous": report.load_id}]

    loads = gateway.read("MATCH (l:Load) RETURN properties(l) AS p")
    assert len(loads) == 1
    rec = loads[0]["p"]
    assert rec["id"] == report.load_id and rec["outcome"] == "completed"
    assert rec["source"] == "s" and rec["rejected"] == 0 and rec["ended_at"] is not None
    files = json.loads(rec["files"])
    assert [(f["file"], f["created"], f["sha256"]) for f in files] == [
        (f.file, f.created, f.sha256) for f in online.files
    ]
    assert schema_version(gateway) == SCHEMA_VERSION
    names = {r["name"] for r in gateway.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    wanted = {s.split()[2] for s in STATEMENTS if s.startswith("CREATE CONSTRAINT")}
    assert wanted <= names
    indexes = gateway.read("SHOW INDEXES YIELD name, state RETURN name, state")
    assert {"subject_name", "subject_names", "loan_status"} <= {i["name"] for i in indexes}
    assert {i["state"] for i in indexes} == {"ONLINE"}


def test_bulk_into_non_empty_database_is_refused(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    generate(data, 200, 3, "csv")
    gateway.write("CREATE (:Subject:Person {id: 'P-existing', name: 'Already here'})")
    before = content(gateway)
    with pytest.raises(UsageError, match="empty database"):
        bulk_load(neo4j_server, data, rejects_path=tmp_path / "r.csv")
    assert content(gateway) == before
    assert gateway.read("MATCH (l:Load) RETURN count(l) AS n") == [{"n": 0}]
    assert not (tmp_path / "r.csv").exists()
    assert not (neo4j_server.home / bulk.STAGING).exists()

    # Only the managed server: another NEO4J_URI is refused before anything happens.
    other = neo4j_server.settings.model_copy(
        update={"neo4j_uri": "bolt://127.0.0.1:1", "neo4j_password": SecretStr("x")}
    )
    with pytest.raises(UsageError, match="managed"):
        bulk_load(ManagedServer(other), data)
    assert content(gateway) == before
    assert neo4j_server.status()["running"]


def _write(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def tricky_input(folder: Path) -> None:
    """Awkward strings that must survive the importer CSV, and rows that must be rejected."""
    folder.mkdir()
    _write(
        folder,
        "persons",
        ["id", "name", "birth_date", "country", "national_id", "net_worth"],
        [
            ["P1", 'Anna "Nan" Smith, Jr.', "1970-01-31", "DE", "X\\1", "1000.5"],
            ["P2", "multi\nline\r\nname\r", "", " FR ", "", "0"],
            ["P3", "bad date", "1970-02-30", "", "", ""],
            ["P1", "duplicate", "", "", "", ""],
            ["P4", "  spaced  ", "", "", "", " 1e3 "],
            ["P5", "=cmd()", "", "", ";semi;colon;", "0.1"],
            # (control characters such as the importer's array delimiter \x1f are refused)
            ["P6", "ünïcødé ☃ 𝄞 \t tab", "0001-01-01", "", "a\tb", ""],
        ],
    )
    _write(
        folder,
        "firms",
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
        [
            ["F1", "Acme; Ltd", "R-1", "", "", "", "", "active", "", "0.1", "12345678901234.5"],
            ["F2", "Beta", "", "", "", "", "", "bogus", "", "", ""],
            ["F3", "'quoted'", "", "", "", "", "2001-02-03", "", "5e-324", "", ""],
        ],
    )
    _write(
        folder,
        "roles",
        ["person_id", "firm_id", "role", "since", "until"],
        [
            ["P1", "F1", "director", "", ""],
            ["P2", "F1", "legal_representative", "2020-01-01", ""],
            ["P1", "F1", "director", "2021-01-01", ""],
            ["P4", "F3", "supervisor", "", "2022-12-31"],
            ["F1", "F3", "executive", "", ""],
        ],
    )
    _write(
        folder,
        "ownership",
        ["owner_id", "firm_id", "share", "since", "until"],
        [["P1", "F1", "0.5", "", ""], ["F1", "F1", "0.2", "", ""], ["P2", "F1", "1.5", "", ""]],
    )
    _write(
        folder,
        "loans",
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
        [
            ["L1", "F1", "P1", "100", "EUR", "2020-01-01", "", "overdue", "2020-06-01", "5.0"],
            ["L2", "F2", "P1", "100", "", "2020-01-01", "", "performing", "", ""],
            ["L3", "F1", "P9", "100", "", "2020-01-01", "", "performing", "", ""],
            ["L4", "P5", "P5", "0", "", "2020-01-01", "2030-01-01", "repaid", "", ""],
        ],
    )
    _write(
        folder,
        "guarantees",
        ["id", "guarantor_id", "loan_id", "amount", "kind", "since", "until"],
        [
            ["G1", "P1", "L1", "50", "joint", "", ""],
            ["G2", "P1", "L1", "25", "", "", ""],
            ["G3", "P2", "L2", "10", "", "", ""],
        ],
    )
    _write(
        folder,
        "blacklist",
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
        [
            ["B1", "P1", "court_dishonest_debtor", "", "why,\n\"because\"", "2021-01-01", "", "", "0.5", 'http://x?a=1,b="2"'],
            ["B2", "P9", "sanctions", "", "", "2021-01-01", "", "", "", ""],
        ],
    )  # fmt: skip


def test_bulk_rejects_bad_rows_and_imports_the_rest(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    tricky_input(data)
    online = load(gateway, data, source="s", rejects_path=tmp_path / "online.rejects.csv")
    expected = content(gateway)
    wipe(gateway)
    # Load records of earlier loads do not make a database non-empty; they are kept.
    gateway.write("CREATE (:Load {id: 'earlier', outcome: 'refused', n: [1, 2]})")
    report = bulk_load(neo4j_server, data, source="s", rejects_path=tmp_path / "bulk.rejects.csv")
    heal(gateway)
    assert report.outcome == online.outcome == "completed_with_rejects"
    assert report.rejected == online.rejected == 10
    assert created(report) == created(online)
    assert (tmp_path / "bulk.rejects.csv").read_bytes() == (
        tmp_path / "online.rejects.csv"
    ).read_bytes()
    assert report.rejects_path == str(tmp_path / "bulk.rejects.csv")
    got = content(gateway)
    assert got == expected
    names = {p["id"]: p.get("name") for labels, p in got["nodes"] if "Person" in labels}
    assert names["P2"] == "multi\nline\r\nname\r" and names["P4"] == "  spaced  "
    assert "P3" not in names and "P1" in names
    assert_provenance(gateway, report)
    loads = gateway.read("MATCH (l:Load) RETURN l.id AS id, l.outcome AS o, l.n AS n ORDER BY id")
    assert loads == [
        {"id": "earlier", "o": "refused", "n": [1, 2]},
        {"id": report.load_id, "o": "completed_with_rejects", "n": None},
    ]


def ftm_entities() -> list[dict[str, Any]]:
    def entity(eid: str, schema: str, **props: Any) -> dict[str, Any]:
        return {
            "id": eid,
            "schema": schema,
            "properties": {k: v if isinstance(v, list) else [v] for k, v in props.items()},
            "datasets": ["test"],
            "first_seen": "2023-01-02T03:04:05",
        }

    return [
        entity("x-p1", "Person", name=["Pat Doe", "Pat; Doe", "P\tD"], birthDate="1960"),
        entity("x-p2", "Person", name="Quinn", topics=["sanction", "role.pep"]),
        entity("x-c1", "Company", name="Acme", topics="sanction.linked", capital="1000"),
        entity("x-o1", "Ownership", owner="x-p1", asset="x-c1"),
        entity("x-o2", "Ownership", owner="x-p2", asset="x-c1", percentage="50"),
        entity("x-d1", "Directorship", director="x-p1", organization="x-c1"),
        entity("x-s1", "Sanction", entity="x-c1", authority="Someone", startDate="2020-01-01"),
        # dated by a year and month only: listed_on_basis 'partial' (one dated by its
        # load is left out: the two loads could straddle midnight UTC)
        entity("x-s3", "Sanction", entity="x-p1", startDate="2019-05"),
    ]


def test_bulk_parquet_and_ftm_equal_online(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    data = tmp_path / "pq"
    generate(data, 500, 8, "parquet")
    _, report, _ = online_then_bulk(gateway, neo4j_server, data, tmp_path)
    assert report.format == "auto" and report.files[0].file == "persons.parquet"
    wipe(gateway)
    # FtM: lists (aliases, topics), empty ones too, which the importer CSV cannot carry.
    ftm = tmp_path / "sample.ftm.json"
    lines = FTM_SAMPLE.read_text(encoding="utf-8").splitlines()
    lines += [json.dumps(e) for e in ftm_entities()]
    ftm.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, report, expected = online_then_bulk(gateway, neo4j_server, ftm, tmp_path)
    props = [p for _, p in expected["nodes"]]
    assert any(p.get("topics") == [] for p in props)
    assert any(len(p.get("aliases", [])) > 1 for p in props)
    owns = [r[3] for r in expected["rels"] if r[1] == "OWNS"]
    assert any(o.get("share_unknown") is True for o in owns)
    (entry,) = [p for p in props if p.get("id") == "x-s3"]
    assert (str(entry["listed_on"]), entry["listed_on_basis"]) == ("2019-05-01", "partial")
    assert "completed after import" in report.notes[-1]
    assert_provenance(gateway, report)


def test_failed_import_leaves_database_as_it_was(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    generate(data, 100, 4, "csv")
    arguments = bulk._Stage.arguments
    monkeypatch.setattr(
        bulk._Stage, "arguments", lambda self: [*arguments(self), "--nodes=Loan=no-such-file.csv"]
    )
    with pytest.raises(CredgraphError, match="importer failed"):
        bulk_load(neo4j_server, data, rejects_path=tmp_path / "r.csv")
    assert neo4j_server.status()["running"]
    assert content(gateway) == {"nodes": [], "rels": []}
    assert gateway.read("MATCH (l:Load) RETURN l.outcome AS o") == [{"o": "failed"}]
    assert not (neo4j_server.home / bulk.STAGING).exists()

    monkeypatch.undo()  # a failed bulk load does not block the next one
    report = bulk_load(neo4j_server, data, rejects_path=tmp_path / "r.csv")
    heal(gateway)
    assert report.outcome == "completed"
    outcomes = gateway.read("MATCH (l:Load) RETURN l.outcome AS o ORDER BY o")
    assert outcomes == [{"o": "completed"}, {"o": "failed"}]
    assert gateway.read("MATCH (n:Subject) RETURN count(n) AS n") == [{"n": 100}]


def test_bulk_after_lookups_and_keys_carries_them_over(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """A fresh database that was inspected (an audited lookup) and given an API key
    holds no data: --bulk loads into it and carries the audit events and keys over
    (before, it was refused for 'a :AuditEvent node' for good)."""
    from credgraph.graph.audit import record_lookup
    from credgraph.services.apikeys import create_key

    data = tmp_path / "data"
    generate(data, 200, 3, "csv")
    record_lookup(gateway, actor="ann", subject="P1", action="score", reason="check", via="cli")
    create_key(gateway, "viewer", "before the bulk load")
    records = "MATCH (n) WHERE n:AuditEvent OR n:ApiKey RETURN properties(n) AS p ORDER BY n.id"
    before = gateway.read(records)
    assert len(before) == 2
    report = bulk_load(neo4j_server, data, source="s", rejects_path=tmp_path / "r.csv")
    heal(gateway)
    assert report.outcome == "completed"
    assert gateway.read(records) == before
    assert gateway.read("MATCH (p:Person) RETURN count(p) AS n")[0]["n"] > 0
