"""Batched, idempotent upserts of validated rows into Neo4j, with provenance.

:func:`write_rows` takes one batch of one input file and, in one managed
transaction (so a retry after a lost commit answer re-reads what exists):

1. asks which of the batch's keys exist and with which fingerprint (one read);
2. writes the new rows with a ``CREATE`` statement;
3. writes the changed rows with a ``MERGE`` statement;
4. leaves the unchanged rows alone.

Every statement has the shape ``UNWIND $rows AS row ...``. Loads run one at a
time, under the graph's writer lease (graph/lease.py): a concurrent load of the
same new keys could collide on the lookup-then-create (node keys are protected
by constraints, relationships are not). Every row carries a ``fp`` fingerprint
of its values:

- a new node or relationship gets the values, the fingerprint and provenance by
  reference (``load``: its Load record's number, ``file``: the file's index in that
  record's ``file_names``, ``row``; docs/data-model.md "Provenance"): created;
- an existing one with the same fingerprint is left untouched, provenance
  included, so loading the same input twice leaves the graph exactly as after
  the first load: unchanged;
- an existing one with another fingerprint gets the new values and provenance:
  updated. Properties that became empty are removed; properties the input does
  not own (``disputed``, set by ``credgraph dispute``) are kept. A CSV or Parquet
  row that updates a record an FtM load wrote removes its FtM extras (``aliases``,
  ``ftm_schema``, ``source_entity``, ``topics``, ``ftm_role``, ``ftm_parties``):
  every loaded property then comes from the row its provenance names (an FtM
  ``source_entity`` beside a CSV row's provenance would name a source the record
  no longer has).

Reference columns (``lender_id``, ``person_id``, ...) become the ends of
relationships and are not stored again as properties (docs/data-model.md);
they are part of the fingerprint, so a record that moves to another subject
is "updated" and its old relationship is removed.

A loan and its LENT / BORROWED relationships, a blacklist entry and its
LISTED relationship, are written in the same transaction, so a load killed
half-way leaves no record without its subject; re-running it completes it.

A blacklist entry whose ``listed_on`` is the date it was loaded
(``listed_on_basis = 'loaded'``: an FtM sanction without any date, loaders/ftm.py)
keeps the date of its first load: that date is left out of its fingerprint (a
reload on a later day is "unchanged"), and an update keeps the stored date (and
its basis) whenever the new row has no date of its own.

A batch holds at most ``layout.MAX_BATCH_TEXT`` bytes of text (the validator cuts
batches of long free text short): one transaction carries at most that much.

A batch that fails to write (Neo4j refuses it, the driver cannot send a value)
raises an error naming its file and first and last row (``writing loans.csv
rows 5002-10001: ...``): that batch's transaction is rolled back, batches
committed before it stay.

Speed (docs/benchmarks.md): new rows travel as lists, not maps (no property
names repeated 5,000 times a batch), and the lookup is skipped for a *fresh*
file: one whose kind of record (``Person``, ``OWNS``, ...) did not exist in the
graph when its first batch was written. Every record of that kind then comes
from an earlier, committed batch of this load, and batches are atomic, so
probing the batch's first key tells whether the batch is already in (a retry
after a lost commit answer): if it is, the full lookup runs as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, LiteralString, cast

from xxhash import xxh3_64_hexdigest

from credgraph.graph.errors import CredgraphError, DatabaseError
from credgraph.graph.gateway import Gateway
from credgraph.graph.model import PROVENANCE, ROLE_TYPES, rel_type
from credgraph.loaders.layout import BY_NAME, FileSpec
from credgraph.loaders.validate import ValidRow

# The input columns that name the ends of a file's relationships: (start, end) for a
# relationship file, (lender, borrower) for loans, (subject, None) for the blacklist.
ENDS: dict[str, tuple[str, str | None]] = {
    "roles": ("person_id", "firm_id"),
    "ownership": ("owner_id", "firm_id"),
    "loans": ("lender_id", "borrower_id"),
    "guarantees": ("guarantor_id", "loan_id"),
    "blacklist": ("subject_id", None),
}

_NAME = re.compile(r"[a-z][a-z0-9_]*")
# FtM extras a row carries only sometimes (loaders/ftm.py): an FtM row without one
# removes the one an earlier load of its entity stored (its role text, its parties).
_FTM_OPTIONAL = ("ftm_role", "ftm_parties")
# Every FtM extra (loaders/ftm.py). A row of another format that updates a record an
# FtM load wrote removes them: a record's loaded properties are those of the row that
# last wrote it, the row its provenance names (module notes).
FTM_EXTRAS = ("ftm_schema", "source_entity", "topics", "aliases", *_FTM_OPTIONAL)
LOADED = "loaded"  # listed_on_basis of an entry dated by its load (loaders.ftm.LOADED)


def _prov(line: str) -> str:
    """``load: $load, file: $file, row: <line>``: the provenance as map entries (names
    from graph.model.PROVENANCE), the row's line read by the expression ``line``."""
    values = {"load": "$load", "file": "$file", "row": line}
    return ", ".join(f"{name}: {values[name]}" for name in PROVENANCE)


# For rows sent as maps (updates) and as lists (creates: the line is row[2]).
_REL_PROV = _prov("row.line")
_LINK_PROV = "{" + _prov("row[2]") + "}"


def load_params(load: int, files: list[str]) -> dict[str, Any]:
    """What :func:`write_rows` needs of its load: the Load record's ``num`` and its
    ``file_names`` (a row's file is written as its index in that list)."""
    return {"load": load, "files": list(files)}


def file_number(files: list[str], name: str) -> int:
    """The index of the input file ``name`` in its Load record's ``file_names``."""
    try:
        return files.index(name)
    except ValueError:  # pragma: no cover - prepare() lists every file it reads
        raise DatabaseError(f"input file {name} is not among the load's files {files}") from None


def _lit(text: str) -> LiteralString:
    """Cypher assembled from the layout's own column names (checked), never from input."""
    return cast(LiteralString, text)


def stored_columns(spec: FileSpec) -> tuple[str, ...]:
    """The layout columns a file's rows store as properties, in layout order."""
    ends = ENDS.get(spec.name, ())
    names = [c for c in spec.column_names if c not in ends]
    if spec.name == "ownership":
        names.append("share_unknown")
    for n in names:
        if not _NAME.fullmatch(n):  # pragma: no cover - the layout is code
            raise ValueError(f"column name {n!r} cannot be a property name")
    return tuple(names)


# -- rows -----------------------------------------------------------------------------


def fingerprint(values: dict[str, Any], ordered: bool = False) -> str:
    """A stable digest of a row's values, 16 hex digits: XXH3-64 of a canonical text.

    The text is the ``repr`` of the values (None, str, int, float, bool, date or lists
    of str, whose reprs are deterministic across runs and machines; ``repr`` escapes
    lone surrogates, so any text can be digested), with each date replaced by its
    ordinal day number: a date's ``repr`` is the costliest part, and a column's type is
    fixed by the layout, so no date can meet an integer in the same place.
    ``ordered=True`` says the keys come in a fixed order (a layout row without extras):
    the values alone then identify the row. Otherwise the sorted items are digested,
    so the order of extra keys (FtM properties) does not matter.

    XXH3 is not a cryptographic hash: the digest only tells a reload whether a row
    that already has this key changed (a 64-bit digest misses a change with odds of
    about 1 in 1.8e19), never who may write. Digests of credgraph before schema version
    4 differ: the first reload after the upgrade updates each row once.
    """
    if ordered:
        text = repr([v.toordinal() if type(v) is date else v for v in values.values()])
    else:
        text = repr(sorted((k, v.toordinal() if type(v) is date else v) for k, v in values.items()))
    return xxh3_64_hexdigest(text.encode())


def to_params(spec: FileSpec, row: ValidRow) -> dict[str, Any]:
    """One row for the statements: key, ends, stored properties, fingerprint, provenance.

    ``props`` keeps empty values as None: ``SET x += row.props`` then removes a
    property that became empty and leaves properties the input does not own
    (dispute flags) alone; an FtM row sends its optional extras (``ftm_role``,
    ``ftm_parties``) as None when it has none, so an update removes stale ones. The
    fingerprint covers every value, the ends included.
    """
    props = dict(row.values)
    if spec.name == "ownership" or "share_unknown" in props:
        props["share_unknown"] = True if props.pop("share_unknown", None) else None
    if spec.key:
        props[spec.key] = row.key
    if props.get("listed_on_basis") == LOADED:  # the load's date: not the row's own value
        fp = fingerprint({**props, "listed_on": None})
    else:
        fp = fingerprint(props, ordered=len(props) == _width(spec.name))
    if "ftm_schema" in props:  # after the fingerprint: its digest stays as it was
        for k in _FTM_OPTIONAL:
            props.setdefault(k, None)
    ends = ENDS.get(spec.name)
    a = b = None
    if ends is not None:
        a = props.pop(ends[0])
        if ends[1] is not None:
            b = props.pop(ends[1])
    return {
        "key": row.key,
        "props": props,
        "fp": fp,
        "file": row.file,
        "line": row.row,
        "a": a,
        "b": b,
    }


@cache
def _width(spec_name: str) -> int:
    """How many values a layout row without extras has (its columns, share_unknown)."""
    spec = BY_NAME[spec_name]
    return len(spec.columns) + (spec_name == "ownership")


@dataclass(frozen=True)
class _Shape:
    """How the CREATE statement of one file reads a row sent as a list."""

    columns: tuple[str, ...]  # stored layout columns, at list positions 6, 7, ...
    dates: tuple[int, ...]  # which of them are dates (sent as ISO text, see properties())
    names: frozenset[str]  # the columns as a set

    def row(self, p: dict[str, Any]) -> list[Any]:
        props = p["props"]
        extras = None
        if len(props) != len(self.columns):  # only FtM rows have values beyond the layout
            extras = {k: v for k, v in props.items() if k not in self.names} or None
        values = [props.get(c) for c in self.columns]
        for i in self.dates:
            if values[i] is not None:
                values[i] = values[i].isoformat()
        return [p["key"], p["fp"], p["line"], p["a"], p["b"], extras, *values]

    def properties(self) -> str:
        """``name: row[6], ...`` (a null value sets no property), with the provenance."""
        # Dates travel as ISO text and become DATE values on the server: the driver's
        # conversion of Python dates costs several microseconds each (date(null) is null).
        cols = ", ".join(
            f"{c}: date(row[{i + 6}])" if i in self.dates else f"{c}: row[{i + 6}]"
            for i, c in enumerate(self.columns)
        )
        return cols + ", fp: row[1], " + _prov("row[2]")


@cache
def _shape(spec_name: str) -> _Shape:
    spec = BY_NAME[spec_name]
    columns = stored_columns(spec)
    types = {c.name: c.type for c in spec.columns}
    dates = tuple(i for i, c in enumerate(columns) if types.get(c) == "date")
    return _Shape(columns, dates, frozenset(columns))


# -- statements -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Statements:
    count: LiteralString  # how many records of this kind exist (count store)
    lookup: LiteralString  # [key, fp] of the existing ones among $rows (maps: key, a, b)
    create: LiteralString  # new rows, as lists
    create_extras: LiteralString  # the same, for rows with values beyond the layout (FtM)
    update: LiteralString  # changed rows, as maps


# Values that are not layout columns (FtM extras such as `aliases`), when a row has any.
_EXTRAS = " FOREACH (_ IN CASE WHEN row[5] IS NULL THEN [] ELSE [1] END | SET x += row[5]) "


def _create(spec_name: str, pattern: str) -> tuple[LiteralString, LiteralString]:
    """``pattern`` with its ``PROPS`` and ``LINK`` placeholders filled in, without and
    with the ``EXTRAS`` clause (a batch of CSV rows does not pay for it)."""
    text = pattern.replace("PROPS", "{" + _shape(spec_name).properties() + "}").replace(
        "LINK", _LINK_PROV
    )
    return (
        _lit("UNWIND $rows AS row " + text.replace("EXTRAS", "")),
        _lit("UNWIND $rows AS row " + text.replace("EXTRAS", _EXTRAS)),
    )


def _changed(var: str) -> str:
    return f"SET {var} += row.props, {var} += {{fp: row.fp, {_REL_PROV}}}"


@cache
def statements(spec_name: str, role: str | None = None) -> _Statements:
    """The statements of one input file (for roles: of one role type)."""
    if spec_name in ("persons", "firms"):
        lab = "Person" if spec_name == "persons" else "Firm"
        return _Statements(
            _lit(f"MATCH (x:{lab}) RETURN count(x) AS n"),
            "UNWIND $rows AS row MATCH (x:Subject {id: row.key}) RETURN collect([row.key, x.fp]) AS found",
            *_create(spec_name, f"CREATE (x:Subject:{lab} PROPS) EXTRAS"),
            _lit(
                "UNWIND $rows AS row MERGE (x:Subject {id: row.key}) "
                f"SET x:{lab} " + _changed("x")
            ),
        )
    if spec_name == "roles":
        assert role is not None
        t = rel_type(ROLE_TYPES[role])
        return _Statements(
            _lit(f"MATCH ()-[x:{t}]->() RETURN count(x) AS n"),
            _lit(
                f"UNWIND $rows AS row MATCH (:Person {{id: row.a}})-[x:{t}]->"
                "(:Firm {id: row.b}) RETURN collect([row.key, x.fp]) AS found"
            ),
            *_create(
                spec_name,
                "MATCH (p:Person {id: row[3]}) MATCH (f:Firm {id: row[4]}) "
                f"CREATE (p)-[x:{t} PROPS]->(f) EXTRAS",
            ),
            _lit(
                "UNWIND $rows AS row MATCH (p:Person {id: row.a}) MATCH (f:Firm {id: row.b}) "
                f"MERGE (p)-[x:{t}]->(f) " + _changed("x")
            ),
        )
    if spec_name == "ownership":
        return _Statements(
            "MATCH ()-[x:OWNS]->() RETURN count(x) AS n",
            "UNWIND $rows AS row MATCH (:Subject {id: row.a})-[x:OWNS]->(:Firm {id: row.b}) "
            "RETURN collect([row.key, x.fp]) AS found",
            *_create(
                spec_name,
                "MATCH (o:Subject {id: row[3]}) MATCH (f:Firm {id: row[4]}) "
                "CREATE (o)-[x:OWNS PROPS]->(f) EXTRAS",
            ),
            _lit(
                "UNWIND $rows AS row MATCH (o:Subject {id: row.a}) MATCH (f:Firm {id: row.b}) "
                "MERGE (o)-[x:OWNS]->(f) " + _changed("x")
            ),
        )
    if spec_name == "loans":
        return _Statements(
            "MATCH (x:Loan) RETURN count(x) AS n",
            "UNWIND $rows AS row MATCH (x:Loan {id: row.key}) RETURN collect([row.key, x.fp]) AS found",
            *_create(
                spec_name,
                "MATCH (lender:Subject {id: row[3]}) MATCH (borrower:Subject {id: row[4]}) "
                "CREATE (x:Loan PROPS) "
                "CREATE (lender)-[:LENT LINK]->(x) CREATE (borrower)-[:BORROWED LINK]->(x) EXTRAS",
            ),
            _lit(
                "UNWIND $rows AS row "
                "MATCH (lender:Subject {id: row.a}) MATCH (borrower:Subject {id: row.b}) "
                "MERGE (x:Loan {id: row.key}) " + _changed("x") + " "
                "MERGE (lender)-[r1:LENT]->(x) ON CREATE SET r1 = {" + _REL_PROV + "} "
                "MERGE (borrower)-[r2:BORROWED]->(x) ON CREATE SET r2 = {" + _REL_PROV + "} "
                "WITH x, lender, borrower "
                "CALL (x, lender, borrower) { "
                "  OPTIONAL MATCH (s)-[r:LENT|BORROWED]->(x) "
                "  WHERE (type(r) = 'LENT' AND s <> lender) "
                "     OR (type(r) = 'BORROWED' AND s <> borrower) "
                "  DELETE r }"
            ),
        )
    if spec_name == "guarantees":
        return _Statements(
            "MATCH ()-[x:GUARANTEES]->() RETURN count(x) AS n",
            "UNWIND $rows AS row MATCH ()-[x:GUARANTEES {id: row.key}]->() "
            "RETURN collect([row.key, x.fp]) AS found",
            *_create(
                spec_name,
                "MATCH (g:Subject {id: row[3]}) MATCH (l:Loan {id: row[4]}) "
                "CREATE (g)-[x:GUARANTEES PROPS]->(l) EXTRAS",
            ),
            _lit(
                "UNWIND $rows AS row "
                "MATCH (g:Subject {id: row.a}) MATCH (l:Loan {id: row.b}) "
                "CALL (row, g, l) { "
                "  OPTIONAL MATCH (a)-[moved:GUARANTEES {id: row.key}]->(b) "
                "  WHERE a <> g OR b <> l DELETE moved } "
                "MERGE (g)-[x:GUARANTEES {id: row.key}]->(l) " + _changed("x")
            ),
        )
    if spec_name == "blacklist":
        return _Statements(
            "MATCH (x:BlacklistEntry) RETURN count(x) AS n",
            "UNWIND $rows AS row MATCH (x:BlacklistEntry {id: row.key}) "
            "RETURN collect([row.key, x.fp]) AS found",
            *_create(
                spec_name,
                "MATCH (s:Subject {id: row[3]}) "
                "CREATE (x:BlacklistEntry PROPS) CREATE (s)-[:LISTED LINK]->(x) EXTRAS",
            ),
            _lit(
                "UNWIND $rows AS row MATCH (s:Subject {id: row.a}) "
                "MERGE (x:BlacklistEntry {id: row.key}) "
                # A row dated by its load keeps the stored date and basis (module notes).
                "WITH row, s, x, CASE WHEN row.props.listed_on_basis = 'loaded' "
                "THEN [x.listed_on, x.listed_on_basis] END AS kept "
                + _changed("x")
                + ", x.listed_on_basis = row.props.listed_on_basis "
                "SET x.listed_on = coalesce(kept[0], x.listed_on), "
                "x.listed_on_basis = CASE WHEN kept[0] IS NULL THEN x.listed_on_basis "
                "ELSE kept[1] END "
                "MERGE (s)-[r1:LISTED]->(x) ON CREATE SET r1 = {" + _REL_PROV + "} "
                "WITH x, s CALL (x, s) { OPTIONAL MATCH (o)-[r:LISTED]->(x) WHERE o <> s DELETE r }"
            ),
        )
    raise KeyError(spec_name)  # pragma: no cover - the layout has no other file


def _groups(spec: FileSpec, rows: list[dict[str, Any]]) -> list[tuple[str | None, list[Any]]]:
    if spec.name != "roles":
        return [(None, rows)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["props"]["role"], []).append(r)
    return sorted(groups.items())


def is_fresh(gw: Gateway, spec: FileSpec) -> bool:
    """True when no record of this file's kind exists yet (see the module notes)."""
    roles = list(ROLE_TYPES) if spec.name == "roles" else [None]
    return all(gw.read(statements(spec.name, r).count)[0]["n"] == 0 for r in roles)


def write_rows(
    gw: Gateway,
    spec: FileSpec,
    rows: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    fresh: bool = False,
) -> dict[str, int]:
    """Write one batch of :func:`to_params` rows of one file; created / updated / unchanged.

    ``params``: :func:`load_params` of the load.
    ``fresh``: the file's kind of record did not exist when its first batch was
    written (:func:`is_fresh`); the lookup then probes one key instead of all.
    """
    if not rows:
        return {"created": 0, "updated": 0, "unchanged": 0}
    shape = _shape(spec.name)
    params = {"load": params["load"], "file": file_number(params["files"], rows[0]["file"])}
    groups = [(statements(spec.name, role), group) for role, group in _groups(spec, rows)]

    def work(tx: Any) -> tuple[int, int]:
        # Lookup and writes in one transaction, for every group of the batch (a roles
        # batch holds several role types: one transaction still, not one per type). If
        # the driver retries it after a commit whose answer was lost (a server
        # restart), the lookup sees the rows and nothing is created twice.
        def found(st: _Statements, rows: list[dict[str, Any]]) -> list[list[str]]:
            # The lookup needs only the keys and ends: not the whole rows again.
            probe = [{"key": r["key"], "a": r["a"], "b": r["b"]} for r in rows]
            return list(tx.run(st.lookup, rows=probe).single(strict=True)["found"])

        # A fresh file's batch is in whole or not at all (one transaction): its first
        # row tells which, for every group.
        look = not fresh or bool(found(groups[0][0], groups[0][1][:1]))
        n_new = n_changed = 0
        for st, group in groups:
            existing: dict[str, str] = {}
            if look:
                existing = dict(found(st, group))  # one record: cheaper than one per row
            new = [shape.row(r) for r in group if r["key"] not in existing]
            changed = [r for r in group if r["key"] in existing and existing[r["key"]] != r["fp"]]
            if new:
                plain = all(r[5] is None for r in new)
                tx.run(st.create if plain else st.create_extras, rows=new, **params).consume()
            if changed:
                tx.run(st.update, rows=[_update_row(r) for r in changed], **params).consume()
            n_new += len(new)
            n_changed += len(changed)
        return n_new, n_changed

    try:
        n_new, n_changed = gw.write_tx(work)
    except CredgraphError as exc:
        exc.message = f"writing {_rows_of(rows)}: {exc.message}"
        exc.args = (exc.message,)
        raise
    except Exception as exc:  # the driver could not send a value, or a bug
        raise DatabaseError(
            f"writing {_rows_of(rows)} failed: {type(exc).__name__}: {exc}",
            hint="these rows were not written; rows written before them stay",
        ) from exc
    return {"created": n_new, "updated": n_changed, "unchanged": len(rows) - n_new - n_changed}


def _update_row(row: dict[str, Any]) -> dict[str, Any]:
    """A changed row as the update statement takes it: a row not from FtM also clears
    the FtM extras an earlier FtM load stored (``SET x += row.props`` removes a
    property set to null)."""
    if "ftm_schema" in row["props"]:
        return row
    return {**row, "props": {**dict.fromkeys(FTM_EXTRAS), **row["props"]}}


def _rows_of(rows: list[dict[str, Any]]) -> str:
    """``persons.csv rows 2-5001``: the file and the first and last row of a batch."""
    lines = [r["line"] for r in rows]
    first, last = min(lines), max(lines)
    return (
        f"{rows[0]['file']} row {first}"
        if first == last
        else (f"{rows[0]['file']} rows {first}-{last}")
    )
