"""Validation outcomes that surviving mutants of loaders/validate.py changed unseen
(``make mutate``, docs/testing.md): boundaries, signed zero, verbatim strings, a
rejected duplicate that must not take the good row's place, references into the
graph when the load holds no claims yet."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from credgraph.loaders.layout import BLACKLIST, LOANS, OWNERSHIP, PERSONS
from credgraph.loaders.validate import _BadValue, parse_value
from tests.loaders.test_validate import BL_CSV, LOANS_CSV, OWN_CSV, PERSONS_CSV, load


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
