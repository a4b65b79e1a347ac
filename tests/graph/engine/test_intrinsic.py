"""Intrinsic risk: hand-worked decay, expiry, delisting, disputes, severities."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from credgraph.graph.engine.intrinsic import decay_factor, noisy_or_by_group, record_status
from credgraph.graph.engine.policy import load_policy, policy_from_mapping
from tests.graph.engine.test_propagation import AS_OF, World, engine

D = np.datetime64
ASOF = D(AS_OF, "D")


def _person_world(
    loans: list[dict[str, object]] | None = None, bl: list[dict[str, object]] | None = None
) -> World:
    return World(
        {
            "persons": [{"id": "P", "name": "p", "net_worth": 1.0}],
            "firms": [{"id": "K", "name": "bank", "equity": 1.0, "total_assets": 1.0}],
            "loans": list(loans or []),
            "blacklist": list(bl or []),
        }
    )


def _loan(status: str, status_on: date | None, **kw: object) -> dict[str, object]:
    return {"id": f"L-{status}-{status_on}", "lender_id": "K", "borrower_id": "P",
            "amount": 1.0, "issued_on": date(2019, 1, 1), "status": status,
            "status_on": status_on, **kw}  # fmt: skip


def test_defaulted_loan_halves_every_two_years() -> None:
    w = _person_world([_loan("defaulted", date(2022, 1, 1))])  # 730 days before 2024-01-01
    _, proj, s = engine(w)
    assert proj.records.decay[0] == pytest.approx(0.5)
    assert s.intrinsic["credit"][0] == pytest.approx(0.8 * 0.5)
    assert s.intrinsic["compliance"][0] == 0.0


def test_missing_status_on_ages_from_issued_on() -> None:
    w = _person_world([_loan("written_off", None)])
    _, proj, s = engine(w)
    age = (AS_OF - date(2019, 1, 1)).days
    assert s.intrinsic["credit"][0] == pytest.approx(0.9 * 0.5 ** (age / 730))


def test_overdue_rises_with_days_overdue() -> None:
    w = _person_world(
        [
            _loan("overdue", AS_OF, days_overdue=90),  # half-way to 180: 0.45
            _loan("overdue", AS_OF, days_overdue=None),  # 0.3
            _loan("overdue", AS_OF, days_overdue=1000),  # capped at 0.6
        ]
    )
    _, proj, s = engine(w)
    assert sorted(proj.records.severity.tolist()) == pytest.approx([0.3, 0.45, 0.6])
    assert s.intrinsic["credit"][0] == pytest.approx(1 - 0.7 * 0.55 * 0.4)


def test_performing_and_repaid_are_not_adverse() -> None:
    _, proj, s = engine(_person_world([_loan("performing", None), _loan("repaid", None)]))
    assert len(proj.records) == 0 and s.intrinsic["credit"][0] == 0.0


def test_noisy_or_of_records_across_kinds() -> None:
    bl = [{"id": "B", "subject_id": "P", "list": "court_dishonest_debtor",
           "listed_on": date(2010, 1, 1), "severity": 0.5}]  # fmt: skip
    _, _, s = engine(_person_world([_loan("defaulted", date(2022, 1, 1))], bl))
    assert s.intrinsic["credit"][0] == pytest.approx(1 - (1 - 0.4) * (1 - 0.5))  # 0.7


def test_blacklist_no_decay_unless_set_and_per_list_override() -> None:
    bl = [
        {"id": "T", "subject_id": "P", "list": "tax_violation", "listed_on": date(2014, 1, 1)},
        {"id": "E", "subject_id": "P", "list": "environmental", "listed_on": date(2014, 1, 1)},
    ]
    _, _, s = engine(_person_world(bl=bl))
    assert s.intrinsic["compliance"][0] == pytest.approx(1 - 0.5 * 0.6)
    pol = policy_from_mapping(
        {
            "half_life_days": {"blacklist": 3652.5},
            "lists": {"environmental": {"half_life_days": 1e9}},
        }
    )
    _, proj, s = engine(_person_world(bl=bl), pol)
    decay = dict(zip(proj.records.id.tolist(), proj.records.decay.tolist(), strict=True))
    assert decay["T"] == pytest.approx(0.5 ** ((AS_OF - date(2014, 1, 1)).days / 3652.5))
    assert decay["E"] == pytest.approx(1.0, abs=1e-5)


def test_row_severity_wins_and_unknown_list_uses_default() -> None:
    bl = [
        {"id": "S", "subject_id": "P", "list": "sanctions", "listed_on": date(2020, 1, 1),
         "severity": 0.25},
        {"id": "X", "subject_id": "P", "list": "made_up_list", "listed_on": date(2020, 1, 1)},
    ]  # fmt: skip
    _, proj, s = engine(_person_world(bl=bl))
    assert s.intrinsic["compliance"][0] == pytest.approx(1 - 0.75 * 0.5)
    assert sorted(proj.records.label.tolist()) == ["made_up_list", "sanctions"]


def test_expiry_delisting_disputes_and_future() -> None:
    base = {"subject_id": "P", "list": "sanctions", "listed_on": date(2020, 1, 1)}
    bl = [
        {**base, "id": "expires-today", "expires_on": AS_OF},
        {**base, "id": "expired", "expires_on": date(2023, 12, 31)},
        {**base, "id": "delisted-today", "delisted_on": AS_OF},
        {**base, "id": "delisted-later", "delisted_on": date(2024, 1, 2)},
        {**base, "id": "disputed", "disputed": True},
        {**base, "id": "future", "listed_on": date(2024, 1, 2)},
    ]
    pol = policy_from_mapping({"lists": {"sanctions": {"severity": 0.5}}})
    _, proj, s = engine(_person_world(bl=bl), pol)
    status = dict(zip(proj.records.id.tolist(), proj.records.status.tolist(), strict=True))
    assert status == {
        "expires-today": "active",
        "expired": "expired",
        "delisted-today": "delisted",
        "delisted-later": "active",
        "disputed": "disputed",
        "future": "not_yet_listed",
    }
    assert s.intrinsic["compliance"][0] == pytest.approx(1 - 0.5 * 0.5)  # two active
    eff = dict(zip(proj.records.id.tolist(), proj.records.effective.tolist(), strict=True))
    assert eff["expired"] == eff["disputed"] == eff["future"] == eff["delisted-today"] == 0.0


def test_disputed_and_future_loans() -> None:
    loans = [
        _loan("defaulted", date(2023, 1, 1), disputed=True),
        _loan("defaulted", date(2024, 3, 1)),
    ]
    _, proj, s = engine(_person_world(loans))
    assert sorted(proj.records.status.tolist()) == ["disputed", "not_yet_listed"]
    assert s.intrinsic["credit"][0] == 0.0


def test_decay_and_status_helpers() -> None:
    np.testing.assert_allclose(
        decay_factor([0, 365, 730, -5, 10], [730, 730, 730, 730, np.nan]), [1, 2**-0.5, 0.5, 1, 1]
    )
    dates = np.array(["2023-01-01", "2024-02-01", "NaT"], dtype="datetime64[D]")
    nat = np.array(["NaT"] * 3, dtype="datetime64[D]")
    st = record_status(ASOF, dates, expires_on=nat, delisted_on=nat, disputed=[True, True, False])
    assert st.tolist() == ["disputed", "not_yet_listed", "active"]
    np.testing.assert_allclose(
        noisy_or_by_group([0, 0, 2, 2], [0.5, 0.5, 1.0, 0.3], 3), [0.75, 0.0, 1.0]
    )


def test_intrinsic_is_zero_without_records() -> None:
    _, proj, s = engine(_person_world(), load_policy())
    assert s.intrinsic["credit"].tolist() == [0.0, 0.0]
    assert proj.records.subject_ptr.tolist() == [0, 0, 0]


def test_noisy_or_is_never_below_its_largest_part() -> None:
    """Adding evidence never lowers the combination, to the last bit: a tiny second
    value used to bring 0.409 back through log1p/expm1 as 0.4089999999999999 (a
    second record lowered a subject's risk, S2; two parallel relationships weighed
    less than the stronger)."""
    x = np.arange(1, 1000) / 1000
    n = len(x)
    group = np.r_[np.arange(n), np.arange(n)]
    got = noisy_or_by_group(group, np.r_[x, np.full(n, 1e-18)], n)
    assert (got >= x).all()
    assert noisy_or_by_group(np.arange(n), x, n).tolist() == x.tolist()
