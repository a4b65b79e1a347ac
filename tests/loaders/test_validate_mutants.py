"""Validation outcomes that surviving mutants of loaders/validate.py changed unseen
(``make mutate``, docs/testing.md): boundaries, signed zero, verbatim strings, a
rejected duplicate that must not take the good row's place, references into the
graph when the load holds no claims yet."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from credgraph.loaders.layout import (
    BLACKLIST,
    LOANS,
    MAX_INDEXED_BYTES,
    OWNERSHIP,
    PERSONS,
    ROLES_FILE,
)
from credgraph.loaders.readers import RawRow
from credgraph.loaders.validate import Reject, Validator, _BadValue, _q, parse_value, text_problem
from tests.loaders.test_validate import (
    BL_CSV,
    FIRMS_CSV,
    LOANS_CSV,
    OWN_CSV,
    PERSONS_CSV,
    ROLES_CSV,
    load,
)


def test_value_bounds_are_inclusive_where_documented() -> None:
    severity = BLACKLIST.column("severity")
    assert parse_value(severity, "1") == 1.0
    assert parse_value(severity, "0") == 0.0
    for bad in ("1.0000001", "-0.1"):
        with pytest.raises(_BadValue, match=r"severity must be in \[0, 1\]"):
            parse_value(severity, bad)
    share = OWNERSHIP.column("share")
    assert parse_value(share, "1") == 1.0
    with pytest.raises(_BadValue, match=r"share must be in \(0, 1\]"):
        parse_value(share, "0")
    amount = LOANS.column("amount")
    assert parse_value(amount, "0") == 0.0


def test_negative_zero_is_stored_as_zero() -> None:
    for col in (LOANS.column("amount"), BLACKLIST.column("severity")):
        x = parse_value(col, "-0")
        assert x == 0.0 and math.copysign(1.0, x) == 1.0, col.name
        x = parse_value(col, " -0.0 ")
        assert math.copysign(1.0, x) == 1.0, col.name


def test_string_values_are_kept_verbatim() -> None:
    name = PERSONS.column("name")
    assert parse_value(name, "  Ann ") == "  Ann "
    assert parse_value(name, "12") == "12"
    assert parse_value(name, "not a number") == "not a number"


def test_severity_one_row_is_accepted(tmp_path: Path) -> None:
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "P1,Ann,,,,\n",
            "blacklist.csv": BL_CSV
            + "B1,P1,sanctions,2020-01-01,1\nB2,P1,sanctions,2020-01-01,1.5\n",
        },
    )
    assert got.keys("blacklist.csv") == ["B1"]
    assert got.only("blacklist.csv", 3).reason == "severity must be in [0, 1]: '1.5'"


def test_a_rejected_duplicate_does_not_replace_the_good_row(tmp_path: Path) -> None:
    """P1 is accepted on row 2; row 3 repeats P1 with a bad value. A loan to P1 must
    still find the accepted P1 (not 'was rejected')."""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "P1,Ann,,,,\nP1,Bob,not-a-date,,,\nP2,Cy,,,,\n",
            "loans.csv": LOANS_CSV + "L1,P2,P1,100,2020-01-01,performing,\n",
        },
    )
    assert got.keys("persons.csv") == ["P1", "P2"]
    assert got.keys("loans.csv") == ["L1"]
    assert [r.row for r in got.rejects] == [3]


def test_references_into_the_graph_with_no_claims_in_the_load(tmp_path: Path) -> None:
    """A load of loans alone: every reference is asked of the graph (no person or firm
    of this load has claimed anything yet)."""
    asked: list[tuple[str, list[str]]] = []

    def known(space: str, ids: list[str]) -> set[str]:
        asked.append((space, ids))
        return {i for i in ids if i.startswith("OLD")}

    got = load(
        tmp_path,
        {
            "loans.csv": LOANS_CSV
            + "L1,OLD1,OLD2,100,2020-01-01,performing,\n"
            + "L2,OLD1,NEW9,100,2020-01-01,performing,\n",
            "ownership.csv": OWN_CSV + "OLD1,OLD2,0.5\n",
        },
        known=known,
    )
    assert got.keys("loans.csv") == ["L1"]
    assert got.only("loans.csv", 3).reason == "unknown subject NEW9"
    assert asked  # the graph was asked


def test_composite_keys_of_different_parts_do_not_collide(tmp_path: Path) -> None:
    """("A1", "2B") and ("A12", "B") join to the same text "A12B": the claim must keep
    the parts apart (their lengths), or the second row is a false duplicate."""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "A1,Ann,,,,\nA12,Al,,,,\n",
            "firms.csv": FIRMS_CSV + "2B,Two,,,\nB,Bee,,,\n",
            "ownership.csv": OWN_CSV + "A1,2B,0.5\nA12,B,0.5\n",
            "roles.csv": ROLES_CSV + "A1,2B,director\nA12,B,director\n",
        },
    )
    assert got.rejects == []
    assert got.keys("ownership.csv") == ["A1|2B", "A12|B"]
    assert got.keys("roles.csv") == ["A1|2B|director", "A12|B|director"]


def test_a_rejected_row_in_a_later_file_keeps_the_first_claim(tmp_path: Path) -> None:
    """P1 is accepted in persons.csv; firms.csv has a row P1 with a bad equity. That row
    is rejected for its value only, and P1 stays the accepted person: the loan to it is
    accepted (a claim overwritten by the rejected row gave 'was rejected')."""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "P1,Ann,,,,\n",
            "firms.csv": FIRMS_CSV + "F1,Acme,,,\nP1,Bad,,x,\n",
            "loans.csv": LOANS_CSV + "L1,F1,P1,100,2020-01-01,performing,\n",
        },
    )
    assert got.keys("loans.csv") == ["L1"]
    assert [(r.file, r.row, r.column, r.reason) for r in got.rejects] == [
        ("firms.csv", 3, "equity", "not a number: 'x'")
    ]


def test_a_rejected_duplicate_in_a_later_batch_keeps_the_first_claim(tmp_path: Path) -> None:
    """As test_a_rejected_duplicate_does_not_replace_the_good_row, one row per batch: the
    rejected row 3 comes after row 2 was accepted, not in the same batch."""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "P1,Ann,,,,\nP1,Bob,not-a-date,,,\nP2,Cy,,,,\n",
            "loans.csv": LOANS_CSV + "L1,P2,P1,100,2020-01-01,performing,\n",
        },
        batch_size=1,
    )
    assert got.keys("persons.csv") == ["P1", "P2"]
    assert got.keys("loans.csv") == ["L1"]
    assert [(r.row, r.column) for r in got.rejects] == [(3, "birth_date")]


def test_many_batches_keep_the_kinds_of_their_ids(tmp_path: Path) -> None:
    """Forty persons, forty firms and forty roles, one row per batch: every role names a
    person and a firm of the right kind, so all are accepted. (A claim holds its kind
    in 5 bits: a new kind number per batch ran past them after 31 batches and the
    roles were refused as 'is a None, not a person'.)"""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "".join(f"P{k},p,,,,\n" for k in range(40)),
            "firms.csv": FIRMS_CSV + "".join(f"F{k},f,,,\n" for k in range(40)),
            "roles.csv": ROLES_CSV + "".join(f"P{k},F{k},director\n" for k in range(40)),
        },
        batch_size=1,
    )
    assert got.rejects == []
    assert len(got.keys("roles.csv")) == 40


def test_a_file_keeps_one_number() -> None:
    """Claims hold a 16-bit file number: a file must get one number for the whole load
    (a new one per batch or rejected row ran out after 65,536)."""
    v = Validator()
    assert [v._file_no("a.csv"), v._file_no("b.csv"), v._file_no("a.csv")] == [0, 1, 0]
    assert v._files == ["a.csv", "b.csv"]


def test_role_references_are_checked_for_kind_and_rejection(tmp_path: Path) -> None:
    """A role must name an accepted person and an accepted firm: B and G were rejected,
    F1 is a firm, A is a person. (A reference is first checked quickly against the
    load's claims, on their kind and accepted bits; only when one reference of the row
    fails that is the row checked in full. Row 6 has both references rejected: a
    quick check that let rejected claims through accepted it.)"""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "A,Ann,,,,\nB,Bob,not-a-date,,,\n",
            "firms.csv": FIRMS_CSV + "F1,Acme,,,\nG,Gee,,x,\n",
            "roles.csv": ROLES_CSV + "A,F1,director\nB,F1,director\nF1,F1,director\n"
            "A,A,executive\nB,G,director\n",
        },
    )
    assert got.keys("roles.csv") == ["A|F1|director"]
    assert [(r.row, r.column, r.reason) for r in got.rejects if r.file == "roles.csv"] == [
        (3, "person_id", "person_id B was rejected (persons.csv row 3)"),
        (4, "person_id", "person_id F1 is a firm, not a person"),
        (5, "firm_id", "firm_id A is a person, not a firm"),
        (6, "person_id", "person_id B was rejected (persons.csv row 3)"),
        (6, "firm_id", "firm_id G was rejected (firms.csv row 3)"),
    ]


def test_duplicates_name_the_accepted_rows_row(tmp_path: Path) -> None:
    """The first row of an id is named by its own row number, also when it was accepted
    in an earlier batch or file (an accepted claim carries the row)."""
    got = load(
        tmp_path,
        {
            "persons.csv": PERSONS_CSV + "P2,Ann,,,,\nP2,Bob,,,,\n",
            "firms.csv": FIRMS_CSV + "P2,Acme,,,\n",
        },
        batch_size=1,
    )
    assert [(r.file, r.row, r.reason) for r in got.rejects] == [
        ("persons.csv", 3, "duplicate id P2 (first at row 2)"),
        ("firms.csv", 2, "duplicate id P2 (first at persons.csv row 2)"),
    ]


def test_text_problem_defaults_to_free_text_not_indexed() -> None:
    """Called with no flags, a value is free text (tab, line feed and carriage return
    kept) and has no length limit."""
    assert text_problem("a\tb\nc\rd") is None
    assert text_problem("x" * (MAX_INDEXED_BYTES + 1)) is None
    assert text_problem("x" * (MAX_INDEXED_BYTES + 1), indexed=True) is not None
    assert text_problem("a\tb", ident=True) == (
        "control character U+0009 at character 2 (ids may hold none)"
    )


def test_a_quoted_value_is_cut_only_past_a_hundred_characters() -> None:
    assert _q("x" * 100) == repr("x" * 100)
    assert _q("x" * 101) == repr("x" * 100) + "…[101 chars]"


def test_summary_counts_rows_over_all_batches(tmp_path: Path) -> None:
    got = load(
        tmp_path,
        {"persons.csv": PERSONS_CSV + "A,Ann,x,,,\nB,Bob,,,,\nC,Cy,y,,,\nD,Di,z,,,\n"},
        batch_size=1,
    )
    assert got.validator.summary() == {"persons.csv": {"read": 4, "valid": 1, "rejected": 3}}


def test_an_empty_file_of_keys_nothing_references(tmp_path: Path) -> None:
    """A header-only roles file, and an empty one given without a file name: nothing is
    loaded, the summary names the file (or the layout name) with zero rows."""
    got = load(tmp_path, {"roles.csv": ROLES_CSV})
    assert got.rejects == [] and got.keys("roles.csv") == []
    v = Validator()
    assert list(v.validate_file(ROLES_FILE, [])) == []
    assert list(v.validate_file(OWNERSHIP, [])) == []
    assert v.summary() == {
        "roles": {"read": 0, "valid": 0, "rejected": 0},
        "ownership": {"read": 0, "valid": 0, "rejected": 0},
    }


def test_a_firm_id_that_is_a_person_in_the_graph_is_refused(tmp_path: Path) -> None:
    """The mirror of test_references_resolved_against_the_graph's person G-F: a firm
    row whose id the graph holds as a person."""
    graph = {"person": {"G-P"}, "firm": set(), "subject": {"G-P"}, "loan": set()}

    def known(space: str, ids: list[str]) -> set[str]:
        return graph[space] & set(ids)

    got = load(tmp_path, {"firms.csv": FIRMS_CSV + "G-P,Clash,,,\nF1,Acme,,,\n"}, known=known)
    assert got.keys("firms.csv") == ["F1"]
    assert [(r.row, r.column, r.reason) for r in got.rejects] == [
        (2, "id", "id G-P is already a person in the graph")
    ]


def test_extras_after_share_unknown_are_checked_and_kept() -> None:
    """FtM extras: every one is checked and passed through, also those after
    ``share_unknown``; a list item that is not text is refused as such."""
    v = Validator(lambda space, ids: set(ids))
    rows = [
        RawRow(
            "x.ftm.json",
            1,
            {"owner_id": "A", "firm_id": "F", "share_unknown": "true", "source_entity": "e1"},
        ),
        RawRow(
            "x.ftm.json",
            2,
            {"owner_id": "B", "firm_id": "F", "share_unknown": "true", "source_entity": "e\x01"},
        ),
    ]
    (batch,) = v.validate_file(OWNERSHIP, rows)
    (ok,) = batch.rows
    assert ok.values["source_entity"] == "e1" and ok.values["share_unknown"] is True
    assert batch.rejects == [
        Reject(
            "x.ftm.json",
            2,
            "source_entity",
            "e\x01",
            "control character U+0001 at character 2 (ids may hold none)",
        )
    ]
    (batch,) = Validator().validate_file(
        PERSONS, [RawRow("x", 1, {"id": "P1", "name": "Ann", "aliases": ["Ann", 5]})]
    )
    assert batch.rows == []
    assert batch.rejects == [Reject("x", 1, "aliases", 5, "expected text")]  # type: ignore[arg-type]


def test_every_bad_text_column_of_a_row_is_reported(tmp_path: Path) -> None:
    got = load(tmp_path, {"persons.csv": PERSONS_CSV + "P1,a\x01b,,,c\x02d,\n"})
    assert [(r.column, r.reason) for r in got.rejects] == [
        ("name", "control character U+0001 at character 2 (text may hold tab, line feed "
         "and carriage return, no other)"),
        ("national_id", "control character U+0002 at character 2 (text may hold tab, line "
         "feed and carriage return, no other)"),
    ]  # fmt: skip
