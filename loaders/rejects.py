"""The rejects file (CSV: file,row,column,value,reason) and the per-file summary table.

Values are written as read, except that values longer than :data:`MAX_VALUE` characters
are cut and end with a marker saying how long they were, and that text a UTF-8 file cannot
hold or a terminal would act on is escaped in every field: a lone surrogate as ``\\ud800``,
a control character other than tab, line feed and carriage return as ``\\x1b``. The writer
survives any text it is given. Values are not escaped against spreadsheet formula
injection: a rejected ``=cmd()`` is written as ``=cmd()``, so open the file as text (or
import it with every column as text).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

from rich.table import Table
from rich.text import Text

from credgraph.graph.errors import InputError
from credgraph.loaders.validate import Reject

COLUMNS = ("file", "row", "column", "value", "reason")
MAX_VALUE = 200


_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_text(text: str) -> str:
    """``text`` with lone surrogates and control characters (but tab, line feed and
    carriage return) written as Python escapes: ``\\ud800``, ``\\x00``."""
    if text.isprintable():
        return text
    return _UNSAFE.sub(_escape, text)


def shorten(value: str | None, limit: int = MAX_VALUE) -> str | None:
    """``value`` cut to ``limit`` characters plus ``…[truncated, N chars]`` when longer."""
    if value is None or len(value) <= limit:
        return value
    return f"{value[:limit]}…[truncated, {len(value)} chars]"


class RejectWriter:
    """Context manager writing :class:`Reject` records to a CSV file (header included).

    ``count`` is the number of rejects written and ``by_file`` counts them per file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.count = 0
        self.by_file: Counter[str] = Counter()
        self._fh: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def __enter__(self) -> RejectWriter:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # backslashreplace: a net under safe_text, the file is written whatever comes.
            self._fh = open(  # noqa: SIM115
                self.path, "w", encoding="utf-8", errors="backslashreplace", newline=""
            )
        except OSError as e:
            raise InputError(
                f"cannot write the rejects file {safe_text(str(self.path))}: {e.strerror}",
                hint="choose another file with --rejects",
            ) from e
        self._writer = csv.DictWriter(self._fh, fieldnames=COLUMNS)
        self._writer.writeheader()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, reject: Reject) -> None:
        if self._writer is None:
            raise RuntimeError("RejectWriter is not open; use it as a context manager")
        value = reject.value if reject.value is None else str(reject.value)
        self._writer.writerow(
            {
                "file": safe_text(str(reject.file)),
                "row": reject.row,
                "column": safe_text(reject.column or ""),
                "value": safe_text(shorten(value) or ""),
                "reason": safe_text(str(reject.reason)),
            }
        )
        self.count += 1
        self.by_file[reject.file] += 1

    def write_many(self, rejects: Iterable[Reject]) -> None:
        for r in rejects:
            self.write(r)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._writer = None


def summary_table(
    rejects_by_file: Mapping[str, Mapping[str, int]], title: str = "Load summary"
) -> Table:
    """A rich table of :meth:`loaders.validate.Validator.summary` (file -> read/valid/rejected).

    A total line is added when there is more than one file; rejected counts show in red.
    """
    table = Table(title=title)
    table.add_column("file")
    for name in ("read", "valid", "rejected"):
        table.add_column(name, justify="right")
    totals = Counter[str]()
    for file, counts in rejects_by_file.items():
        rejected = counts.get("rejected", 0)
        table.add_row(
            Text(file),
            str(counts.get("read", 0)),
            str(counts.get("valid", 0)),
            f"[red]{rejected}[/red]" if rejected else "0",
        )
        totals.update({k: counts.get(k, 0) for k in ("read", "valid", "rejected")})
    if len(rejects_by_file) > 1:
        table.add_section()
        table.add_row(
            "total",
            str(totals["read"]),
            str(totals["valid"]),
            f"[red]{totals['rejected']}[/red]" if totals["rejected"] else "0",
        )
    return table
