"""FollowTheMoney input: the OpenSanctions sample and synthetic edge and relationship entities."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.errors import InputError
from credgraph.loaders.ftm import read_ftm, role_of
from credgraph.loaders.layout import FILES
from credgraph.loaders.readers import RawRow
from credgraph.loaders.validate import Reject, Validator, ValidRow

SAMPLE = Path(__file__).parent / "data" / "opensanctions-eu-fsf-sample.ftm.json"


def validate(path: Path) -> tuple[dict[str, list[ValidRow]], list[Reject], Any, Validator]:
    reader = read_ftm(path)
    v = Validator()
    valid: dict[str, list[ValidRow]] = {}
    rejects: list[Reject] = []
    for spec, group in itertools.groupby(reader, key=lambda pair: pair[0]):
        for batch in v.validate_file(spec, (row for _, row in group)):
            valid.setdefault(spec.name, []).extend(batch.rows)
            rejects.extend(batch.rejects)
    return valid, rejects, reader, v


def entity(eid: str, schema: str, **props: Any) -> dict[str, Any]:
    extra = props.pop("_extra", {})
    return {
        "id": eid,
        "schema": schema,
        "properties": {k: v if isinstance(v, list) else [v] for k, v in props.items()},
        **extra,
    }


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(
                (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
            )
    return path


def test_sample_gives_six_sanctioned_subjects() -> None:
    valid, rejects, reader, v = validate(SAMPLE)
    assert rejects == [] and reader.problems == []
    assert reader.entities == 7 and dict(reader.skipped) == {"Address": 1}
    persons = {r.key: r for r in valid["persons"]}
    firms = {r.key: r for r in valid["firms"]}
    assert len(persons) == 4 and len(firms) == 2
    blacklist = valid["blacklist"]
    assert sorted(r.values["subject_id"] for r in blacklist) == sorted([*persons, *firms])
    assert all(r.values["list"] == "sanctions" for r in blacklist)
    assert all(r.key == "ftm-sanction:" + r.values["subject_id"] for r in blacklist)
    assert set(v.summary()) == {
        f"{SAMPLE.name}:persons",
        f"{SAMPLE.name}:firms",
        f"{SAMPLE.name}:blacklist",
    }

    kuz = persons["NK-2Ka3UvopqbpZmVDFjWd4LA"]
    assert kuz.row == 2 and kuz.file == SAMPLE.name
    assert kuz.values["name"] == "Vitaly Yurievich KUZMENKO"
    assert kuz.values["birth_date"] == dt.date(1971, 1, 22)
    assert kuz.values["country"] == "ru"
    assert kuz.values["national_id"] == "366510784303"
    assert kuz.values["aliases"] == [
        "Vitalij Kuzmenko",
        "Виталий Юрьевич КУЗЬМЕНКО",
        "Vitaly Yurievich KUZMENKO",
    ]
    assert kuz.values["ftm_schema"] == "Person"
    assert kuz.values["topics"] == ["sanction"]
    assert kuz.values["source_entity"] == "NK-2Ka3UvopqbpZmVDFjWd4LA"

    tobacco = firms["NK-2GdmHtZTeNXjNVrBGEXZNj"]
    assert tobacco.values["name"] == "RAB „Inter Tobacco“"
    assert tobacco.values["registration_no"] == "808000714"
    assert tobacco.values["country"] == "by"
    assert "Εταιρία περιορισμένης ευθύνης “Inter Tobacco”" in tobacco.values["aliases"]
    assert "Общество с ограниченной ответственностью “Интер Тобако”" in tobacco.values["aliases"]
    assert len(tobacco.values["aliases"]) == 12

    entry = next(r for r in blacklist if r.values["subject_id"] == tobacco.key)
    assert entry.values["listed_on"] == dt.date(2023, 4, 20)  # first_seen
    assert entry.values["authority"] == "eu_fsf"
    assert entry.row == 1

    # a person with no full birth date and no nationality property
    pach = persons["NK-2Mht2rqBeravCTdyQAWc4o"]
    assert pach.values["birth_date"] is None and pach.values["country"] == "by"


def test_rows_are_grouped_in_load_order_whatever_the_line_order(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "x.ftm.json",
        [
            entity("s1", "Sanction", entity="p1", authority="EU", program="RUS"),
            entity("own1", "Ownership", owner="p1", asset="c1", percentage="50"),
            entity("c1", "Company", name="Acme"),
            entity("p1", "Person", name="Ann"),
        ],
    )
    names = [spec.name for spec, _ in read_ftm(path)]
    assert names == ["persons", "firms", "ownership", "blacklist"]
    order = [s.name for s in FILES]
    assert names == sorted(names, key=order.index)


def test_relationships_and_sanctions(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [
        entity(
            "p1",
            "Person",
            name=["Ivan", "Иван"],
            alias="Vanya",
            birthDate="1970",
            idNumber="ID-1",
            topics="sanction",
            _extra={"caption": "Ivan", "first_seen": "2020-01-02T00:00:00"},
        ),
        entity("p2", "Person", name="Pia", topics=["sanction.linked"]),
        entity(
            "c1",
            "Company",
            name="Acme",
            status="Liquidation",
            incorporationDate="2001-02-03",
            capital="1000",
        ),
        entity("c2", "Organization", name="Beta", status="Active"),
        entity("c3", "LegalEntity", name="Gamma", status="Bankrupt"),
        entity("own1", "Ownership", owner="p1", asset="c1", percentage="50,5 %"),
        entity("own2", "Ownership", owner="c1", asset="c2", percentage="25-50%"),
        entity("own3", "Ownership", owner="p2", asset="c2", percentage="150"),
        entity("own4", "Ownership", owner="p2", asset="ghost-co", percentage="10"),
        entity("d1", "Directorship", director="p1", organization="c1", startDate="2015-05-01"),
        entity("d2", "Directorship", director="c2", organization="c1"),
        entity(
            "debt1",
            "Debt",
            creditor="c2",
            debtor="c1",
            amount="1000000",
            currency="EUR",
            endDate="2027-03-04",
            _extra={"first_seen": "2022-03-04T10:00:00"},
        ),
        entity("debt2", "Debt", creditor="c2", debtor="c1", _extra={"first_seen": "2022-03-04"}),
        entity(
            "s1",
            "Sanction",
            entity="p1",
            authority="Council of the EU",
            program="RUS",
            startDate="2022-02-28",
            endDate="2030-01-01",
            sourceUrl="https://example.org/s1",
        ),
        entity("s2", "Sanction", entity="nobody", program="X", startDate="2022-02-28"),
        entity("v1", "Vessel", name="Boat"),
        entity(
            "d3", "Directorship", director="p1", organization="c3", role="Chief Executive Officer"
        ),
    ]
    valid, rejects, reader, _ = validate(write_lines(tmp_path / "x.ftm.json", lines))
    assert dict(reader.skipped) == {"Vessel": 1}

    p1 = valid["persons"][0]
    assert p1.values["birth_date"] is None  # "1970" is not a full date
    assert p1.values["national_id"] == "ID-1"
    assert p1.values["aliases"] == ["Ivan", "Иван", "Vanya"]

    firms = {r.key: r.values for r in valid["firms"]}
    assert firms["c1"]["status"] == "dissolved"
    assert firms["c1"]["founded_on"] == dt.date(2001, 2, 3)
    assert firms["c1"]["registered_capital"] == 1000.0
    assert firms["c2"]["status"] == "active" and firms["c3"]["status"] == "bankrupt"

    own = {r.values["source_entity"]: r for r in valid["ownership"]}
    assert own["own1"].key == "p1|c1" and own["own1"].values["share"] == pytest.approx(0.505)
    assert "share_unknown" not in own["own1"].values
    assert own["own2"].values["share"] is None and own["own2"].values["share_unknown"] is True
    by_row = {(r.file, r.row): r for r in rejects}
    assert by_row[("x.ftm.json", 8)] == Reject(
        "x.ftm.json", 8, "share", "1.5", "share must be in (0, 1]: '1.5'"
    )
    assert by_row[("x.ftm.json", 9)] == Reject(
        "x.ftm.json", 9, "firm_id", "ghost-co", "unknown firm ghost-co"
    )

    d1, d3 = valid["roles"]
    assert d1.key == "p1|c1|director" and d1.values["since"] == dt.date(2015, 5, 1)
    assert "ftm_role" not in d1.values
    assert d3.key == "p1|c3|executive" and d3.values["ftm_role"] == "Chief Executive Officer"
    assert by_row[("x.ftm.json", 11)].reason == "person_id c2 is a firm, not a person"

    (debt1,) = valid["loans"]
    assert debt1.values == debt1.values | {
        "id": "debt1",
        "lender_id": "c2",
        "borrower_id": "c1",
        "amount": 1_000_000.0,
        "currency": "EUR",
        "issued_on": dt.date(2022, 3, 4),  # from first_seen
        "maturity_on": dt.date(2027, 3, 4),  # endDate
        "status": "performing",
    }
    assert by_row[("x.ftm.json", 13)] == Reject(
        "x.ftm.json", 13, "amount", None, "missing required value"
    )

    bl = {r.key: r.values for r in valid["blacklist"]}
    # p1 has a Sanction entity, so no extra topic entry; p2's topic is sanction.linked only
    assert set(bl) == {"s1"}
    assert bl["s1"] == bl["s1"] | {
        "subject_id": "p1",
        "list": "sanctions",
        "authority": "Council of the EU",
        "reason": "RUS",
        "listed_on": dt.date(2022, 2, 28),
        "expires_on": dt.date(2030, 1, 1),
        "source_url": "https://example.org/s1",
        "ftm_schema": "Sanction",
    }
    assert by_row[("x.ftm.json", 15)].reason == "unknown subject nobody"
    assert sorted(row for _, row in by_row) == [8, 9, 11, 13, 15]


def test_references_with_several_values_give_a_row_per_party(tmp_path: Path) -> None:
    """FtM properties are lists: a Sanction naming three entities lists all three (it
    once listed the first alone and dropped the others silently), and so on for every
    kind of record with references."""
    lines: list[dict[str, Any] | str] = [
        entity("p1", "Person", name="Ann"),
        entity("p2", "Person", name="Bob", topics="sanction"),
        entity("p3", "Person", name="Cy"),
        entity("c1", "Company", name="Acme"),
        entity("c2", "Company", name="Beta"),
        entity("s1", "Sanction", entity=["p1", "p2", "p3", "p2"], startDate="2020-01-01"),
        entity("s2", "Sanction", entity="p3", startDate="2021-01-01"),
        entity("o1", "Ownership", owner=["p1", "p3"], asset="c1", percentage="50"),
        entity("o2", "Ownership", owner="p1", asset="c2", percentage="50"),
        entity("d1", "Directorship", director=["p1", "p2"], organization=["c1", "c2"]),
        entity(
            "debt1", "Debt", creditor="c2", debtor=["c1", "p1"], amount="1000", date="2020-05-06"
        ),
    ]
    valid, rejects, _, _ = validate(write_lines(tmp_path / "x.ftm.json", lines))
    assert rejects == []
    bl = {r.key: r.values for r in valid["blacklist"]}
    # one entry per named entity, repeats once; p2's topic adds nothing (its Sanction names it)
    assert {k: v["subject_id"] for k, v in bl.items()} == {
        "s1#p1": "p1",
        "s1#p2": "p2",
        "s1#p3": "p3",
        "s2": "p3",
    }
    assert all(bl[k]["ftm_parties"] == "3" for k in ("s1#p1", "s1#p2", "s1#p3"))
    assert all(v["source_entity"] == "s1" for k, v in bl.items() if k != "s2")
    assert "ftm_parties" not in bl["s2"]
    assert {r.key: r.values["share"] for r in valid["ownership"]} == {
        "p1|c1": None,  # two owners: who holds what is not said
        "p3|c1": None,
        "p1|c2": pytest.approx(0.5),
    }
    assert sorted(r.key for r in valid["roles"]) == [
        "p1|c1|director",
        "p1|c2|director",
        "p2|c1|director",
        "p2|c2|director",
    ]
    loans = {r.key: r.values for r in valid["loans"]}
    assert {k: (v["lender_id"], v["borrower_id"], v["amount"]) for k, v in loans.items()} == {
        "debt1#c2#c1": ("c2", "c1", 1000.0),  # joint debtors each owe the whole
        "debt1#c2#p1": ("c2", "p1", 1000.0),
    }


def test_a_byte_order_mark_does_not_cost_the_first_entity(tmp_path: Path) -> None:
    path = tmp_path / "bom.ftm.json"
    write_lines(path, [entity("p1", "Person", name="Ann"), entity("p2", "Person", name="Bob")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    valid, rejects, _, _ = validate(path)
    assert rejects == []
    assert [r.key for r in valid["persons"]] == ["p1", "p2"]


def test_an_impossible_date_gives_way_to_the_next_candidate(tmp_path: Path) -> None:
    """A sanction whose startDate no calendar has was rejected whole, though its
    listingDate was fine; with no usable date at all it counts from the load day."""
    lines: list[dict[str, Any] | str] = [
        entity("p1", "Person", name="Ann"),
        entity("s1", "Sanction", entity="p1", startDate="2020-02-30", listingDate="2021-03-04"),
        entity("s2", "Sanction", entity="p1", startDate="0000-00-00"),
    ]
    path = write_lines(tmp_path / "x.ftm.json", lines)
    reader = read_ftm(path, loaded_on=dt.date(2026, 12, 2))
    v = Validator()
    valid = {}
    for spec, group in itertools.groupby(reader, key=lambda pair: pair[0]):
        for batch in v.validate_file(spec, (row for _, row in group)):
            assert batch.rejects == []
            valid.update({r.key: r.values for r in batch.rows})
    assert valid["s1"]["listed_on"] == dt.date(2021, 3, 4)
    assert "listed_on_basis" not in valid["s1"]
    assert valid["s2"]["listed_on"] == dt.date(2026, 12, 2)
    assert valid["s2"]["listed_on_basis"] == "loaded"


def test_a_sanction_dated_by_a_year_or_month_counts_from_its_first_day(tmp_path: Path) -> None:
    """A Sanction whose only dates were a year or a year and month counted from the
    load's day, marked "no date in the source": a score as of an earlier date then
    left out a sanction its source dated years before. Dates that do not say when it
    was listed (endDate, modifiedAt) still leave it to first_seen, then the load day."""
    lines: list[dict[str, Any] | str] = [
        entity("p1", "Person", name="Ann"),
        entity("year", "Sanction", entity="p1", startDate="2019"),
        entity("month", "Sanction", entity="p1", listingDate="2019-05"),
        entity("full", "Sanction", entity="p1", startDate="2019", date="2020-02-03T10:00:00Z"),
        entity("nomonth", "Sanction", entity="p1", startDate="2019-13", date="2018"),
        entity("end", "Sanction", entity="p1", endDate="2030-01-01", modifiedAt="2017-01-02"),
        {**entity("seen", "Sanction", entity="p1", startDate="2015"), "first_seen": "2021-01-01"},
        {**entity("seen2", "Sanction", entity="p1"), "first_seen": "2021-01-01T00:00:00"},
    ]
    path = write_lines(tmp_path / "x.ftm.json", lines)
    valid = {}
    v = Validator()
    reader = read_ftm(path, loaded_on=dt.date(2026, 12, 2))
    for spec, group in itertools.groupby(reader, key=lambda pair: pair[0]):
        for batch in v.validate_file(spec, (row for _, row in group)):
            assert batch.rejects == []
            valid.update({r.key: r.values for r in batch.rows})
    got = {
        k: (str(valid[k]["listed_on"]), valid[k].get("listed_on_basis")) for k in valid if k != "p1"
    }
    assert got == {
        "year": ("2019-01-01", "partial"),
        "month": ("2019-05-01", "partial"),
        "full": ("2020-02-03", None),
        "nomonth": ("2018-01-01", "partial"),
        "end": ("2026-12-02", "loaded"),
        "seen": ("2015-01-01", "partial"),
        "seen2": ("2021-01-01", None),
    }


def test_bad_lines_are_problems_not_crashes(tmp_path: Path) -> None:
    path = tmp_path / "bad.ftm.json"
    good = json.dumps(entity("p1", "Person", name="Ann"))
    path.write_bytes(
        b"\n".join(
            [
                b"{not json",
                b"[1, 2]",
                json.dumps({"schema": "Person", "properties": {}}).encode(),
                json.dumps(entity("x1", "NoSuchSchema")).encode(),
                b'{"id": "p9", "schema": "Person", "properties": {"name": ["\xff"]}}',
                b"",
                good.encode(),
                json.dumps(entity("p2", "Person", name=[1, 2])).encode(),
                b'{"id": "p3", "schema": "Person", "properties": {"name": "Bo"}}',
            ]
        )
        + b"\n"
    )
    reader = read_ftm(path)
    rows = list(reader)
    assert [(spec.name, row.row, row.values["id"], row.values["name"]) for spec, row in rows] == [
        ("persons", 7, "p1", "Ann"),
        ("persons", 9, "p3", "Bo"),  # a bare string is taken as a one-value list
    ]
    assert [(p.row, p.reason.split(":")[0], p.value) for p in reader.problems] == [
        (1, "invalid JSON", None),
        (2, "not a JSON object", None),
        (3, "entity without id", None),
        (4, "unknown FtM schema 'NoSuchSchema'", "x1"),
        (5, "invalid UTF-8", None),
        (8, "invalid FtM entity", "p2"),
    ]
    assert reader.problems[-1].reason == "invalid FtM entity: name is not a list of strings"


def test_missing_file() -> None:
    with pytest.raises(InputError):
        read_ftm(Path("/nonexistent/file.ftm.json"))


def test_rows_are_raw_rows_with_list_extras() -> None:
    for _, row in read_ftm(SAMPLE):
        assert isinstance(row, RawRow) and row.error is None
        assert isinstance(row.values["topics"], list)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        (None, "director"),
        ("", "director"),
        ("Director", "director"),
        ("Non-Executive Director", "director"),
        ("Chief Executive Officer", "executive"),
        ("CEO", "executive"),
        ("General Manager", "executive"),
        ("Executive Director", "executive"),
        ("Member of the Supervisory Board", "supervisor"),
        ("Non-Executive Member of the Supervisory Board", "supervisor"),
        ("Legal Representative", "legal_representative"),
        ("Secretary", "director"),
    ],
)
def test_directorship_role_words(text: str | None, role: str) -> None:
    assert role_of(text) == role


@pytest.mark.integration
def test_documented_cleanup_of_directorships_loaded_before_roles(
    gateway: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Cypher of docs/data-model.md removes the DIRECTOR_OF an older version wrote
    for a Directorship that now loads as EXECUTIVE_OF, and nothing else."""
    import credgraph.loaders.ftm as ftm
    from credgraph.loaders.load import load

    lines: list[dict[str, Any] | str] = [
        entity("p1", "Person", name="Ivan"),
        entity("c1", "Company", name="Acme"),
        entity("c2", "Company", name="Beta"),
        entity("d1", "Directorship", director="p1", organization="c1", role="CEO"),
        entity("d2", "Directorship", director="p1", organization="c2", role="Director"),
    ]
    path = write_lines(tmp_path / "x.ftm.json", lines)
    with monkeypatch.context() as m:
        m.setattr(ftm, "role_of", lambda text: "director")  # the version before roles
        load(gateway, path, rejects_path=tmp_path / "r1.csv")
    load(gateway, path, rejects_path=tmp_path / "r2.csv")
    query = "MATCH (:Person)-[r]->(f:Firm) RETURN type(r) AS t, f.id AS f ORDER BY f, t"
    assert [tuple(r.values()) for r in gateway.read(query)] == [
        ("DIRECTOR_OF", "c1"),
        ("EXECUTIVE_OF", "c1"),
        ("DIRECTOR_OF", "c2"),
    ]
    doc = (Path(__file__).parents[2] / "docs" / "data-model.md").read_text()
    start = doc.index("```cypher\nMATCH (p:Person)-[old:DIRECTOR_OF]") + len("```cypher\n")
    gateway.write(doc[start : doc.index("```", start)])
    assert [tuple(r.values()) for r in gateway.read(query)] == [
        ("EXECUTIVE_OF", "c1"),
        ("DIRECTOR_OF", "c2"),
    ]


def test_several_dates_give_the_earliest_start_and_the_latest_end(tmp_path: Path) -> None:
    """FtM values are a set: the order a source lists dates in changes nothing. A
    sanction counts from its earliest start and until its latest end; a partial date
    (a year, a year and month) likewise."""

    def rows(lines: list[dict[str, object]]) -> list[dict[str, object]]:
        path = tmp_path / "x.ftm.json"
        path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
        return [
            dict(r.values)
            for spec, r in read_ftm(path, dt.date(2026, 12, 1))
            if spec.name == "blacklist"
        ]

    person = {"id": "p1", "schema": "Person", "properties": {"name": ["A"]}}
    starts, ends = ["2021-01-01", "2019-06-30", "2020-05-05"], ["2030-01-01", "2031-02-02"]
    got = []
    for order in (1, -1):
        sanction = {
            "id": "s1",
            "schema": "Sanction",
            "properties": {
                "entity": ["p1"],
                "startDate": starts[::order],
                "endDate": ends[::order],
            },
        }
        (row,) = rows([person, sanction])
        got.append((row["listed_on"], row["expires_on"]))
    assert got == [("2019-06-30", "2031-02-02")] * 2
    partial = {
        "id": "s2",
        "schema": "Sanction",
        "properties": {"entity": ["p1"], "startDate": ["2019-05", "2018"]},
    }
    (row,) = rows([person, partial])
    assert (row["listed_on"], row["listed_on_basis"]) == ("2018-01-01", "partial")
