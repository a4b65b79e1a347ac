"""The library of named Cypher queries: ``queries/*.cypher``, each with a header.

A header is the file's leading block of ``//`` comment lines::

    // name: ultimate_owners
    // question: Who ultimately owns this firm? ...
    // param: firm string -- the firm's id
    // param: threshold float = 0.25 (0..1) -- the least effective share reported
    // param: by string = pagerank {pagerank, betweenness, kcore} -- the measure
    // param: as_of date = today -- a date; ``today`` (and ``null``) is sent as null
    // columns: owner, name, kind, share, chains, longest
    // note: free text, shown in the docs

A parameter line is ``NAME TYPE [= DEFAULT] [(MIN..MAX)] [{CHOICE, ...}] [-- text]``;
types are ``string``, ``int``, ``float``, ``bool`` and ``date``; a parameter
without a default is required. Values reach Cypher only as ``$parameters``:
:func:`check_params` turns text (``--param K=V``) or JSON values into the type,
checks ranges and choices and refuses unknown names. Depths of variable-length
patterns are never spliced into the text: a query uses a fixed upper bound and
``WHERE length(p) <= $depth``, the range in its header keeping ``$depth`` within
that bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from credgraph.graph.errors import ConfigError, NotFound, UsageError

HERE = Path(__file__).resolve().parent
TYPES = ("string", "int", "float", "bool", "date")

_PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>\w+)"
    r"(?:\s*=\s*(?P<default>[^\s(){}]+))?"
    r"(?:\s*\((?P<lo>-?[\d.]+)\.\.(?P<hi>-?[\d.]+)\))?"
    r"(?:\s*\{(?P<choices>[^}]*)\})?"
    r"(?:\s*--\s*(?P<help>.*))?$"
)


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def default_text(self) -> str:
        """The default as the header writes it (``null``, ``today``, ``0.25``)."""
        return "" if self.required else _show(self.default, self.type)

    def range_text(self) -> str:
        """``1..5`` or ``pagerank, betweenness, kcore`` (empty when free)."""
        if self.choices:
            return ", ".join(self.choices)
        if self.minimum is not None:
            return f"{_num(self.minimum)}..{_num(self.maximum)}"
        return ""

    def describe(self) -> str:
        """``threshold float = 0.25 (0..1)``: the header's own words."""
        text = f"{self.name} {self.type}"
        if not self.required:
            text += f" = {_show(self.default, self.type)}"
        if self.minimum is not None:
            text += f" ({_num(self.minimum)}..{_num(self.maximum)})"
        if self.choices:
            text += " {" + ", ".join(self.choices) + "}"
        return text

    def convert(self, value: Any) -> Any:
        """One value (text from a command line or a JSON value) as this type, checked."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "")):
            if self.required:
                raise UsageError(f"parameter {self.name} is required", field=self.name)
            return self.default  # null or empty: as if not given (was None: no rows)
        if self.type == "date" and isinstance(value, str) and value.strip() == "today":
            return None
        try:
            v = _coerce(self.type, value)
        except (TypeError, ValueError) as exc:
            raise UsageError(
                f"parameter {self.name} must be {_article(self.type)}, not {value!r}",
                field=self.name,
            ) from exc
        if self.minimum is not None and self.maximum is not None:
            if not (self.minimum <= v <= self.maximum):
                raise UsageError(
                    f"parameter {self.name} must be between {_num(self.minimum)} and "
                    f"{_num(self.maximum)}, not {value!r}",
                    field=self.name,
                )
        if self.choices and v not in self.choices:
            raise UsageError(
                f"parameter {self.name} must be one of {', '.join(self.choices)}, not {value!r}",
                field=self.name,
            )
        return v


@dataclass(frozen=True)
class NamedQuery:
    name: str
    question: str
    params: tuple[Param, ...]
    columns: tuple[str, ...]
    cypher: str
    notes: tuple[str, ...] = field(default=())
    path: Path | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def subject_params(self) -> tuple[str, ...]:
        """The parameters naming the subjects (or records) the query is about (both
        ends of ``shortest_path``): the audit log records each value as a subject
        looked up."""
        names = ("id", "firm", "lender", "entry", "from", "to")
        return tuple(n for n in names if self.param(n) is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "question": self.question,
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "required": p.required,
                    "default": _show(p.default, p.type) if not p.required else None,
                    "min": p.minimum,
                    "max": p.maximum,
                    "choices": list(p.choices) or None,
                    "help": p.help,
                }
                for p in self.params
            ],
            "columns": list(self.columns),
            "notes": list(self.notes),
        }


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _article(t: str) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "bool": "true or false",
        "date": "an ISO date (YYYY-MM-DD) or 'today'",
        "string": "text",
    }[t]


def _show(v: Any, t: str) -> str:
    if v is None:
        return "today" if t == "date" else "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _coerce(t: str, value: Any) -> Any:
    if t == "string":
        if not isinstance(value, str):
            raise TypeError(t)
        return value
    if t == "int":
        if isinstance(value, bool) or isinstance(value, float):
            raise TypeError(t)
        return int(value.strip()) if isinstance(value, str) else int(value)
    if t == "float":
        if isinstance(value, bool):
            raise TypeError(t)
        f = float(value.strip()) if isinstance(value, str) else float(value)
        if f != f or f in (float("inf"), float("-inf")):
            raise ValueError(t)
        return f
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(t)
    if t == "date":
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value).strip())
    raise ValueError(t)


def parse(text: str, path: Path | None = None) -> NamedQuery:
    """A named query from a file's text; a ConfigError naming the file and line on a bad header."""
    where = path.name if path else "query"
    header: list[tuple[int, str]] = []
    body_start = 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("//"):
            header.append((i + 1, line[2:].strip()))
            body_start = i + 1
        elif line.strip():
            break
    fields: dict[str, str] = {}
    params: list[Param] = []
    notes: list[str] = []
    for lineno, item in header:
        key, sep, value = item.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in ("name", "question", "param", "columns", "note"):
            raise ConfigError(f"{where}, line {lineno}: not a header line: {item!r}")
        if key == "param":
            params.append(_parse_param(value, f"{where}, line {lineno}"))
        elif key == "note":
            notes.append(value)
        else:
            fields[key] = value
    for needed in ("name", "question", "columns"):
        if needed not in fields:
            raise ConfigError(f"{where}: the header has no '{needed}:' line")
    name = fields["name"]
    if path is not None and path.stem != name:
        raise ConfigError(f"{where}: the header names it {name!r}; the file must be {name}.cypher")
    cypher = "\n".join(lines[body_start:]).strip()
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", cypher))
    declared = {p.name for p in params}
    if used != declared:
        raise ConfigError(
            f"{where}: parameters used {sorted(used)} and declared {sorted(declared)} differ"
        )
    return NamedQuery(
        name=name,
        question=fields["question"],
        params=tuple(params),
        columns=tuple(c.strip() for c in fields["columns"].split(",") if c.strip()),
        cypher=cypher,
        notes=tuple(notes),
        path=path,
    )


def _parse_param(text: str, where: str) -> Param:
    m = _PARAM.match(text)
    if not m or m["type"] not in TYPES:
        raise ConfigError(f"{where}: cannot read the parameter {text!r}")
    t = m["type"]
    lo = float(m["lo"]) if m["lo"] is not None else None
    hi = float(m["hi"]) if m["hi"] is not None else None
    choices = tuple(c.strip() for c in (m["choices"] or "").split(",") if c.strip())
    p = Param(
        name=m["name"],
        type=t,
        required=m["default"] is None,
        minimum=lo,
        maximum=hi,
        choices=choices,
        help=(m["help"] or "").strip(),
    )
    if m["default"] is not None:
        try:
            default = p.convert(m["default"]) if m["default"] not in ("null", "today") else None
        except UsageError as exc:
            raise ConfigError(f"{where}: bad default: {exc.message}") from exc
        p = Param(**{**p.__dict__, "default": default})
    return p


@cache
def library(folder: Path = HERE) -> dict[str, NamedQuery]:
    """Every named query of a folder, by name (read once)."""
    out: dict[str, NamedQuery] = {}
    for f in sorted(folder.glob("*.cypher")):
        q = parse(f.read_text(encoding="utf-8"), f)
        out[q.name] = q
    return out


def get(name: str) -> NamedQuery:
    lib = library()
    if name not in lib:
        raise NotFound(
            f"no named query {name!r}",
            code="no_such_query",
            field="query",
            hint="the named queries: " + ", ".join(sorted(lib)),
        )
    return lib[name]


def check_params(q: NamedQuery, given: dict[str, Any]) -> dict[str, Any]:
    """The parameters to send: ``given`` (text or JSON values) checked and typed,
    defaults for the rest; unknown names and missing required ones are usage errors."""
    unknown = sorted(set(given) - {p.name for p in q.params})
    if unknown:
        known = ", ".join(p.name for p in q.params) or "none"
        raise UsageError(
            f"query {q.name} has no parameter {unknown[0]!r} (its parameters: {known})",
            field="param",
        )
    out: dict[str, Any] = {}
    for p in q.params:
        if p.name in given:
            out[p.name] = p.convert(given[p.name])
        elif p.required:
            raise UsageError(f"query {q.name} needs the parameter {p.name}", field="param")
        else:
            out[p.name] = p.default
    return out


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` from a command line as a dict (the last of a repeated key wins)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"a parameter is NAME=VALUE, not {item!r}", field="param")
        out[key.strip()] = value
    return out
