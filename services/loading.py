"""Loading input as a use case: the rules between the load options, then the loader.

The edges pass what the user chose; this module decides what goes together
(``bulk`` needs the managed server and does not go with ``strict``; ``fmt`` is
one of csv, parquet, ftm) and calls the online or the bulk loader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, cast

from credgraph.graph.errors import UsageError
from credgraph.graph.gateway import open_gateway
from credgraph.graph.settings import Settings
from credgraph.loaders.load import LoadReport

FORMATS = ("csv", "parquet", "ftm")
Format = Literal["csv", "parquet", "ftm"]


def check_format(fmt: str | None) -> Format | None:
    """``fmt`` as a loader format, or a usage error naming the field ``format``."""
    if fmt not in (None, *FORMATS):
        raise UsageError(f"format must be csv, parquet or ftm, not {fmt!r}", field="format")
    return cast(Format | None, fmt)


def load_input(
    settings: Settings,
    path: Path,
    *,
    source: str | None = None,
    fmt: str | None = None,
    strict: bool = False,
    rejects: Path | None = None,
    bulk: bool = False,
    on_rows: Callable[[str, int], None] | None = None,
) -> LoadReport:
    """Load a folder in the input layout, or an FtM file: online upserts, or with
    ``bulk`` a first load into an empty managed database by Neo4j's importer."""
    form = check_format(fmt)
    if bulk:
        from credgraph.graph.managed import ManagedServer
        from credgraph.loaders.bulk import bulk_load

        if not settings.managed:
            raise UsageError(
                "a bulk load needs the managed server (NEO4J_URI is set)", field="bulk"
            )
        if strict:
            raise UsageError(
                "a bulk load cannot be strict; validate with a strict online load first",
                field="bulk",
            )
        return bulk_load(
            ManagedServer(settings),
            path,
            source=source,
            fmt=form,
            rejects_path=rejects,
            on_rows=on_rows,
        )
    from credgraph.loaders.load import load

    with open_gateway(settings) as gw:
        return load(
            gw,
            path,
            source=source,
            fmt=form,
            strict=strict,
            rejects_path=rejects,
            on_rows=on_rows,
        )
