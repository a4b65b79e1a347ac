"""Private spill files of a load: records as JSON Lines, data only (never pickle).

A loader that must hold rows back (the FtM reader groups rows by file, the bulk
loader keeps the values its importer CSV cannot carry) writes them to a temporary
file with :class:`Spill` and reads them back in the same order. The file holds data
only, so reading it runs no code whatever it contains.

The encoding is exact: a record read back equals the record written, value for
value and type for type, within this domain:

* ``None``, ``bool``, ``int`` (any size), ``str`` and finite ``float``: JSON as is.
  Text is written with ``\\uXXXX`` escapes for everything outside ASCII, so a lone
  surrogate (``"\\ud800"``, which UTF-8 cannot hold; the validator rejects it, but a
  spill never depends on that) is written as its escape and read back as itself.
  A finite float is written as its ``repr`` (the shortest text that reads back to it).
* ``list``: a JSON array of encoded values (JSON's own rule: a ``tuple`` is written as
  a list; loaders spill lists).
* ``dict`` with ``str`` keys (JSON's own rule: other keys are written as text; loaders'
  keys are column and property names): a JSON object; one with a key that starts with ``$`` is
  written as ``{"$map": [[key, value], ...]}`` so it cannot be read as a tag.
* Tagged values, one-key objects:
  ``{"$date": "2024-01-31"}``; ``{"$datetime": [iso text, fold, zone]}`` (zone is
  None for a naive or fixed-offset datetime, whose offset is in the ISO text, or the
  IANA name of a ``zoneinfo.ZoneInfo``); ``{"$float": "nan" | "inf" | "-inf"}``.

Anything else (``Decimal``, ``bytes``, ``set``, other tzinfo classes) raises
``TypeError`` when written: a spill never turns a value into something else.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timezone
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

_TAGS = ("$date", "$datetime", "$float", "$map")


def _fixed(tz: timezone) -> timezone:
    """``tz`` if it is the unnamed fixed offset that ISO text reads back to, else a copy."""
    offset = tz.utcoffset(None)
    same = timezone(offset) if offset else UTC
    return tz if repr(same) == repr(tz) else same


def _tag(v: Any) -> Any:
    """JSON's hook for values it does not know: dates and datetimes."""
    if isinstance(v, datetime):
        tz = v.tzinfo
        zone: str | None = None
        if isinstance(tz, ZoneInfo):
            zone = tz.key
            text = v.replace(tzinfo=None).isoformat()
        elif tz is None or (isinstance(tz, timezone) and tz is _fixed(tz)):
            text = v.isoformat()  # the offset, if any, is in the text
        else:
            raise TypeError(f"cannot spill a datetime with tzinfo {type(tz).__name__}")
        return {"$datetime": [text, v.fold, zone]}
    if isinstance(v, date):
        return {"$date": v.isoformat()}
    raise TypeError(f"cannot spill a value of type {type(v).__name__}")


def _plain(v: Any) -> Any:
    """``v`` with what JSON cannot say exactly made explicit (the slow path)."""
    if isinstance(v, float) and not math.isfinite(v):
        return {"$float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if isinstance(v, list | tuple):
        return [_plain(e) for e in v]
    if isinstance(v, dict):
        for k in v:
            if not isinstance(k, str):
                raise TypeError(f"cannot spill a map key of type {type(k).__name__}")
        if any(k.startswith("$") for k in v):
            return {"$map": [[k, _plain(e)] for k, e in v.items()]}
        return {k: _plain(e) for k, e in v.items()}
    return v


def dumps(record: Any) -> bytes:
    """One record as one line of ASCII JSON (with its newline)."""
    try:
        text = json.dumps(record, ensure_ascii=True, allow_nan=False, default=_tag)
    except ValueError:  # a NaN or an infinity
        text = None
    if text is None or '"$' in text:  # a tag-like key, or a text with `"$` in it
        text = json.dumps(_plain(record), ensure_ascii=True, allow_nan=False, default=_tag)
    return text.encode("ascii") + b"\n"


def _untag(d: dict[str, Any]) -> Any:
    if len(d) != 1:
        return d
    k, v = next(iter(d.items()))
    if k == "$date":
        return date.fromisoformat(v)
    if k == "$datetime":
        text, fold, zone = v
        dt = datetime.fromisoformat(text)
        if zone is not None:
            dt = dt.replace(tzinfo=ZoneInfo(zone))
        return dt.replace(fold=fold)
    if k == "$float":
        return float(v)
    if k == "$map":
        return {key: val for key, val in v}
    return d


def loads(line: bytes | str) -> Any:
    """The record :func:`dumps` wrote."""
    return json.loads(line, object_hook=_untag)


class Spill:
    """An append-then-replay file of records: a private temporary file, or ``path``
    (created anew, mode 0600 under the product's umask)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is None:
            self._fh: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        else:
            self._fh = open(path, "w+b")  # noqa: SIM115
        self.count = 0

    def write(self, record: Any) -> None:
        self._fh.write(dumps(record))
        self.count += 1

    def __iter__(self) -> Iterator[Any]:
        """Every record written, in order; a closed spill with a path is read again."""
        if self._fh.closed:
            if self.path is None:
                raise ValueError("a closed temporary spill cannot be read")
            with open(self.path, "rb") as fh:
                for line in fh:
                    yield loads(line)
            return
        self._fh.flush()
        self._fh.seek(0)
        for line in self._fh:
            yield loads(line)

    def close(self) -> None:
        self._fh.close()
