"""Streaming readers for the input layout: discover the files in a folder, read their rows.

Nothing here knows about types or references (that is :mod:`loaders.validate`); a reader only
turns bytes into :class:`RawRow` objects of strings, one at a time, in constant memory whatever
the file size.

Row numbers (``RawRow.row``)
    CSV: the line number of the row's first physical line in the file, counting the header as
    line 1. For an ordinary file the first data row is row 2, exactly what a spreadsheet shows;
    a row after a quoted field with embedded newlines gets the number of the line it starts on.
    Parquet: the 1-based position of the record among the data records (first record = 1).

CSV rules
    UTF-8 (a leading BOM is dropped), LF or CRLF, RFC 4180 quoting (quoted commas and
    newlines), fields of any size. Bytes that are not valid UTF-8 make *that row* an error row
    (``error="invalid UTF-8"``); the rest of the file still loads. A row with the wrong number
    of fields, or malformed quoting (``"Doe" Jr``, a quote never closed), is an error row:
    nothing is silently altered. Blank lines are skipped. Empty strings become ``None``; other
    values are kept verbatim (no stripping). Columns not in the layout are ignored (a
    load names them in its notes, :func:`unknown_columns`).

Header rules (both formats)
    A missing required column, or a column named twice, refuses the whole file with
    :class:`~graph.errors.InputError` naming file and column. :func:`read_rows` checks the
    header when it is called, before any row is read. An empty (0-byte) CSV file, or a
    header-only one, gives zero rows and no error.

Blocks (:func:`read_blocks`, what a load reads with)
    The same rows as :func:`read_rows`, with the same numbers and values, but the plain
    parts of a CSV file come as :class:`RawBlock` objects of Arrow string columns,
    parsed by ``pyarrow.csv`` instead of one :class:`RawRow` at a time. The file is cut
    at line ends into chunks of about 1 MiB. A chunk is plain when it holds no quote
    character, no NUL and no blank line, is valid UTF-8 that does not start with a
    byte order mark, ends its lines with LF or CRLF only, and Arrow reads one record
    per line with the header's number of fields; Arrow then reads it exactly as the
    row reader would. Any other chunk is read by the
    row reader, from the chunk's first line; should a quoted field run on past the
    chunk's end, or a line end with a lone CR, the row reader reads the rest of the file.
    Parquet files (and FtM) come as rows.

Parquet values are turned into the strings the validator parses: dates (and midnight
timestamps, naive or in their own time zone) as ``YYYY-MM-DD``, integers and decimals exactly, floats with ``repr`` (shortest
round-trip form; of a float32 or float16 column, the shortest form of that width: ``0.1``); nulls
become ``None``.

Parquet types (checked once per file, against its schema, when :func:`read_rows` is called)
    Each layout column present must have an Arrow type that carries its values
    (:data:`ARROW_TYPES`): text columns strings (or integers, for numeric ids), dates dates,
    timestamps or strings, numbers integers, floats, decimals or strings, enums strings (a
    dictionary of strings counts as strings; a column of nulls fits anything). Anything else
    (lists, structs, maps, booleans, binary where a number is expected, ...) refuses the file
    with an :class:`InputError` naming the file, the column and its type: such a column
    would be stored as its Python ``repr``.

Corrupt Parquet
    Before its first row is given, a Parquet file is decoded once in full (every page of the
    layout columns it holds, page checksums verified when the file has them): a page that
    cannot be decoded refuses the file with an :class:`InputError` naming the file and the
    row group (with its rows), before any of its rows reaches the validator. A load reads
    each file's first row before it writes anything, so a corrupt file stops the load with
    nothing written. A file that is still the same (size and modification time) is not
    decoded a second time in the same process. Should a page fail later anyway (the file
    changed meanwhile), the error names the file and row group the same way; rows of
    earlier batches are then already written. A single value Python cannot hold (a
    timestamp past the year 9999) makes its row an error row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from credgraph.graph.errors import InputError
from credgraph.loaders.layout import FILES, FileSpec

Format = Literal["csv", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "parquet")

#: A raw value: a string, ``None`` for missing, or (FtM ``aliases``/``topics`` only) a list.
RawValue = str | list[str] | None

INVALID_UTF8 = "invalid UTF-8"

# Fields of several MB are legitimate (notes, reasons); the default limit is 128 KiB.
_FIELD_SIZE_LIMIT = 1 << 30
# Lone surrogates come only from undecodable bytes under errors="surrogateescape".
_SURROGATE = re.compile("[\udc80-\udcff]")
_PARQUET_BATCH_ROWS = 1024
_CSV_CHUNK_BYTES = 1 << 20
_MALFORMED = "malformed CSV: "
_OPEN_QUOTE = _MALFORMED + "unexpected end of data"
_VERIFY_BATCH_ROWS = 65536


@dataclass(slots=True)
class RawRow:
    """One input row before validation.

    ``file`` is the input file's name (``persons.csv``), ``row`` its row number (see the
    module docstring), ``values`` maps every layout column of the file to its string or
    ``None`` (FtM rows add a few extra keys, see :mod:`loaders.ftm`). ``error`` is set when the
    row could not be read at all (bad encoding, wrong field count); ``error_column`` names the
    column concerned when there is one.
    """

    file: str
    row: int
    values: dict[str, RawValue]
    error: str | None = None
    error_column: str | None = None


class Discovered(list[tuple[FileSpec, Path]]):
    """The result of :func:`discover`: a list of ``(spec, path)`` plus ``ignored`` paths."""

    def __init__(self, items: list[tuple[FileSpec, Path]], ignored: list[Path]) -> None:
        super().__init__(items)
        #: Files in the folder that are not input files (or not of the chosen format).
        self.ignored = ignored


def discover(path: Path, fmt: Format | None = None) -> Discovered:
    """The input files in folder ``path``, in load order (``layout.FILES``).

    ``fmt`` picks ``csv`` or ``parquet``; ``None`` detects it per file. Both ``persons.csv``
    and ``persons.parquet`` present with ``fmt=None`` is an :class:`InputError` naming both.
    Other files are ignored and listed in the result's ``ignored`` attribute (hidden files
    such as ``.DS_Store`` are not listed). A missing folder, or one without any input file,
    is an :class:`InputError`.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}", hint="use csv or parquet")
    if not path.exists():
        raise InputError(f"input folder {path} does not exist")
    if not path.is_dir():
        raise InputError(f"input path {path} is not a folder")
    formats = FORMATS if fmt is None else (fmt,)
    found: list[tuple[FileSpec, Path]] = []
    used: set[str] = set()
    for spec in FILES:
        candidates = [path / f"{spec.name}.{ext}" for ext in formats]
        present = [p for p in candidates if p.is_file()]
        if len(present) > 1:
            names = " and ".join(p.name for p in present)
            raise InputError(
                f"{path}: both {names} are present",
                hint="keep one of them, or choose one with --format",
            )
        if present:
            found.append((spec, present[0]))
            used.add(present[0].name)
    ignored = sorted(p for p in path.iterdir() if p.name not in used and not p.name.startswith("."))
    if not found:
        expected = ", ".join(f"{s.name}.{'|'.join(formats)}" for s in FILES)
        raise InputError(f"{path} holds no input file", hint=f"expected any of {expected}")
    return Discovered(found, ignored)


@dataclass(slots=True)
class RawBlock:
    """Consecutive rows of one input file as Arrow string columns, before validation.

    What :func:`read_blocks` gives for the plain parts of a CSV file (see "Blocks" in
    the module docstring): ``rows`` are the row numbers (as :attr:`RawRow.row`),
    ``columns`` maps each layout column the file holds to a ``pyarrow`` string array
    of ``len(rows)`` values (``None`` where :class:`RawRow` would hold ``None``); a
    layout column the file lacks is absent (all ``None``). ``raws``, when set, holds
    the :class:`RawRow` each row came from, or None for a row read by Arrow (the
    validator builds blocks of rows too);
    ``odd`` the positions of rows the columns do not tell whole (read errors, values
    that are not text), which the validator checks one by one.
    """

    file: str
    rows: list[int]
    columns: dict[str, Any]
    raws: list[RawRow | None] | None = None
    odd: list[int] | None = None

    def raw(self, spec: FileSpec, i: int) -> RawRow:
        """Row ``i`` as the :class:`RawRow` :func:`read_rows` gives for it."""
        if self.raws is not None:
            raw = self.raws[i]
            if raw is not None:
                return raw
        values: dict[str, RawValue] = {}
        for name in spec.column_names:
            col = self.columns.get(name)
            values[name] = None if col is None else col[i].as_py()
        return RawRow(self.file, self.rows[i], values)


def read_blocks(spec: FileSpec, path: Path) -> Iterator[RawRow | RawBlock]:
    """The rows of one input file, as :func:`read_rows` gives them, some grouped in
    :class:`RawBlock` objects (CSV only; see "Blocks" in the module docstring).

    The header is checked now, as by :func:`read_rows`.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return _read_parquet(spec, path)
    return _read_csv(spec, path, blocks=True)


def read_rows(spec: FileSpec, path: Path) -> Iterator[RawRow]:
    """Stream the rows of one input file (``.parquet`` by suffix, CSV otherwise).

    The header is checked now (``InputError`` for a missing required or a repeated column);
    rows are read lazily. The file is closed when the iterator is exhausted or closed.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return _read_parquet(spec, path)
    return _read_csv(spec, path)


def unknown_columns(spec: FileSpec, path: Path) -> list[str]:
    """The named columns of a file's header that are not layout columns (they are
    ignored: a load notes them). Call it after the header passed :func:`check_header`;
    a header that cannot be read gives ``[]``."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            header = list(pq.read_schema(path).names)
        else:
            with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
                header = next((r for r in csv.reader(f, strict=True) if r), [])
    except Exception:  # the reading proper reports what is wrong with the file
        return []
    known = set(spec.column_names)
    return list(dict.fromkeys(h for h in (h.strip() for h in header) if h and h not in known))


def check_header(spec: FileSpec, file: str, header: list[str]) -> dict[str, int]:
    """Map each layout column present in ``header`` to its position; refuse bad headers."""
    positions: dict[str, int] = {}
    known = set(spec.column_names)
    for i, name in enumerate(header):
        if name in known:
            if name in positions:
                raise InputError(f"{file}: column {name!r} appears twice in the header")
            positions[name] = i
    for name in spec.required:
        if name not in positions:
            raise InputError(
                f"{file}: required column {name!r} is missing from the header",
                hint=f"required columns of {spec.name}: {', '.join(spec.required)}",
            )
    return positions


# -- CSV ----------------------------------------------------------------------------------


def _read_csv(spec: FileSpec, path: Path, *, blocks: bool = False) -> Iterator[Any]:
    csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        # Decoding with surrogateescape never fails: each undecodable byte becomes one lone
        # surrogate that we spot per row, so one bad row does not stop the file.
        f = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    try:
        reader = csv.reader(f, strict=True)
        header: list[str] | None = None
        try:
            for record in reader:
                if record:
                    header = record
                    break
        except csv.Error as e:
            raise InputError(f"{path.name}: unreadable header: {e}") from e
        if header is None:  # 0 bytes or only blank lines
            f.close()
            return iter(())
        header = [h.strip() for h in header]
        if any(_SURROGATE.search(h) for h in header):
            raise InputError(f"{path.name}: the header is not valid UTF-8")
        positions = check_header(spec, path.name, header)
    except BaseException:
        f.close()
        raise
    if blocks:
        lines = reader.line_num
        f.close()
        return _csv_blocks(spec, path, lines, len(header), positions)
    return _csv_rows(spec, path.name, f, reader, len(header), positions)


def _csv_rows(
    spec: FileSpec,
    file: str,
    f: IO[str],
    reader: Any,
    width: int,
    positions: dict[str, int],
    line0: int = 0,
) -> Iterator[RawRow]:
    """Rows from ``reader`` (over ``f``, closed at the end); ``line0`` lines of the file
    come before the reader's first line."""
    columns = spec.column_names
    slots = [(name, positions.get(name)) for name in columns]
    with f:
        last_line = reader.line_num
        while True:
            start = line0 + last_line + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                last_line = reader.line_num
                yield RawRow(file, start, _empty(columns), error=f"{_MALFORMED}{e}")
                continue
            last_line = reader.line_num
            if not record:  # blank line
                continue
            error = error_column = None
            n = len(record)
            values: dict[str, RawValue] = {
                name: (record[i] or None) if i is not None and i < n else None for name, i in slots
            }
            if _SURROGATE.search("".join(record)):  # one C-level scan for the common case
                error = INVALID_UTF8
                for name, v in values.items():
                    if isinstance(v, str) and _SURROGATE.search(v):
                        error_column = error_column or name
                        values[name] = _show_bytes(v)
            elif n != width:
                error = f"expected {width} fields, found {n}"
            yield RawRow(file, start, values, error=error, error_column=error_column)


def _csv_blocks(
    spec: FileSpec, path: Path, header_lines: int, width: int, positions: dict[str, int]
) -> Iterator[RawRow | RawBlock]:
    """The data rows of a CSV file after its ``header_lines`` lines: plain chunks parsed
    by Arrow into :class:`RawBlock` objects, other chunks by :func:`_csv_rows`, the rest
    of the file by :func:`_csv_rows` from the first chunk whose lines may not be its
    records (see "Blocks" in the module docstring)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    file = path.name
    names = [f"c{i}" for i in range(width)]
    present = [name for name in spec.column_names if name in positions]
    options = (
        pacsv.ReadOptions(column_names=names, use_threads=False),
        pacsv.ParseOptions(quote_char=False, newlines_in_values=False, ignore_empty_lines=False),
        pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            null_values=[""],
            include_columns=[names[positions[name]] for name in present],
        ),
    )

    def rest(offset: int, line0: int) -> Iterator[RawRow]:
        g = open(path, "rb")  # noqa: SIM115 - closed by _csv_rows
        g.seek(offset)
        t = io.TextIOWrapper(g, encoding="utf-8", errors="surrogateescape", newline="")
        return _csv_rows(spec, file, t, csv.reader(t, strict=True), width, positions, line0)

    with open(path, "rb") as fb:
        # Pieces are joined once a line end is read, each searched once when read: a
        # line of any length (or a file without LF) costs time in proportion to it.
        parts: list[bytes] = []
        newlines = 0
        while newlines < header_lines:
            more = fb.read(_CSV_CHUNK_BYTES)
            if not more:
                if any(b"\r" in part for part in parts):  # lines ended by CR alone
                    yield from _read_csv(spec, path)  # ("CSV (Macintosh)")
                return  # the header alone, without its line break
            parts.append(more)
            newlines += more.count(b"\n")
        data = b"".join(parts)
        offset = 0  # of `data` in the file
        cut = 0
        for _ in range(header_lines):
            cut = data.index(b"\n", cut) + 1
        if data[:cut].count(b"\r") != data[:cut].count(b"\r\n"):
            yield from _read_csv(spec, path)  # a lone CR in the header lines
            return
        line0, offset = header_lines, cut
        parts = [data[cut:]]  # what follows the last line end read
        eof = False
        while not eof:
            more = fb.read(_CSV_CHUNK_BYTES)
            if more:
                parts.append(more)
                if b"\n" not in more:
                    continue
            else:
                eof = True
            data = b"".join(parts)
            end = data.rfind(b"\n") + 1 if more else len(data)
            chunk, data = data[:end], data[end:]
            parts = [data]
            if not chunk:
                break
            lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
            if chunk.count(b"\r") != chunk.count(b"\r\n"):  # a lone CR ends a line too
                yield from rest(offset, line0)
                return
            block = _plain_block(chunk, lines, file, line0, present, options)
            if block is not None:
                yield block
            else:
                text = chunk.decode("utf-8", "surrogateescape")
                sio = io.StringIO(text, newline="")
                rows = list(
                    _csv_rows(
                        spec, file, sio, csv.reader(sio, strict=True), width, positions, line0
                    )
                )
                last = rows[-1] if rows else None
                if not eof and last is not None and last.error == _OPEN_QUOTE:
                    # a quoted field goes on past this chunk
                    yield from rest(offset, line0)
                    return
                yield from rows
            line0 += lines
            offset += len(chunk)


def _plain_block(
    chunk: bytes, lines: int, file: str, line0: int, present: list[str], options: Any
) -> RawBlock | None:
    """``chunk`` as a block, when each of its lines is one record Arrow reads exactly as
    :func:`_csv_rows` would: no quote, NUL or blank line, valid UTF-8, not starting with
    a BOM, every line with the header's number of fields. None otherwise."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if (
        b'"' in chunk
        or b"\x00" in chunk
        or b"\n\n" in chunk
        or b"\n\r\n" in chunk
        or chunk.startswith((b"\n", b"\r\n", b"\xef\xbb\xbf"))  # Arrow drops a leading BOM
    ):
        return None
    try:
        chunk.decode("utf-8")
        table = pacsv.read_csv(pa.py_buffer(chunk), *options)
    except (UnicodeDecodeError, pa.ArrowException):
        return None
    if table.num_rows != lines:
        return None
    columns = {name: table.column(i).combine_chunks() for i, name in enumerate(present)}
    return RawBlock(file, list(range(line0 + 1, line0 + 1 + lines)), columns)


def _show_bytes(value: str) -> str:
    """Printable form of a value holding undecodable bytes: ``Bad\\xffname``."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _empty(columns: list[str]) -> dict[str, RawValue]:
    return dict.fromkeys(columns)


# -- Parquet --------------------------------------------------------------------------------

#: Which Arrow types carry the values of each layout column type (see the module docstring),
#: as the names of ``pyarrow.types.is_*`` predicates, and how the error words them.
_TEXT = ("string", "large_string", "string_view", "binary", "large_binary", "binary_view")
ARROW_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "str": ((*_TEXT, "integer"), "text (or integer ids)"),
    "enum": (_TEXT, "text"),
    "date": (("date", "timestamp", *_TEXT), "dates (date, timestamp or YYYY-MM-DD text)"),
    "amount": (
        ("integer", "floating", "decimal", *_TEXT),
        "numbers (integer, float, decimal or text)",
    ),
    "int": (
        ("integer", "floating", "decimal", *_TEXT),
        "whole numbers (integer, float, decimal or text)",
    ),
}
ARROW_TYPES["share"] = ARROW_TYPES["severity"] = ARROW_TYPES["amount"]

# Files decoded in full without error: (path, size, mtime_ns). A load opens each file
# twice (its first row in the checks before any write, then all of it); once is enough.
_VERIFIED: set[tuple[str, int, int]] = set()


def check_arrow_types(spec: FileSpec, file: str, schema: Any) -> None:
    """Refuse a Parquet file whose layout columns have Arrow types that do not fit."""
    import pyarrow.types as pat

    for column in spec.columns:
        if column.name not in schema.names:
            continue
        t = schema.field(column.name).type
        if pat.is_dictionary(t):
            t = t.value_type
        if pat.is_null(t):
            continue
        kinds, words = ARROW_TYPES[column.type]
        if not any(getattr(pat, f"is_{k}")(t) for k in kinds):
            raise InputError(
                f"{file}: column {column.name!r} has Arrow type {t}, "
                f"but {spec.name}.{column.name} holds {words}",
                hint=f"write {column.name} as {words}",
            )


def _read_parquet(spec: FileSpec, path: Path) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"cannot read {path.name} as Parquet: {e}") from e
    try:
        positions = check_header(spec, path.name, list(pf.schema_arrow.names))
        check_arrow_types(spec, path.name, pf.schema_arrow)
    except BaseException:
        pf.close()
        raise
    return _parquet_rows(spec, path, pf, list(positions))


def _row_groups(file: str, pf: Any, present: list[str], size: int) -> Iterator[tuple[int, Any]]:
    """``(first row number, record batch)`` of every row group, decode errors named."""
    import pyarrow as pa

    first = 1
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        try:
            for batch in pf.iter_batches(batch_size=size, row_groups=[g], columns=present):
                yield first, batch
                first += batch.num_rows
        except (OSError, pa.ArrowException) as e:
            raise InputError(
                f"{file}: row group {g} (rows {first}-{first + n - 1}) cannot be read: {e}",
                hint="the file is damaged: write it again",
            ) from e


def _verify(file: str, path: Path, pf: Any, present: list[str]) -> None:
    """Decode every page of the columns read once (see the module docstring)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    for _ in _row_groups(file, pf, present, _VERIFY_BATCH_ROWS):
        pass
    _VERIFIED.add(key)


class _Unreadable:
    """A Parquet value Python cannot hold (a timestamp past 9999): its row is an error."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _pylist(array: Any) -> list[Any]:
    """``array.to_pylist()``, one :class:`_Unreadable` per value that cannot convert.

    Floats narrower than 64 bits come as the shortest text that reads back as the same
    narrow float (a float32 0.1 is ``0.1``, not the ``0.10000000149011612`` it is as a
    64-bit float), as a CSV file or a float64 column would give the value."""
    import numpy as np
    import pyarrow.types as pat

    t = array.type.value_type if pat.is_dictionary(array.type) else array.type
    if pat.is_float32(t) or pat.is_float16(t):
        narrow = np.float32 if pat.is_float32(t) else np.float16
        return [None if x is None else str(narrow(x)) for x in array.to_pylist()]
    try:
        return list(array.to_pylist())
    except (ValueError, OverflowError, ArithmeticError):
        out: list[Any] = []
        for x in array:
            try:
                out.append(x.as_py())
            except (ValueError, OverflowError, ArithmeticError) as e:
                out.append(_Unreadable(f"unreadable {array.type} value: {e}"))
        return out


def _parquet_rows(spec: FileSpec, path: Path, pf: Any, present: list[str]) -> Iterator[RawRow]:
    columns = spec.column_names
    file = path.name
    n = 0
    try:
        if not present:
            return
        _verify(file, path, pf, present)
        for _, batch in _row_groups(file, pf, present, _PARQUET_BATCH_ROWS):
            data = {name: _pylist(batch.column(name)) for name in present}
            for i in range(batch.num_rows):
                n += 1
                values: dict[str, RawValue] = {}
                error = error_column = None
                for name in columns:
                    col = data.get(name)
                    if col is None:
                        values[name] = None
                        continue
                    v = col[i]
                    try:
                        values[name] = to_text(v)
                    except UnicodeDecodeError:
                        values[name] = _show_bytes(v.decode("utf-8", "surrogateescape"))
                        if error is None:
                            error, error_column = INVALID_UTF8, name
                    except _UnreadableValue as e:
                        values[name] = None
                        if error is None:
                            error, error_column = str(e), name
                yield RawRow(file, n, values, error=error, error_column=error_column)
    finally:
        pf.close()


class _UnreadableValue(ValueError):
    pass


def to_text(value: Any) -> str | None:
    """A Parquet/Python value as the string the validator parses (``None`` stays ``None``).

    Empty strings become ``None``, like in CSV.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        # Midnight is a date, in the timestamp's own zone when it has one (pandas writes
        # tz-aware UTC timestamps): 2020-01-01 00:00 UTC is 2020-01-01.
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.decode("utf-8") or None
    if isinstance(value, _Unreadable):
        raise _UnreadableValue(value.reason)
    return str(value)
