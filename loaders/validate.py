"""Row validation: typed values, keys and references, with a reason for every rejected row.

One :class:`Validator` per load. Feed it the files in load order (``layout.FILES``); it
remembers which ids each file accepted or rejected, so later files can reference them.

Rules (the product contract, nothing more):

* required columns present (a value of only spaces counts as missing);
* types: ``date`` is ``YYYY-MM-DD`` and a real calendar day; ``amount`` a finite decimal
  >= 0; ``share`` in (0, 1]; ``severity`` in [0, 1]; ``int`` a whole number >= 0
  (``5.0`` is accepted, Parquet writes nullable integers as floats); ``enum`` one of the
  layout's values, exactly. Typed values may carry surrounding spaces; ``str`` values are
  kept verbatim, whatever they look like (``=cmd()``, Cypher text, ...);
* keys: the first row with an id claims it, whether it is accepted or not; later rows with
  the same id are rejected (``duplicate id X (first at row N)``). Persons and firms share
  the subject id space across files and against the graph (``known``). Roles and
  ownership are keyed by ``person_id|firm_id|role`` and ``owner_id|firm_id``;
* references: to ids accepted earlier in this load, else to ids ``known`` to the graph.
  A reference to an id whose row was rejected in this load is rejected too
  (``loan_id L1 was rejected (loans.csv row 5)``), even if the graph holds an older L1;
  a reference to nothing is ``unknown subject X``. A person reference to a firm (or the
  reverse) is rejected as such;
* an ownership row may lack ``share`` only if it carries ``share_unknown="true"``, which
  only the FtM reader sets (readers drop unknown CSV/Parquet columns).

Every problem of a row's own values is reported (one :class:`Reject` per bad column); key
and reference checks run only on rows whose values are fine. A row is either wholly valid
or rejected. Keys of ``RawRow.values`` that are not layout columns (FtM extras such as
``aliases``) are passed through untouched, except ``share_unknown`` which becomes ``True``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Any

from loaders.layout import Column, FileSpec
from loaders.readers import RawRow, RawValue

Known = Callable[[str, list[str]], set[str]]

MISSING = "missing required value"
_UNSEEN = object()
_NO_CLAIMS: dict[Any, Any] = {}
_CACHE_SIZE = 65536  # distinct texts remembered per column
BATCH_SIZE = 5000

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INT = re.compile(r"\+?([0-9]+)(?:\.0*)?", re.ASCII)

# Which id space a file's key lives in (persons and firms share "subject").
_KEY_SPACE = {"persons": "subject", "firms": "subject", "loans": "loan"}
_SUBJECT_KIND = {"persons": "person", "firms": "firm"}


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A row that passed every check; ``values`` holds typed values for every layout column."""

    file: str
    row: int
    key: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a row was refused. ``column`` is None for whole-row problems."""

    file: str
    row: int
    column: str | None
    value: str | None
    reason: str


@dataclass(slots=True)
class Batch:
    """Up to ``batch_size`` input rows of one file, split into valid rows and rejects."""

    file: str
    rows: list[ValidRow] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Claim:
    file: str
    row: int
    kind: str | None  # "person"/"firm"/"loan"/... once accepted; None while pending/rejected
    ok: bool


class _BadValue(Exception):
    pass


def parse_value(column: Column, raw: str) -> Any:
    """Parse one non-empty raw value of ``column``; raises ``_BadValue`` with the reason."""
    t = column.type
    if t == "str":
        return raw
    text = raw.strip()
    if t == "enum":
        if text not in column.enum:
            raise _BadValue(
                f"unknown {column.name} {raw!r} (expected one of {', '.join(column.enum)})"
            )
        return text
    if t == "date":
        if not _DATE.fullmatch(text):
            raise _BadValue(f"not an ISO date (YYYY-MM-DD): {raw!r}")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _BadValue(f"impossible date {text}") from None
    if t == "int":
        m = _INT.fullmatch(text)
        if not m:
            if _NUMBER.fullmatch(text) and text.startswith("-"):
                raise _BadValue(f"{column.name} must be >= 0: {raw!r}")
            raise _BadValue(f"not a whole number: {raw!r}")
        return int(m.group(1))
    # amount, share, severity
    if not _NUMBER.fullmatch(text):
        raise _BadValue(f"not a number: {raw!r}")
    x = float(text)
    if not math.isfinite(x):
        raise _BadValue(f"number out of range: {raw!r}")
    x += 0.0  # -0.0 -> 0.0
    if t == "amount" and x < 0:
        raise _BadValue(f"{column.name} must be >= 0: {raw!r}")
    if t == "share" and not 0 < x <= 1:
        raise _BadValue(f"share must be in (0, 1]: {raw!r}")
    if t == "severity" and not 0 <= x <= 1:
        raise _BadValue(f"severity must be in [0, 1]: {raw!r}")
    return x


def _shown(v: RawValue) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return repr(v)


class Validator:
    """Validates the files of one load, in load order, remembering the ids they define.

    ``known(space, ids)`` answers which of ``ids`` already exist in the graph, ``space``
    being ``subject``, ``person``, ``firm`` or ``loan``; ``None`` means an empty graph. It
    is called at most a few times per batch, with distinct ids.
    """

    def __init__(self, known: Known | None = None, *, batch_size: int = BATCH_SIZE) -> None:
        self._known = known
        self._batch_size = batch_size
        # space -> key -> claim; spaces: "subject", "loan", and per-file for the others.
        self._claims: dict[str, dict[Any, _Claim]] = {}
        self._summary: dict[str, dict[str, int]] = {}
        self._column_sets: dict[str, frozenset[str]] = {}
        self._plans: dict[str, list[tuple[Column, str, bool, bool, dict[str, Any]]]] = {}
        self._ref_plans: dict[str, list[tuple[str, str, str]]] = {}

    def summary(self) -> dict[str, dict[str, int]]:
        """Per file: rows ``read``, ``valid`` and ``rejected`` so far.

        Keys are file names; rows of one file mapped to several layout files (FtM) are
        counted as ``"<file>:<layout name>"``.
        """
        return {k: dict(v) for k, v in self._summary.items()}

    def validate_file(
        self, spec: FileSpec, rows: Iterable[RawRow], *, file: str | None = None
    ) -> Iterator[Batch]:
        """Validate the rows of one file, yielding one :class:`Batch` per ``batch_size`` rows.

        ``file`` names the file in :meth:`summary` when it has no rows (default: the rows'
        own file name, or ``<spec.name>``).
        """
        label = file
        stats: dict[str, int] | None = None
        chunk: list[RawRow] = []

        def start(first: RawRow | None) -> dict[str, int]:
            name = label or (first.file if first is not None else spec.name)
            if PurePath(name).stem != spec.name:
                name = f"{name}:{spec.name}"
            return self._summary.setdefault(name, {"read": 0, "valid": 0, "rejected": 0})

        for raw in rows:
            if stats is None:
                stats = start(raw)
            chunk.append(raw)
            if len(chunk) >= self._batch_size:
                yield self._batch(spec, chunk, stats)
                chunk = []
        if stats is None:
            stats = start(None)
        if chunk:
            yield self._batch(spec, chunk, stats)

    # -- internals ------------------------------------------------------------------------

    def _space(self, spec: FileSpec) -> str:
        return _KEY_SPACE.get(spec.name, spec.name)

    def _batch(self, spec: FileSpec, chunk: list[RawRow], stats: dict[str, int]) -> Batch:
        batch = Batch(chunk[0].file)
        claims = self._claims.setdefault(self._space(spec), {})
        pending: list[tuple[RawRow, dict[str, Any], Any]] = []
        for raw in chunk:
            stats["read"] += 1
            rejects: list[Reject] = []
            typed = self._typed(spec, raw, rejects)
            if rejects:
                self._claim(claims, spec, raw, typed, ok=False, rejects=batch.rejects)
                batch.rejects.extend(rejects)
                continue
            key = self._claim(claims, spec, raw, typed, ok=None, rejects=rejects)
            if rejects:
                batch.rejects.extend(rejects)
                continue
            pending.append((raw, typed, key))

        graph = self._ask_graph(spec, pending)
        for raw, typed, key in pending:
            rejects = []
            if self._check_subject_kind(spec, raw, typed, graph, rejects):
                # Like a duplicate: the id belongs to the graph's subject, not to this row.
                del claims[key]
                batch.rejects.extend(rejects)
                continue
            self._check_refs(spec, raw, typed, graph, rejects)
            if rejects:
                batch.rejects.extend(rejects)  # the key stays claimed as rejected
                continue
            claims[key] = _Claim(raw.file, raw.row, _SUBJECT_KIND.get(spec.name, spec.name), True)
            batch.rows.append(ValidRow(raw.file, raw.row, self._key_text(spec, key), typed))
        stats["valid"] += len(batch.rows)
        stats["rejected"] += len(chunk) - len(batch.rows)
        return batch

    def _typed(self, spec: FileSpec, raw: RawRow, rejects: list[Reject]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if raw.error is not None:
            col = raw.error_column
            shown = _shown(raw.values.get(col)) if col else None
            rejects.append(Reject(raw.file, raw.row, col, shown, raw.error))
            return values
        raw_values = raw.values
        get = raw_values.get
        share_unknown = get("share_unknown") == "true"
        plan = self._plan(spec)
        for column, name, required, parses, cache in plan:
            v = get(name)
            if v is None or (required and type(v) is str and not v.strip()):
                if required and not (name == "share" and share_unknown):
                    rejects.append(Reject(raw.file, raw.row, name, v, MISSING))
                values[name] = None
            elif type(v) is not str:
                rejects.append(
                    Reject(raw.file, raw.row, name, _shown(v), "expected a single value")
                )
            elif not parses:
                values[name] = v
            else:
                # Dates, enums and amounts repeat a lot: parse each distinct text once.
                parsed = cache.get(v, _UNSEEN)
                if parsed is _UNSEEN:
                    try:
                        parsed = parse_value(column, v)
                    except _BadValue as e:
                        rejects.append(Reject(raw.file, raw.row, name, v, str(e)))
                        continue
                    if len(cache) >= _CACHE_SIZE:
                        cache.clear()
                    cache[v] = parsed
                values[name] = parsed
        if len(raw_values) != len(plan) or share_unknown:
            names = self._names(spec)
            for k, v in raw_values.items():  # FtM extras, passed through in order
                if k not in names:
                    values[k] = (v == "true") if k == "share_unknown" else v
        return values

    def _plan(self, spec: FileSpec) -> list[tuple[Column, str, bool, bool, dict[str, Any]]]:
        """Per column: the column, its name, required, needs parsing, its parse cache."""
        plan = self._plans.get(spec.name)
        if plan is None:
            plan = self._plans[spec.name] = [
                (c, c.name, c.required, c.type != "str", {}) for c in spec.columns
            ]
        return plan

    def _names(self, spec: FileSpec) -> frozenset[str]:
        names = self._column_sets.get(spec.name)
        if names is None:
            names = self._column_sets[spec.name] = frozenset(spec.column_names)
        return names

    def _key(self, spec: FileSpec, typed: dict[str, Any]) -> Any:
        if spec.key is not None:
            return typed.get(spec.key)
        parts = tuple([typed.get(c) for c in spec.composite_key])
        return None if None in parts else parts

    @staticmethod
    def _key_text(spec: FileSpec, key: Any) -> str:
        return key if spec.key is not None else "|".join(key)

    def _claim(
        self,
        claims: dict[Any, _Claim],
        spec: FileSpec,
        raw: RawRow,
        typed: dict[str, Any],
        *,
        ok: bool | None,
        rejects: list[Reject],
    ) -> Any:
        """Claim the row's key; report a duplicate (only when ``ok`` is None: a checked row)."""
        key = self._key(spec, typed)
        if key is None:
            return None
        first = claims.get(key)
        if first is None:
            claims[key] = _Claim(raw.file, raw.row, None, False)
            return key
        if ok is None:
            where = (
                f"row {first.row}" if first.file == raw.file else f"{first.file} row {first.row}"
            )
            if spec.key is not None:
                rejects.append(
                    Reject(
                        raw.file, raw.row, spec.key, key, f"duplicate id {key} (first at {where})"
                    )
                )
            else:
                text = self._key_text(spec, key)
                rejects.append(
                    Reject(
                        raw.file,
                        raw.row,
                        "|".join(spec.composite_key),
                        text,
                        f"duplicate key {text} (first at {where})",
                    )
                )
        return key

    def _ask_graph(
        self, spec: FileSpec, pending: list[tuple[RawRow, dict[str, Any], Any]]
    ) -> dict[str, set[str]]:
        """Ask ``known`` once per space about the ids this batch needs and we don't know."""
        found: dict[str, set[str]] = {}
        if self._known is None or not pending:
            return found
        wanted: dict[str, set[str]] = {}
        subjects = self._claims.get("subject", {})
        loans = self._claims.get("loan", {})
        for column in spec.columns:
            if column.references is None:
                continue
            claims = loans if column.references == "loan" else subjects
            for _, typed, _ in pending:
                ref = typed[column.name]
                if ref not in claims:
                    wanted.setdefault(column.references, set()).add(ref)
        other = {"persons": "firm", "firms": "person"}.get(spec.name)
        if other is not None:
            wanted.setdefault(other, set()).update(key for _, _, key in pending)
        for name, ids in wanted.items():
            if ids:
                found[name] = set(self._known(name, sorted(ids)))
        return found

    def _check_refs(
        self,
        spec: FileSpec,
        raw: RawRow,
        typed: dict[str, Any],
        graph: dict[str, set[str]],
        rejects: list[Reject],
    ) -> None:
        for name, space, claims_space in self._refs(spec):
            ref = typed[name]
            claim = self._claims.get(claims_space, _NO_CLAIMS).get(ref)
            reason: str | None = None
            if claim is not None:
                if not claim.ok:
                    reason = f"{name} {ref} was rejected ({claim.file} row {claim.row})"
                elif space in ("person", "firm") and claim.kind != space:
                    reason = f"{name} {ref} is a {claim.kind}, not a {space}"
            elif ref not in graph.get(space, ()):
                reason = f"unknown {space} {ref}"
            if reason is not None:
                rejects.append(Reject(raw.file, raw.row, name, ref, reason))

    def _refs(self, spec: FileSpec) -> list[tuple[str, str, str]]:
        """Per reference column: its name, the id space it names, the claims it is in."""
        refs = self._ref_plans.get(spec.name)
        if refs is None:
            refs = self._ref_plans[spec.name] = [
                (c.name, c.references, "loan" if c.references == "loan" else "subject")
                for c in spec.columns
                if c.references is not None
            ]
        return refs

    def _check_subject_kind(
        self,
        spec: FileSpec,
        raw: RawRow,
        typed: dict[str, Any],
        graph: dict[str, set[str]],
        rejects: list[Reject],
    ) -> bool:
        """Reject a person whose id is a firm in the graph, or the reverse."""
        other = {"persons": "firm", "firms": "person"}.get(spec.name)
        if other is None or spec.key is None:
            return False
        key = typed[spec.key]
        if key in graph.get(other, ()):
            rejects.append(
                Reject(
                    raw.file, raw.row, spec.key, key, f"id {key} is already a {other} in the graph"
                )
            )
            return True
        return False
