"""The stress test on the database, through the CLI, against a DebtRank worked by hand.

A small market is loaded into the test server (a temporary home; never the user's
~/.credgraph) and shocked; the distress, DebtRank, defaults and unassessed
creditors the CLI prints are compared with the hand computation below, which uses
only the formulas of Battiston et al. (2012) and the exposure rule of PRODUCT.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credgraph.cli.main import main
from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.loaders.load import load

pytestmark = pytest.mark.integration

AS_OF = "2024-01-01"

FILES = {
    "persons": "id,name,net_worth\nP,Pat,\n",
    "firms": (
        "id,name,equity,total_assets\n"
        "BANK,Bank,100,1000\n"
        "A,Alpha,50,200\n"
        "B,Beta,40,\n"
        "C,Gamma,20,300\n"
    ),
    "loans": (
        "id,lender_id,borrower_id,amount,issued_on,status,status_on\n"
        "L1,BANK,A,30,2020-01-01,performing,\n"
        "L2,A,B,25,2020-01-01,overdue,2023-06-01\n"
        "L3,BANK,C,50,2020-01-01,repaid,2023-06-01\n"
        "L4,C,B,10,2020-01-01,performing,\n"
        "L5,P,A,5,2020-01-01,performing,\n"
        "L6,A,C,10,2024-06-01,performing,\n"
    ),
    "guarantees": "id,guarantor_id,loan_id,amount,since,until\nG1,C,L1,10,,\n",
}
# By hand. Exposures (creditor -> debtor: amount), as of 2024-01-01:
#   L1 BANK -> A 30;  L2 A -> B 25;  L4 C -> B 10;  L5 P -> A 5;
#   L3 is repaid (2023-06-01) and L6 not yet issued: no exposure;
#   G1: C guarantees L1, so C (the guarantor) is exposed to A (L1's borrower) by 10.
# W[i, j] = min(1, A_ij / E_i):  W[BANK,A] = 30/100 = 0.3;  W[A,B] = 25/50 = 0.5;
#   W[C,B] = 10/20 = 0.5;  W[C,A] = 10/20 = 0.5;  P has no equity: unassessed, row 0.
# Shock B = 1.
#   step 1: A = 0.5 * 1 = 0.5,  C = 0.5 * 1 = 0.5               (B -> inactive)
#   step 2: BANK = 0.3 * 0.5 = 0.15,  C = 0.5 + 0.5 * 0.5 = 0.75 (A, C -> inactive)
#   step 3: nobody is exposed to BANK; stop after 3 steps.
# Value: known total assets 1000, 200, 300 (mean 500) fill B and P:
#   v = (BANK 1000, A 200, B 500, C 300, P 500) / 2500.
# R = (0.15*1000 + 0.5*200 + 0.75*300) / 2500 = 475 / 2500 = 0.19;  initial = 500/2500 = 0.2.
DISTRESS = {"BANK": 0.15, "A": 0.5, "B": 1.0, "C": 0.75}
DEBTRANK = 0.19
INITIAL = 0.2


@pytest.fixture
def market(
    gateway: Gateway,
    neo4j_server: ManagedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Gateway:
    folder = tmp_path / "market"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / f"{name}.csv").write_text(text)
    load(gateway, folder, source="hand", rejects_path=tmp_path / "r.csv")
    monkeypatch.setenv("CREDGRAPH_HOME", str(neo4j_server.home))
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", str(neo4j_server.port))
    for var in ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USERNAME", "NEO4J_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    return gateway


def test_stress_matches_the_hand_computation(
    market: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    # a current run exists, whichever policy the stress test reads
    assert main(["propagate", "--as-of", AS_OF]) == 0, capsys.readouterr().err
    capsys.readouterr()
    count = (
        "MATCH (n) WHERE NOT n:AuditEvent RETURN count(n) AS n "
        "UNION ALL MATCH ()-[r]->() RETURN count(r) AS n"
    )
    before = market.read(count)
    assert main(["stress", "--shock", "B", "--json", "--as-of", AS_OF, "--reason", "r1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert market.read(count) == before  # writes nothing to the graph but the audit log
    # principle 6: the answer names subjects; the lookup is on the record, with whom it
    # showed (most distressed first)
    (event,) = market.read(
        "MATCH (e:AuditEvent {action: 'stress'}) "
        "RETURN e.subject AS subject, e.reason AS reason, e.detail AS detail"
    )
    assert (event["subject"], event["reason"]) == ("B", "r1")
    assert json.loads(event["detail"]) == {
        "shocks": {"B": 1.0},
        "shown": ["B", "C", "A", "BANK"],
        "shown_total": 4,
    }
    assert doc["distress"].keys() == DISTRESS.keys()
    for sid, h in DISTRESS.items():
        assert doc["distress"][sid] == pytest.approx(h, abs=1e-12), sid
    assert doc["debtrank"] == pytest.approx(DEBTRANK, abs=1e-12)
    assert doc["initial_shock"] == pytest.approx(INITIAL, abs=1e-12)
    assert doc["defaults"] == ["B"]
    assert doc["unassessed"] == ["P"]
    assert doc["iterations"] == 3
    assert doc["subjects"] == 5
    # the text output says the same
    assert main(["stress", "--shock", "B", "--as-of", AS_OF]) == 0
    text = capsys.readouterr().out
    assert "DebtRank 0.190000 (initial shock 0.200000)" in text
    assert "defaults: 1  distressed: 4  unassessed creditors: 1" in text
    assert "C: h = 0.7500" in text and "BANK: h = 0.1500" in text


def test_partial_shock_and_a_later_date(
    market: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["propagate", "--as-of", AS_OF]) == 0, capsys.readouterr().err
    capsys.readouterr()
    # Shock A = 0.4 as of 2024-07-01: L6 (A -> C 10, issued 2024-06-01) now counts,
    # W[A,C] = 10/50 = 0.2, but nothing shocks C before A is inactive.
    #   step 1: BANK = 0.3*0.4 = 0.12, C = 0.5*0.4 = 0.2 (P unassessed)
    #   step 2: exposed to BANK: nobody; exposed to C: A (0.2), but A is inactive
    #           and takes 0.2*0.2 = 0.04: A = 0.44; stop after 2 steps.
    # R = (0.12*1000 + 0.04*200 + 0.2*300) / 2500 = 188/2500 = 0.0752; initial 80/2500.
    assert main(["stress", "--shock", "A=0.4", "--json", "--as-of", "2024-07-01"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["distress"] == pytest.approx({"A": 0.44, "BANK": 0.12, "C": 0.2}, abs=1e-12)
    assert doc["debtrank"] == pytest.approx(0.0752, abs=1e-12)
    assert doc["initial_shock"] == pytest.approx(0.032, abs=1e-12)
    assert doc["defaults"] == [] and doc["iterations"] == 2


def test_stress_and_score_errors_say_what_is_wrong(
    market: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["propagate", "--as-of", AS_OF]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["stress", "--shock", "NOPE", "--as-of", AS_OF]) == 1
    err = capsys.readouterr().err
    assert "error: no subject 'NOPE' to shock" in err
    (refused,) = market.read(
        "MATCH (e:AuditEvent {action: 'stress'}) RETURN e.subject AS s, e.detail AS d"
    )
    assert refused["s"] == "NOPE" and refused["d"].startswith("refused: no subject 'NOPE'")
    assert "internal error" not in err and "Traceback" not in err
    assert main(["stress", "--shock", "B=1.5"]) == 2
    err = capsys.readouterr().err
    assert "error: shock 'B=1.5': fraction must be in (0, 1], not 1.5" in err
    assert "hint: see --shock ID[=FRACTION]" in err
    assert main(["score", "NOPE"]) == 1
    err = capsys.readouterr().err
    assert "error: no subject 'NOPE'" in err and "internal error" not in err
    assert main(["score", "NOPE", "--json"]) == 1
    err = capsys.readouterr().err
    assert "error: no subject 'NOPE'" in err and "internal error" not in err
