"""`credgraph stress` on a small hand-built market, against the real server: the
distress worked out by hand, the current run's as-of date and policy by default."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from credgraph.graph.engine.policy import load_policy
from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.runs import Runs
from credgraph.graph.settings import Settings
from credgraph.loaders.load import load
from credgraph.services.stress import stress
from tests.services.helpers import home_env, run_cli

pytestmark = pytest.mark.integration

RUN_AS_OF = date(2026, 6, 30)
LATER = date(2026, 10, 1)


def write(folder: Path, name: str, rows: list[dict[str, object]]) -> None:
    with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def market(gateway: Gateway, tmp_path: Path) -> Gateway:
    """Four firms and a person:

    - bank B (equity 100, assets 1000) lent F1 40 (from 2026-01-01) and F2 60 (from
      2026-09-01: after the run's as-of date, before LATER);
    - F1 (equity 50, assets 500) lent F2 30;
    - G (equity 10, assets 300) guarantees 5 of F1's loan to F2;
    - F2 (equity 20, assets 200) is the one shocked;
    - person P (no equity, no assets) guarantees 10 of B's loan to F1: unassessed.
    """
    folder = tmp_path / "market"
    folder.mkdir()
    write(
        folder,
        "firms",
        [
            {"id": "B", "name": "Bank", "equity": 100, "total_assets": 1000},
            {"id": "F1", "name": "One", "equity": 50, "total_assets": 500},
            {"id": "F2", "name": "Two", "equity": 20, "total_assets": 200},
            {"id": "G", "name": "Guarantor", "equity": 10, "total_assets": 300},
        ],
    )
    write(folder, "persons", [{"id": "P", "name": "Person"}])
    loan = {"currency": "EUR", "status": "performing"}
    write(
        folder,
        "loans",
        [
            {"id": "L1", "lender_id": "B", "borrower_id": "F1", "amount": 40, **loan,
             "issued_on": "2026-01-01"},
            {"id": "L2", "lender_id": "F1", "borrower_id": "F2", "amount": 30, **loan,
             "issued_on": "2026-01-01"},
            {"id": "L3", "lender_id": "B", "borrower_id": "F2", "amount": 60, **loan,
             "issued_on": "2026-09-01"},
        ],
    )  # fmt: skip
    write(
        folder,
        "guarantees",
        [
            {"id": "G1", "guarantor_id": "G", "loan_id": "L2", "amount": 5},
            {"id": "G2", "guarantor_id": "P", "loan_id": "L1", "amount": 10},
        ],
    )
    report = load(gateway, folder, source="hand", rejects_path=tmp_path / "r.csv")
    assert report.rejected == 0
    return gateway


# Worked by hand (Battiston et al. 2012; W[i][j] = min(1, exposure of i to j / equity of i)):
#   W[F1][F2] = 30/50 = 0.6   W[G][F2] = 5/10 = 0.5   W[B][F1] = 40/100 = 0.4
#   W[B][F2]  = 60/100 = 0.6 (only once L3 is issued)   P: no equity, never impacted
# v = assets / sum, P's unknown assets = the mean of the known ones (2000 / 4 = 500):
#   v = B 1000/2500 = 0.4, F1 0.2, F2 0.08, G 0.12, P 0.2
#
# As of 2026-06-30 (no L3). t=1: h(F2) = 1.
#   t=2: h(F1) = 0.6 * 1 = 0.6, h(G) = 0.5 * 1 = 0.5 (F2 passes on once, then inactive)
#   t=3: h(B) = 0.4 * h(F1) = 0.24 (G exposes nobody to itself: nothing more)
#   R = 0.24 * 0.4 + 0.6 * 0.2 + 0.5 * 0.12 = 0.096 + 0.12 + 0.06 = 0.276
BY_HAND_RUN = {"F2": 1.0, "F1": 0.6, "G": 0.5, "B": 0.24}
R_RUN = 0.276
# As of 2026-10-01 (L3 live). t=2: h(F1) = 0.6, h(G) = 0.5, h(B) = 0.6 * 1 = 0.6
#   t=3: h(B) = 0.6 + 0.4 * 0.6 = 0.84
#   R = 0.84 * 0.4 + 0.12 + 0.06 = 0.516
BY_HAND_LATER = {"F2": 1.0, "F1": 0.6, "G": 0.5, "B": 0.84}
R_LATER = 0.516


def check(res: dict[str, object], distress: dict[str, float], r: float) -> None:
    got = res["distress"]
    assert isinstance(got, dict)
    assert set(got) == set(distress)
    for sid, h in distress.items():
        assert got[sid] == pytest.approx(h, abs=1e-12), sid
    assert res["debtrank"] == pytest.approx(r, abs=1e-12)
    assert res["initial_shock"] == pytest.approx(0.08, abs=1e-12)
    assert res["defaults"] == ["F2"]
    assert res["unassessed"] == ["P"]


def test_no_run_yet_means_today_and_the_shipped_policy(market: Gateway) -> None:
    before = date.today()
    res = stress(market, {"F2": 1.0})
    assert res["as_of"] in (before.isoformat(), date.today().isoformat())
    assert res["policy_hash"] == load_policy(None).hash
    assert res["basis"] == {"run": None, "as_of_from": "default", "policy_from": "default"}
    check(res, BY_HAND_LATER, R_LATER)  # today is after L3 was issued


def test_the_current_runs_as_of_and_policy_unless_told_otherwise(
    market: Gateway, settings: Settings, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text("[propagation]\ndamping = 0.3\n")
    run_policy = load_policy(policy_file)
    assert run_policy.hash != load_policy(None).hash
    run = Runs(market, settings).run(run_policy, RUN_AS_OF)

    res = stress(market, {"F2": 1.0})
    assert res["as_of"] == "2026-06-30" and res["policy_hash"] == run_policy.hash
    assert res["basis"] == {"run": run.run_id, "as_of_from": "run", "policy_from": "run"}
    check(res, BY_HAND_RUN, R_RUN)

    res = stress(market, {"F2": 1.0}, LATER)
    assert res["as_of"] == "2026-10-01" and res["policy_hash"] == run_policy.hash
    assert res["basis"]["as_of_from"] == "option" and res["basis"]["policy_from"] == "run"
    check(res, BY_HAND_LATER, R_LATER)

    # the CLI: defaults from the run, then --as-of and --policy
    env = home_env(neo4j_server)
    proc = run_cli(env, "stress", "--shock", "F2", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["as_of"], doc["policy_hash"]) == ("2026-06-30", run_policy.hash)
    check(doc, BY_HAND_RUN, R_RUN)
    proc = run_cli(
        env, "stress", "--shock", "F2", "--json", "--as-of", "2026-10-01", "--policy",
        str(Path(__file__).parent / "no-such.toml"),
    )  # fmt: skip
    assert proc.returncode == 1  # a missing policy file is an error, not the default
    default_file = tmp_path / "default.toml"
    default_file.write_text("")
    proc = run_cli(
        env, "stress", "--shock", "F2", "--json", "--as-of", "2026-10-01", "--policy",
        str(default_file),
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert doc["policy_hash"] == load_policy(None).hash and doc["as_of"] == "2026-10-01"
    assert doc["basis"]["policy_from"] == "option"
    check(doc, BY_HAND_LATER, R_LATER)
    text = run_cli(env, "stress", "--shock", "F2=0.5")
    assert text.returncode == 0
    assert f"as of 2026-06-30 (run), policy {run_policy.hash[:12]} (run)" in text.stdout


def test_a_partial_shock_by_hand(market: Gateway) -> None:
    """psi(F2) = 0.5 as of LATER: F1 0.3, G 0.25, B 0.3 then 0.3 + 0.4 * 0.3 = 0.42.
    R = 0.42 * 0.4 + 0.3 * 0.2 + 0.25 * 0.12 = 0.168 + 0.06 + 0.03 = 0.258; nobody defaults."""
    res = stress(market, {"F2": 0.5}, LATER)
    want = {"F2": 0.5, "F1": 0.3, "G": 0.25, "B": 0.42}
    assert set(res["distress"]) == set(want)
    for sid, h in want.items():
        assert res["distress"][sid] == pytest.approx(h, abs=1e-12)
    assert res["debtrank"] == pytest.approx(0.258, abs=1e-12)
    assert res["defaults"] == []
