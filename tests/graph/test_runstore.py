"""The run store without a database: round trips of every field, run ids, integrity,
file modes, deletion and the shared snapshot cache."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from credgraph.graph.engine.centrality import Circle
from credgraph.graph.engine.pipeline import Centrality, compute
from credgraph.graph.engine.policy import load_policy
from credgraph.graph.runs import new_run_id
from credgraph.graph.runstore import (
    MANIFEST,
    BadRunId,
    RunStore,
    SnapshotCache,
    SnapshotError,
    SnapshotUnavailable,
    check_run_id,
    recorded_store,
    sha256_bytes,
)
from credgraph.loaders.generate import generate
from credgraph.loaders.tables import tables_from_folder

RUN = "run-20261130T101500-0a1b2c"


# ----------------------------------------------------------------------------- helpers


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Deep equality of two decoded values: types, dtypes, shapes, values (NaN = NaN)."""
    if isinstance(a, pd.Series):
        assert isinstance(b, pd.Series), where
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=where)
        return
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, (where, a.dtype, b.dtype)
        if a.dtype.kind == "O":
            assert a.tolist() == b.tolist(), where
        else:
            assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fcMm"), where
        return
    assert type(a) is type(b), (where, type(a), type(b))
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def engine_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, 1200, 5, "csv")
    projection, scores, cent = compute(
        tables_from_folder(folder), load_policy(None), date(2026, 6, 30), {}
    )
    assert cent.circles, "the sample should hold a guarantee circle"
    return {"projection": projection, "scores": scores, "centrality": cent}


def files_under(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


# ----------------------------------------------------------------------------- run ids


def test_run_ids_of_new_run_id_pass() -> None:
    for _ in range(20):
        rid = new_run_id(datetime.now(UTC))
        assert check_run_id(rid) == rid


@pytest.mark.parametrize(
    "bad",
    [
        "../../tmp/x",
        "../x",
        "/etc/passwd",
        "run-20261130T101500-0a1b2c/../../x",
        "run-20261130T101500-0a1b2c\n",
        "run-20261130T101500-0a1b2c ",
        " run-20261130T101500-0a1b2c",
        "run-20261130T101500-0A1B2C",
        "run-20261130T101500-0a1b2g",
        "run-20261130T101500-0a1b2c0",
        "run-2026113T101500-0a1b2c",
        "run-20261130T101500-0a1b2c\x00",
        "run-20261130T101500-0a1b2c.pkl",
        "run-..",
        "",
        ".",
        "..",
        "ｒun-20261130T101500-0a1b2c",
        "run-２0261130T101500-0a1b2c",
        "run-20261130T101500-0a1b2c/",
        "run-20261130T101500-0a1b2c\\..\\x",
    ],
)
def test_crafted_run_ids_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(BadRunId):
        check_run_id(bad)
    store = RunStore(tmp_path / "store")
    with pytest.raises(BadRunId):
        store.path_of(bad)
    with pytest.raises(BadRunId):
        store.delete(bad)
    with pytest.raises(SnapshotUnavailable) as exc:
        store.load(bad, "0" * 64)
    assert exc.value.reason == "refused"
    assert str(tmp_path) not in exc.value.message


def test_non_string_run_ids_are_refused() -> None:
    for bad in (None, 5, b"run-20261130T101500-0a1b2c", ["run-20261130T101500-0a1b2c"]):
        with pytest.raises(BadRunId):
            check_run_id(bad)


# ----------------------------------------------------------------------------- round trips


def test_round_trip_of_a_run_keeps_every_field(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    store = RunStore(tmp_path / "store")
    sha = store.save(RUN, engine_output)
    snap = store.load(RUN, sha)
    assert snap.run_id == RUN and snap.sha256 == sha
    assert list(snap.parts) == ["projection", "scores", "centrality"]
    for part, obj in engine_output.items():
        assert_same(obj, snap[part], part)
    # the decoded projection still works: ids, relationship ids, subject index
    p = snap["projection"]
    assert p.subjects.index_of(str(p.subjects.ids[7])) == 7
    g = p.graphs["credit"]
    if len(g.rel_table):
        want = engine_output["projection"].relationship_ids(g.rel_table[:50], g.rel_row[:50])
        assert p.relationship_ids(g.rel_table[:50], g.rel_row[:50]) == want


def test_the_comparison_can_fail(engine_output: dict[str, Any]) -> None:
    """assert_same sees a changed value deep inside (the round trip test is not vacuous)."""
    scores = engine_output["scores"]
    changed = dict(scores.network)
    changed["credit"] = scores.network["credit"].copy()
    changed["credit"][3] += 1e-15
    other = dataclasses.replace(scores, network=changed)
    with pytest.raises(AssertionError):
        assert_same(scores, other)
    with pytest.raises(AssertionError):
        assert_same(np.array([1, 2], dtype=np.int32), np.array([1, 2], dtype=np.int64))


def test_round_trip_of_every_kind_of_value(tmp_path: Path) -> None:
    """Dtypes, shapes and Python values a field may hold, also ones the engine does not
    use today (a field added to Scores or Projection must come back as it went in)."""
    rng = np.random.default_rng(0)
    strings = pd.Series(["a", None, "ü€"], dtype=pd.StringDtype("pyarrow"))
    misc = {
        "f16": rng.random((3, 4)).astype(np.float16),
        "f32": np.array([np.nan, -0.0, np.inf, 1.5], dtype=np.float32),
        "f64": np.array([np.nan, 1e-300, -np.inf, 0.1]),
        "u8": np.array([0, 255], dtype=np.uint8),
        "u64": np.array([2**64 - 1], dtype=np.uint64),
        "i8": np.array([-128, 127], dtype=np.int8),
        "bool": np.array([[True, False], [False, True]]),
        "empty": np.zeros((0, 3)),
        "scalar0d": np.array(3.25),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "big_endian": np.array([1.5, 2.5], dtype=">f8"),
        "ids": np.array(["S1", None, "ü"], dtype=object),
        "obj_ints": np.array([1, 2**40, None], dtype=object),
        "obj_dates": np.array([date(2020, 1, 2), None], dtype=object),
        "unicode": np.array(["person", "firm", ""], dtype="<U6"),
        "bytes": np.array([b"ab", b""], dtype="S2"),
        "days": np.array(["2026-01-01", "NaT"], dtype="datetime64[D]"),
        "ns": np.array(["2026-01-01T01:02:03.123456789", "NaT"], dtype="datetime64[ns]"),
        "spans": np.array([3, "NaT"], dtype="timedelta64[s]"),
        "npf": np.float64(np.nan),
        "npi": np.int32(-7),
        "npd": np.datetime64("2026-02-03", "D"),
        "none": None,
        "t": True,
        "big": 2**80,
        "neg": -3,
        "x": 0.1,
        "nan": float("nan"),
        "inf": float("-inf"),
        "s": 'text "with" quotes\n',
        "day": date(2026, 11, 30),
        "when": datetime(2026, 11, 30, 12, 1, 2, 3, tzinfo=UTC),
        "naive": datetime(2026, 11, 30, 12, 1, 2),
        "tuple": ("credit", "compliance"),
        "nested": {"a": [1, "b", {"c": np.arange(3)}], "": []},
        3: "int key",
        "series_arrow": strings,
        "series_python": pd.Series(["x", None], dtype=pd.StringDtype("python"), name="n"),
        "series_str": pd.Series(["x", None, "z"], dtype="str"),
        "series_object": pd.Series(["x", None], dtype=object),
        "series_float": pd.Series([1.5, np.nan], index=pd.Index([10, 20], name="row")),
        "series_sliced": pd.Series(["p", "q", "r"], dtype="str").iloc[1:],
        "series_chunked": pd.Series(
            pd.array(pa.chunked_array([["a", None], ["b"]]), dtype=pd.StringDtype("pyarrow"))
        ),
        "circles": [
            Circle(id=0, members=np.array([1, 5, 9], dtype=np.int64), size=3, amount_inside=2.5),
            Circle(id=1, members=np.zeros(0, dtype=np.int64), size=0, amount_inside=0.0),
        ],
        "mixed_list": [Circle(0, np.arange(2), 2, 1.0), None],
        "centrality": Centrality(
            pagerank=np.array([0.5, 0.5]),
            betweenness=np.array([0.0, 1.0]),
            betweenness_sample=None,
            kcore=np.array([1, 1]),
            circle=np.array([-1, 0]),
            circles=[],
        ),
    }
    store = RunStore(tmp_path)
    sha = store.save(RUN, {"misc": misc})
    back = store.load(RUN, sha)["misc"]
    assert_same(misc, back, "misc")
    assert back["big_endian"].dtype == np.dtype(">f8")  # as it went in


def test_a_type_the_store_does_not_know_is_an_error(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    for bad in ({"x": {1, 2}}, {"x": np.array([1 + 2j])}, {"x": object()}):
        with pytest.raises(SnapshotError):
            store.save(RUN, {"part": bad})
    assert not (tmp_path / "store" / RUN).exists()
    assert [p.name for p in (tmp_path / "store").iterdir()] == []  # no temp folder left


def test_a_dataclass_from_outside_the_engine_is_refused(tmp_path: Path) -> None:
    @dataclasses.dataclass
    class Foreign:
        x: int

    with pytest.raises(SnapshotError, match="not an engine dataclass"):
        RunStore(tmp_path).save(RUN, {"part": Foreign(1)})


# ----------------------------------------------------------------------------- files


def test_files_are_private_and_the_write_is_whole(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "shared" / "store"
    store = RunStore(root)
    sha = store.save(RUN, engine_output)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o700
    folder = root / RUN
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["centrality.arrow", MANIFEST, "projection.arrow", "scores.arrow"]
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    assert [p.name for p in root.iterdir()] == [RUN]  # no temp folder left behind
    manifest = json.loads((folder / MANIFEST).read_bytes())
    assert sha == sha256_bytes((folder / MANIFEST).read_bytes())
    assert manifest["run"] == RUN and manifest["version"] == 1
    for f in manifest["files"]:
        assert f["sha256"] == sha256_bytes((folder / f["name"]).read_bytes())
        assert f["bytes"] == (folder / f["name"]).stat().st_size
    # dtypes and shapes are in the manifest: the trust array of the scores
    trust = manifest["parts"]["scores"]["fields"]["trust"]
    assert trust["dtype"] == "<f8" and trust["shape"] == [1200]


def test_the_arrow_files_are_plain_data(engine_output: dict[str, Any], tmp_path: Path) -> None:
    """Any Arrow reader opens a part: one row, a list column per array."""
    store = RunStore(tmp_path)
    store.save(RUN, engine_output)
    manifest = json.loads((tmp_path / RUN / MANIFEST).read_bytes())
    col = manifest["parts"]["scores"]["fields"]["trust"]["col"]
    with pa.memory_map(str(tmp_path / RUN / "scores.arrow")) as src:
        table = pa.ipc.open_file(src).read_all()
    assert table.num_rows == 1
    values = np.asarray(table.column(col)[0].values)
    assert np.array_equal(values, engine_output["scores"].trust)


def test_delete_removes_the_snapshot_leftovers_and_an_old_pickle(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "store"
    store = RunStore(root)
    store.save(RUN, engine_output)
    other = "run-20261130T101501-ffffff"
    store.save(other, {"scores": engine_output["scores"]})
    (root / f".tmp-{RUN}-12345678").mkdir()  # a killed writer's temp folder
    (root / f".tmp-{RUN}-12345678" / "x.arrow").write_bytes(b"partial")
    (root / f"{RUN}.pkl").write_bytes(b"an old artefact")
    store.delete(RUN)
    assert sorted(p.name for p in root.iterdir()) == [other]
    store.delete(RUN)  # twice: nothing left to do, no error


def test_a_crafted_id_deletes_nothing(engine_output: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "store"
    store = RunStore(root)
    store.save(RUN, engine_output)
    victim = tmp_path / "a" / "tmp" / "x"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    before = files_under(tmp_path)
    for bad in ("../../tmp/x", "../..", str(victim)):
        with pytest.raises(BadRunId):
            store.delete(bad)
    assert files_under(tmp_path) == before


# ----------------------------------------------------------------------------- integrity


def saved(engine_output: dict[str, Any], tmp_path: Path) -> tuple[RunStore, str, Path]:
    store = RunStore(tmp_path / "store")
    sha = store.save(RUN, engine_output)
    return store, sha, tmp_path / "store" / RUN


def test_a_changed_data_file_is_refused(engine_output: dict[str, Any], tmp_path: Path) -> None:
    store, sha, folder = saved(engine_output, tmp_path)
    f = folder / "scores.arrow"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(SnapshotUnavailable, match="integrity check") as exc:
        store.load(RUN, sha)
    assert exc.value.reason == "corrupt" and str(tmp_path) not in exc.value.message


def test_a_changed_manifest_is_refused(engine_output: dict[str, Any], tmp_path: Path) -> None:
    store, sha, folder = saved(engine_output, tmp_path)
    m = json.loads((folder / MANIFEST).read_bytes())
    m["files"][0]["sha256"] = "0" * 64
    (folder / MANIFEST).write_bytes(json.dumps(m).encode())
    with pytest.raises(SnapshotUnavailable, match="integrity check") as exc:
        store.load(RUN, sha)
    assert exc.value.reason == "corrupt"


def test_a_hash_other_than_the_recorded_one_is_refused(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    store, sha, _ = saved(engine_output, tmp_path)
    with pytest.raises(SnapshotUnavailable) as exc:
        store.load(RUN, "f" * 64)
    assert exc.value.reason == "corrupt"
    with pytest.raises(SnapshotUnavailable) as exc:
        store.load(RUN, None)
    assert exc.value.reason == "refused"
    assert store.load(RUN, sha).run_id == RUN


def test_a_snapshot_under_another_runs_name_is_refused(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    store, sha, folder = saved(engine_output, tmp_path)
    other = "run-20261130T101501-ffffff"
    folder.rename(folder.with_name(other))
    with pytest.raises(SnapshotUnavailable, match="belongs to another run"):
        store.load(other, sha)


def rewrite_manifest(folder: Path, change: Any) -> str:
    m = json.loads((folder / MANIFEST).read_bytes())
    change(m)
    data = json.dumps(m).encode()
    (folder / MANIFEST).write_bytes(data)
    return sha256_bytes(data)


def test_another_format_version_or_engine_shape_is_incompatible(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    store, _, folder = saved(engine_output, tmp_path)
    sha = rewrite_manifest(folder, lambda m: m.update(version=99))
    with pytest.raises(SnapshotUnavailable, match="version 99") as exc:
        store.load(RUN, sha)
    assert exc.value.reason == "incompatible"
    sha = rewrite_manifest(folder, lambda m: m.update(version=1))
    fields = json.loads((folder / MANIFEST).read_bytes())["parts"]["scores"]["fields"]

    def drop_trust(m: dict[str, Any]) -> None:
        del m["parts"]["scores"]["fields"]["trust"]

    sha = rewrite_manifest(folder, drop_trust)
    with pytest.raises(SnapshotUnavailable, match="Scores.trust is not in the snapshot"):
        store.load(RUN, sha)

    def add_field(m: dict[str, Any]) -> None:
        m["parts"]["scores"]["fields"]["trust"] = fields["trust"]
        m["parts"]["scores"]["fields"]["gone"] = {"t": "none"}

    sha = rewrite_manifest(folder, add_field)
    with pytest.raises(SnapshotUnavailable, match="has no field gone") as exc:
        store.load(RUN, sha)
    assert exc.value.reason == "incompatible"


def test_a_class_the_manifest_names_is_only_an_engine_dataclass(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    """The manifest cannot make the reader build anything but the engine's dataclasses."""
    store, _, folder = saved(engine_output, tmp_path)

    def point_elsewhere(m: dict[str, Any]) -> None:
        m["parts"]["scores"]["class"] = "subprocess.Popen"

    sha = rewrite_manifest(folder, point_elsewhere)
    with pytest.raises(SnapshotUnavailable, match="no engine class subprocess.Popen"):
        store.load(RUN, sha)


def test_garbage_is_corrupt_not_a_crash(engine_output: dict[str, Any], tmp_path: Path) -> None:
    store, _, folder = saved(engine_output, tmp_path)
    for data in (b"{not json", b"[]", b'{"format": "credgraph-run-snapshot", "version": 1}'):
        (folder / MANIFEST).write_bytes(data)
        with pytest.raises(SnapshotUnavailable) as exc:
            store.load(RUN, sha256_bytes(data))
        assert exc.value.reason == "corrupt", data


def test_a_bad_file_name_in_the_manifest_is_refused(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    store, _, folder = saved(engine_output, tmp_path)
    secret = tmp_path / "secret.arrow"
    secret.write_bytes(b"x")

    def traverse(m: dict[str, Any]) -> None:
        m["files"][0]["name"] = "../../secret.arrow"

    sha = rewrite_manifest(folder, traverse)
    with pytest.raises(SnapshotUnavailable, match="bad file name"):
        store.load(RUN, sha)


def test_a_missing_snapshot_and_an_old_pickle(tmp_path: Path) -> None:
    """Only a `<run id>.pkl` of an earlier version: missing, and the pickle is not read."""
    root = tmp_path / "store"
    root.mkdir()
    pkl = root / f"{RUN}.pkl"
    pkl.write_bytes(b"\x80\x05not really a pickle")
    with pytest.raises(SnapshotUnavailable, match="holds no snapshot of run") as exc:
        RunStore(root).load(RUN, "0" * 64)
    assert exc.value.reason == "missing" and str(root) not in exc.value.message


# ----------------------------------------------------------------------------- cache


def test_cache_is_bounded_and_least_recently_used() -> None:
    cache = SnapshotCache(2)
    loads: list[str] = []

    def loader(k: str) -> Any:
        return lambda: loads.append(k) or k.upper()

    assert cache.get("a", loader("a")) == "A"
    assert cache.get("b", loader("b")) == "B"
    assert cache.get("a", loader("a")) == "A"  # a is now the most recent
    assert cache.get("c", loader("c")) == "C"  # b leaves
    assert cache.keys() == ["a", "c"] and loads == ["a", "b", "c"]
    cache.resize(1)
    assert cache.keys() == ["c"]
    with pytest.raises(ValueError):
        SnapshotCache(0)


def test_cache_does_not_keep_a_failed_load() -> None:
    cache = SnapshotCache(2)

    def fail() -> Any:
        raise SnapshotUnavailable("no", reason="missing")

    with pytest.raises(SnapshotUnavailable):
        cache.get("k", fail)
    assert len(cache) == 0
    assert cache.get("k", lambda: 1) == 1


def test_cache_shared_by_threads_loads_each_key_once() -> None:
    cache = SnapshotCache(3)
    calls: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(16)

    def load(k: str) -> Any:
        def go() -> Any:
            with lock:
                calls[k] = calls.get(k, 0) + 1
            time.sleep(0.05)  # a slow load: the other threads must wait for this one
            return {"key": k}

        return go

    results: list[tuple[str, Any]] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            for j in range(20):
                k = f"k{(n + j) % 3}"
                results.append((k, cache.get(k, load(k))))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert calls == {"k0": 1, "k1": 1, "k2": 1}
    assert all(v["key"] == k for k, v in results) and len(results) == 320
    assert len(cache) == 3


def test_snapshot_arrays_cannot_be_changed_by_a_reader(
    engine_output: dict[str, Any], tmp_path: Path
) -> None:
    """A cached snapshot is shared by threads: its numeric arrays are read-only."""
    store, sha, _ = saved(engine_output, tmp_path)
    trust = store.load(RUN, sha)["scores"].trust
    with pytest.raises(ValueError):
        trust[0] = 0.0


def test_store_root_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from credgraph.graph.settings import load_settings

    monkeypatch.delenv("CREDGRAPH_RUN_STORE", raising=False)
    s = load_settings(home=tmp_path / "home")
    assert s.run_store_dir == tmp_path / "home" / "runs"
    monkeypatch.setenv("CREDGRAPH_RUN_STORE", str(tmp_path / "shared"))
    assert load_settings(home=tmp_path / "home").run_store_dir == tmp_path / "shared"
    monkeypatch.setenv("CREDGRAPH_SNAPSHOT_CACHE", "5")
    assert load_settings().snapshot_cache == 5
    assert os.environ["CREDGRAPH_RUN_STORE"]


def test_a_recorded_store_is_read_only_where_it_is_private_to_this_account(
    tmp_path: Path,
) -> None:
    own = tmp_path / "own"
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    other.chmod(0o700)
    assert recorded_store(str(other), own) == other
    assert recorded_store(str(other) + "/", own) == other
    for bad in (None, "", 7, ["/x"], "relative/store", "/no/such/store", "/x\x00y"):
        assert recorded_store(bad, own) is None, bad
    assert recorded_store(str(other), other) is None  # its own store: nothing more to try
    (tmp_path / "file").write_text("x")
    assert recorded_store(str(tmp_path / "file"), own) is None  # not a directory
    for mode in (0o750, 0o705, 0o770, 0o777, 0o701):
        other.chmod(mode)
        assert recorded_store(str(other), own) is None, oct(mode)
    other.chmod(0o700)
    link = tmp_path / "link"
    link.symlink_to(other)
    assert recorded_store(str(link), own) == link  # followed, as any path: its target checked
