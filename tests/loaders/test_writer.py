"""The writer's fast paths against the real Neo4j: fresh-file probe, several writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import credgraph.loaders.load as load_module
from credgraph.graph.gateway import Gateway
from credgraph.loaders.layout import BY_NAME
from credgraph.loaders.load import load
from credgraph.loaders.readers import RawRow, RawValue
from credgraph.loaders.validate import Validator
from credgraph.loaders.writer import is_fresh, load_params, to_params, write_rows

pytestmark = pytest.mark.integration

FILES = [f"{spec}.csv" for spec in ("persons", "firms", "roles", "ownership", "loans")]
FILES += ["guarantees.csv", "blacklist.csv"]
PARAMS = load_params(7, FILES)


def _rows(
    spec_name: str, lines: list[dict[str, str | None]], known: Any = None
) -> list[dict[str, Any]]:
    spec = BY_NAME[spec_name]
    raw = [RawRow(f"{spec_name}.csv", i + 2, dict[str, RawValue](v)) for i, v in enumerate(lines)]
    (batch,) = Validator(known).validate_file(spec, raw)
    assert not batch.rejects
    return [to_params(spec, r) for r in batch.rows]


def test_fresh_batch_written_twice_is_created_once(gateway: Gateway) -> None:
    # A retry after a commit whose answer was lost sends the same batch again.
    spec = BY_NAME["persons"]
    rows = _rows(
        "persons",
        [
            {
                "id": f"P{i}",
                "name": f"n{i}",
                "birth_date": None,
                "country": None,
                "national_id": None,
                "net_worth": None,
            }
            for i in range(5)
        ],
    )
    assert is_fresh(gateway, spec)
    first = write_rows(gateway, spec, rows, PARAMS, fresh=True)
    again = write_rows(gateway, spec, rows, PARAMS, fresh=True)
    assert first == {"created": 5, "updated": 0, "unchanged": 0}
    assert again == {"created": 0, "updated": 0, "unchanged": 5}
    assert gateway.read("MATCH (p:Person) RETURN count(p) AS n")[0]["n"] == 5
    assert not is_fresh(gateway, spec)


def test_fresh_roles_batch_of_several_types_is_one_transaction_written_once(
    gateway: Gateway,
) -> None:
    """A roles batch holds several role types, written in one transaction: sent twice
    (a retry after a lost commit answer), every type is found in and none is doubled."""
    persons = _rows("persons", [{"id": f"P{i}", "name": f"n{i}"} for i in range(4)])
    firms = _rows("firms", [{"id": "F1", "name": "f"}])
    write_rows(gateway, BY_NAME["persons"], persons, PARAMS)
    write_rows(gateway, BY_NAME["firms"], firms, PARAMS)
    spec = BY_NAME["roles"]
    kinds = ["supervisor", "director", "executive", "legal_representative"]
    rows = _rows(
        "roles",
        [{"person_id": f"P{i}", "firm_id": "F1", "role": kinds[i]} for i in range(4)],
        known=lambda space, ids: set(ids),  # written above
    )
    assert is_fresh(gateway, spec)
    first = write_rows(gateway, spec, rows, PARAMS, fresh=True)
    again = write_rows(gateway, spec, rows, PARAMS, fresh=True)
    assert first == {"created": 4, "updated": 0, "unchanged": 0}
    assert again == {"created": 0, "updated": 0, "unchanged": 4}
    n = gateway.read("MATCH (:Person)-[r]->(:Firm) RETURN count(r) AS n")[0]["n"]
    assert n == 4


def test_relationships_store_no_reference_ids(gateway: Gateway) -> None:
    spec = BY_NAME["persons"]
    write_rows(
        gateway,
        spec,
        _rows(
            "persons",
            [
                {
                    "id": "P1",
                    "name": "a",
                    "birth_date": "1990-01-02",
                    "country": None,
                    "national_id": None,
                    "net_worth": None,
                }
            ],
        ),
        PARAMS,
    )
    write_rows(
        gateway,
        BY_NAME["firms"],
        _rows(
            "firms",
            [
                {
                    "id": "F1",
                    "name": "f",
                    "registration_no": None,
                    "country": None,
                    "region": None,
                    "industry": None,
                    "founded_on": None,
                    "status": "active",
                    "registered_capital": None,
                    "equity": None,
                    "total_assets": None,
                }
            ],
        ),
        PARAMS,
    )
    v = Validator(lambda space, ids: set(ids))
    raw = RawRow(
        "roles.csv",
        2,
        {
            "person_id": "P1",
            "firm_id": "F1",
            "role": "director",
            "since": "2020-01-01",
            "until": None,
        },
    )
    (batch,) = v.validate_file(BY_NAME["roles"], [raw])
    write_rows(
        gateway,
        BY_NAME["roles"],
        [to_params(BY_NAME["roles"], r) for r in batch.rows],
        PARAMS,
        fresh=True,
    )
    (rel,) = gateway.read(
        "MATCH (p:Person)-[r:DIRECTOR_OF]->(f:Firm) RETURN p.id AS p, f.id AS f, "
        "properties(r) AS props"
    )
    assert (rel["p"], rel["f"]) == ("P1", "F1")
    props = rel["props"]
    assert "person_id" not in props and "firm_id" not in props
    assert props["role"] == "director" and str(props["since"]) == "2020-01-01"
    # provenance by reference: load number, the file's index in the load's files, row
    assert (props["load"], props["file"], props["row"]) == (7, FILES.index("roles.csv"), 2)
    assert not {"source", "source_file", "source_row", "loaded_at", "load_id"} & set(props)
    assert "until" not in props  # an empty value sets no property
    p = gateway.read("MATCH (p:Person {id: 'P1'}) RETURN p.birth_date AS d")[0]["d"]
    assert str(p) == "1990-01-02"


def test_many_writers_small_batches_give_the_single_writer_graph(
    gateway: Gateway, tmp_path: Path
) -> None:
    from credgraph.loaders.generate import generate

    data = tmp_path / "data"
    generate(data, 300, 3, "csv")

    def graph() -> list[dict[str, Any]]:
        return gateway.read(
            "MATCH (a)-[r]->(b) WHERE r.load IS NOT NULL "
            "RETURN a.id AS a, type(r) AS t, b.id AS b, r.fp AS fp, r.row AS row "
            "ORDER BY a, t, b, row"
        )

    settings = gateway.settings
    one = load(gateway, data, source="s", batch_size=7, rejects_path=tmp_path / "r.csv")
    expected = graph()
    gateway.run_schema("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")
    many = Gateway(settings.model_copy(update={"load_writers": 4}), driver=gateway.driver)
    four = load(many, data, source="s", batch_size=7, rejects_path=tmp_path / "r.csv")
    assert graph() == expected
    assert [(f.file, f.created, f.rejected) for f in four.files] == [
        (f.file, f.created, f.rejected) for f in one.files
    ]


def test_rows_of_long_text_are_written_in_parts_of_bounded_size(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch of rows with 1 MiB of free text each (12 MiB in all) goes out in
    transactions of at most MAX_BATCH_TEXT bytes (the validator cuts the batch short):
    every row is stored whole.
    (Before, such a batch was one message the server did not take in before the
    driver's write timed out: "Neo4j is not reachable".)"""
    data = tmp_path / "data"
    data.mkdir()
    big = "r" * 1_048_576
    (data / "persons.csv").write_text(
        "id,name\n" + "".join(f"P{i},n{i}\n" for i in range(12)), encoding="utf-8"
    )
    (data / "blacklist.csv").write_text(
        "id,subject_id,list,listed_on,reason\n"
        + "".join(f"B{i},P{i},tax_violation,2024-01-01,{big}\n" for i in range(12)),
        encoding="utf-8",
    )
    sent: list[tuple[str, int]] = []  # (file kind, rows) of each write transaction

    def counted(gw: Gateway, spec: Any, rows: list[Any], *a: Any, **kw: Any) -> Any:
        sent.append((spec.name, len(rows)))
        return write_rows(gw, spec, rows, *a, **kw)

    monkeypatch.setattr(load_module, "write_rows", counted)
    report = load(gateway, data, source="s", rejects_path=tmp_path / "r.csv")
    assert report.outcome == "completed"
    # 7 rows of 1,048,603 bytes (id, subject, list, date, reason) fit in MAX_BATCH_TEXT,
    # 8 do not
    assert sent == [("persons", 12), ("blacklist", 7), ("blacklist", 5)]
    got = gateway.read(
        "MATCH (b:BlacklistEntry) RETURN b.id AS id, size(b.reason) AS n, b.row AS row "
        "ORDER BY b.row"
    )
    assert got == [{"id": f"B{i}", "n": 1_048_576, "row": i + 2} for i in range(12)]
