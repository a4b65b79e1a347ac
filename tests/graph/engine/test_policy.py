"""Scoring policy: defaults, overrides, validation errors naming key and file, hash."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from credgraph.graph.engine.policy import (
    CHANNELS,
    DEFAULT_POLICY_PATH,
    load_policy,
    policy_from_mapping,
)
from credgraph.graph.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_load_with_documented_values() -> None:
    pol = load_policy()
    prop = pol.propagation
    assert (prop.damping, prop.hop_limit) == (0.5, 4)
    assert (prop.unknown_share, prop.unknown_capacity_ratio, prop.control_threshold) == (
        0.25,
        0.5,
        0.5,
    )
    assert pol.half_life_days.loan == 730 and pol.half_life_days.blacklist is None
    lists = {k: (v.domain, v.severity) for k, v in pol.lists.items()}
    assert lists == {
        "default": ("compliance", 0.5),
        "court_dishonest_debtor": ("credit", 0.8),
        "tax_violation": ("compliance", 0.5),
        "environmental": ("compliance", 0.4),
        "sanctions": ("compliance", 1.0),
    }
    assert {k: v.severity for k, v in pol.loan_status.items()} == {
        "overdue": 0.3,
        "defaulted": 0.8,
        "written_off": 0.9,
    }
    credit, compliance = pol.transmission.credit, pol.transmission.compliance
    assert (credit.guarantee, credit.lending, credit.ownership_to_owner) == (1.0, 1.0, 1.0)
    assert compliance.ownership_to_firm == compliance.control_to_firm == 1.0
    assert compliance.legal_representative_to_firm == 1.0
    assert compliance.legal_representative_to_person == 0.5
    assert compliance.director_to_person == 0.3
    assert pol.list_policy("unheard_of") == pol.lists["default"]


def test_default_file_names_every_channel_in_both_domains() -> None:
    data = tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    for d in ("credit", "compliance"):
        assert set(data["transmission"][d]) == set(CHANNELS)


def test_override_is_laid_over_the_default(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        [propagation]
        damping = 0.8
        [lists.fraud_registry]
        domain = "credit"
        severity = 0.7
        half_life_days = 365
        [transmission.compliance]
        director_to_person = 0.0
        """,
    )
    pol = load_policy(p)
    assert pol.propagation.damping == 0.8 and pol.propagation.hop_limit == 4
    assert pol.lists["fraud_registry"].severity == 0.7 and "sanctions" in pol.lists
    assert pol.half_life_for_list("fraud_registry") == 365
    assert pol.transmission.compliance.director_to_person == 0.0
    assert pol.transmission.compliance.legal_representative_to_person == 0.5


def test_hash_is_stable_and_tracks_values(tmp_path: Path) -> None:
    default = load_policy()
    assert default.hash == load_policy().hash == load_policy(DEFAULT_POLICY_PATH).hash
    assert len(default.hash) == 64
    # the same values written differently hash the same
    same = write(tmp_path, "[propagation]\nhop_limit = 4\ndamping = 0.50\n", "same.toml")
    assert load_policy(same).hash == default.hash
    changed = write(tmp_path, "[propagation]\ndamping = 0.51\n", "changed.toml")
    assert load_policy(changed).hash != default.hash
    assert policy_from_mapping({"lists": {"sanctions": {"severity": 0.99}}}).hash != default.hash


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 'red'\n", "colour"),
        ("[propagation]\ndampening = 0.5\n", "propagation.dampening"),
        ("[propagation]\ndamping = 0.0\n", "propagation.damping"),
        ("[propagation]\ndamping = 1.5\n", "propagation.damping"),
        ("[propagation]\nhop_limit = 11\n", "propagation.hop_limit"),
        ("[propagation]\nhop_limit = 0\n", "propagation.hop_limit"),
        ("[propagation]\nunknown_share = -0.1\n", "propagation.unknown_share"),
        ("[propagation]\ndamping = '0.5'\n", "propagation.damping"),
        ("[half_life_days]\nloan = 0\n", "half_life_days.loan"),
        ("[half_life_days]\ncontracts = 10\n", "half_life_days.contracts"),
        ("[lists.sanctions]\nseverity = 1.2\n", "lists.sanctions.severity"),
        ("[lists.sanctions]\ndomain = 'moral'\n", "lists.sanctions.domain"),
        ("[lists.new]\nseverity = 0.3\n", "lists.new.domain"),
        ("[loan_status.performing]\nseverity = 0.1\n", "loan_status.performing"),
        ("[loan_status.overdue]\nmax_severity = 0.1\n", "loan_status.overdue"),
        ("[transmission.credit]\ngurantee = 1.0\n", "transmission.credit.gurantee"),
        ("[transmission.credit]\nguarantee = 2\n", "transmission.credit.guarantee"),
        ("[transmission.fraud]\nguarantee = 1\n", "transmission.fraud"),
    ],
)
def test_bad_files_name_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_policy(p)
    assert f"'{key}'" in str(err.value)
    assert str(p) in str(err.value)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "[propagation\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "nope.toml")
    # bytes that are not UTF-8: a policy error (not retried by the scheduler), not an
    # internal UnicodeDecodeError
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[propagation]\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_policy(binary)


def test_policy_is_immutable() -> None:
    pol = load_policy()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        pol.propagation.damping = 0.1  # type: ignore[misc]
