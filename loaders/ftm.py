"""FollowTheMoney entity files (one JSON entity per line) as rows of the input layout.

:func:`read_ftm` maps entities with the ``followthemoney`` model (schema inheritance,
property lookup) and yields ``(spec, RawRow)`` pairs **grouped by spec in load order**
(``layout.FILES``), whatever the order of the lines, so a caller can hand each group to
:meth:`loaders.validate.Validator.validate_file`. Rows are spilled to temporary files
(JSON Lines, loaders/spill.py) while the input is read once, so memory stays bounded (one set of sanctioned entity ids).

Mapping (values are raw strings, typed later by the validator):

* Person -> persons: ``name`` = the entity's caption, else its first name; ``birth_date``
  = the first full ``YYYY-MM-DD`` birthDate (partial dates such as ``1971`` give None);
  ``country`` = nationality, citizenship, then country; ``national_id`` = idNumber, then
  taxNumber (personal data, kept).
* Company, Organization, PublicBody, LegalEntity -> firms: ``registration_no`` =
  registrationNumber; ``country`` = country, jurisdiction, mainCountry; ``founded_on`` =
  incorporationDate (full dates only); ``industry`` = sector; ``registered_capital`` =
  capital when it is a plain number; ``status`` = ``bankrupt`` / ``dissolved`` / ``active``
  when the status text (or a dissolutionDate) says so, else None.
* Ownership -> ownership: owner -> ``owner_id``, asset -> ``firm_id``; ``share`` =
  percentage / 100 when the percentage is a number (``50``, ``50.5 %``, ``50,5``); otherwise
  ``share`` is None and ``share_unknown="true"`` (the edge is kept, its share unknown).
* Directorship -> roles: director -> ``person_id``, organization -> ``firm_id``; ``role``
  from FtM's free-text ``role`` by :func:`role_of` (``director`` when it says nothing
  the layout knows), the text itself kept as ``ftm_role``. A director that is a company
  is rejected (the layout's roles are held by persons).
* Debt -> loans: id = entity id, creditor -> ``lender_id``, debtor -> ``borrower_id``,
  ``amount``, ``currency``, ``issued_on`` = date, startDate, else the entity's first_seen;
  ``maturity_on`` = endDate. ``status`` is always ``performing``: FtM's Debt schema has no
  status property.
* Sanction -> blacklist: id = entity id, entity -> ``subject_id``, ``list`` ``sanctions``,
  ``authority`` (else the datasets), ``reason`` (else program), ``listed_on`` = startDate,
  listingDate, date, else the first day of a partial one of these (below), else
  first_seen/createdAt; ``expires_on`` = endDate; ``source_url``.
* A Person/firm entity whose ``topics`` include exactly ``sanction`` (not
  ``sanction.linked`` etc.) and that no Sanction entity in the file points at -> blacklist
  row ``ftm-sanction:<entity id>``, list ``sanctions``, ``listed_on`` from first_seen, else
  createdAt, ``authority`` from the datasets.
* An entity whose references hold several values (a Sanction naming three entities, an
  Ownership with two owners, a Debt with joint debtors: FtM properties are lists) gives one
  row per combination of them, each in file order, so no party is dropped: each named
  entity is listed, each owner owns, each joint debtor owes the whole amount. Such rows
  carry ``ftm_parties`` (how many rows the entity gave); a Debt's or a Sanction's row id
  is then ``<entity id>#<party>`` (``#<creditor>#<debtor>`` for a Debt), and an
  Ownership's share is unknown (the entity does not say who holds what). An entity that
  would give more than ``MAX_ENTITY_ROWS`` (10,000) rows so is a reject (``too many
  parties``), as a line that is not an entity.
* Dates are taken from the first candidate property that holds a full calendar date;
  partial dates (``1971``) and impossible ones (``2020-02-30``) are passed over. A
  Sanction whose startDate, listingDate and date hold no full date but a year or a year
  and month (``2019``, ``2019-05``) counts from the first day of that period
  (``2019-01-01``, ``2019-05-01``) and its row carries ``listed_on_basis="partial"``:
  the source's own date, however coarse, comes before first_seen (when a publisher
  first saw the entry) and the load's day.
* A sanction with no date at all (FtM allows it) is not dropped: it counts from the day it
  is loaded. ``listed_on`` is the load's date (``loaded_on``, UTC) and the row carries
  ``listed_on_basis="loaded"`` (docs/data-model.md). The writer leaves that date out of the
  row's fingerprint and keeps the date of the first load when the entry is loaded again.

Every row also carries FtM extras in ``values``: ``ftm_schema``, ``source_entity`` (the
entity id: provenance), ``topics`` (a list); subject rows add ``aliases`` (a list of all
names, in every script, in file order, without repeats). ``RawRow.row`` is the line number.

Other schemas (Address, Vessel, ...) are skipped and counted in ``skipped``. Lines that are
not entities (bad JSON or UTF-8, JSON nested deeper than Python parses, no id, an unknown
schema, a field of the wrong JSON type: ``id``, ``schema``, ``caption``, ``first_seen`` not
strings, ``properties`` not an object of lists of strings, ``datasets`` not a list of
strings) are listed in ``problems`` as :class:`~loaders.validate.Reject` records naming the
line; the reader never stops on a line. References to entities not in the file are left to
the validator, which rejects and reports those rows, as it does text that cannot be stored
(lone surrogates such as ``"\\ud800"``, control characters, over-long names).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Generator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from followthemoney import model
from followthemoney.proxy import EntityProxy

from credgraph.graph.errors import InputError
from credgraph.loaders.layout import (
    BLACKLIST,
    FILES,
    FIRMS,
    LOANS,
    OWNERSHIP,
    PERSONS,
    ROLES_FILE,
    FileSpec,
)
from credgraph.loaders.readers import RawRow, RawValue
from credgraph.loaders.spill import Spill
from credgraph.loaders.validate import Reject

SANCTION_TOPIC = "sanction"
SANCTIONS_LIST = "sanctions"
TOPIC_ID_PREFIX = "ftm-sanction:"
#: ``listed_on_basis`` of a sanction that had no date: it counts from its load's date.
LOADED = "loaded"
#: The most rows one entity gives (one per combination of its references' values, see
#: the module docstring): past it the line is a reject. A line of 25 KB naming 1,500
#: owners and 1,500 assets would otherwise give 2,250,000 ownership rows.
MAX_ENTITY_ROWS = 10_000
#: ``listed_on_basis`` of a sanction dated by a year or a year and month only: it counts
#: from the first day of that period.
PARTIAL = "partial"

_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_PARTIAL_DATE = re.compile(r"[0-9]{4}(?:-[0-9]{2})?", re.ASCII)
_PERCENT = re.compile(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*%?\s*", re.ASCII)
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_NAME_PROPS = ("name", "alias", "previousName", "weakAlias")

_BANKRUPT = ("bankrupt", "insolven", "receivership")
_DISSOLVED = ("dissol", "liquidat", "struck off", "closed", "inactive", "deregistered", "ceased")
_ACTIVE = ("active", "live", "operating", "registered", "in business", "normal")


class FtmReader(Iterator[tuple[FileSpec, RawRow]]):
    """Iterator over the rows of one FtM file; see the module docstring.

    After (or during) iteration: ``entities`` lines read as entities, ``skipped`` a counter
    of unmapped schemas, ``problems`` the lines that could not be read as entities.
    ``loaded_on`` is the date a sanction without any date counts from (default: today, UTC).
    """

    def __init__(self, path: Path, loaded_on: date | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"FtM file {self.path} does not exist")
        self.file = self.path.name
        self.loaded_on = (loaded_on or datetime.now(UTC).date()).isoformat()
        self.entities = 0
        self.skipped: Counter[str] = Counter()
        self.problems: list[Reject] = []
        self._it = self._generate()

    def __iter__(self) -> FtmReader:
        return self

    def __next__(self) -> tuple[FileSpec, RawRow]:
        return next(self._it)

    def close(self) -> None:
        self._it.close()

    # -- reading ------------------------------------------------------------------------

    def _generate(self) -> Generator[tuple[FileSpec, RawRow], None, None]:
        spills: dict[str, Spill] = {}
        sanctioned: set[str] = set()
        try:
            with open(self.path, "rb") as f:
                for lineno, line in enumerate(f, 1):
                    if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                        line = line[3:]  # a UTF-8 byte order mark, as CSV files may have
                    if not line.strip():
                        continue
                    proxy, data = self._entity(lineno, line)
                    if proxy is None:
                        continue
                    try:
                        mapped = list(self._map(proxy, data, lineno))
                    except TooManyParties as e:
                        self.problems.append(Reject(self.file, lineno, None, str(proxy.id), str(e)))
                        continue
                    except (TypeError, ValueError, AttributeError, KeyError) as e:
                        # _entity checks what _map reads; this is the net under it, so
                        # that one odd line is a reject, never the end of the load.
                        self.problems.append(
                            Reject(self.file, lineno, None, str(proxy.id), f"cannot map: {e!r}")
                        )
                        continue
                    self.entities += 1
                    if proxy.schema.is_a("Sanction"):
                        sanctioned.update(_values(proxy, "entity"))
                    for kind, row in mapped:
                        out = spills.get(kind)
                        if out is None:
                            out = spills[kind] = Spill()
                        out.write([row.row, row.values])
            for spec in FILES:
                yield from self._replay(spec, spills.get(spec.name))
                if spec is BLACKLIST:
                    for row in self._rows(spills.get("topic")):
                        if row.values["subject_id"] not in sanctioned:
                            yield spec, row
        finally:
            for fh in spills.values():
                fh.close()

    def _replay(self, spec: FileSpec, spill: Spill | None) -> Iterator[tuple[FileSpec, RawRow]]:
        for row in self._rows(spill):
            yield spec, row

    def _rows(self, spill: Spill | None) -> Iterator[RawRow]:
        if spill is None:
            return
        for lineno, values in spill:
            yield RawRow(self.file, lineno, values)

    def _entity(self, lineno: int, line: bytes) -> tuple[EntityProxy | None, dict[str, Any]]:
        def problem(
            reason: str, value: str | None = None, column: str | None = None
        ) -> tuple[None, dict[str, Any]]:
            # ``column``: the entity's field at fault (``datasets``, ``properties.name``)
            self.problems.append(Reject(self.file, lineno, column, value, reason))
            return None, {}

        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return problem("invalid UTF-8")
        try:
            data = json.loads(text)
        except RecursionError:
            return problem("invalid JSON: nested too deeply")
        except ValueError as e:
            return problem(f"invalid JSON: {e}")
        if not isinstance(data, dict):
            return problem("not a JSON object")
        eid = data.get("id")
        if not isinstance(eid, str) or not eid:
            return problem("entity without id", column="id")
        schema = data.get("schema")
        if not isinstance(schema, str) or model.get(schema) is None:
            return problem(f"unknown FtM schema {_short(schema)}", eid, "schema")
        for name in ("caption", "first_seen"):
            if data.get(name) is not None and not isinstance(data[name], str):
                return problem(f"invalid FtM entity: {name} is not a string", eid, name)
        datasets = data.get("datasets")
        if datasets is not None and not (
            isinstance(datasets, list) and all(isinstance(d, str) for d in datasets)
        ):
            return problem("invalid FtM entity: datasets is not a list of strings", eid, "datasets")
        props = data.get("properties") or {}
        if not isinstance(props, dict):
            return problem("invalid FtM entity: properties is not an object", eid, "properties")
        clean: dict[str, list[str]] = {}
        for prop, vals in props.items():
            if isinstance(vals, str):
                vals = [vals]  # tolerated; FtM would otherwise split it into characters
            if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
                return problem(
                    f"invalid FtM entity: {_named(prop)} is not a list of strings",
                    eid,
                    "properties." + _named(prop),
                )
            clean[prop] = vals
        data = {**data, "properties": clean}
        try:
            proxy = model.get_proxy(data)
        except Exception as e:  # followthemoney raises several types on malformed data
            return problem(f"invalid FtM entity: {e}", eid)
        return proxy, data

    # -- mapping ------------------------------------------------------------------------

    def _map(
        self, proxy: EntityProxy, data: dict[str, Any], lineno: int
    ) -> Iterator[tuple[str, RawRow]]:
        schema = proxy.schema
        eid = str(proxy.id)
        topics = _values(proxy, "topics")
        extras: dict[str, RawValue] = {
            "ftm_schema": schema.name,
            "source_entity": eid,
            "topics": topics,
        }
        seen = _date(data.get("first_seen"))
        created = _first_date(proxy, "createdAt")

        def row(values: dict[str, RawValue]) -> RawRow:
            return RawRow(self.file, lineno, {**values, **extras})

        if schema.is_a("Person") or schema.is_a("LegalEntity"):
            extras["aliases"] = _names(proxy)
            name = data.get("caption") if isinstance(data.get("caption"), str) else None
            name = name or _first(proxy, "name")
            if schema.is_a("Person"):
                yield (
                    PERSONS.name,
                    row(
                        {
                            "id": eid,
                            "name": name,
                            "birth_date": _first_date(proxy, "birthDate"),
                            "country": _first(proxy, "nationality", "citizenship", "country"),
                            "national_id": _first(proxy, "idNumber", "taxNumber"),
                        }
                    ),
                )
            else:
                capital = _first(proxy, "capital")
                yield (
                    FIRMS.name,
                    row(
                        {
                            "id": eid,
                            "name": name,
                            "registration_no": _first(proxy, "registrationNumber"),
                            "country": _first(proxy, "country", "jurisdiction", "mainCountry"),
                            "industry": _first(proxy, "sector"),
                            "founded_on": _first_date(proxy, "incorporationDate"),
                            "status": _firm_status(proxy),
                            "registered_capital": capital
                            if capital and _PLAIN_NUMBER.fullmatch(capital)
                            else None,
                        }
                    ),
                )
            if SANCTION_TOPIC in topics:
                datasets = data.get("datasets") or []
                yield (
                    "topic",
                    row(
                        self._dated(
                            {
                                "id": TOPIC_ID_PREFIX + eid,
                                "subject_id": eid,
                                "list": SANCTIONS_LIST,
                                "authority": ", ".join(datasets) or None,
                                "listed_on": seen or created,
                                "source_url": _first(proxy, "sourceUrl"),
                            }
                        )
                    ),
                )
        elif schema.is_a("Ownership"):
            parties = _parties(proxy, "owner", "asset")
            share = _share(_first(proxy, "percentage")) if len(parties) == 1 else None
            held: dict[str, RawValue] = {
                "share": share,
                "since": _first_date(proxy, "startDate"),
                "until": _first_date(proxy, "endDate", latest=True),
            }
            if share is None:
                held["share_unknown"] = "true"
            for owner, asset in parties:
                values = {"owner_id": owner, "firm_id": asset, **held}
                yield OWNERSHIP.name, row(_split(values, parties))
        elif schema.is_a("Directorship"):
            role_text = _first(proxy, "role")
            parties = _parties(proxy, "director", "organization")
            held = {
                "role": role_of(role_text),
                "since": _first_date(proxy, "startDate"),
                "until": _first_date(proxy, "endDate", latest=True),
            }
            if role_text:
                held["ftm_role"] = role_text
            for director, organization in parties:
                role = {"person_id": director, "firm_id": organization, **held}
                yield ROLES_FILE.name, row(_split(role, parties))
        elif schema.is_a("Debt"):
            parties = _parties(proxy, "creditor", "debtor")
            owed: dict[str, RawValue] = {
                "amount": _first(proxy, "amount"),
                "currency": _first(proxy, "currency"),
                "issued_on": _first_date(proxy, "date", "startDate") or seen,
                "maturity_on": _first_date(proxy, "endDate", latest=True),
                "status": "performing",
            }
            for creditor, debtor in parties:
                loan: dict[str, RawValue] = {
                    "id": _part_id(eid, parties, creditor, debtor),
                    "lender_id": creditor,
                    "borrower_id": debtor,
                    **owed,
                }
                yield LOANS.name, row(_split(loan, parties))
        elif schema.is_a("Sanction"):
            datasets = data.get("datasets") or []
            parties = _parties(proxy, "entity")
            dated = ("startDate", "listingDate", "date")
            listing: dict[str, RawValue] = {
                "list": SANCTIONS_LIST,
                "authority": _first(proxy, "authority") or ", ".join(datasets) or None,
                "reason": _first(proxy, "reason", "program"),
                "listed_on": _first_date(proxy, *dated),
                "expires_on": _first_date(proxy, "endDate", latest=True),
                "source_url": _first(proxy, "sourceUrl"),
            }
            if listing["listed_on"] is None:
                # the source's own date, if only a year or month, before a publisher's
                # first_seen (when it crawled the entry) and before the load's day
                listing["listed_on"] = _first_partial_date(proxy, *dated)
                if listing["listed_on"] is not None:
                    listing["listed_on_basis"] = PARTIAL
                else:
                    listing["listed_on"] = seen or created
            for (listed,) in parties:
                entry: dict[str, RawValue] = {
                    "id": _part_id(eid, parties, listed),
                    "subject_id": listed,
                    **listing,
                }
                yield BLACKLIST.name, row(self._dated(_split(entry, parties)))
        else:
            self.skipped[schema.name] += 1

    def _dated(self, values: dict[str, RawValue]) -> dict[str, RawValue]:
        """A sanction row without any date counts from the load's date, marked as such."""
        if values["listed_on"] is None:
            values["listed_on"] = self.loaded_on
            values["listed_on_basis"] = LOADED
        return values


def read_ftm(path: Path, loaded_on: date | None = None) -> FtmReader:
    """Read an FtM entity file: an iterator of ``(spec, RawRow)`` grouped in load order.

    The returned :class:`FtmReader` also reports ``skipped`` schemas and ``problems``.
    ``loaded_on``: the date undated sanctions count from (default: today, UTC).
    """
    return FtmReader(path, loaded_on)


def _named(name: str) -> str:
    """A property name for a reason: as it is when printable and short, else its repr."""
    return name if name.isprintable() and len(name) <= 100 else _short(name)


def _short(value: Any) -> str:
    """``repr`` of a value for a reason, cut to a hundred characters."""
    text = repr(value)
    return text if len(text) <= 100 else text[:100] + f"…[{len(text)} chars]"


def _values(proxy: EntityProxy, prop: str) -> list[str]:
    if prop not in proxy.schema.properties:
        return []
    return [v for v in proxy.get(prop, quiet=True) if isinstance(v, str) and v]


# Words of FtM's free-text Directorship role, in any case, and the layout role they
# mean; the first that matches wins, anything else is a director.
_ROLE_WORDS: tuple[tuple[str, str], ...] = (
    ("legal representative", "legal_representative"),
    ("legal_representative", "legal_representative"),
    ("supervisory", "supervisor"),
    ("supervisor", "supervisor"),
    ("chief executive", "executive"),
    ("executive officer", "executive"),
    ("ceo", "executive"),
    ("general manager", "executive"),
    ("executive", "executive"),
)


def role_of(text: str | None) -> str:
    """The layout role of an FtM Directorship's free-text ``role`` (``director`` if unknown).

    Matched on whole words: "Non-Executive Director" is a director (it says
    "non-executive"), "Chief Executive Officer" an executive, "Member of the
    Supervisory Board" a supervisor, "Legal Representative" a legal representative.
    """
    if not text:
        return "director"
    words = " " + re.sub(r"[^a-z_]+", " ", text.lower()) + " "
    for phrase, role in _ROLE_WORDS:
        if f" {phrase} " in words:
            if role == "executive" and " non executive " in words:
                continue  # a non-executive director is no executive
            return role
    return "director"


class TooManyParties(ValueError):
    """An entity whose references would give more than :data:`MAX_ENTITY_ROWS` rows."""


def _parties(proxy: EntityProxy, *props: str) -> list[tuple[str | None, ...]]:
    """Every combination of the values of the reference properties ``props``, each in
    file order without repeats; a property without a value stands as None (the validator
    then rejects the row for its missing reference). More than :data:`MAX_ENTITY_ROWS`
    combinations raise :class:`TooManyParties` (before any is made)."""
    lists: list[list[str | None]] = []
    for prop in props:
        values: list[str | None] = list(dict.fromkeys(_values(proxy, prop)))
        lists.append(values or [None])
    n = math.prod(len(values) for values in lists)
    if n > MAX_ENTITY_ROWS:
        counts = " x ".join(f"{len(v):,} {prop}" for prop, v in zip(props, lists, strict=True))
        raise TooManyParties(
            f"too many parties: {proxy.schema.name} {counts} gives {n:,} rows, "
            f"at most {MAX_ENTITY_ROWS:,} per entity"
        )
    return list(itertools.product(*lists))


def _part_id(eid: str, parties: list[tuple[str | None, ...]], *ends: str | None) -> str:
    """The entity's id, or ``<id>#<end>#...`` when the entity gives several rows."""
    return eid if len(parties) == 1 else "#".join([eid, *(e or "" for e in ends)])


def _split(values: dict[str, RawValue], parties: list[Any]) -> dict[str, RawValue]:
    """``values``, marked with ``ftm_parties`` when the entity gives several rows."""
    if len(parties) > 1:
        values["ftm_parties"] = str(len(parties))
    return values


def _first(proxy: EntityProxy, *props: str) -> str | None:
    for prop in props:
        for v in _values(proxy, prop):
            return v
    return None


def _date(value: Any) -> str | None:
    """``YYYY-MM-DD`` from a full date or timestamp; None for partial dates and for
    dates no calendar has (``2020-02-30``, ``0000-00-00``): the next candidate
    property is used instead, as for a partial date."""
    if not isinstance(value, str) or len(value) < 10 or not _FULL_DATE.fullmatch(value[:10]):
        return None
    if len(value) > 10 and value[10] not in "T ":
        return None
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return None
    return value[:10]


def _first_date(proxy: EntityProxy, *props: str, latest: bool = False) -> str | None:
    """The date of the first of ``props`` that holds one: the earliest of its dates, or
    the latest with ``latest`` (an end date). FtM's values are a set, not a sequence:
    a source that lists them in another order gives the same row (the first value in
    file order won, so a reordered source was an update)."""
    for prop in props:
        dates = [d for v in _values(proxy, prop) if (d := _date(v)) is not None]
        if dates:
            return max(dates) if latest else min(dates)
    return None


def _first_partial_date(proxy: EntityProxy, *props: str) -> str | None:
    """The first day of the first year (``2019``) or year and month (``2019-05``) among
    ``props``: ``2019-01-01``, ``2019-05-01``; None when there is none (or no such
    month, or year 0)."""
    for prop in props:
        days = []
        for v in _values(proxy, prop):
            if _PARTIAL_DATE.fullmatch(v):
                day = (v + "-01-01")[:10] if len(v) == 4 else v + "-01"
                try:
                    date.fromisoformat(day)
                except ValueError:
                    continue
                days.append(day)
        if days:
            return min(days)  # the earliest, as _first_date: whatever the order
    return None


def _names(proxy: EntityProxy) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for prop in _NAME_PROPS:
        for v in _values(proxy, prop):
            if v not in seen:
                seen.add(v)
                names.append(v)
    return names


def _share(percentage: str | None) -> str | None:
    """``percentage / 100`` as an exact decimal string, None when it is not a number."""
    if percentage is None:
        return None
    m = _PERCENT.fullmatch(percentage)
    if not m:
        return None
    try:
        pct = Decimal(m.group(1).replace(",", "."))
    except InvalidOperation:
        return None
    return format(pct / 100, "f")


def _firm_status(proxy: EntityProxy) -> str | None:
    texts = [t.lower() for t in _values(proxy, "status")]
    if any(w in t for t in texts for w in _BANKRUPT):
        return "bankrupt"
    if _values(proxy, "dissolutionDate") or any(w in t for t in texts for w in _DISSOLVED):
        return "dissolved"
    if any(w in t for t in texts for w in _ACTIVE):
        return "active"
    return None
