"""`credgraph load`: read, validate, upsert; one Load record per run.

The way a row goes: reader (streaming) -> :class:`loaders.validate.Validator`
(rules, keys, references against this load and the graph) -> rejects file or
:mod:`loaders.writer` (batched upserts with provenance). Files go in layout
order so that every reference points at something already written.

``strict=True`` validates everything first (a dry pass that writes nothing)
and refuses the whole load if any row is rejected.

Interruptions: the first thing a load does under the writer lease is mark every
load still ``running`` as ``interrupted`` (graph/loads.py: such a load is dead,
since it would hold the lease); a SIGTERM, SIGINT or SIGHUP stops a load after
its batches in flight and records it ``interrupted`` (loaders/interrupt.py).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, LiteralString

from credgraph.graph.errors import InputError, UsageError
from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import Lease
from credgraph.graph.loads import mark_interrupted
from credgraph.graph.managed import ManagedServer
from credgraph.graph.schema import ensure_schema
from credgraph.loaders.ftm import FtmReader, read_ftm
from credgraph.loaders.interrupt import Interrupted, StopSignals
from credgraph.loaders.layout import FileSpec
from credgraph.loaders.readers import (
    RawBlock,
    RawRow,
    discover,
    read_blocks,
    read_rows,
    unknown_columns,
)
from credgraph.loaders.rejects import RejectWriter, safe_text
from credgraph.loaders.staging import remove_stale_staging
from credgraph.loaders.validate import Reject, Validator, ValidRow
from credgraph.loaders.writer import is_fresh, load_params, to_params, write_rows

Format = Literal["csv", "parquet", "ftm"]

_KNOWN: dict[str, LiteralString] = {
    "subject": "UNWIND $ids AS id MATCH (n:Subject {id: id}) RETURN n.id AS id",
    "person": "UNWIND $ids AS id MATCH (n:Person {id: id}) RETURN n.id AS id",
    "firm": "UNWIND $ids AS id MATCH (n:Firm {id: id}) RETURN n.id AS id",
    "loan": "UNWIND $ids AS id MATCH (n:Loan {id: id}) RETURN n.id AS id",
}


@dataclass
class FileReport:
    file: str
    path: str
    sha256: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass
class LoadReport:
    load_id: str
    source: str
    path: str
    format: str
    strict: bool
    started_at: str
    ended_at: str | None = None
    outcome: str = "running"
    files: list[FileReport] = field(default_factory=list)
    rejects_path: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The input files' names; a stored row's provenance names its file by index here.
    file_names: list[str] = field(default_factory=list)
    #: The Load record's number, which every stored row carries (set by its first record).
    load_num: int | None = None

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def written(self) -> int:
        return sum(f.created + f.updated + f.unchanged for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rejected"] = self.rejected
        return d


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def graph_lookup(gw: Gateway) -> Callable[[str, list[str]], set[str]]:
    """The validator's ``known`` callback: which ids already exist in the graph."""

    def known(space: str, ids: list[str]) -> set[str]:
        return {r["id"] for r in gw.read(_KNOWN[space], ids=ids)}

    return known


def detect_format(path: Path, fmt: Format | None) -> Format | None:
    """``ftm`` for a file, else ``fmt`` (a folder in the input layout). A single
    ``.csv`` or ``.parquet`` file is a usage error: the layout is a folder of them; so is
    any file with ``--format csv`` or ``parquet``."""
    if path.is_file() and fmt != "ftm" and path.suffix.lower() in (".csv", ".parquet"):
        raise UsageError(
            f"{safe_text(str(path))} is one file of the input layout, not an FtM file",
            hint=f"load the folder that holds it: credgraph load {safe_text(str(path.parent))}",
        )
    if fmt == "ftm" or (fmt is None and path.is_file()):
        return "ftm"
    if fmt is not None and path.is_file():
        raise UsageError(
            f"--format {fmt} needs a folder in the input layout, {safe_text(str(path))} is a file",
            hint="an FtM file loads with --format ftm (or no --format)",
        )
    return fmt


def _sources(path: Path, fmt: Format | None) -> tuple[list[tuple[FileSpec, Path]], list[str]]:
    found = discover(path, fmt)  # type: ignore[arg-type]
    notes = [f"ignored {p.name}: not an input file" for p in found.ignored]
    return list(found), notes


def check_writable(rejects_path: Path) -> None:
    """Refuse, before anything is written, a rejects file that cannot be written: a
    folder, or a place where no file can be made (tried, not guessed from modes)."""
    shown = safe_text(str(rejects_path))
    if rejects_path.is_dir():
        raise UsageError(f"the rejects file {shown} is a folder", hint="give a file name")
    existed = rejects_path.exists()
    try:
        rejects_path.parent.mkdir(parents=True, exist_ok=True)
        with open(rejects_path, "a"):
            pass
    except OSError as e:
        raise UsageError(
            f"cannot write the rejects file {shown}: {e.strerror}",
            hint="choose another file with --rejects",
        ) from e
    if not existed:
        rejects_path.unlink()


def _load_day(report: LoadReport) -> date:
    """The UTC day a load started (its Load record's ``started_at``): the day an FtM
    sanction without any date counts from, the same for every line of the load even
    when it runs past midnight."""
    return datetime.fromisoformat(report.started_at).date()


def _spec_streams(
    path: Path, fmt: Format | None, reader: FtmReader | None = None
) -> Iterator[tuple[FileSpec, str, Iterable[RawRow | RawBlock], FtmReader | None]]:
    """(spec, file name, rows) in load order, for a folder or an FtM file; rows of a
    folder's files come partly in blocks (``readers.read_blocks``), for the validator's
    column-wise checks.

    For FtM, pass the reader to see its ``problems`` (lines that are not entities)
    even when the file yields no row at all.
    """
    if detect_format(path, fmt) == "ftm":
        reader = reader or read_ftm(path)
        for spec, group in itertools.groupby(reader, key=lambda pair: pair[0]):
            yield spec, reader.file, (row for _, row in group), reader
        return
    files, _ = _sources(path, fmt)
    for spec, p in files:
        yield spec, p.name, read_blocks(spec, p), None


def prepare(
    path: Path,
    *,
    source: str | None,
    fmt: Format | None,
    strict: bool,
    rejects_path: Path | None,
) -> tuple[Path, Format | None, LoadReport, Path, dict[str, tuple[str, str]]]:
    """Checks and bookkeeping shared by the online and bulk paths, before any write.

    The input exists and has the right form, every file's header is complete
    (reading the first row checks it), every file has its checksum; returns the
    path, format, a new report, the rejects path and ``{file: (path, sha256)}``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    fmt = detect_format(path, fmt)
    if fmt == "ftm" and not path.is_file():
        raise UsageError(f"--format ftm needs a FollowTheMoney JSON-lines file, {path} is not")
    source = source or path.stem if path.is_file() else (source or path.name)
    started = datetime.now(UTC)
    report = LoadReport(
        load_id=f"load-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}",
        # Names as text the database and a terminal can hold: a byte that is not
        # UTF-8 in a path or --source shows as \udcff (loaders/rejects.py, safe_text).
        source=safe_text(source),
        path=safe_text(str(path.resolve())),
        format=fmt or "auto",
        strict=strict,
        started_at=started.isoformat(timespec="seconds"),
    )
    if rejects_path is None:
        rejects_path = Path(f"{report.load_id}.rejects.csv")
    check_writable(rejects_path)
    if fmt != "ftm":
        files, notes = _sources(path, fmt)
        report.notes.extend(safe_text(note) for note in notes)
        checksums = {p.name: (str(p), sha256(p)) for _, p in files}
        for spec, p in files:  # reading the first row checks the header
            next(iter(read_rows(spec, p)), None)
            extra = unknown_columns(spec, p)
            if extra:
                shown = ", ".join(extra[:20]) + (
                    f" and {len(extra) - 20} more" if len(extra) > 20 else ""
                )
                report.notes.append(
                    safe_text(f"ignored columns of {p.name} not in the layout: {shown}")
                )
    else:
        checksums = {path.name: (str(path), sha256(path))}
    report.file_names = list(checksums)
    return path, fmt, report, rejects_path, checksums


def validated(
    path: Path,
    fmt: Format | None,
    validator: Validator,
    report: LoadReport,
    checksums: dict[str, tuple[str, str]],
    rw: RejectWriter,
    on_rows: Callable[[str, int], None] | None = None,
) -> Iterator[tuple[FileSpec, FileReport, list[ValidRow]]]:
    """Validate the input in load order, batch by batch; the online and bulk paths' reader.

    Counts read and rejected rows per file in ``report.files``, writes every reject
    (FtM lines that are no entity included) to ``rw``, and yields the valid rows of
    each batch with the file report the writer adds its counts to.
    """
    by_file: dict[str, FileReport] = {}

    def file_report(key: str, file: str) -> FileReport:
        fr = by_file.get(key)
        if fr is None:
            where, digest = checksums.get(file, (str(path), ""))
            # (an FtM file's name is the user's: shown and recorded escaped, safe_text)
            fr = by_file[key] = FileReport(
                file=safe_text(key), path=safe_text(where), sha256=digest
            )
            report.files.append(fr)
        return fr

    ftm_reader = read_ftm(path, _load_day(report)) if fmt == "ftm" else None
    for spec, file, rows, reader in _spec_streams(path, fmt, ftm_reader):
        key = file if reader is None else f"{file}:{spec.name}"
        fr = file_report(key, file)
        for batch in validator.validate_file(spec, rows):
            n_rejected = len({r.row for r in batch.rejects})
            fr.read += len(batch.rows) + n_rejected
            fr.rejected += n_rejected
            rw.write_many(batch.rejects)
            if batch.rows:
                yield spec, fr, batch.rows
            if on_rows:
                on_rows(fr.file, len(batch.rows) + n_rejected)
    if ftm_reader is not None and ftm_reader.skipped:
        report.notes.append(
            "skipped FtM entities whose schema maps to nothing in the graph: "
            + ", ".join(f"{name} {n:,}" for name, n in sorted(ftm_reader.skipped.items()))
        )
    if ftm_reader is not None and ftm_reader.problems:
        rw.write_many(ftm_reader.problems)
        lines = len({r.row for r in ftm_reader.problems})  # read, and refused by the reader
        fr = file_report(ftm_reader.file, ftm_reader.file)
        fr.read += lines
        fr.rejected += lines


class _Writers:
    """Writes batches on threads of their own while the caller validates the next ones.

    ``writers`` transactions are in flight at a time, all of one input file: before
    the first batch of the next file goes out, every batch of the previous one has
    committed, so a batch only ever references rows written before it (files come
    in layout order). Batches of one file are independent (keys are unique within
    a file); two that touch the same node take turns on its lock, and a deadlock
    between them is retried by the driver. At most ``2 * writers`` batches wait; an
    error in a writer stops the load at the next ``put`` or at ``close``.
    """

    def __init__(self, gw: Gateway, params: dict[str, Any], writers: int = 2) -> None:
        self.gw = gw
        self.params = params
        self.pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="credgraph-writer")
        self.slots = threading.BoundedSemaphore(2 * writers)
        self.lock = threading.Lock()
        self.pending: list[Future[None]] = []
        self.current: FileReport | None = None
        self.fresh = False
        self.error: BaseException | None = None

    def _write(self, spec: FileSpec, rows: list[dict[str, Any]], fr: FileReport) -> None:
        try:
            if self.error is None:
                counts = write_rows(self.gw, spec, rows, self.params, fresh=self.fresh)
                with self.lock:
                    for k, v in counts.items():
                        setattr(fr, k, getattr(fr, k) + v)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            with self.lock:
                self.error = self.error or exc
        finally:
            self.slots.release()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def _drain(self) -> None:
        for f in self.pending:
            f.result()
        self.pending = []

    def put(self, spec: FileSpec, rows: list[dict[str, Any]], fr: FileReport) -> None:
        self._check()
        if fr is not self.current:  # a new file: the previous one must be in first
            self._drain()
            self._check()
            self.current = fr
            self.fresh = is_fresh(self.gw, spec)
        self.slots.acquire()
        self.pending = [f for f in self.pending if not f.done()]
        self.pending.append(self.pool.submit(self._write, spec, rows, fr))

    def close(self) -> None:
        """Wait for every batch; raise the first writer error, if any."""
        try:
            self._drain()
        finally:
            self.pool.shutdown(wait=True)
        self._check()

    def abort(self) -> None:
        """Stop after an error elsewhere: let the batches in flight end, write nothing more."""
        with self.lock:
            self.error = self.error or RuntimeError("load stopped")
        self.pool.shutdown(wait=True)


def load(
    gw: Gateway,
    path: Path,
    *,
    source: str | None = None,
    fmt: Format | None = None,
    strict: bool = False,
    rejects_path: Path | None = None,
    batch_size: int | None = None,
    on_rows: Callable[[str, int], None] | None = None,
) -> LoadReport:
    """Load a folder in the input layout, or an FtM entity file, into the graph."""
    path, fmt, report, rejects_path, checksums = prepare(
        path, source=source, fmt=fmt, strict=strict, rejects_path=rejects_path
    )
    size = batch_size or gw.settings.batch_size

    ensure_schema(gw)
    with StopSignals(f"load {report.load_id}") as stop:
        stop.check()
        with Lease(gw, report.load_id, "load") as lease:
            _load(
                gw, path, fmt, report, rejects_path, checksums, strict, size, on_rows, lease, stop
            )
    if not report.rejects_path:
        rejects_path.unlink(missing_ok=True)  # only a header: nothing was rejected
    return report


def _load(
    gw: Gateway,
    path: Path,
    fmt: Format | None,
    report: LoadReport,
    rejects_path: Path,
    checksums: dict[str, tuple[str, str]],
    strict: bool,
    size: int,
    on_rows: Callable[[str, int], None] | None,
    lease: Lease,
    stop: StopSignals,
) -> None:
    """The load proper, under the graph's writer lease (graph/lease.py)."""
    stale = mark_interrupted(gw, report.load_id)
    if stale:
        report.notes.append(
            "marked interrupted (found running, without the writer lease): " + ", ".join(stale)
        )
    if gw.settings.managed:
        # What a bulk load killed outright left in the home (its staged copy of the
        # input, maybe an importer still at work): we hold the lease, so none stages.
        gone = remove_stale_staging(ManagedServer(gw.settings))
        if gone:
            report.notes.append(
                "removed the import staging of stopped bulk load(s): " + ", ".join(gone)
            )
    if strict:
        dry = Validator(graph_lookup(gw), batch_size=size)
        rejects: list[Reject] = []
        ftm_reader = read_ftm(path, _load_day(report)) if fmt == "ftm" else None
        for spec, _file, rows, _ in _spec_streams(path, fmt, ftm_reader):
            for batch in dry.validate_file(spec, rows):
                stop.check("nothing was written (--strict checks everything first)")
                rejects.extend(batch.rejects)
        if ftm_reader is not None:
            rejects.extend(ftm_reader.problems)
        if rejects:
            with RejectWriter(rejects_path) as rw:
                rw.write_many(rejects)
            report.rejects_path = str(rejects_path)
            report.outcome = "refused"
            summary = dry.summary()
            for name, stats in summary.items():
                report.files.append(
                    FileReport(
                        file=safe_text(name),
                        path=safe_text(checksums.get(name, ("", ""))[0]),
                        sha256=checksums.get(name, ("", ""))[1],
                        read=stats["read"],
                        rejected=stats["rejected"],
                    )
                )
            report.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
            _record(gw, report)
            raise InputError(
                f"--strict: {len(rejects)} rejected row(s), nothing was written; "
                f"first: {safe_text(rejects[0].file)} row {rejects[0].row}"
                + (f" column {rejects[0].column}" if rejects[0].column else "")
                + f": {rejects[0].reason}",
                hint=f"see {rejects_path}",
            )

    _record(gw, report)
    validator = Validator(graph_lookup(gw), batch_size=size)
    assert report.load_num is not None  # set by _record
    params = load_params(report.load_num, report.file_names)
    outcome = "failed"
    writer = _Writers(gw, params, gw.settings.load_writers)
    try:
        with RejectWriter(rejects_path) as rw:
            try:
                for spec, fr, valid in validated(
                    path, fmt, validator, report, checksums, rw, on_rows
                ):
                    stop.check()  # a signal: stop before the next batch
                    lease.check()  # taken over after a long silence: stop, as after any error
                    writer.put(spec, [to_params(spec, r) for r in valid], fr)
                writer.close()
            finally:
                if rw.count:
                    report.rejects_path = str(rejects_path)
        outcome = "completed_with_rejects" if report.rejected else "completed"
    except Interrupted as exc:
        outcome = "interrupted"
        writer.abort()  # the batches in flight commit; nothing more is sent
        report.notes.append(
            f"interrupted by {stop.name()} after {report.written} row(s) written "
            f"and {report.rejected} rejected"
        )
        exc.message += (
            f"; {report.written} row(s) were written and the Load record says 'interrupted'"
        )
        raise
    finally:
        if outcome == "failed":  # stopped by an error: let the writers finish and end
            writer.abort()
        report.outcome = outcome
        report.ended_at = datetime.now(UTC).isoformat(timespec="seconds")
        _record(gw, report)


def _record(gw: Gateway, report: LoadReport) -> None:
    """Create or update the (:Load) node of this load; a new one gets the next ``num``
    (loads run one at a time under the lease; constraint ``load_num`` keeps it unique),
    which is set on ``report.load_num``.

    Not fenced (graph/lease.py): a load that lost its lease still records how it ended.
    """
    report.load_num = gw.write_tx(
        lambda tx: tx.run(_RECORD, _record_params(report)).single(strict=True)["num"],
        fenced=False,
    )


_RECORD: LiteralString = (
    "OPTIONAL MATCH (o:Load) WITH coalesce(max(o.num), 0) + 1 AS next "
    "MERGE (l:Load {id: $id}) ON CREATE SET l.num = next "
    "SET l.file_names = $file_names, l.source = $source, l.path = $path, l.format = $format, l.strict = $strict, "
    "l.started_at = datetime($started_at), "
    "l.ended_at = CASE WHEN $ended_at IS NULL THEN null ELSE datetime($ended_at) END, "
    "l.outcome = $outcome, l.files = $files, l.rejected = $rejected, "
    "l.rejects_path = $rejects_path, l.notes = $notes "
    "RETURN l.num AS num"
)


def _record_params(report: LoadReport) -> dict[str, Any]:
    return {
        "id": report.load_id,
        "source": report.source,
        "path": report.path,
        "format": report.format,
        "strict": report.strict,
        "started_at": report.started_at,
        "ended_at": report.ended_at,
        "outcome": report.outcome,
        "files": json.dumps([asdict(f) for f in report.files]),
        "rejected": report.rejected,
        "rejects_path": None if report.rejects_path is None else safe_text(report.rejects_path),
        "notes": report.notes,
        "file_names": [safe_text(name) for name in report.file_names],
    }
