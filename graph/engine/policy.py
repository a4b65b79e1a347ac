"""The scoring policy: severities, half-lives, transmission weights, damping, hop limit.

A policy is a TOML file validated into an immutable :class:`Policy`. The shipped
default lives in ``graph/engine/policies/default.toml``; a user's file is laid over it key
by key (a key left out keeps its default), and the result is validated as a whole:
unknown keys, values out of range and wrong types raise
:class:`graph.errors.ConfigError` naming the file and the dotted key.

:attr:`Policy.hash` is the SHA-256 of the canonical JSON of the validated policy
(keys sorted, no whitespace): equal policies hash equal whatever their file layout,
and every score run can record the policy it used. Every key: ``docs/policy.md``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from credgraph.graph.engine.vocabulary import ROLES
from credgraph.graph.errors import ConfigError

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "policies" / "default.toml"

DOMAINS: tuple[str, ...] = ("credit", "compliance")
"""Risk domains, reported side by side and never netted (principle 4)."""

Domain = Literal["credit", "compliance"]
AdverseLoanStatus = Literal["overdue", "defaulted", "written_off"]


CHANNELS: tuple[str, ...] = (
    "guarantee",
    "lending",
    "ownership_to_owner",
    "ownership_to_firm",
    "control_to_firm",
    *(f"{r}_to_firm" for r in ROLES),
    *(f"{r}_to_person" for r in ROLES),
)
"""Transmission channels: a relationship kind plus the direction risk travels in.

``guarantee`` borrower -> guarantor; ``lending`` borrower -> lender;
``ownership_to_owner`` firm -> owner; ``ownership_to_firm`` / ``control_to_firm``
owner -> firm; ``<role>_to_firm`` person -> firm; ``<role>_to_person`` firm -> person.
"""

Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PositiveDays = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PropagationPolicy(_Strict):
    """Propagation parameters (damping, hop limit of the strongest paths) and the fallbacks
    for missing data."""

    damping: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
    hop_limit: Annotated[int, Field(ge=1, le=10)]
    unknown_share: Unit
    unknown_capacity_ratio: Unit
    control_threshold: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]


class HalfLives(_Strict):
    """Half-life in days per record kind; ``None`` (key absent) means no decay."""

    loan: PositiveDays | None = None
    blacklist: PositiveDays | None = None


class ListPolicy(_Strict):
    """One blacklist: the domain its entries count in and their default severity."""

    domain: Domain
    severity: Unit
    half_life_days: PositiveDays | None = None  # overrides half_life_days.blacklist


class LoanStatusPolicy(_Strict):
    """Severity of one adverse loan status, optionally rising with ``days_overdue``."""

    severity: Unit
    max_severity: Unit | None = None
    days_to_max: PositiveDays | None = None

    @model_validator(mode="after")
    def _rising(self) -> LoanStatusPolicy:
        if (self.max_severity is None) != (self.days_to_max is None):
            raise ValueError("max_severity and days_to_max go together: set both or neither")
        if self.max_severity is not None and self.max_severity < self.severity:
            raise ValueError("max_severity must be >= severity")
        return self


class ChannelWeights(_Strict):
    """Transmission weight per channel in one domain (0 = channel off)."""

    guarantee: Unit = 0.0
    lending: Unit = 0.0
    ownership_to_owner: Unit = 0.0
    ownership_to_firm: Unit = 0.0
    control_to_firm: Unit = 0.0
    legal_representative_to_firm: Unit = 0.0
    director_to_firm: Unit = 0.0
    executive_to_firm: Unit = 0.0
    supervisor_to_firm: Unit = 0.0
    legal_representative_to_person: Unit = 0.0
    director_to_person: Unit = 0.0
    executive_to_person: Unit = 0.0
    supervisor_to_person: Unit = 0.0

    def weight(self, channel: str) -> float:
        return float(getattr(self, channel))


class TransmissionPolicy(_Strict):
    credit: ChannelWeights
    compliance: ChannelWeights

    def domain(self, domain: str) -> ChannelWeights:
        w: ChannelWeights = getattr(self, domain)
        return w


class Policy(_Strict):
    """A validated scoring policy (immutable)."""

    propagation: PropagationPolicy
    half_life_days: HalfLives
    lists: dict[str, ListPolicy]
    loan_status: dict[AdverseLoanStatus, LoanStatusPolicy]
    transmission: TransmissionPolicy

    @field_validator("lists")
    @classmethod
    def _has_default(cls, v: dict[str, ListPolicy]) -> dict[str, ListPolicy]:
        if "default" not in v:
            raise ValueError("needs a 'default' entry (used for lists not named in the policy)")
        return v

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of this policy."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def canonical_json(self) -> str:
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False
        )

    def list_policy(self, name: str) -> ListPolicy:
        """The policy of blacklist ``name`` (the ``default`` entry for unnamed lists)."""
        return self.lists.get(name, self.lists["default"])

    def half_life_for_list(self, name: str) -> float | None:
        lp = self.list_policy(name)
        return lp.half_life_days if lp.half_life_days is not None else self.half_life_days.blacklist


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"policy file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # tomllib decodes the bytes as UTF-8 first
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read policy file: {exc}") from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid over ``base``: tables merge recursively, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _validate(data: Mapping[str, Any], source: Path) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"] if p != "[key]") or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{source}: policy key '{key}': {err['msg']}{more}",
            hint="see docs/policy.md for every key, its range and default",
        ) from None


def policy_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> Policy:
    """Validate ``data`` laid over the shipped default (for tests and programmatic use)."""
    base = _read_toml(DEFAULT_POLICY_PATH)
    return _validate(_merge(base, data), Path(source))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy: ``None`` gives the shipped default, a path is laid over it.

    Raises :class:`ConfigError` naming the file and the offending key.
    """
    base = _read_toml(DEFAULT_POLICY_PATH)
    if path is None:
        return _validate(base, DEFAULT_POLICY_PATH)
    p = Path(path)
    return _validate(_merge(base, _read_toml(p)), p)
