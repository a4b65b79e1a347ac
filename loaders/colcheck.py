"""Column-wise checks of the validator's rules, over Arrow string columns.

For one layout column and a ``pyarrow`` string array of raw values (``None`` for a
missing value), :func:`check_column` gives the typed Python values and a mask of the
rows it cannot vouch for. The checks are whole-column ``pyarrow.compute`` kernels:
required values, control characters, the UTF-8 length of indexed text, enum
membership, the shape and calendar of dates, the shape, range and length of numbers,
whole numbers within 64 bits.

The mask is *conservative*: a row outside it is valid under :mod:`loaders.validate`'s
rules and its value is exactly what ``validate.parse_value`` gives; a row in it may
still be valid (a typed value with surrounding spaces, a whole number near 2**63, a
date written ``0000-...``). The validator sends the masked rows through its per-row
code, which words every reason (file, row, column); that code alone decides them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credgraph.loaders.layout import (
    MAX_INDEXED_BYTES,
    MAX_NUMBER_CHARS,
    MAX_TEXT_BYTES,
    Column,
)

# RE2 patterns (code points, the input being valid UTF-8: Arrow strings hold no surrogate).
# The control characters refused in free text, and in ids (validate._BAD_TEXT, _BAD_ID).
BAD_TEXT = r"[\x{00}-\x{08}\x{0b}\x{0c}\x{0e}-\x{1f}\x{7f}-\x{9f}]"
BAD_ID = r"[\x{00}-\x{1f}\x{7f}-\x{9f}]"
# A value made only of these (or empty) may be blank to Python's str.isspace(): a superset
# of the characters Python counts as white space.
_MAYBE_BLANK = (
    r"^[\t\n\x{0b}\x{0c}\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{180e}\x{2000}-\x{200b}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]*$"
)
# YYYY-MM-DD with a year from 0001 (Python has no year 0)
_DATE = r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}$"
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
# Whole numbers vouched for: at most 18 significant digits (below 2**63 - 1).
_INT = r"^\+?0*[0-9]{1,18}(?:\.0*)?$"
_INT_SIGN_TAIL = r"^\+|\.0*$"


def _mask(x: Any) -> np.ndarray:
    """A boolean Arrow array as numpy, null counted as False."""
    return np.asarray(pc.fill_null(x, False).to_numpy(zero_copy_only=False), dtype=bool)


def utf8_offsets(values: Any) -> np.ndarray:
    """The ``len(values) + 1`` int32 offsets of a ``pa.string()`` array's values in its
    data buffer, from the array's own slice: value ``i`` is bytes
    ``[offsets[i], offsets[i + 1])``, so ``np.diff`` gives each value's UTF-8 length."""
    n = len(values)
    return np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + n + 1]


def _text_flags(values: Any, *, required: bool, ident: bool, indexed: bool) -> np.ndarray:
    """Rows of a text column that may hold a control character, be blank (``required``)
    or be too long (``indexed``). Whole-column byte scans first (numpy over the Arrow
    buffers); a regular expression over the column only when a scan finds a candidate."""
    n = len(values)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return bad
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    offsets = utf8_offsets(values)
    data_buf = values.buffers()[2]
    lengths = np.diff(offsets)
    # (Arrow refuses a string array without a data buffer, even an empty or all-null one)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    # C0 controls and DEL are single bytes; C1 controls (U+0080-U+009F) start with 0xC2.
    if ((data < 0x20) | (data == 0x7F) | (data == 0xC2)).any():
        bad |= _mask(pc.match_substring_regex(values, BAD_ID if ident else BAD_TEXT))
    if required:
        # A value that starts with a printable ASCII character other than a space is not
        # blank; any other (empty, or starting with a space or a non-ASCII character)
        # is tested in full.
        starts = np.zeros(n, dtype=np.uint8)
        full = lengths > 0
        starts[full] = data[offsets[:-1][full] - offsets[0]]
        if ((starts <= 0x20) | (starts >= 0x7F)).any():
            bad |= _mask(pc.match_substring_regex(values, _MAYBE_BLANK))
    bad |= lengths > (MAX_INDEXED_BYTES if indexed else MAX_TEXT_BYTES)
    return bad


def _dates(days: Any, known: np.ndarray) -> list[Any]:
    """A date32 array as Python dates (None where not ``known``), by way of numpy:
    ``to_pylist`` takes twenty times as long."""
    ints = pc.fill_null(pc.cast(days, pa.int32()), 0).to_numpy(zero_copy_only=False)
    out = ints.astype("datetime64[D]").astype(object)
    out[~known] = None
    return list(out.tolist())


def check_column(
    column: Column, values: Any, *, ident: bool, indexed: bool
) -> tuple[list[Any], np.ndarray]:
    """``(typed values, rows to check one by one)`` of one column (see module docstring).

    ``values``: a ``pyarrow`` string array. The typed value of a masked row is
    meaningless. ``ident``: an id (no control character); ``indexed``: Neo4j indexes it.
    """
    t = column.type
    present = pc.is_valid(values)
    bad = np.zeros(len(values), dtype=bool)
    if column.required:
        bad |= ~_mask(present)
    if t == "str":
        bad |= _text_flags(values, required=column.required, ident=ident, indexed=indexed)
        return values.to_pylist(), bad
    if t == "enum":
        known = pc.is_in(values, value_set=pa.array(column.enum, pa.string()))
        bad |= _mask(present) & ~_mask(known)
        return values.to_pylist(), bad
    if t == "date":
        shaped = _mask(pc.match_substring_regex(values, _DATE))
        clean = pc.if_else(pa.array(shaped), values, pa.scalar(None, pa.string()))
        try:  # Arrow's cast checks the calendar (2023-02-29 fails) but stops at the first
            days = pc.cast(clean, pa.date32())
        except pa.ArrowException:  # then Python's, value by value
            found: list[Any] = []
            for v in clean.to_pylist():
                try:
                    found.append(None if v is None else date.fromisoformat(v))
                except ValueError:
                    found.append(None)
            days = pa.array(found, pa.date32())
        known = _mask(pc.is_valid(days))
        bad |= _mask(present) & ~known
        return _dates(days, known), bad
    short = ~_mask(pc.greater(pc.utf8_length(values), MAX_NUMBER_CHARS))
    if t == "int":
        shaped = _mask(pc.match_substring_regex(values, _INT)) & short
        bad |= _mask(present) & ~shaped
        digits = pc.replace_substring_regex(
            pc.if_else(pa.array(shaped), values, pa.scalar(None, pa.string())), _INT_SIGN_TAIL, ""
        )
        return pc.cast(digits, pa.int64()).to_pylist(), bad
    # amount, share, severity: a finite decimal in range
    shaped = _mask(pc.match_substring_regex(values, _NUMBER)) & short
    clean = pc.if_else(pa.array(shaped), values, pa.scalar(None, pa.string()))
    try:
        floats = pc.cast(clean, pa.float64())
    except pa.ArrowException:  # a text Arrow does not read as Python does: Python's float
        floats = pa.array(
            [None if v is None else float(v) for v in clean.to_pylist()], pa.float64()
        )
    x = pc.add(floats, 0.0)  # -0.0 -> 0.0, as parse_value
    ok = _mask(pc.is_finite(x))
    if t == "amount":
        ok &= _mask(pc.greater_equal(x, 0.0))
    elif t == "share":
        ok &= _mask(pc.and_(pc.greater(x, 0.0), pc.less_equal(x, 1.0)))
    else:  # severity
        ok &= _mask(pc.and_(pc.greater_equal(x, 0.0), pc.less_equal(x, 1.0)))
    bad |= _mask(present) & ~ok
    return x.to_pylist(), bad


def string_array(values: list[Any]) -> tuple[Any, list[int]]:
    """A ``pyarrow`` string array of ``values`` (str or None), and the positions of the
    values it could not hold (not text, or text UTF-8 cannot encode: a lone surrogate),
    which it holds as None."""
    try:
        return pa.array(values, pa.string()), []
    except (pa.ArrowException, UnicodeEncodeError, TypeError, ValueError):
        pass
    odd: list[int] = []
    clean: list[str | None] = []
    for i, v in enumerate(values):
        if v is None:
            clean.append(None)
            continue
        if type(v) is str:
            try:
                v.encode("utf-8")
                clean.append(v)
                continue
            except UnicodeEncodeError:
                pass
        odd.append(i)
        clean.append(None)
    return pa.array(clean, pa.string()), odd
