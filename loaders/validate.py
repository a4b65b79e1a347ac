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
  only the FtM reader sets (readers drop unknown CSV/Parquet columns);
* text (every ``str`` column and every FtM extra) is valid Unicode: a lone surrogate
  (``"\\ud800"`` in FtM JSON) is refused, so are control characters (Unicode category
  Cc: U+0000-U+001F, U+007F-U+009F) except tab, line feed and carriage return in free text
  and names. Ids (a file's key columns, its references, FtM entity ids) may hold no
  control character at all. A value Neo4j indexes (ids, references, ``name``, ``list``,
  FtM ``aliases``) is at most ``layout.MAX_INDEXED_BYTES`` bytes in UTF-8; other text
  at most ``layout.MAX_TEXT_BYTES``, as are the texts of a list (FtM ``aliases``)
  together. Numbers are at most ``layout.MAX_NUMBER_CHARS`` characters and whole
  numbers at most ``layout.MAX_INT`` (Neo4j's 64-bit integers). See docs/data-model.md.

Every problem of a row's own values is reported (one :class:`Reject` per bad column); key
and reference checks run only on rows whose values are fine. A row is either wholly valid
or rejected. Keys of ``RawRow.values`` that are not layout columns (FtM extras such as
``aliases``) are passed through untouched, except ``share_unknown`` which becomes ``True``.

How (speed, not rules): rows are validated in batches, column by column over Arrow
(:mod:`loaders.colcheck`: whole-column type casts, null, range, length, control
character and enum checks), keys and references a batch at a time; only the rows a
column check cannot vouch for go through the per-row code (:meth:`Validator._typed`),
which alone words the reasons. Both give the same valid rows and the same rejects in
the same order (tests/loaders/test_columnwise.py, against ``Validator(rowwise=True)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import repeat
from operator import itemgetter
from pathlib import PurePath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credgraph.loaders.colcheck import check_column, string_array, utf8_offsets
from credgraph.loaders.layout import (
    MAX_BATCH_TEXT,
    MAX_INDEXED_BYTES,
    MAX_INT,
    MAX_NUMBER_CHARS,
    MAX_TEXT_BYTES,
    Column,
    FileSpec,
)
from credgraph.loaders.readers import RawBlock, RawRow, RawValue

Known = Callable[[str, list[str]], set[str]]

MISSING = "missing required value"
_NO_CLAIMS: dict[Any, Any] = {}
BATCH_SIZE = 5000

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INT = re.compile(r"\+?([0-9]+)(?:\.0*)?", re.ASCII)

# Lone surrogates and the control characters refused in free text (tab, line feed and
# carriage return are kept), and in ids (none kept).
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_ID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# A text of at most this many characters is at most MAX_INDEXED_BYTES in UTF-8.
_SHORT_ENOUGH = MAX_INDEXED_BYTES // 4
# FtM extras held to the id rules, and those Neo4j indexes (the full-text index).
_ID_EXTRAS = frozenset({"source_entity"})
_INDEXED_EXTRAS = frozenset({"aliases"})
_SHOWN_CHARS = 100  # of a bad value quoted in a reason

# Which id space a file's key lives in (persons and firms share "subject").
_KEY_SPACE = {"persons": "subject", "firms": "subject", "loans": "loan"}
_SUBJECT_KIND = {"persons": "person", "firms": "firm"}


@dataclass(slots=True)
class ValidRow:
    """A row that passed every check; ``values`` holds typed values for every layout column.

    (Not frozen: a frozen dataclass costs four times as much to create, and there is
    one per valid row. Nothing changes it after validation.)"""

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


# A claim on a key: which file and row claimed it, with which kind of record
# ("person", "firm", "loan", ... once accepted; none while pending or rejected) and
# whether the row was accepted, packed into one int. A load holds one claim per
# key it reads (millions): an int costs a fraction of an object with four fields.
_FILE_BITS = 16
_KIND_BITS = 5
_FILE_SHIFT = _KIND_BITS + 1
_ROW_SHIFT = _FILE_BITS + _FILE_SHIFT
_KIND_OK = (1 << _FILE_SHIFT) - 1  # a claim's kind and ok bits


def _pack(file: int, row: int, kind: int, *, ok: bool) -> int:
    """One claim: ``row | file | kind | ok`` from the high bits to the low one."""
    return row << _ROW_SHIFT | file << _FILE_SHIFT | kind << 1 | ok


def _unpack(claim: int) -> tuple[int, int, int, bool]:
    """``(file, row, kind, ok)`` of a claim made by :func:`_pack`."""
    return (
        (claim >> _FILE_SHIFT) & ((1 << _FILE_BITS) - 1),
        claim >> _ROW_SHIFT,
        (claim >> 1) & ((1 << _KIND_BITS) - 1),
        bool(claim & 1),
    )


class _BadValue(Exception):
    pass


def _q(raw: str) -> str:
    """``raw`` quoted for a reason (``repr``: control characters and surrogates escaped),
    cut to its first hundred characters when longer."""
    if len(raw) <= _SHOWN_CHARS:
        return repr(raw)
    return f"{raw[:_SHOWN_CHARS]!r}…[{len(raw)} chars]"


def text_problem(value: str, *, ident: bool = False, indexed: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text (None when it can).

    ``ident``: an id (no control character at all); ``indexed``: Neo4j indexes it (at
    most ``MAX_INDEXED_BYTES`` in UTF-8; other text at most ``MAX_TEXT_BYTES``). See the
    module docstring.
    """
    bad = (_BAD_ID if ident else _BAD_TEXT).search(value)
    if bad is not None:
        ch, at = bad.group(), bad.start() + 1
        if "\ud800" <= ch <= "\udfff":
            return f"not valid Unicode: a lone surrogate U+{ord(ch):04X} at character {at}"
        if ident:
            return f"control character U+{ord(ch):04X} at character {at} (ids may hold none)"
        return (
            f"control character U+{ord(ch):04X} at character {at} (text may hold tab, "
            "line feed and carriage return, no other)"
        )
    if indexed and len(value) > _SHORT_ENOUGH:
        size = len(value.encode("utf-8"))
        if size > MAX_INDEXED_BYTES:
            return (
                f"too long: {size} bytes in UTF-8, at most {MAX_INDEXED_BYTES} "
                "for a value Neo4j indexes"
            )
    elif len(value) > MAX_TEXT_BYTES // 4:
        size = len(value.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            return f"too long: {size} bytes in UTF-8, at most {MAX_TEXT_BYTES} for a text"
    return None


def parse_value(column: Column, raw: str) -> Any:
    """Parse one non-empty raw value of ``column``; raises ``_BadValue`` with the reason.

    ``str`` values are returned as they are: :func:`text_problem` checks them.
    """
    t = column.type
    if t == "str":
        return raw
    text = raw.strip()
    if t == "enum":
        if text not in column.enum:
            raise _BadValue(
                f"unknown {column.name} {_q(raw)} (expected one of {', '.join(column.enum)})"
            )
        return text
    if t == "date":
        if not _DATE.fullmatch(text):
            raise _BadValue(f"not an ISO date (YYYY-MM-DD): {_q(raw)}")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _BadValue(f"impossible date {text}") from None
    if len(text) > MAX_NUMBER_CHARS:
        raise _BadValue(
            f"too long for a number: {len(text)} characters, at most {MAX_NUMBER_CHARS}"
        )
    if t == "int":
        m = _INT.fullmatch(text)
        if not m:
            if _NUMBER.fullmatch(text) and text.startswith("-"):
                raise _BadValue(f"{column.name} must be >= 0: {_q(raw)}")
            raise _BadValue(f"not a whole number: {_q(raw)}")
        n = int(m.group(1))
        if n > MAX_INT:
            raise _BadValue(f"{column.name} out of range: {_q(raw)} is past {MAX_INT} (64 bits)")
        return n
    # amount, share, severity
    if not _NUMBER.fullmatch(text):
        raise _BadValue(f"not a number: {_q(raw)}")
    x = float(text)
    if not math.isfinite(x):
        raise _BadValue(f"number out of range: {_q(raw)}")
    x += 0.0  # -0.0 -> 0.0
    if t == "amount" and x < 0:
        raise _BadValue(f"{column.name} must be >= 0: {_q(raw)}")
    if t == "share" and not 0 < x <= 1:
        raise _BadValue(f"share must be in (0, 1]: {_q(raw)}")
    if t == "severity" and not 0 <= x <= 1:
        raise _BadValue(f"severity must be in [0, 1]: {_q(raw)}")
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

    ``rowwise=True`` checks every row with the per-row code alone (:meth:`_typed`, then
    keys and references row after row), as the validator did before its column-wise
    checks: the reference the column-wise path is tested against (same valid rows, same
    rejects), and a baseline for benchmarks. Slower; never used by a load.
    """

    def __init__(
        self,
        known: Known | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        rowwise: bool = False,
        batch_text: int = MAX_BATCH_TEXT,
    ) -> None:
        self._known = known
        self._batch_size = batch_size
        self._batch_text = batch_text
        self._rowwise = rowwise
        # space -> key -> claim (see _pack); spaces: "subject", "loan", and per-file
        # for the others.
        self._claims: dict[str, dict[str, int]] = {}
        self._summary: dict[str, dict[str, int]] = {}
        self._plans: dict[str, _Plan] = {}
        self._files: list[str] = []
        self._file_index: dict[str, int] = {}
        self._kinds: list[str | None] = [None]
        self._kind_index: dict[str | None, int] = {None: 0}

    def summary(self) -> dict[str, dict[str, int]]:
        """Per file: rows ``read``, ``valid`` and ``rejected`` so far.

        Keys are file names; rows of one file mapped to several layout files (FtM) are
        counted as ``"<file>:<layout name>"``.
        """
        return {k: dict(v) for k, v in self._summary.items()}

    def validate_file(
        self, spec: FileSpec, rows: Iterable[RawRow | RawBlock], *, file: str | None = None
    ) -> Iterator[Batch]:
        """Validate the rows of one file, yielding one :class:`Batch` per ``batch_size`` rows,
        or fewer where their text passes ``batch_text`` bytes (``layout.MAX_BATCH_TEXT``:
        rows of long free text; a batch holds one row at least), so the memory a batch
        takes is bounded by its text as well as its rows.

        ``rows``: :class:`RawRow` objects, or :class:`RawBlock` objects of several rows
        (``readers.read_blocks``), in row order; the result is the same either way.
        ``file`` names the file in :meth:`summary` when it has no rows (default: the rows'
        own file name, or ``<spec.name>``). Each kind of file comes once per load (readers
        give one file per kind, FtM groups its rows by kind): once a file whose keys
        nothing references (roles, ownership, guarantees, blacklist) is done, its claims
        are let go, so the validator holds at most one such file's keys at a time.
        """
        label = file
        stats: dict[str, int] | None = None
        chunk: list[RawRow] = []  # rows not yet in a block
        blocks: list[RawBlock] = []  # blocks not yet validated, and their rows
        held = 0
        held_text = 0  # UTF-8 bytes of the text in `blocks` (not yet of `chunk`)
        size = self._batch_size
        limit = self._batch_text
        plan = self._plan(spec)

        def start(first: RawRow | RawBlock | None) -> dict[str, int]:
            name = label or (first.file if first is not None else spec.name)
            if PurePath(name).stem != spec.name:
                name = f"{name}:{spec.name}"
            return self._summary.setdefault(name, {"read": 0, "valid": 0, "rejected": 0})

        for item in rows:
            if stats is None:
                stats = start(item)
            if type(item) is RawBlock:
                if chunk:
                    blocks.append(_rows_block(plan, chunk))
                    chunk = []
                blocks.append(item)
                held += len(item.rows)
                held_text += _text_bytes(item)
            else:
                chunk.append(item)  # type: ignore[arg-type]
                held += 1
                if len(chunk) >= min(size, _CHUNK_ROWS):  # a block, whose text is counted
                    blocks.append(_rows_block(plan, chunk))
                    held_text += _text_bytes(blocks[-1])
                    chunk = []
            while held >= size or held_text > limit:
                if chunk:
                    blocks.append(_rows_block(plan, chunk))
                    chunk = []
                n = min(size, held)
                if held_text > limit:
                    n = min(n, _rows_within(blocks, limit))
                block, blocks = _take(blocks, n)
                held -= n
                held_text = sum(_text_bytes(b) for b in blocks)
                yield self._batch(spec, block, stats)
        if stats is None:
            stats = start(None)
        if chunk:  # the last rows: their text is counted as any block's
            blocks.append(_rows_block(plan, chunk))
            held_text += _text_bytes(blocks[-1])
        while held:
            n = held if held_text <= limit else min(held, _rows_within(blocks, limit))
            block, blocks = _take(blocks, n)
            held -= n
            held_text = sum(_text_bytes(b) for b in blocks)
            yield self._batch(spec, block, stats)
        space = plan.space
        if space not in _REFERENCED:
            self._claims.pop(space, None)

    # -- internals ------------------------------------------------------------------------

    def _plan(self, spec: FileSpec) -> _Plan:
        plan = self._plans.get(spec.name)
        if plan is None:
            plan = self._plans[spec.name] = _Plan(spec)
        return plan

    def _file_no(self, file: str) -> int:
        n = self._file_index.get(file)
        if n is None:
            n = self._file_index[file] = len(self._files)
            if n >= 1 << _FILE_BITS:  # pragma: no cover - a load reads a handful of files
                raise ValueError("too many input files in one load")
            self._files.append(file)
        return n

    def _kind_no(self, kind: str | None) -> int:
        n = self._kind_index.get(kind)
        if n is None:
            n = self._kind_index[kind] = len(self._kinds)
            self._kinds.append(kind)
        return n

    def _where(self, claim: int, file: str) -> str:
        """``row N`` (same file) or ``<file> row N``: where a claim was made."""
        file_no, row, _, _ = _unpack(claim)
        first_file = self._files[file_no]
        return f"row {row}" if first_file == file else f"{first_file} row {row}"

    def _batch(self, spec: FileSpec, block: RawBlock, stats: dict[str, int]) -> Batch:
        plan = self._plan(spec)
        file = block.file
        batch = Batch(file)
        claims = self._claims.setdefault(plan.space, {})
        typed_rows, own, keys = self._typed_block(plan, block)
        row_numbers = block.rows
        n = len(row_numbers)
        stats["read"] += n
        key_name = plan.key
        # A block is rows of one file: its claims differ only in the row number, so
        # the loops below add `row << _ROW_SHIFT` to these (see _pack).
        file_no = self._file_no(file)
        pending_bits = _pack(file_no, 0, 0, ok=False)
        # The rows left after their own values and their keys are checked, in row order.
        p_rows: list[int]
        p_typed: list[dict[str, Any]]
        p_keys: list[str | None]
        p_texts: list[str | None]
        key_list = [k for k, _ in keys]
        if (
            not self._rowwise
            and not own
            and len(set(key_list)) == n
            and claims.keys().isdisjoint(key_list)
        ):
            # The common case, at once: every row's values are fine, every key is new.
            p_rows, p_typed, p_keys = row_numbers, typed_rows, key_list  # type: ignore[assignment]
            p_texts = [t for _, t in keys]
            claims.update(zip(key_list, _shifted(row_numbers, pending_bits), strict=True))  # type: ignore[arg-type]
        else:
            p_rows, p_typed, p_keys, p_texts = [], [], [], []
            for i, (row, typed, (key, text)) in enumerate(
                zip(row_numbers, typed_rows, keys, strict=True)
            ):
                if own and i in own:
                    rejects = own[i]
                    if rejects:
                        self._claim_rejected(claims, plan, file, row, typed)
                        batch.rejects.extend(rejects)
                        continue
                    key, text = plan.key_of(typed)
                if key is not None:
                    first = claims.get(key)
                    if first is not None:
                        batch.rejects.append(self._duplicate(plan, file, row, text, first))
                        continue
                    claims[key] = row << _ROW_SHIFT | pending_bits
                p_rows.append(row)
                p_typed.append(typed)
                p_keys.append(key)
                p_texts.append(text)

        graph = self._ask_graph(plan, p_typed, p_keys)
        accepted = _pack(file_no, 0, self._kind_no(plan.kind), ok=True)
        refs = plan.refs
        # Per reference: the claims it is checked against, and the bits (kind, ok) a
        # claim must have to be a good target. A reference that fails this quick test
        # goes to _check_refs: it may still be known to the graph, else it gets its reason.
        quick = [
            (
                name,
                self._claims.setdefault(claims_space, {}),
                _KIND_OK if space in _SUBJECT_KINDS else 1,
                self._kind_no(space) << 1 | 1 if space in _SUBJECT_KINDS else 1,
            )
            for name, space, claims_space in refs
        ]
        other = plan.other
        check_kind = other is not None and other in graph
        m = len(p_rows)
        # Which rows pass the quick test of every reference, column by column (a claim
        # is a positive int below 2**63; a missing one counts as 0, which fails).
        passed = np.ones(m, dtype=bool)
        for name, ref_claims, mask, want in quick:
            found = np.fromiter(
                map(ref_claims.get, map(itemgetter(name), p_typed), repeat(0)),
                dtype=np.int64,
                count=m,
            )
            passed &= (found & mask) == want
        # (no layout file references its own id space; if one did, its rows would be
        # tested one by one, each seeing the claims of the rows before it)
        own_space = any(ref_claims is claims for _, ref_claims, _, _ in quick)
        if not check_kind and not own_space and not self._rowwise and passed.all():
            good = list(range(m))
            claims.update(zip(p_keys, _shifted(p_rows, accepted), strict=True))  # type: ignore[arg-type]
        else:
            good = []
            for j in range(m):
                row, typed, key = p_rows[j], p_typed[j], p_keys[j]
                if check_kind and key in graph[other]:  # type: ignore[index]
                    # Like a duplicate: the id belongs to the graph's subject, not to this row.
                    del claims[key]  # type: ignore[arg-type]
                    batch.rejects.append(
                        Reject(
                            file, row, key_name, key, f"id {key} is already a {other} in the graph"
                        )
                    )
                    continue
                fails = (
                    any(
                        (c := rc.get(typed[name])) is None or c & mask != want
                        for name, rc, mask, want in quick
                    )
                    if own_space or self._rowwise
                    else not passed[j]
                )
                if fails:
                    rejects = self._check_refs(refs, file, row, typed, graph)
                    if rejects:
                        batch.rejects.extend(rejects)  # the key stays claimed as rejected
                        continue
                # Key columns are required: a row without its key was rejected above.
                assert key is not None
                claims[key] = row << _ROW_SHIFT | accepted
                good.append(j)
        batch.rows = [
            ValidRow(file, p_rows[j], p_texts[j], p_typed[j])  # type: ignore[arg-type]
            for j in good
        ]
        stats["valid"] += len(batch.rows)
        stats["rejected"] += n - len(batch.rows)
        return batch

    def _typed_rows(
        self, plan: _Plan, chunk: list[RawRow]
    ) -> list[tuple[dict[str, Any], list[Reject] | None]]:
        """Every row's typed values and its rejects (None when it has none): what
        :meth:`_typed` gives for each row, by way of :meth:`_typed_block`."""
        typed, own, _ = self._typed_block(plan, _rows_block(plan, chunk))
        return [(t, own.get(i)) for i, t in enumerate(typed)]

    def _typed_block(
        self, plan: _Plan, block: RawBlock
    ) -> tuple[
        list[dict[str, Any]], dict[int, list[Reject] | None], list[tuple[str | None, str | None]]
    ]:
        """Every row's typed values, the rows checked one by one with their rejects (None
        when they have none), and every row's key and its text (for rows not checked one
        by one; see :meth:`_Plan.keys`).

        Column-wise for speed: each column is checked and typed at once over Arrow
        (loaders/colcheck.py). A row that a column check cannot vouch for, or with
        anything unusual (a read error, FtM extras, a list, a text Arrow cannot hold),
        goes through :meth:`_typed` instead, which gives the exact reasons; both give the
        same values for a valid row.
        """
        n = len(block.rows)
        slow = np.zeros(n, dtype=bool)
        if block.odd:
            slow[block.odd] = True
        columns: list[list[Any]] = []
        arrays = block.columns
        if self._rowwise:
            slow[:] = True
        for col in plan.columns if not self._rowwise else ():
            arr = arrays.get(col.name)
            if arr is None:
                if col.required:
                    slow[:] = True
                columns.append([None] * n)
                continue
            values, bad = check_column(col.column, arr, ident=col.ident, indexed=col.indexed)
            slow |= bad
            columns.append(values)
        names = plan.names
        result = (
            [dict(zip(names, t, strict=True)) for t in zip(*columns, strict=True)]
            if columns
            else [{} for _ in range(n)]
        )
        own: dict[int, list[Reject] | None] = {}
        for i in np.flatnonzero(slow).tolist():
            rejects: list[Reject] = []
            raw = block.raw(plan.spec, i)
            result[i] = self._typed(plan, raw, rejects)
            own[i] = rejects or None
        return result, own, plan.keys(block, n)

    def _typed(self, plan: _Plan, raw: RawRow, rejects: list[Reject]) -> dict[str, Any]:
        """One row's typed values, each problem of its own values added to ``rejects``."""
        values: dict[str, Any] = {}
        if raw.error is not None:
            col = raw.error_column
            shown = _shown(raw.values.get(col)) if col else None
            rejects.append(Reject(raw.file, raw.row, col, shown, raw.error))
            return values
        raw_values = raw.values
        get = raw_values.get
        share_unknown = get("share_unknown") == "true"
        for c in plan.columns:
            name, required = c.name, c.required
            v = get(name)
            if v is None or (required and type(v) is str and not v.strip()):
                if required and not (name == "share" and share_unknown):
                    rejects.append(Reject(raw.file, raw.row, name, v, MISSING))
                values[name] = None
            elif type(v) is not str:
                rejects.append(
                    Reject(raw.file, raw.row, name, _shown(v), "expected a single value")
                )
            elif not c.parses:
                problem = text_problem(v, ident=c.ident, indexed=c.indexed)
                if problem is not None:
                    rejects.append(Reject(raw.file, raw.row, name, v, problem))
                    continue
                values[name] = v
            else:
                try:
                    values[name] = parse_value(c.column, v)
                except _BadValue as e:
                    rejects.append(Reject(raw.file, raw.row, name, v, str(e)))
        if len(raw_values) != len(plan.columns) or share_unknown:
            for k, v in raw_values.items():  # FtM extras, passed through in order
                if k in plan.name_set:
                    continue
                if k == "share_unknown":
                    values[k] = v == "true"
                    continue
                # text, a list of texts; anything else but None (outside RawValue: a
                # caller's mistake, not a reader's) is refused as not text
                items: list[Any] = (
                    [v] if type(v) is str else v if type(v) is list else [] if v is None else [v]
                )
                for text in items:
                    problem = (
                        text_problem(text, ident=k in _ID_EXTRAS, indexed=k in _INDEXED_EXTRAS)
                        if type(text) is str
                        else "expected text"
                    )
                    if problem is not None:
                        rejects.append(Reject(raw.file, raw.row, k, text, problem))
                        break
                else:
                    # A list is one property: its texts together at most MAX_TEXT_BYTES
                    # (each may be short, their number is the input's to choose).
                    size = _extra_bytes(v) if len(items) > 1 else 0
                    if size > MAX_TEXT_BYTES:
                        rejects.append(
                            Reject(
                                raw.file,
                                raw.row,
                                k,
                                f"{len(items)} values",
                                f"too long: {size} bytes in UTF-8 in its {len(items)} values, "
                                f"at most {MAX_TEXT_BYTES} for a list of texts",
                            )
                        )
                values[k] = v
        return values

    def _claim_rejected(
        self, claims: dict[str, int], plan: _Plan, file: str, row: int, typed: dict[str, Any]
    ) -> None:
        """A row rejected for its own values still claims its key, if it has one."""
        key, _ = plan.key_of(typed)
        if key is not None and key not in claims:
            claims[key] = _pack(self._file_no(file), row, 0, ok=False)

    def _duplicate(self, plan: _Plan, file: str, row: int, text: Any, first: int) -> Reject:
        """``text``: the id, or the parts of a composite key joined with ``|``."""
        where = self._where(first, file)
        if plan.key is not None:
            return Reject(file, row, plan.key, text, f"duplicate id {text} (first at {where})")
        return Reject(
            file,
            row,
            "|".join(plan.composite),
            text,
            f"duplicate key {text} (first at {where})",
        )

    def _ask_graph(
        self, plan: _Plan, pending: list[dict[str, Any]], keys: list[str | None]
    ) -> dict[str, set[str]]:
        """Ask ``known`` once per space about the ids this batch needs and we don't know
        (``pending``: the typed rows left, ``keys`` their keys)."""
        found: dict[str, set[str]] = {}
        if self._known is None or not pending:
            return found
        wanted: dict[str, set[str]] = {}
        for name, space, claims_space in plan.refs:
            claims = self._claims.get(claims_space, _NO_CLAIMS)
            # (not `set - claims.keys()`: that walks every claim of the load)
            ids = {ref for typed in pending if (ref := typed[name]) not in claims}
            if ids:
                wanted.setdefault(space, set()).update(ids)
        if plan.other is not None:
            wanted.setdefault(plan.other, set()).update(k for k in keys if k is not None)
        for name, ids in wanted.items():
            if ids:
                found[name] = set(self._known(name, sorted(ids)))
        return found

    def _check_refs(
        self,
        refs: tuple[tuple[str, str, str], ...],
        file: str,
        row: int,
        typed: dict[str, Any],
        graph: dict[str, set[str]],
    ) -> list[Reject] | None:
        rejects: list[Reject] | None = None
        for name, space, claims_space in refs:
            ref = typed[name]
            claim = self._claims.get(claims_space, _NO_CLAIMS).get(ref)
            reason: str | None = None
            if claim is not None:
                if not claim & 1:
                    reason = f"{name} {ref} was rejected ({self._where(claim, '')})"
                elif space in _SUBJECT_KINDS:
                    kind = self._kinds[_unpack(claim)[2]]
                    if kind != space:
                        reason = f"{name} {ref} is a {kind}, not a {space}"
            elif ref not in graph.get(space, ()):
                reason = f"unknown {space} {ref}"
            if reason is not None:
                if rejects is None:
                    rejects = []
                rejects.append(Reject(file, row, name, ref, reason))
        return rejects


_REFERENCED = frozenset({"subject", "loan"})  # id spaces other files point into
_SUBJECT_KINDS = frozenset({"person", "firm"})


def _shifted(rows: list[int], bits: int) -> list[int]:
    """``row << _ROW_SHIFT | bits`` for every row: claims of one file (see _pack)."""
    return (np.array(rows, dtype=np.int64) << _ROW_SHIFT | bits).tolist()  # type: ignore[no-any-return]


def _rows_block(plan: _Plan, chunk: list[RawRow]) -> RawBlock:
    """Rows as a block: a column's values that are not text, or text Arrow cannot hold,
    become None and their rows odd, as are rows with a read error or FtM extras."""
    width = len(plan.columns)
    odd = {i for i, raw in enumerate(chunk) if raw.error is not None or len(raw.values) != width}
    values = [raw.values for raw in chunk]
    columns: dict[str, Any] = {}
    for name in plan.names:
        arr, bad = string_array([v.get(name) for v in values])
        odd.update(bad)
        columns[name] = arr
    return RawBlock(
        chunk[0].file,
        [raw.row for raw in chunk],
        columns,
        raws=list[RawRow | None](chunk),
        odd=sorted(odd),
    )


#: Rows (of RawRow input: Parquet, FtM) made into a block at a time, whose text then
#: counts towards the batch's: the most rows held whatever their text.
_CHUNK_ROWS = 512


def _extra_bytes(value: Any) -> int:
    """The UTF-8 bytes of an FtM extra's text (a text or a list of texts; others 0)."""
    if type(value) is str:
        return len(value.encode("utf-8", "surrogatepass"))
    if type(value) is list:
        return sum(len(t.encode("utf-8", "surrogatepass")) for t in value if type(t) is str)
    return 0


def _extras_bytes(block: RawBlock) -> Any:
    """The UTF-8 bytes of each row's values beyond its columns (FtM extras such as
    ``aliases``; a numpy array, zeros for rows that have none)."""
    sizes = np.zeros(len(block.rows), dtype=np.int64)
    if block.raws is not None and block.odd:
        for i in block.odd:
            raw = block.raws[i]
            if raw is not None:
                sizes[i] = sum(
                    _extra_bytes(v) for k, v in raw.values.items() if k not in block.columns
                )
    return sizes


def _row_bytes(block: RawBlock) -> Any:
    """The UTF-8 bytes of each row's text in ``block``'s columns and FtM extras (a
    numpy array)."""
    sizes = _extras_bytes(block)
    for arr in block.columns.values():
        if len(arr) and arr.type == pa.string():
            sizes += np.diff(utf8_offsets(arr))
    return sizes


def _text_bytes(block: RawBlock) -> int:
    """The UTF-8 bytes of the text in ``block``'s columns and FtM extras."""
    total = int(_extras_bytes(block).sum())
    for arr in block.columns.values():
        if len(arr) and arr.type == pa.string():
            offsets = utf8_offsets(arr)
            total += int(offsets[-1] - offsets[0])
    return total


def _rows_within(blocks: list[RawBlock], limit: int) -> int:
    """How many of the first rows of ``blocks`` hold at most ``limit`` bytes of text
    together (one at least)."""
    n = 0
    left = limit
    for b in blocks:
        sizes = _row_bytes(b)
        fits = int(np.searchsorted(np.cumsum(sizes), left, side="right"))
        n += fits
        if fits < len(sizes):
            break
        left -= int(sizes.sum())
    return max(n, 1)


def _take(blocks: list[RawBlock], n: int) -> tuple[RawBlock, list[RawBlock]]:
    """The first ``n`` rows of ``blocks`` as one block, and the blocks left."""
    first = blocks[0]
    if len(first.rows) == n:
        return first, blocks[1:]
    parts: list[tuple[RawBlock, int, int]] = []  # block, start, stop
    need, k = n, 0
    while need:
        b = blocks[k]
        m = min(need, len(b.rows))
        parts.append((b, 0, m))
        need -= m
        k += 1
    last, _, used = parts[-1]
    left = blocks[k:]
    if used < len(last.rows):
        left = [_slice(last, used, len(last.rows)), *left]
    pieces = [_slice(b, start, stop) for b, start, stop in parts]
    return (pieces[0] if len(pieces) == 1 else _concat(pieces)), left


def _slice(b: RawBlock, start: int, stop: int) -> RawBlock:
    if start == 0 and stop == len(b.rows):
        return b
    odd = [i - start for i in b.odd or () if start <= i < stop]
    return RawBlock(
        b.file,
        b.rows[start:stop],
        {k: v.slice(start, stop - start) for k, v in b.columns.items()},
        raws=None if b.raws is None else b.raws[start:stop],
        odd=odd,
    )


def _concat(blocks: list[RawBlock]) -> RawBlock:
    """Blocks of one file as one (a column one of them lacks is None there)."""
    names = list(dict.fromkeys(k for b in blocks for k in b.columns))
    columns = {
        k: pa.concat_arrays(
            [
                c if (c := b.columns.get(k)) is not None else pa.nulls(len(b.rows), pa.string())
                for b in blocks
            ]
        )
        for k in names
    }
    rows: list[int] = []
    odd: list[int] = []
    raws: list[RawRow | None] = []
    for b in blocks:
        odd.extend(i + len(rows) for i in b.odd or ())
        raws.extend(b.raws if b.raws is not None else [None] * len(b.rows))
        rows.extend(b.rows)
    return RawBlock(blocks[0].file, rows, columns, raws=raws if any(raws) else None, odd=odd)


def _composite(parts: list[str]) -> str:
    """The claim of a composite key: the lengths of its parts but the last, then the parts.

    Unambiguous whatever the ids hold, and a str: a dict of str keys and int values is
    never walked by Python's cycle collector, where one of tuple keys was, at every full
    collection (that doubled the time of validating roles and ownership at 1M rows).
    """
    return ":".join([str(len(p)) for p in parts[:-1]]) + ":" + "".join(parts)


@dataclass(slots=True)
class _Col:
    column: Column
    name: str
    required: bool
    parses: bool
    ident: bool = False  # an id: a key or a reference
    indexed: bool = False  # Neo4j indexes it: at most MAX_INDEXED_BYTES


class _Plan:
    """What the validator needs to know about one file kind, worked out once per load."""

    def __init__(self, spec: FileSpec) -> None:
        self.spec = spec
        self.columns = [
            _Col(
                c,
                c.name,
                c.required,
                c.type != "str",
                ident=spec.is_id(c),
                indexed=spec.is_id(c) or c.indexed,
            )
            for c in spec.columns
        ]
        self.names = tuple(c.name for c in spec.columns)
        self.name_set = frozenset(self.names)
        self.key = spec.key
        self.composite = tuple(spec.composite_key) if spec.key is None else ()
        self.space = _KEY_SPACE.get(spec.name, spec.name)
        self.kind = _SUBJECT_KIND.get(spec.name, spec.name)
        self.other = {"persons": "firm", "firms": "person"}.get(spec.name)
        # Per reference column: its name, the id space it names, the claims it is in.
        self.refs = tuple(
            (c.name, c.references, "loan" if c.references == "loan" else "subject")
            for c in spec.columns
            if c.references is not None
        )

    def key_of(self, typed: dict[str, Any]) -> tuple[str | None, str | None]:
        """The row's claim key and its text (the id, or ``person|firm|role``); both None
        when a key column has no value."""
        if self.key is not None:
            key = typed.get(self.key)
            return key, key
        parts: list[Any] = [typed.get(c) for c in self.composite]
        if None in parts:
            return None, None
        return _composite(parts), "|".join(parts)

    def keys(self, block: RawBlock, n: int) -> list[tuple[str | None, str | None]]:
        """Every row's :meth:`key_of`, from the block's raw columns (the typed values of
        text columns, for a row whose values are valid; others are worked out again)."""
        cols = block.columns
        if self.key is not None:
            arr = cols.get(self.key)
            if arr is None:
                return [(None, None)] * n
            ids = arr.to_pylist()
            return list(zip(ids, ids, strict=True))
        parts = [cols.get(c) for c in self.composite]
        if any(p is None for p in parts):
            return [(None, None)] * n
        lengths = [pc.cast(pc.utf8_length(p), pa.string()) for p in parts[:-1]]
        claim = pc.binary_join_element_wise(*lengths, pc.binary_join_element_wise(*parts, ""), ":")
        text = pc.binary_join_element_wise(*parts, "|")
        return list(zip(claim.to_pylist(), text.to_pylist(), strict=True))
