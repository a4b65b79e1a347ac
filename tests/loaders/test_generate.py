"""The synthetic data generator: layout, validity, determinism and market structure."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import networkx as nx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import credgraph.loaders.generate as gen
from credgraph.graph.errors import UsageError
from credgraph.loaders.generate import generate
from credgraph.loaders.layout import FILES

AS_OF = date(2026, 6, 30)
EVENTS_FROM = date(2010, 1, 1)
MAY_BE_FUTURE = {"maturity_on", "expires_on"}
MAY_BE_EARLY = {"birth_date", "founded_on"}
PARQUET_TYPES = {
    "str": pa.string(),
    "enum": pa.string(),
    "date": pa.date32(),
    "amount": pa.float64(),
    "share": pa.float64(),
    "severity": pa.float64(),
    "int": pa.int64(),
}

Rows = dict[str, list[dict[str, str]]]


def read_csv_dir(folder: Path) -> Rows:
    out: Rows = {}
    for spec in FILES:
        with open(folder / f"{spec.name}.csv", encoding="utf-8", newline="") as fh:
            out[spec.name] = list(csv.DictReader(fh))
    return out


def check_rows(data: Rows) -> None:
    """Every row obeys the layout's rules; keys are unique; references resolve."""
    persons = {r["id"] for r in data["persons"]}
    firms = {r["id"] for r in data["firms"]}
    assert not persons & firms
    loans = {r["id"] for r in data["loans"]}
    spaces = {"person": persons, "firm": firms, "subject": persons | firms, "loan": loans}
    for spec in FILES:
        keys: set[tuple[str, ...]] = set()
        for i, row in enumerate(data[spec.name]):
            where = f"{spec.name} row {i + 2}"
            for col in spec.columns:
                value = row[col.name]
                if value == "":
                    assert not col.required, f"{where}: {col.name} is required"
                    continue
                assert value == value.strip(), where
                if col.type == "enum":
                    assert value in col.enum, f"{where}: {col.name}={value!r}"
                elif col.type == "date":
                    d = date.fromisoformat(value)
                    assert len(value) == 10, where
                    if col.name not in MAY_BE_FUTURE:
                        assert d <= AS_OF, f"{where}: {col.name}={value} in the future"
                    if col.name not in MAY_BE_EARLY:
                        assert d >= EVENTS_FROM, f"{where}: {col.name}={value} before 2010"
                elif col.type == "amount":
                    assert float(value) >= 0 and math.isfinite(float(value)), where
                elif col.type == "share":
                    assert 0 < float(value) <= 1, f"{where}: share {value}"
                elif col.type == "severity":
                    assert 0 <= float(value) <= 1, f"{where}: severity {value}"
                elif col.type == "int":
                    assert int(value) >= 0, where
                if col.references:
                    assert value in spaces[col.references], f"{where}: {col.name}={value}"
            key = (row[spec.key],) if spec.key else tuple(row[k] for k in spec.composite_key)
            assert key not in keys, f"{where}: duplicate key {key}"
            keys.add(key)
    # Plausibility across columns.
    for r in data["firms"]:
        if r["equity"] and r["total_assets"]:
            assert float(r["equity"]) < float(r["total_assets"]), r["id"]
        if r["registered_capital"] and r["total_assets"]:
            assert float(r["registered_capital"]) <= float(r["total_assets"]), r["id"]
    for r in data["loans"]:
        assert r["lender_id"] != r["borrower_id"], r["id"]
        if r["maturity_on"]:
            assert r["maturity_on"] > r["issued_on"], r["id"]
        if r["status_on"]:
            assert r["status_on"] >= r["issued_on"], r["id"]
        if r["status"] in ("overdue", "defaulted"):
            assert int(r["days_overdue"]) > 0, r["id"]
    borrower = {r["id"]: r["borrower_id"] for r in data["loans"]}
    amount = {r["id"]: float(r["amount"]) for r in data["loans"]}
    for r in data["guarantees"]:
        assert r["guarantor_id"] != borrower[r["loan_id"]], r["id"]
        assert float(r["amount"]) <= amount[r["loan_id"]], r["id"]
    for r in data["blacklist"]:
        if r["delisted_on"]:
            assert r["delisted_on"] > r["listed_on"], r["id"]
        if r["expires_on"]:
            assert r["expires_on"] > r["listed_on"], r["id"]
    for name in ("roles", "ownership"):
        for r in data[name]:
            if r["since"] and r["until"]:
                assert r["until"] >= r["since"], (name, r)
    shares: defaultdict[str, float] = defaultdict(float)
    for r in data["ownership"]:
        shares[r["firm_id"]] += float(r["share"])
    assert all(total <= 1 + 1e-9 for total in shares.values())
    active_lr = Counter(
        r["firm_id"]
        for r in data["roles"]
        if r["role"] == "legal_representative" and not r["until"]
    )
    assert all(active_lr[f] == 1 for f in firms)


def guarantee_graph(data: Rows) -> nx.DiGraph:
    """Firm guarantor -> firm borrower."""
    borrower = {r["id"]: r["borrower_id"] for r in data["loans"]}
    g: nx.DiGraph = nx.DiGraph()
    for r in data["guarantees"]:
        a, b = r["guarantor_id"], borrower[r["loan_id"]]
        if a.startswith("F") and b.startswith("F"):
            g.add_edge(a, b)
    return g


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int], Rows]:
    out = tmp_path_factory.mktemp("market")
    counts = generate(out, 3000, 42)
    return out, counts, read_csv_dir(out)


# --- layout --------------------------------------------------------------------------------


def test_every_file_with_exact_header(market: tuple[Path, dict[str, int], Rows]) -> None:
    out, counts, data = market
    assert set(counts) == {spec.name for spec in FILES}
    for spec in FILES:
        raw = (out / f"{spec.name}.csv").read_bytes()
        assert raw.split(b"\n", 1)[0].decode() == ",".join(spec.column_names)
        raw.decode("utf-8")
        assert b"\r" not in raw
        assert counts[spec.name] == len(data[spec.name]) > 0
    assert counts["persons"] + counts["firms"] == 3000
    assert 0.3 < counts["persons"] / 3000 < 0.4


def test_rows_obey_the_layout(market: tuple[Path, dict[str, int], Rows]) -> None:
    check_rows(market[2])


def test_parquet_matches_csv(tmp_path: Path) -> None:
    csv_counts = generate(tmp_path / "csv", 800, 5, "csv")
    pq_counts = generate(tmp_path / "pq", 800, 5, "parquet")
    assert csv_counts == pq_counts
    data = read_csv_dir(tmp_path / "csv")
    for spec in FILES:
        table = pq.read_table(tmp_path / "pq" / f"{spec.name}.parquet")
        assert table.schema.names == spec.column_names
        for col in spec.columns:
            assert table.schema.field(col.name).type == PARQUET_TYPES[col.type], col.name
        assert table.num_rows == len(data[spec.name])
        # Same values: compare as text, nulls as empty strings.
        for col in spec.columns:
            values = table.column(col.name).to_pylist()
            for got, want in zip(values, (r[col.name] for r in data[spec.name]), strict=True):
                if got is None:
                    assert want == ""
                elif isinstance(got, float):
                    assert abs(got - float(want)) <= 1e-9 * max(1.0, abs(got))
                else:
                    assert str(got) == want


def test_missing_optional_values_are_empty_or_null(
    market: tuple[Path, dict[str, int], Rows],
) -> None:
    data = market[2]
    assert any(r["national_id"] == "" for r in data["persons"])
    assert any(r["national_id"] != "" for r in data["persons"])
    assert any(r["birth_date"] != "" for r in data["persons"])
    assert any(r["severity"] == "" for r in data["blacklist"])


# --- determinism -----------------------------------------------------------------------------


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_deterministic(tmp_path: Path, fmt: str) -> None:
    generate(tmp_path / "a", 500, 7, fmt)  # type: ignore[arg-type]
    generate(tmp_path / "b", 500, 7, fmt)  # type: ignore[arg-type]
    generate(tmp_path / "c", 500, 8, fmt)  # type: ignore[arg-type]
    a, b, c = _bytes(tmp_path / "a"), _bytes(tmp_path / "b"), _bytes(tmp_path / "c")
    assert len(a) == len(FILES)
    assert a == b
    assert a["loans." + fmt] != c["loans." + fmt]
    assert a["persons." + fmt] != c["persons." + fmt]


def test_many_chunks_stay_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "CHUNK_SUBJECTS", 700)
    seen: list[int] = []
    counts = generate(tmp_path, 2500, 3, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 2500 and len(seen) == 4
    data = read_csv_dir(tmp_path)
    check_rows(data)
    assert {k: len(v) for k, v in data.items()} == counts
    # Banks (in the first chunk) lend to borrowers of every chunk.
    banks = {r["id"] for r in data["firms"] if r["industry"] == "banking"}
    late = [r for r in data["loans"] if r["borrower_id"] > "F0001300" and r["lender_id"] in banks]
    assert late


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scale=st.integers(1, 120), seed=st.integers(0, 2**32))
def test_small_scales_are_valid(tmp_path: Path, scale: int, seed: int) -> None:
    out = tmp_path / f"{scale}-{seed}"
    counts = generate(out, scale, seed)
    assert counts["persons"] + counts["firms"] == scale
    check_rows(read_csv_dir(out))


@pytest.mark.parametrize("scale", [0, -1])
def test_scale_below_one_is_a_usage_error(tmp_path: Path, scale: int) -> None:
    with pytest.raises(UsageError):
        generate(tmp_path, scale, 1)


def test_bad_format_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        generate(tmp_path, 10, 1, "xlsx")  # type: ignore[arg-type]


# --- market structure ------------------------------------------------------------------------


def test_guarantee_circles_and_mutual_guarantees(
    market: tuple[Path, dict[str, int], Rows],
) -> None:
    g = guarantee_graph(market[2])
    sizes = [len(c) for c in nx.strongly_connected_components(g) if len(c) >= 2]
    assert any(s >= 3 for s in sizes)
    mutual = [(a, b) for a, b in g.edges if a < b and g.has_edge(b, a)]
    assert mutual
    # Chains: a guarantee path of three firms or more outside any circle.
    assert nx.dag_longest_path_length(nx.condensation(g)) >= 2


def test_loan_statuses(market: tuple[Path, dict[str, int], Rows]) -> None:
    loans = market[2]["loans"]
    status = Counter(r["status"] for r in loans)
    assert set(status) == {"performing", "overdue", "defaulted", "repaid", "written_off"}
    assert status["performing"] + status["repaid"] > 0.75 * len(loans)
    assert status["defaulted"] + status["written_off"] < 0.15 * len(loans)
    assert all(r["status_on"] for r in loans if r["status"] != "performing")


def test_banks_lend_to_many_and_firms_lend_too(
    market: tuple[Path, dict[str, int], Rows],
) -> None:
    data = market[2]
    firms = {r["id"]: r for r in data["firms"]}
    banks = [f for f in firms.values() if f["industry"] == "banking"]
    assert 3 <= len(banks) <= 25
    others = [
        float(f["total_assets"])
        for f in firms.values()
        if f["industry"] != "banking" and f["total_assets"]
    ]
    others.sort()
    median = others[len(others) // 2]
    borrowers: defaultdict[str, set[str]] = defaultdict(set)
    for r in data["loans"]:
        borrowers[r["lender_id"]].add(r["borrower_id"])
    for bank in banks:
        assert float(bank["total_assets"]) > 1000 * median
        assert len(borrowers[bank["id"]]) >= 100
    nonbank_lenders = {
        r["lender_id"]
        for r in data["loans"]
        if r["lender_id"] in firms
        and firms[r["lender_id"]]["industry"] != "banking"
        and r["borrower_id"] in firms
    }
    assert len(nonbank_lenders) >= 10
    assert any(r["lender_id"].startswith("P") for r in data["loans"])
    assert any(r["borrower_id"].startswith("P") for r in data["loans"])


def test_firm_sizes_are_heavy_tailed(market: tuple[Path, dict[str, int], Rows]) -> None:
    sizes = sorted(
        float(r["total_assets"])
        for r in market[2]["firms"]
        if r["total_assets"] and r["industry"] != "banking"
    )
    median, p99 = sizes[len(sizes) // 2], sizes[int(len(sizes) * 0.99)]
    assert p99 > 30 * median
    mean = sum(sizes) / len(sizes)
    assert mean > 3 * median


def test_ownership_groups(market: tuple[Path, dict[str, int], Rows]) -> None:
    data = market[2]
    parents: defaultdict[str, set[str]] = defaultdict(set)
    for r in data["ownership"]:
        if r["owner_id"].startswith("F"):
            parents[r["firm_id"]].add(r["owner_id"])
    children = Counter(p for ps in parents.values() for p in ps)
    # Holdings own several subsidiaries ...
    assert max(children.values()) >= 4
    assert any(
        f["industry"] == "investment_holding" and children[f["id"]] >= 2 for f in data["firms"]
    )

    # ... along chains of three levels or more.
    def depth(firm: str, seen: frozenset[str] = frozenset()) -> int:
        ups = parents.get(firm, set()) - seen
        return 1 + max((depth(p, seen | {firm}) for p in ups), default=0)

    assert max(depth(f) for f in parents) >= 3
    # Persons own too, and former owners exist.
    assert any(r["owner_id"].startswith("P") for r in data["ownership"])
    assert any(r["until"] for r in data["ownership"])


def test_roles(market: tuple[Path, dict[str, int], Rows]) -> None:
    roles = market[2]["roles"]
    assert {r["role"] for r in roles} == {
        "legal_representative",
        "director",
        "executive",
        "supervisor",
    }
    assert any(r["role"] == "legal_representative" and r["until"] for r in roles)
    per_person = Counter(r["person_id"] for r in roles)
    assert max(per_person.values()) >= 10  # some persons sit in many firms


def test_blacklist(market: tuple[Path, dict[str, int], Rows]) -> None:
    data = market[2]
    entries = data["blacklist"]
    assert {r["list"] for r in entries} == {
        "court_dishonest_debtor",
        "tax_violation",
        "environmental",
        "sanctions",
    }
    assert any(r["expires_on"] and r["expires_on"] < AS_OF.isoformat() for r in entries)
    assert any(r["delisted_on"] for r in entries)
    assert any(r["severity"] == "" for r in entries)
    # Concentrated on defaulters and their neighbourhood.
    defaulters = {
        r["borrower_id"] for r in data["loans"] if r["status"] in ("defaulted", "written_off")
    }
    listed = {r["subject_id"] for r in entries}
    subjects = len(data["persons"]) + len(data["firms"])
    assert len(listed & defaulters) / len(defaulters) > 0.3
    assert len(listed) / subjects < 0.15
    court = [r for r in entries if r["list"] == "court_dishonest_debtor"]
    assert sum(r["subject_id"] in defaulters for r in court) > 0.4 * len(court)
