"""The run store: each propagation run's snapshot, in a data-only format.

A snapshot is what explaining one subject needs without re-exporting the graph:
the run's projection, scores and centrality (``graph/engine``). It is a folder
named after the run id in the store (``CREDGRAPH_RUN_STORE``, default
``$CREDGRAPH_HOME/runs``), holding

* one Arrow IPC file per part (``projection.arrow``, ``scores.arrow``,
  ``centrality.arrow``): a table of one row whose every column is one flat array
  (a ``large_list`` of its values), uncompressed, so a reader maps it without copies;
* ``manifest.json``: the format and its version, the run id, the files with
  their size and sha256, and for each part a tree that says how the arrays make
  up the engine's dataclasses (class name, fields; per array its column, numpy
  dtype and shape; scalars, dates, dicts, lists and tuples inline).

Nothing in it is code: reading a snapshot decodes numbers, strings and the
fields of the engine's own dataclasses (an allow-list: the dataclasses defined in
``credgraph.graph.engine``), never an object a file names. There is no pickle
anywhere in the product (``tests/test_architecture.py``).

The encoder walks ``dataclasses.fields``, so a field added to ``Projection`` or
``Scores`` is carried without a change here. It knows numpy arrays of any
numeric, bool, string (``U``/``S``), object (strings or None, or values Arrow
can type), ``datetime64`` and ``timedelta64`` dtype and any shape; dicts,
lists and tuples; ``None``, bool, int, float (exactly, as hex), str,
``datetime.date``/``datetime``; numpy scalars; pandas Series (values, dtype,
name, index); and lists of one dataclass as columns (a guarantee circle's
members as one array of values and one of offsets).

Integrity. The manifest's sha256 is recorded on the ``(:Run)`` node at the
switch (``snapshot_sha256``); :meth:`RunStore.load` reads the manifest's bytes,
compares their hash with that value, then reads each file's bytes once, checks
its hash against the manifest and decodes those same bytes: a snapshot that
was changed after the run is refused, never decoded.

Paths. A run id becomes part of a path only after :func:`check_run_id` (the
exact shape :func:`graph.runs.new_run_id` produces), whether it comes from a
user or from the database; a ``(:Run)`` with an id like ``../../tmp/x`` cannot
make a reader or a pruner touch anything outside the store. Old
``<run id>.pkl`` files of earlier versions are never read (only deleted with
their run's outputs).

Sharing. The store is a plain directory that several processes or hosts may
share (a network file system): a snapshot is written into a temporary folder in
the store and renamed to its run id in one step, so a reader sees a whole
snapshot or none. Folders are created 0700 and files 0600: processes sharing
a store run as one service account. A run records the absolute path of the store
it wrote to (``snapshot_store``); a reader whose own store lacks the snapshot
reads it there when it can (:func:`recorded_store`: same host or the same mount
path, private to the account), so a second home on the same host explains
without being told where the store is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import pkgutil
import re
import secrets
import shutil
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from credgraph.graph.errors import CredgraphError, UsageError

FORMAT = "credgraph-run-snapshot"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

RUN_ID = re.compile(r"run-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
"""The only shape of a run id (``run-YYYYMMDDTHHMMSS-`` and six hex digits)."""

_PART = re.compile(r"[a-z][a-z_]{0,31}")
_FILE = re.compile(r"[a-z][a-z_]{0,31}\.arrow")
_TMP_PREFIX = ".tmp-"
_DTYPE_KINDS = frozenset("biufUSMmO")


class BadRunId(UsageError):
    """A run id that does not have the shape credgraph gives run ids."""

    code = "bad_run_id"


class SnapshotError(CredgraphError):
    """A value the run store cannot write (a type it does not know)."""

    code = "snapshot_error"


class SnapshotUnavailable(CredgraphError):
    """A run's snapshot cannot be used: ``reason`` is ``missing``, ``refused`` (a bad
    run id, or no hash recorded for it), ``corrupt`` (a hash differs, a file is
    unreadable) or ``incompatible`` (another format version or engine classes).
    The message names the run, never a local path."""

    code = "no_snapshot"
    http_status = 404

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_run_id(run_id: object) -> str:
    """``run_id`` if it has exactly the shape of a run id; else :class:`BadRunId`."""
    if not isinstance(run_id, str) or RUN_ID.fullmatch(run_id) is None:
        shown = repr(run_id)[:80]
        raise BadRunId(
            f"{shown} is not a run id (run-YYYYMMDDTHHMMSS-xxxxxx)",
            field="run",
        )
    return run_id


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- snapshot


@dataclasses.dataclass(frozen=True, eq=False)
class Snapshot:
    """A decoded snapshot: ``parts`` maps a part name (``projection``, ``scores``,
    ``centrality``) to the object saved under it."""

    run_id: str
    sha256: str
    parts: dict[str, Any]

    def __getitem__(self, part: str) -> Any:
        return self.parts[part]


class RunStore:
    """Run snapshots under one directory (``root``), one folder per run id."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, run_id: str) -> Path:
        """The folder of a run's snapshot (the id is checked first)."""
        return self.root / check_run_id(run_id)

    def exists(self, run_id: str) -> bool:
        return (self.path_of(run_id) / MANIFEST).is_file()

    # ----------------------------------------------------------------- writing
    def save(self, run_id: str, parts: Mapping[str, Any]) -> str:
        """Write a run's snapshot (temp folder, then one rename); returns the sha256 of
        its manifest, which the caller records on the run."""
        final = self.path_of(run_id)
        _mkdir_private(self.root)
        tmp = self.root / f"{_TMP_PREFIX}{run_id}-{secrets.token_hex(4)}"
        os.mkdir(tmp, 0o700)
        os.chmod(tmp, 0o700)
        try:
            files: list[dict[str, Any]] = []
            tree: dict[str, Any] = {}
            for part, obj in parts.items():
                if _PART.fullmatch(part) is None:
                    raise SnapshotError(f"bad snapshot part name {part!r}")
                enc = _Encoder(part)
                tree[part] = enc.encode(obj, part)
                name = f"{part}.arrow"
                digest, size = _write_arrow(tmp / name, enc.columns)
                files.append({"name": name, "part": part, "bytes": size, "sha256": digest})
            manifest = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "run": run_id,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "files": files,
                "parts": tree,
            }
            data = json.dumps(manifest, separators=(",", ":"), ensure_ascii=True).encode()
            _write_private(tmp / MANIFEST, data)
            _fsync_dir(tmp)
            os.rename(tmp, final)
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return sha256_bytes(data)

    def delete(self, run_id: str) -> None:
        """Remove a run's snapshot, the temporary folders a killed writer of it left,
        and a ``<run id>.pkl`` of an earlier version (deleted, never read)."""
        folder = self.path_of(run_id)
        if not self.root.is_dir():
            return
        doomed = [folder] + sorted(self.root.glob(f"{_TMP_PREFIX}{run_id}-*"))
        for path in doomed:
            if path.is_dir() and not path.is_symlink():
                # out of the way first: a reader sees the whole snapshot or none
                gone = path.with_name(f"{_TMP_PREFIX}{run_id}-gone-{secrets.token_hex(4)}")
                try:
                    os.rename(path, gone)
                except FileNotFoundError:
                    continue
                shutil.rmtree(gone, ignore_errors=True)
            elif path.is_symlink():
                path.unlink(missing_ok=True)
        (self.root / f"{run_id}.pkl").unlink(missing_ok=True)

    # ----------------------------------------------------------------- reading
    def load(self, run_id: str, expected_sha256: str | None) -> Snapshot:
        """Read a run's snapshot, checked against the manifest hash recorded on its run.

        Raises :class:`SnapshotUnavailable` (never decodes a snapshot that fails a
        check); its message names the run, not a path.
        """
        try:
            check_run_id(run_id)
        except BadRunId:
            # not repeated here: a crafted id may itself be a path
            raise SnapshotUnavailable(
                "the run's id is not a run id (run-YYYYMMDDTHHMMSS-xxxxxx): "
                "its snapshot is not read",
                reason="refused",
            ) from None
        if not expected_sha256:
            raise SnapshotUnavailable(
                f"run {run_id} has no snapshot hash on record (stored by an earlier "
                "version, or it did not complete): its snapshot is not read",
                reason="refused",
            )
        folder = self.root / run_id
        try:
            raw = _read_file(folder / MANIFEST)
        except FileNotFoundError:
            raise SnapshotUnavailable(
                f"the run store holds no snapshot of run {run_id} (deleted, or the store "
                "this process uses is not the one the run wrote to)",
                reason="missing",
            ) from None
        except OSError as exc:
            raise SnapshotUnavailable(
                f"the snapshot of run {run_id} cannot be read ({exc.strerror})",
                reason="corrupt",
            ) from None
        if sha256_bytes(raw) != expected_sha256:
            raise SnapshotUnavailable(
                f"the snapshot of run {run_id} failed its integrity check (its manifest's "
                "sha256 differs from the one recorded on the run): it was not loaded",
                reason="corrupt",
            )
        try:
            manifest = json.loads(raw)
            return self._decode(run_id, expected_sha256, folder, manifest)
        except SnapshotUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoding failure means: not usable
            raise SnapshotUnavailable(
                f"the snapshot of run {run_id} could not be decoded ({type(exc).__name__})",
                reason="corrupt",
            ) from None

    def _decode(self, run_id: str, sha: str, folder: Path, manifest: dict[str, Any]) -> Snapshot:
        if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
            raise SnapshotUnavailable(
                f"the snapshot of run {run_id} has format {manifest.get('format')!r} version "
                f"{manifest.get('version')!r}; this version reads {FORMAT} {FORMAT_VERSION}",
                reason="incompatible",
            )
        if manifest.get("run") != run_id:
            raise SnapshotUnavailable(
                f"the snapshot filed under run {run_id} belongs to another run",
                reason="corrupt",
            )
        parts: dict[str, Any] = {}
        for entry in manifest["files"]:
            name, part = entry["name"], entry["part"]
            if _FILE.fullmatch(name) is None or _PART.fullmatch(part) is None:
                raise SnapshotUnavailable(
                    f"the snapshot of run {run_id} lists a bad file name", reason="corrupt"
                )
            data = _read_file(folder / name)
            if sha256_bytes(data) != entry["sha256"]:
                raise SnapshotUnavailable(
                    f"the snapshot of run {run_id} failed its integrity check (file {name} "
                    "differs from its manifest): it was not loaded",
                    reason="corrupt",
                )
            table = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(data))).read_all()
            columns = {
                table.column_names[k]: table.column(k).chunk(0).flatten()
                for k in range(table.num_columns)
            }
            parts[part] = _Decoder(run_id, columns).decode(manifest["parts"][part])
        return Snapshot(run_id=run_id, sha256=sha, parts=parts)


def recorded_store(recorded: object, own: Path) -> Path | None:
    """The run store a run recorded (``snapshot_store`` on its ``(:Run)``: the absolute
    path of the store it wrote to) as a place this process may read its snapshot
    from, or None: when it is not recorded, is this process's own store, is not an
    absolute path to a directory on this host, or is not private to this account
    (owned by it, no access for group or others, as the store creates it). The
    database names the directory; the run id and hashes are checked as in any store,
    and a snapshot is data only, so the most a crafted path can do is point at
    another of this account's private stores."""
    if not isinstance(recorded, str) or not recorded or "\x00" in recorded:
        return None
    path = Path(recorded)
    if not path.is_absolute():
        return None
    try:
        if path.resolve() == Path(own).resolve():
            return None
        st = os.stat(path)
    except (OSError, ValueError, RuntimeError):
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return path


# ----------------------------------------------------------------------------- cache


class SnapshotCache:
    """A bounded LRU of decoded snapshots that threads share.

    ``get(key, load)`` returns the cached value of ``key`` or calls ``load()`` once
    (other threads asking for the same key meanwhile wait for that call instead
    of loading again); at most ``size`` values are kept, the least recently used
    leave first. A ``load`` that raises caches nothing.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("cache size must be >= 1")
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def resize(self, size: int) -> None:
        if size < 1:
            raise ValueError("cache size must be >= 1")
        with self._lock:
            self.size = size
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _evict(self) -> None:
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                value = load()
            except BaseException:
                with self._lock:
                    self._loading.pop(key, None)
                raise
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                self._evict()
                self._loading.pop(key, None)
            return value


# ----------------------------------------------------------------------------- files


def _mkdir_private(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700; an existing folder is
    left as its owner set it (a shared store's mode is the operator's choice)."""
    if path.is_dir():
        return
    for parent in reversed([path, *path.parents]):
        if not parent.exists():
            with contextlib.suppress(FileExistsError):
                os.mkdir(parent, 0o700)
                os.chmod(parent, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_arrow(path: Path, columns: list[tuple[str, pa.Array]]) -> tuple[str, int]:
    """One Arrow IPC file (a table of one row, a ``large_list`` column per array),
    created 0600; returns its sha256 and size."""
    fields, arrays = [], []
    for name, values in columns:
        offsets = pa.array([0, len(values)], type=pa.int64())
        arrays.append(pa.LargeListArray.from_arrays(offsets, values))
        fields.append(pa.field(name, pa.large_list(values.type)))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as fh:
        with pa.ipc.new_file(fh, table.schema) as writer:
            writer.write_table(table)
        fh.flush()
        os.fsync(fh.fileno())
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_file(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- encoding


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_REGISTRY: dict[str, type] | None = None
_REGISTRY_LOCK = threading.Lock()


def engine_dataclasses() -> dict[str, type]:
    """The dataclasses a snapshot may hold: those defined in ``credgraph.graph.engine``."""
    global _REGISTRY
    with _REGISTRY_LOCK:
        if _REGISTRY is None:
            import credgraph.graph.engine as engine

            found: dict[str, type] = {}
            for info in pkgutil.iter_modules(engine.__path__, engine.__name__ + "."):
                mod = importlib.import_module(info.name)
                for obj in vars(mod).values():
                    if (
                        isinstance(obj, type)
                        and dataclasses.is_dataclass(obj)
                        and obj.__module__ == mod.__name__
                    ):
                        found[_class_name(obj)] = obj
            _REGISTRY = found
        return _REGISTRY


def _float(v: float) -> str:
    return float(v).hex()


class _Encoder:
    """Turns one part's object into a JSON tree plus a list of flat Arrow columns."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.columns: list[tuple[str, pa.Array]] = []

    def _column(self, values: pa.Array | pa.ChunkedArray) -> str:
        if isinstance(values, pa.ChunkedArray):  # pandas' Arrow-backed columns are chunked
            values = values.combine_chunks()
        name = f"c{len(self.columns)}"
        self.columns.append((name, values))
        return name

    def encode(self, obj: Any, where: str) -> dict[str, Any]:
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, np.ndarray):
            return self._ndarray(obj, where)
        if isinstance(obj, np.generic):
            return self._npscalar(obj, where)
        if isinstance(obj, int):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": _float(obj)}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, datetime):  # before date: a datetime is a date
            return {"t": "datetime", "v": obj.isoformat()}
        if isinstance(obj, date):
            return {"t": "date", "v": obj.isoformat()}
        if isinstance(obj, pd.Series):
            return self._series(obj, where)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self._dataclass(obj, where)
        if isinstance(obj, dict):
            return {
                "t": "dict",
                "items": [
                    [self.encode(k, f"{where}[key]"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in obj.items()
                ],
            }
        if isinstance(obj, tuple):
            return {
                "t": "tuple",
                "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)],
            }
        if isinstance(obj, list):
            as_columns = self._dataclass_list(obj, where)
            if as_columns is not None:
                return as_columns
            return {
                "t": "list",
                "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)],
            }
        raise SnapshotError(
            f"run snapshot: {where} is a {type(obj).__name__}, which the run store cannot "
            "write (graph/runstore.py lists the types it knows)"
        )

    def _dataclass(self, obj: Any, where: str) -> dict[str, Any]:
        cls = type(obj)
        name = _class_name(cls)
        if name not in engine_dataclasses():
            raise SnapshotError(f"run snapshot: {where} is a {name}, not an engine dataclass")
        return {
            "t": "dataclass",
            "class": name,
            "fields": {
                f.name: self.encode(getattr(obj, f.name), f"{where}.{f.name}")
                for f in dataclasses.fields(obj)
            },
        }

    def _dataclass_list(self, items: list[Any], where: str) -> dict[str, Any] | None:
        """A list of one dataclass whose fields are scalars or 1-d arrays, as columns:
        scalars as one array per field, arrays as their values and offsets."""
        if not items or not all(dataclasses.is_dataclass(x) for x in items):
            return None
        cls = type(items[0])
        if any(type(x) is not cls for x in items) or isinstance(items[0], type):
            return None
        name = _class_name(cls)
        if name not in engine_dataclasses():
            raise SnapshotError(f"run snapshot: {where} holds {name}, not an engine dataclass")
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            values = [getattr(x, f.name) for x in items]
            first = values[0]
            if isinstance(first, np.ndarray):
                if not all(
                    isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype == first.dtype
                    for v in values
                ):
                    return None
                lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
                offsets = np.zeros(len(values) + 1, dtype=np.int64)
                np.cumsum(lengths, out=offsets[1:])
                fields[f.name] = {
                    "t": "ragged",
                    "values": self._ndarray(np.concatenate(values), f"{where}[*].{f.name}"),
                    "offsets": self._ndarray(offsets, f"{where}[*].{f.name}"),
                }
            elif all(type(v) is type(first) for v in values) and type(first) in (
                int,
                float,
                str,
                bool,
            ):
                fields[f.name] = {
                    "t": "scalars",
                    "type": type(first).__name__,
                    "values": self._ndarray(
                        np.array(values, dtype=object if isinstance(first, str) else None),
                        f"{where}[*].{f.name}",
                    ),
                }
            else:
                return None
        return {"t": "dataclass_list", "class": name, "n": len(items), "fields": fields}

    def _ndarray(self, arr: np.ndarray, where: str) -> dict[str, Any]:
        dt = arr.dtype
        if dt.kind not in _DTYPE_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise SnapshotError(
                f"run snapshot: {where} has dtype {dt}, which the store cannot write"
            )
        flat = np.ascontiguousarray(arr).reshape(-1)
        if dt.byteorder == ">" or (dt.byteorder == "=" and not np.little_endian):
            flat = flat.astype(dt.newbyteorder("<"))
        node: dict[str, Any] = {"t": "ndarray", "dtype": dt.str, "shape": list(arr.shape)}
        if dt.kind in "Mm":
            values = pa.array(flat.view(np.int64))
        elif dt.kind == "U":
            values = pa.array(flat.astype(object), type=pa.large_string())
        elif dt.kind == "S":
            values = pa.array(flat.astype(object), type=pa.large_binary())
        elif dt.kind == "O":
            try:
                # strings and None; then NaN/NA as missing too (they come back as None)
                try:
                    values = pa.array(flat, type=pa.large_string(), from_pandas=False)
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    values = pa.array(flat, type=pa.large_string(), from_pandas=True)
                node["object"] = "str"
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                try:
                    values = pa.array(flat.tolist(), from_pandas=False)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise SnapshotError(
                        f"run snapshot: {where} is an object array of values Arrow cannot "
                        f"type ({exc})"
                    ) from None
                node["object"] = "values"
        else:
            values = pa.array(flat)
        node["col"] = self._column(values)
        return node

    def _npscalar(self, v: np.generic, where: str) -> dict[str, Any]:
        dt = np.dtype(type(v)) if not isinstance(v, (np.datetime64, np.timedelta64)) else v.dtype
        return {"t": "npscalar", "array": self._ndarray(np.array([v], dtype=dt), where)}

    def _series(self, s: pd.Series, where: str) -> dict[str, Any]:
        dtype = s.dtype
        node: dict[str, Any] = {"t": "series", "name": self.encode(s.name, f"{where}.name")}
        if isinstance(dtype, pd.StringDtype):
            na = "NA" if dtype.na_value is pd.NA else "nan"
            node["dtype"] = {"kind": "string", "storage": dtype.storage, "na": na}
            vals = pa.array(s.array, type=pa.large_string(), from_pandas=True)
            node["values"] = {"t": "arrow", "col": self._column(vals)}
        elif isinstance(dtype, np.dtype):
            node["dtype"] = {"kind": "numpy"}
            node["values"] = self._ndarray(s.to_numpy(), f"{where}.values")
        else:
            raise SnapshotError(
                f"run snapshot: {where} is a Series of dtype {dtype}, which the store cannot write"
            )
        idx = s.index
        if isinstance(idx, pd.RangeIndex):
            node["index"] = {"t": "range", "start": idx.start, "stop": idx.stop, "step": idx.step}
        else:
            node["index"] = {
                "t": "index",
                "values": self._ndarray(idx.to_numpy(), f"{where}.index"),
                "name": self.encode(idx.name, f"{where}.index.name"),
            }
        return node


class _Decoder:
    """The inverse of :class:`_Encoder` for one part, over its decoded columns."""

    def __init__(self, run_id: str, columns: dict[str, pa.Array]) -> None:
        self.run_id = run_id
        self.columns = columns

    def _incompatible(self, what: str) -> SnapshotUnavailable:
        return SnapshotUnavailable(
            f"the snapshot of run {self.run_id} does not fit this version's engine "
            f"({what}): rerun propagation to explain its scores",
            reason="incompatible",
        )

    def decode(self, node: dict[str, Any]) -> Any:
        t = node["t"]
        if t == "none":
            return None
        if t == "bool":
            return bool(node["v"])
        if t == "int":
            return int(node["v"])
        if t == "float":
            return float.fromhex(node["v"])
        if t == "str":
            return str(node["v"])
        if t == "date":
            return date.fromisoformat(node["v"])
        if t == "datetime":
            return datetime.fromisoformat(node["v"])
        if t == "ndarray":
            return self._ndarray(node)
        if t == "npscalar":
            return self._ndarray(node["array"])[0]
        if t == "dict":
            return {self.decode(k): self.decode(v) for k, v in node["items"]}
        if t == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        if t == "list":
            return [self.decode(v) for v in node["items"]]
        if t == "dataclass":
            return self._build(
                node["class"], {k: self.decode(v) for k, v in node["fields"].items()}
            )
        if t == "dataclass_list":
            return self._dataclass_list(node)
        if t == "series":
            return self._series(node)
        raise ValueError(f"unknown node type {t!r}")

    def _build(self, name: str, values: dict[str, Any]) -> Any:
        cls = engine_dataclasses().get(name)
        if cls is None:
            raise self._incompatible(f"no engine class {name}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        extra = set(values) - set(fields)
        if extra:
            raise self._incompatible(f"{name} has no field {sorted(extra)[0]}")
        missing = [
            f.name
            for f in fields.values()
            if f.name not in values
            and f.init
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise self._incompatible(f"{name}.{missing[0]} is not in the snapshot")
        obj = cls(**{k: v for k, v in values.items() if fields[k].init})
        for k, v in values.items():
            if not fields[k].init:
                object.__setattr__(obj, k, v)
        return obj

    def _dataclass_list(self, node: dict[str, Any]) -> list[Any]:
        n = int(node["n"])
        columns: dict[str, list[Any]] = {}
        for name, f in node["fields"].items():
            if f["t"] == "ragged":
                values = self._ndarray(f["values"])
                offsets = self._ndarray(f["offsets"])
                columns[name] = [values[offsets[k] : offsets[k + 1]] for k in range(n)]
            elif f["t"] == "scalars":
                py = {"int": int, "float": float, "str": str, "bool": bool}[f["type"]]
                columns[name] = [py(v) for v in self._ndarray(f["values"]).tolist()]
            else:
                raise ValueError(f"unknown column node {f['t']!r}")
        return [
            self._build(node["class"], {k: col[i] for k, col in columns.items()}) for i in range(n)
        ]

    def _ndarray(self, node: dict[str, Any]) -> np.ndarray:
        dt = np.dtype(node["dtype"])
        if dt.kind not in _DTYPE_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise ValueError(f"dtype {dt} not allowed")
        shape = tuple(int(x) for x in node["shape"])
        values = self.columns[node["col"]]
        if dt.kind in "Mm":
            out = values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False).view(dt)
        elif dt.kind in "US":
            out = values.to_numpy(zero_copy_only=False).astype(dt)
        elif dt.kind == "O":
            if node.get("object") == "str":
                out = values.to_numpy(zero_copy_only=False).astype(object, copy=False)
            else:
                out = np.empty(len(values), dtype=object)
                out[:] = values.to_pylist()
        else:
            out = values.to_numpy(zero_copy_only=False)
            if out.dtype != dt:
                out = out.astype(dt)
        if out.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError("array size differs from its shape")
        return out.reshape(shape)

    def _series(self, node: dict[str, Any]) -> pd.Series:
        kind = node["dtype"]["kind"]
        if kind == "string":
            d = node["dtype"]
            dtype = pd.StringDtype(
                storage=d["storage"], na_value=pd.NA if d["na"] == "NA" else np.nan
            )
            values = self.columns[node["values"]["col"]]
            if dtype.storage == "pyarrow":  # no copy: pandas keeps the Arrow array
                data: Any = dtype.__from_arrow__(values)
            else:
                data = pd.array(values.to_numpy(zero_copy_only=False), dtype=dtype)
        elif kind == "numpy":
            data = self._ndarray(node["values"])
        else:
            raise ValueError(f"unknown series dtype {kind!r}")
        ix = node["index"]
        if ix["t"] == "range":
            index: pd.Index = pd.RangeIndex(int(ix["start"]), int(ix["stop"]), int(ix["step"]))
        else:
            index = pd.Index(self._ndarray(ix["values"]), name=self.decode(ix["name"]))
        dtype_of = data.dtype  # as saved: pandas would infer `str` for an object array
        return pd.Series(data, index=index, name=self.decode(node["name"]), dtype=dtype_of)
