"""Reading a folder of input files into engine tables, without the database.

:func:`tables_from_folder` gives the engine's :data:`Tables` (one DataFrame per
layout file) straight from a folder in the input layout, typed by
:mod:`credgraph.loaders.layout`: what the benchmarks and tests use to run the
engine on generated data without loading it first. No validation: that is the
validator's job (:mod:`credgraph.loaders.validate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from credgraph.graph.engine.columns import read_bools
from credgraph.graph.engine.projection import Tables
from credgraph.graph.errors import InputError
from credgraph.loaders.layout import FILES, FileSpec

_CAST = {"date", "amount", "share", "severity", "int"}


def _cast(df: pd.DataFrame, spec: FileSpec) -> pd.DataFrame:
    out = df.copy()
    for col in spec.columns:
        if col.name not in out.columns:
            continue
        s = out[col.name]
        if col.type == "date":
            if not pd.api.types.is_datetime64_any_dtype(s):
                out[col.name] = pd.to_datetime(s, errors="coerce", format="ISO8601")
        elif col.type == "int":
            out[col.name] = pd.to_numeric(s, errors="coerce").astype("Int64")
        elif col.type in _CAST:
            out[col.name] = pd.to_numeric(s, errors="coerce").astype(np.float64)
        else:
            out[col.name] = s.astype("str")
    if "disputed" in out.columns:
        out["disputed"] = read_bools(out, "disputed")
    return out


def tables_from_folder(path: str | Path) -> Tables:
    """Read ``<file>.csv`` or ``<file>.parquet`` for every layout file present in ``path``,
    type-cast by :mod:`loaders.layout` (dates, floats, nullable ints, strings).

    No validation (the loaders' validator does that); raises :class:`InputError` when
    the folder is missing or a file exists both as CSV and Parquet.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"input folder not found: {folder}")
    tables: Tables = {}
    for spec in FILES:
        csv, pq = folder / f"{spec.name}.csv", folder / f"{spec.name}.parquet"
        if csv.exists() and pq.exists():
            raise InputError(f"{folder}: both {csv.name} and {pq.name} exist; keep one")
        if csv.exists():
            df = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
        elif pq.exists():
            df = pd.read_parquet(pq)
        else:
            continue
        tables[spec.name] = _cast(df, spec)
    return tables
