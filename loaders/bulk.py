"""`credgraph load --bulk`: a first load through Neo4j's offline importer.

Into an empty managed database (only ``CredgraphSchema``, ``Load`` and ``Lease`` nodes), a
bulk load writes exactly the graph the online loader (:func:`loaders.load.load`)
would write, faster once the input is large (a fixed ~30 s goes to the importer's
JVM and the server restart; past that the importer is several times faster than
online upserts):

1. refuse unless the settings point at the managed server and its database
   holds no data; ensure the schema and write the ``(:Load)`` record
   (``running``), as the online path does;
2. stream every row through the same :class:`loaders.validate.Validator`
   (``known=None``: the graph is empty) and :func:`loaders.writer.to_params`;
   rejects go to the rejects file exactly as online; valid rows go to typed
   importer CSV files (one header file and one data file per node label set or
   relationship type) under ``<home>/import-staging/<load id>/``, with the same
   properties, ``fp`` fingerprints and provenance. Memory stays flat (only the
   validator's id sets grow, as online);
3. run ``neo4j-admin database import full`` into a *staging* data folder while
   the server keeps running, so a failed import leaves the live database as it
   was;
4. re-check that the database is still empty, stop the server, swap the
   imported store and transaction logs in (the old ones are kept until the
   load has ended), start it, re-create the ``Load`` records the database held,
   ensure the schema (constraints and indexes are built on the imported data),
   apply the few values CSV cannot carry (see below) and finish the ``Load``
   record (``completed`` / ``completed_with_rejects``).

The swap is journaled (graph/managed/server.py): before the first rename the
server's ``swap-journal.json`` lists the renames, and it is updated after each
step. Until the load has recorded its end the swap is not *committed*: an error
or a stop signal in any step rolls it back here (the old store returns, the
server starts on it, the ``Load`` is recorded ``failed`` / ``interrupted``), and
a load killed outright (SIGKILL, a power cut) is rolled back by the next
``credgraph neo4j start``. Once committed, the old store is deleted (by the next
start, if the load dies before it gets there). Meanwhile no other writer takes
the lease on that store (graph/lease.py).

Signals: SIGTERM, SIGINT or SIGHUP stop a bulk load between batches while it
validates and stages, stop the importer (the live store is untouched), or, from
the swap on, roll the swap back at the next step (loaders/interrupt.py).

Test hook: ``CREDGRAPH_TEST_BULK_STEP=<step>:<pause|crash>``, read only by this
module, stops the load at a step of the swap: ``journal`` (journal written,
server still up), ``stopped``, ``rename-1`` ... ``rename-4`` (after each rename),
``started`` (server up on the new store), ``restored`` (records, schema and
fixed values in), ``recorded`` (the ``Load`` record says completed) and
``committed`` (journal committed, old store not yet deleted). ``pause`` prints
``credgraph-test-hook: paused at <step>`` on standard error and waits for a
signal; ``crash`` kills the process with SIGKILL on the spot. For the kill tests
(tests/loaders/test_bulk_kill.py); never set in use.

The importer's CSV cannot express an empty list, a list holding an empty
string, an empty string, a naive datetime or a value whose type differs from
its column's; such values (FtM ``topics = []`` is the common case) are kept in
a side file and set with ``SET x += $props`` once the server is back, so the
graph is the online one in every case.
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, LiteralString, cast

from credgraph.graph.errors import CredgraphError, InputError, ServerError, UsageError
from credgraph.graph.gateway import Gateway, batched
from credgraph.graph.lease import Lease
from credgraph.graph.loads import mark_interrupted
from credgraph.graph.managed.server import ADMIN_TOOL, JVM_FLAGS, UMASK, ManagedServer
from credgraph.graph.model import CARRIED, ROLE_TYPES, label, not_bookkeeping, rel_type
from credgraph.graph.schema import ensure_schema
from credgraph.loaders.interrupt import Interrupted, StopSignals
from credgraph.loaders.load import (
    Format,
    LoadReport,
    _record,
    prepare,
    validated,
)
from credgraph.loaders.rejects import RejectWriter
from credgraph.loaders.spill import Spill
from credgraph.loaders.staging import STAGING, note_importer, remove_stale_staging
from credgraph.loaders.validate import Validator
from credgraph.loaders.writer import file_number, load_params, to_params

#: Between the elements of a list value; an element holding it goes the slow way.
ARRAY_DELIMITER = "\x1f"
_DEFAULT_READ_BUFFER = 4 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_LONG = (-(2**63), 2**63 - 1)
#: The test hook (module docstring); read here only.
TEST_HOOK = "CREDGRAPH_TEST_BULK_STEP"


def _step(name: str, stop: StopSignals, *, check: bool = True) -> None:
    """A step of the swap is done: the test hook's stop, then a pending stop signal
    (``check=False`` once the swap is committed: it is then finished, not undone)."""
    hook = os.environ.get(TEST_HOOK, "")
    if hook:
        at, _, how = hook.partition(":")
        if at == name:
            if how == "crash":
                os.kill(os.getpid(), signal.SIGKILL)
            print(f"credgraph-test-hook: paused at {name}", file=sys.stderr, flush=True)
            while not stop.requested:
                time.sleep(0.05)
    if check:
        stop.check(f"the store swap was rolled back at step {name}; the database is as it was")


# ------------------------------------------------------------------- what goes where


@dataclass(frozen=True)
class _Kind:
    """One importer input: a node label set or a relationship type."""

    name: str  # file stem in the staging folder
    node: bool
    labels: str = ""  # nodes: "Subject:Person"
    space: str = ""  # nodes: id space (also the label used to find them again)
    rtype: str = ""  # relationships
    start: str = ""  # relationships: id spaces of the two ends
    end: str = ""
    keyed: bool = False  # relationships with their own `id` (GUARANTEES)

    def fix_statement(self) -> LiteralString:
        """Cypher that sets the values CSV could not carry (names from the allow-list)."""
        if self.node:
            return cast(
                LiteralString,
                f"UNWIND $rows AS row MATCH (x:{label(self.space)} {{id: row.a}}) "
                "SET x += row.props",
            )
        key = " {id: row.k}" if self.keyed else ""
        return cast(
            LiteralString,
            f"UNWIND $rows AS row MATCH (a:{label(self.start)} {{id: row.a}})"
            f"-[x:{rel_type(self.rtype)}{key}]->(b:{label(self.end)} {{id: row.b}}) "
            "SET x += row.props",
        )


_PERSON = _Kind("persons", True, labels="Subject:Person", space="Subject")
_FIRM = _Kind("firms", True, labels="Subject:Firm", space="Subject")
_LOAN = _Kind("loans", True, labels="Loan", space="Loan")
_ENTRY = _Kind("blacklist", True, labels="BlacklistEntry", space="BlacklistEntry")
_ROLE = {
    role: _Kind(t, False, rtype=t, start="Subject", end="Subject") for role, t in ROLE_TYPES.items()
}
_OWNS = _Kind("OWNS", False, rtype="OWNS", start="Subject", end="Subject")
_LENT = _Kind("LENT", False, rtype="LENT", start="Subject", end="Loan")
_BORROWED = _Kind("BORROWED", False, rtype="BORROWED", start="Subject", end="Loan")
_GUARANTEES = _Kind(
    "GUARANTEES", False, rtype="GUARANTEES", start="Subject", end="Loan", keyed=True
)
_LISTED = _Kind("LISTED", False, rtype="LISTED", start="Subject", end="BlacklistEntry")
#: Every kind by name (the side file of values set after import names its kind).
_KINDS = {
    k.name: k
    for k in (_PERSON, _FIRM, _LOAN, _ENTRY, *_ROLE.values(), _OWNS, _LENT, _BORROWED)
    + (_GUARANTEES, _LISTED)
}


def _type_of(v: Any) -> str | None:
    """The importer column type that carries ``v`` exactly, or None (set after import)."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "long" if _LONG[0] <= v <= _LONG[1] else None
    if isinstance(v, float):
        return "double" if math.isfinite(v) else None
    if isinstance(v, str):
        return "string" if v else None
    if isinstance(v, datetime):
        return "datetime" if v.utcoffset() is not None else None
    if isinstance(v, date):
        return "date"
    if isinstance(v, list):
        if v and all(isinstance(e, str) and e and ARRAY_DELIMITER not in e for e in v):
            return "string[]"
        return None
    return None


class _Stats:
    """What the importer must be told about the strings written: newlines, longest value."""

    def __init__(self) -> None:
        self.multiline = False
        self.longest = 0

    def note(self, s: str) -> None:
        if "\n" in s or "\r" in s:
            self.multiline = True
        if len(s) > self.longest:
            self.longest = len(s)


#: Python type of the values each importer column type takes on the fast path.
_PYTYPE: dict[str, type] = {
    "string": str,
    "double": float,
    "long": int,
    "boolean": bool,
    "date": date,
    "datetime": datetime,
    "string[]": list,
}


class _Column:
    __slots__ = ("name", "type", "pytype", "last", "cell")

    def __init__(self, name: str) -> None:
        self.name = name
        self.type: str | None = None  # importer type, fixed by the first value
        self.pytype: type | None = None
        self.last: Any = None  # the last value and its cell: provenance repeats
        self.cell: str | None = None


class _Table:
    """The header and data file of one kind; columns are fixed by the first row.

    Every field is quoted and the importer runs with ``--ignore-empty-strings``, so
    ``""`` is a missing value; real empty strings go the slow way (see module doc).
    """

    def __init__(self, folder: Path, kind: _Kind, stats: _Stats) -> None:
        self.kind = kind
        self.stats = stats
        self.data = folder / f"{kind.name}.csv"
        self.header = folder / f"{kind.name}.header.csv"
        self.rows = 0
        self.columns: list[_Column] | None = None
        self.colset: frozenset[str] = frozenset()
        self._fh: IO[str] = open(self.data, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._out = csv.writer(self._fh, quoting=csv.QUOTE_ALL, lineterminator="\n")

    def _slow(self, col: _Column, v: Any) -> str | None:
        """The cell of ``v``, fixing the column type on first use; None: not expressible."""
        t = _type_of(v)
        if t is None or (col.type is not None and col.type != t):
            return None
        if col.type is None:
            col.type, col.pytype = t, _PYTYPE[t]
        if t == "string":
            self.stats.note(v)
            return cast(str, v)
        if t == "string[]":
            text = ARRAY_DELIMITER.join(v)
            self.stats.note(text)
            return text
        if t == "double":
            return repr(v)
        if t == "long":
            return str(v)
        if t == "boolean":
            return "true" if v else "false"
        return cast(str, v.isoformat())  # date, datetime

    def write(self, ids: list[str], props: dict[str, Any]) -> dict[str, Any]:
        """Write one row; returns the properties CSV cannot carry (set after import)."""
        columns = self.columns
        if columns is None:
            columns = self.columns = [_Column(k) for k in props if _NAME.fullmatch(k)]
            self.colset = frozenset(c.name for c in columns)
        left: dict[str, Any] = {}
        note = self.stats.note
        for i in ids:
            note(i)
        cells: list[Any] = list(ids)
        for col in columns:
            v = props.get(col.name)
            if v is None:
                cells.append(None)
            elif v is col.last:
                cells.append(col.cell)
            elif type(v) is str and col.pytype is str and v:
                if len(v) > 256 or "\n" in v or "\r" in v:
                    note(v)
                cells.append(v)
            elif type(v) is float and col.pytype is float and math.isfinite(v):
                cells.append(v)  # the csv module writes repr(v), in C
            elif type(v) is date and col.pytype is date:
                cells.append(v.isoformat())
            else:
                cell = self._slow(col, v)
                if cell is None:
                    left[col.name] = v
                else:
                    col.last, col.cell = v, cell
                cells.append(cell)
        if not self.colset.issuperset(props):
            for k, v in props.items():
                if k not in self.colset and v is not None:
                    left[k] = v
        self._out.writerow(cells)
        self.rows += 1
        return left

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.close()
        k = self.kind
        ids = [f"id:ID({k.space})"] if k.node else [f":START_ID({k.start})", f":END_ID({k.end})"]
        cols = [f"{c.name}:{c.type or 'string'}" for c in self.columns or []]
        self.header.write_text(",".join(ids + cols) + "\n", encoding="utf-8")

    def argument(self) -> str:
        k = self.kind
        files = f"{self.header.name},{self.data.name}"
        return f"--nodes={k.labels}={files}" if k.node else f"--relationships={k.rtype}={files}"


class _Stage:
    """Importer CSV files for one load, plus the side file of values set after import."""

    def __init__(self, folder: Path, params: dict[str, Any]) -> None:
        self.folder = folder
        self.load: int = params["load"]
        self.files: list[str] = params["files"]
        self._file_no: dict[str, int] = {}
        self.stats = _Stats()
        self.tables: dict[str, _Table] = {}
        self.fixups = 0
        self._fix: Spill | None = None

    def _table(self, kind: _Kind) -> _Table:
        t = self.tables.get(kind.name)
        if t is None:
            t = self.tables[kind.name] = _Table(self.folder, kind, self.stats)
        return t

    def _put(self, kind: _Kind, ids: list[str], props: dict[str, Any], k: str | None) -> None:
        left = self._table(kind).write(ids, props)
        if left:
            if self._fix is None:
                self._fix = Spill(self.folder / "fixups.jsonl")
            a, b = (ids[0], None) if kind.node else (ids[0], ids[1])
            self._fix.write({"kind": kind.name, "a": a, "b": b, "k": k, "props": left})
            self.fixups += 1

    def add(self, spec_name: str, p: dict[str, Any]) -> None:
        """One ``to_params`` row of an input file, as the online statements write it."""
        file_no = self._file_no.get(p["file"])
        if file_no is None:
            file_no = self._file_no[p["file"]] = file_number(self.files, p["file"])
        rel_prov = {"load": self.load, "file": file_no, "row": p["line"]}
        props = p["props"]
        full = {**props, "fp": p["fp"], **rel_prov}
        key = p["key"]
        if spec_name in ("persons", "firms", "loans", "blacklist"):
            kind = {"persons": _PERSON, "firms": _FIRM, "loans": _LOAN, "blacklist": _ENTRY}[
                spec_name
            ]
            node = {k: v for k, v in full.items() if k != "id"}  # the ID column is `id`
            self._put(kind, [key], node, None)
            if spec_name == "loans":
                self._put(_LENT, [p["a"], key], rel_prov, None)
                self._put(_BORROWED, [p["b"], key], rel_prov, None)
            elif spec_name == "blacklist":
                self._put(_LISTED, [p["a"], key], rel_prov, None)
        elif spec_name == "roles":
            self._put(_ROLE[props["role"]], [p["a"], p["b"]], full, None)
        elif spec_name == "ownership":
            self._put(_OWNS, [p["a"], p["b"]], full, None)
        elif spec_name == "guarantees":
            self._put(_GUARANTEES, [p["a"], p["b"]], full, key)
        else:  # pragma: no cover - the layout has no other file
            raise InputError(f"no bulk mapping for input file {spec_name}")

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def close(self) -> None:
        for t in self.tables.values():
            t.close()
        if self._fix is not None:
            self._fix.close()

    def arguments(self) -> list[str]:
        order = [t for t in self.tables.values() if t.kind.node] + [
            t for t in self.tables.values() if not t.kind.node
        ]
        return [t.argument() for t in order if t.rows]

    def read_fixups(self) -> Iterator[tuple[_Kind, dict[str, Any]]]:
        if self._fix is None:
            return
        for fix in self._fix:
            kind = _KINDS[fix.pop("kind")]
            yield kind, fix


# ------------------------------------------------------------------------ the database


def _data_left(gw: Gateway) -> str | None:
    """What keeps the database from being empty (None: only bookkeeping nodes, see
    graph.model.BOOKKEEPING: Load records, audit events and API keys are carried over,
    the lease taken again)."""
    rows = gw.read(
        "MATCH (n) WHERE "
        + not_bookkeeping("n")
        + " RETURN labels(n) AS labels, n.id AS id LIMIT 1"
    )
    if rows:
        r = rows[0]
        return f"a :{':'.join(sorted(r['labels']))} node" + (
            f" (id {r['id']})" if r["id"] is not None else ""
        )
    if gw.read("MATCH ()-[r]->() RETURN type(r) AS t LIMIT 1"):
        return "relationships"
    return None


def _refuse_if_not_empty(gw: Gateway) -> None:
    what = _data_left(gw)
    if what is not None:
        raise UsageError(
            f"--bulk loads only into an empty database, and this one holds {what}",
            hint="use `credgraph load` without --bulk (online upserts), "
            "or empty the database first",
        )


def _carried_records(gw: Gateway) -> dict[str, list[dict[str, Any]]]:
    """The records a swap carries over (graph.model.CARRIED: Load records, audit
    events, API keys), label -> their properties."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in CARRIED:
        rows = gw.read_values(
            cast(LiteralString, f"MATCH (n:{label(name)}) RETURN properties(n) AS p")
        )
        if rows:
            out[name] = [r[0] for r in rows]
    return out


def _restore_records(gw: Gateway, carried: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in carried.items():
        for chunk in batched(rows, 5000):
            gw.write(
                cast(LiteralString, f"UNWIND $rows AS p CREATE (n:{label(name)}) SET n = p"),
                rows=chunk,
            )


def _store_dirs(data: Path, database: str) -> list[Path]:
    return [data / "databases" / database, data / "transactions" / database]


def _importer_message(stdout: str, stderr: str, report: Path) -> str:
    """The useful part of a failed import: the summary and the causes, no stack frames."""
    lines: list[str] = []
    out = stdout.splitlines()
    for i, ln in enumerate(out):
        if "IMPORT FAILED" in ln:
            lines.extend(x for x in out[i:] if x.strip() and not x.startswith("WARNING"))
            break
    for ln in stderr.splitlines():
        s = ln.strip()
        if s and not s.startswith("at ") and not s.startswith("..."):
            lines.append(s)
    if report.is_file():
        bad = report.read_text(errors="replace").strip().splitlines()[:5]
        lines.extend(f"bad entry: {b}" for b in bad)
    return "\n".join(dict.fromkeys(lines).keys())[-3000:] or "no output"


def _run_importer(
    server: ManagedServer, folder: Path, stage: _Stage, database: str, stop: StopSignals
) -> dict[str, Any]:
    data = folder / "data"
    data.mkdir(mode=0o700)
    conf = folder / "import.conf"
    conf.write_text(f"server.directories.data={data}\n", encoding="utf-8")
    report_file = folder / "import.report"
    buffer = max(_DEFAULT_READ_BUFFER, stage.stats.longest * 4 + 65536)
    cmd = [
        "java",
        *JVM_FLAGS,
        "-cp",
        server.classpath(),
        ADMIN_TOOL,
        "database",
        "import",
        "full",
        database,
        "--overwrite-destination=true",
        "--id-type=string",
        f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}",
        f"--multiline-fields={'true' if stage.stats.multiline else 'false'}",
        "--bad-tolerance=0",
        "--skip-bad-relationships=false",
        "--skip-duplicate-nodes=false",
        "--trim-strings=false",
        "--ignore-empty-strings=true",
        "--legacy-style-quoting=false",
        f"--read-buffer-size={buffer}",
        f"--additional-config={conf}",
        f"--report-file={report_file}",
        *stage.arguments(),
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=folder,  # file arguments are bare names: no path is read as a pattern
        env=server.java_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        umask=UMASK,
        start_new_session=True,  # a Ctrl-C reaches us only: we stop the importer
    )
    note_importer(folder, proc.pid)
    stdout = stderr = ""
    while True:
        try:
            out, errs = proc.communicate(timeout=0.5)
            stdout, stderr = stdout + out, stderr + errs
            break
        except subprocess.TimeoutExpired:
            if stop.requested:
                proc.terminate()
                try:
                    proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                stop.check("the importer was stopped; the database is as it was")
    seconds = time.monotonic() - t0
    if proc.returncode != 0 or "IMPORT DONE" not in stdout:
        message = _importer_message(stdout, stderr, report_file)
        error = InputError if "input data" in message.lower() else ServerError
        raise error(
            f"the Neo4j importer failed (exit code {proc.returncode}); "
            f"the database was left as it was:\n{message}",
            hint="load without --bulk to upsert online",
        )
    summary: dict[str, Any] = {"seconds": seconds}
    for what in ("nodes", "relationships", "properties"):
        m = re.search(rf"^\s*(\d+) {what}\s*$", stdout, re.M)
        summary[what] = int(m.group(1)) if m else -1
    done = re.search(r"IMPORT DONE in ([^\n]*?)\.?\s*$", stdout, re.M)
    summary["importer_time"] = done.group(1) if done else ""
    return summary


def _swap_in(
    server: ManagedServer, folder: Path, database: str, load_id: str, stop: StopSignals
) -> dict[str, Any]:
    """Stop the server, put the imported store in place of the live one, start it.

    Journaled (module docstring); returns the journal, not yet committed. On any
    error or stop signal the swap is rolled back and the server started on the old
    store before the exception goes on.
    """
    live = _store_dirs(server.data_dir, database)
    new = _store_dirs(folder / "data", database)
    old = _store_dirs(folder / "old", database)
    if not new[0].is_dir():
        raise ServerError(f"the importer left no database in {new[0]}")
    moves: list[tuple[Path, Path]] = []
    for lv, nw, od in zip(live, new, old, strict=True):
        if lv.exists():
            moves.append((lv, od))
        if nw.exists():
            moves.append((nw, lv))
    journal = server.begin_swap(load_id, folder, moves)
    try:
        _step("journal", stop)
        server.stop()
        _step("stopped", stop)
        for i, (src, dst) in enumerate(moves, 1):
            dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(src, dst)
            server.note_swap(journal, done=i)
            _step(f"rename-{i}", stop)
        server.start()
        server.note_swap(journal, phase="started")
        _step("started", stop)
    except BaseException as exc:
        _roll_back(server, journal)
        if isinstance(exc, ServerError):
            raise ServerError(
                f"Neo4j did not start on the imported store; the old store is back: {exc.message}"
            ) from exc
        raise
    return journal


def _roll_back(server: ManagedServer, journal: dict[str, Any]) -> None:
    """Undo a swap (server stopped, renames undone) and start the server on the old store."""
    server.rollback_swap(journal)
    try:
        server.start()
    except ServerError:
        pass  # the store is whole; the caller's error says what went wrong


def _apply_fixups(gw: Gateway, stage: _Stage, size: int) -> None:
    groups: dict[_Kind, list[dict[str, Any]]] = {}

    def flush(kind: _Kind) -> None:
        rows = groups.pop(kind, [])
        if rows:
            gw.write(kind.fix_statement(), rows=rows)

    for kind, row in stage.read_fixups():
        groups.setdefault(kind, []).append(row)
        if len(groups[kind]) >= size:
            flush(kind)
    for kind in list(groups):
        flush(kind)


# --------------------------------------------------------------------------- the load


def bulk_load(
    server: ManagedServer,
    path: Path,
    *,
    source: str | None = None,
    fmt: Format | None = None,
    rejects_path: Path | None = None,
    batch_size: int | None = None,
    on_rows: Callable[[str, int], None] | None = None,
) -> LoadReport:
    """A first load into an empty managed database with Neo4j's offline importer.

    The graph, the rejects file and the ``Load`` record are those
    :func:`loaders.load.load` would give on the same input. The server is
    stopped for the swap of the store and started again (it is started first if
    it was down). Raises :class:`UsageError` if the settings name another server
    or the database holds data, :class:`InputError` / :class:`ServerError` if
    the importer fails (the database is then left as it was).
    """
    settings = server.settings
    if not settings.managed:
        raise UsageError(
            "--bulk needs the managed local server, but NEO4J_URI is set",
            hint="unset NEO4J_URI, or load without --bulk",
        )
    path, fmt, report, rejects_path, checksums = prepare(
        path, source=source, fmt=fmt, strict=False, rejects_path=rejects_path
    )
    size = batch_size or settings.batch_size

    server.start()
    with StopSignals(f"bulk load {report.load_id}") as stop:
        _bulk(server, path, fmt, report, rejects_path, checksums, size, on_rows, stop)
    if not report.rejects_path:
        rejects_path.unlink(missing_ok=True)  # only a header: nothing was rejected
    return report


def _bulk(
    server: ManagedServer,
    path: Path,
    fmt: Format | None,
    report: LoadReport,
    rejects_path: Path,
    checksums: dict[str, tuple[str, str]],
    size: int,
    on_rows: Callable[[str, int], None] | None,
    stop: StopSignals,
) -> None:
    """The bulk load proper, once the server runs (module docstring, steps 1-4)."""
    settings = server.settings
    database = settings.neo4j_database
    folder = server.home / STAGING / report.load_id
    first = Gateway(settings)
    gw: Gateway | None = first
    lease = Lease(first, report.load_id, "load")
    try:
        _refuse_if_not_empty(first)
        ensure_schema(first)
        stop.check()
        lease.acquire()
        stale = mark_interrupted(first, report.load_id)
        if stale:
            report.notes.append(
                "marked interrupted (found running, without the writer lease): " + ", ".join(stale)
            )
        _record(first, report)
        remove_stale_staging(server, folder)
        outcome = "failed"
        swap_begun = False
        try:
            folder.mkdir(mode=0o700, parents=True)
            assert report.load_num is not None  # set by _record
            stage = _Stage(folder, load_params(report.load_num, report.file_names))
            validator = Validator(None, batch_size=size)
            t_stage = time.monotonic()
            try:
                with RejectWriter(rejects_path) as rw:
                    try:
                        for spec, fr, rows in validated(
                            path, fmt, validator, report, checksums, rw, on_rows
                        ):
                            stop.check("while validating: nothing was written")
                            for r in rows:
                                stage.add(spec.name, to_params(spec, r))
                            fr.created += len(rows)
                    finally:
                        if rw.count:
                            report.rejects_path = str(rejects_path)
            finally:
                stage.close()
            t_stage = time.monotonic() - t_stage

            if stage.rows:
                summary = _run_importer(server, folder, stage, database, stop)
                stop.check("before the store swap: the database is as it was")
                # Nothing may have been written meanwhile: the swap would lose it.
                lease.check()
                _refuse_if_not_empty(first)
                carried = _carried_records(first)
                first.close()
                gw = None
                t0 = time.monotonic()
                swap_begun = True
                journal = _swap_in(server, folder, database, report.load_id, stop)
                try:
                    gw = Gateway(settings)
                    _restore_records(gw, carried)
                    # The imported store has no lease node: ours again, at once (another
                    # writer would first spend seconds building the schema on 1M nodes).
                    lease.gw = gw
                    lease.acquire()
                    ensure_schema(gw)
                    _apply_fixups(gw, stage, size)
                    _step("restored", stop)
                    report.notes.append(
                        f"bulk import: {summary['nodes']} nodes, {summary['relationships']} "
                        f"relationships, {summary['properties']} properties; validation and "
                        f"staging {t_stage:.1f} s, importer {summary['seconds']:.1f} s "
                        f"({summary['importer_time']} inside), server restart and schema "
                        f"{time.monotonic() - t0:.1f} s"
                        + (f"; {stage.fixups} rows completed after import" if stage.fixups else "")
                    )
                    report.outcome = "completed_with_rejects" if report.rejected else "completed"
                    report.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
                    _record(gw, report)
                    _step("recorded", stop)
                    server.note_swap(journal, phase="committed")
                    _step("committed", stop, check=False)
                except BaseException:
                    # Not committed: the old store comes back, with our record and lease.
                    if gw is not None:
                        gw.close()
                    gw = None
                    _roll_back(server, journal)
                    raise
                server.end_swap(journal)  # committed: the old store goes
            outcome = "completed_with_rejects" if report.rejected else "completed"
        except BaseException as exc:
            if outcome == "failed" and isinstance(exc, Interrupted):
                outcome = "interrupted"
            for fr in report.files:  # the staged rows never reached the store
                fr.created = 0
            report.notes.append(
                f"{'interrupted by ' + stop.name() if stop.requested else 'failed'}: "
                "nothing was written" + (" (the store swap was rolled back)" if swap_begun else "")
            )
            raise
        finally:
            report.outcome = outcome
            report.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
            if gw is None and server.pid() is not None:
                gw = Gateway(settings)
                lease.gw = gw
                try:
                    lease.acquire()  # ours still in the old store: taken again, fenced
                except CredgraphError:
                    pass
            if gw is not None:
                _record(gw, report)
    finally:
        try:
            if gw is not None:
                lease.gw = gw
                lease.release()
            else:
                lease.release(in_graph=False)
        except CredgraphError:
            lease.release(in_graph=False)  # the server is away: the lease ages out
        finally:
            if gw is not None:
                gw.close()
            shutil.rmtree(folder, ignore_errors=True)
            try:
                folder.parent.rmdir()
            except OSError:
                pass
