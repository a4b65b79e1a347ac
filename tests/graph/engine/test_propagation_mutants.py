"""Propagation outcomes that surviving mutants of graph/engine/propagation.py changed
unseen (``make mutate``, docs/testing.md): the day and domains a result carries, and
the policy-mismatch message with its hint."""

from __future__ import annotations

import pytest

from credgraph.graph.engine.policy import load_policy, policy_from_mapping
from credgraph.graph.engine.projection import build_projection
from credgraph.graph.engine.propagation import propagate
from credgraph.graph.errors import ConfigError
from tests.graph.engine.test_propagation import AS_OF, World


def _world() -> World:
    return World({"persons": [{"id": "P", "name": "p", "net_worth": 1.0}]})


def test_scores_carry_the_day_the_policy_and_the_domains() -> None:
    pol = load_policy()
    scores = propagate(build_projection(_world().tables(), pol, AS_OF), pol)
    assert scores.as_of == AS_OF
    assert scores.policy_hash == pol.hash
    assert scores.domains == ("credit", "compliance")
    assert scores.trust.tolist() == [100.0]


def test_policy_mismatch_names_both_policies_and_the_fix() -> None:
    pol = load_policy()
    proj = build_projection(_world().tables(), pol, AS_OF)
    other = policy_from_mapping({"propagation": {"damping": 0.4}})
    with pytest.raises(ConfigError) as err:
        propagate(proj, other)
    assert err.value.message == (
        f"the projection was built with another policy ({pol.hash[:12]} != {other.hash[:12]})"
    )
    assert err.value.hint == "build the projection and propagate with the same policy"
