"""Score rows as reported (no database)."""

from __future__ import annotations

from credgraph.graph.engine.pipeline import upgrade_score_row
from credgraph.graph.engine.policy import DOMAINS
from credgraph.services.scores import risk_of as _risk


def row(**domain_values: float) -> dict[str, float]:
    base = {"intrinsic": 0.1, "network": 0.9, "total": 0.95}
    for d in DOMAINS:
        base |= {f"{d}_intrinsic": 0.1, f"{d}_total": 0.9}
    return base | domain_values


def test_a_row_of_a_run_stored_before_the_cap_is_reported_capped() -> None:
    old = row(credit_network=1.7, compliance_network=0.2)
    new = upgrade_score_row(old)
    assert new["credit_network"] == 1.0 and new["credit_network_uncapped"] == 1.7
    assert new["compliance_network"] == 0.2 and new["compliance_network_uncapped"] == 0.2
    assert old["credit_network"] == 1.7  # the stored row is not touched
    assert _risk(new, "credit") == {
        "intrinsic": 0.1,
        "network": 1.0,
        "total": 0.9,
        "network_uncapped": 1.7,
    }
    assert _risk(new) == {"intrinsic": 0.1, "network": 0.9, "total": 0.95}


def test_a_current_row_is_unchanged() -> None:
    current = row(
        credit_network=1.0,
        credit_network_uncapped=1.7,
        compliance_network=0.2,
        compliance_network_uncapped=0.2,
    )
    assert upgrade_score_row(current) == current
