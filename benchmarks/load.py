"""Benchmark `credgraph load`: rows per second and the loader's peak memory.

For each scale: generate the sample (cached under --work), start a dedicated
managed Neo4j, load online into the empty database (then reload it, which
only compares fingerprints), then empty the database and load online again:
"warm", the same load on a server whose JVM has already compiled its hot code
(a long-running server), where "online" pays for that on a freshly started
one. With --bulk, the same data through the offline importer. Each load runs as a child
process; its peak RSS comes from ``wait4``. Prints a markdown table.

With --loadcsv, the baseline in the same run: Neo4j's own ``LOAD CSV WITH HEADERS FROM
'file:///...' ... CALL { ... } IN TRANSACTIONS OF 5000 ROWS`` (:func:`load_csv_statements`)
into the same labels, relationship types and typed values (dates as DATE, amounts as
floats, whole numbers as integers), with the same constraints and indexes, no
validation and no provenance, on a freshly started managed server of its own (same
memory as credgraph's) that reads the CSV files from its import folder. Then the
ratios: LOAD CSV seconds / credgraph seconds for the online load (goal >= 1.0) and for
--bulk (goal >= 2.0), and the importer's own share of the bulk load.

Both online paths start with the schema in place, made before the clock starts
(LOAD CSV's constraints and indexes, and `credgraph schema` before the online
load, whose own check of the schema is then timed); --schema-timed times the
online load's creation of the schema too, as the series before 2026-12-02 did.
The bulk load always makes its own schema (the importer needs an empty database).

    .venv/bin/python benchmarks/load.py --scales 10000 100000 [--bulk] [--loadcsv]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, LiteralString, cast

from common import bench_server, env_for, machine, run_measured, table

from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.model import ROLE_TYPES
from credgraph.graph.schema import ensure_schema
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate
from credgraph.loaders.layout import BY_NAME, FILES
from credgraph.loaders.writer import stored_columns

#: How LOAD CSV types each layout column type (LOAD CSV reads every field as text;
#: an empty field is null, and date(null) is null).
_TYPED = {"date": "date(r.{c})", "amount": "toFloat(r.{c})", "share": "toFloat(r.{c})"}
_TYPED |= {"severity": "toFloat(r.{c})", "int": "toInteger(r.{c})"}


def _props(spec_name: str) -> str:
    spec = BY_NAME[spec_name]
    types = {c.name: c.type for c in spec.columns}
    cols = [c for c in stored_columns(spec) if c in types]  # share_unknown: FtM only
    return "{" + ", ".join(f"{c}: " + _TYPED.get(types[c], "r.{c}").format(c=c) for c in cols) + "}"


def load_csv_statements() -> list[tuple[str, LiteralString]]:
    """(file, statement) in load order: the graph credgraph writes, less provenance."""
    body = {
        "persons": f"CREATE (:Subject:Person {_props('persons')})",
        "firms": f"CREATE (:Subject:Firm {_props('firms')})",
        "roles": "MATCH (p:Person {id: r.person_id}) MATCH (f:Firm {id: r.firm_id}) "
        + " ".join(
            f"FOREACH (_ IN CASE WHEN r.role = '{role}' THEN [1] ELSE [] END | "
            f"CREATE (p)-[:{t} {_props('roles')}]->(f))"
            for role, t in ROLE_TYPES.items()
        ),
        "ownership": "MATCH (o:Subject {id: r.owner_id}) MATCH (f:Firm {id: r.firm_id}) "
        f"CREATE (o)-[:OWNS {_props('ownership')}]->(f)",
        "loans": "MATCH (a:Subject {id: r.lender_id}) MATCH (b:Subject {id: r.borrower_id}) "
        f"CREATE (x:Loan {_props('loans')}) CREATE (a)-[:LENT]->(x) CREATE (b)-[:BORROWED]->(x)",
        "guarantees": "MATCH (g:Subject {id: r.guarantor_id}) MATCH (l:Loan {id: r.loan_id}) "
        f"CREATE (g)-[:GUARANTEES {_props('guarantees')}]->(l)",
        "blacklist": "MATCH (s:Subject {id: r.subject_id}) "
        f"CREATE (x:BlacklistEntry {_props('blacklist')}) CREATE (s)-[:LISTED]->(x)",
    }
    return [
        (
            f"{spec.name}.csv",
            cast(
                LiteralString,
                f"LOAD CSV WITH HEADERS FROM 'file:///{spec.name}.csv' AS r "
                f"CALL (r) {{ {body[spec.name]} }} IN TRANSACTIONS OF 5000 ROWS",
            ),
        )
        for spec in FILES
    ]


def load_csv(server: ManagedServer, data: Path) -> tuple[float, dict[str, float]]:
    """LOAD CSV of every file of ``data`` (copied into the server's import folder) into
    the empty database, after the schema; total seconds and seconds per file."""
    for p in data.glob("*.csv"):
        shutil.copyfile(p, server.import_dir / p.name)
    per_file: dict[str, float] = {}
    with Gateway(server.settings) as gw:
        ensure_schema(gw)
        t0 = time.perf_counter()
        for name, statement in load_csv_statements():
            if (data / name).exists():
                t = time.perf_counter()
                gw.run_schema(statement)  # auto-commit: CALL IN TRANSACTIONS needs it
                per_file[name] = time.perf_counter() - t
        total = time.perf_counter() - t0
    return total, per_file


def _importer_seconds(notes: list[str]) -> float | None:
    for note in notes:
        m = re.search(r"importer ([0-9.]+) s", note)
        if m:
            return float(m.group(1))
    return None


def empty(settings: Settings) -> None:
    """Delete every node and relationship (the schema stays).

    Relationships first, in small transactions: a DETACH DELETE of a bank with
    100,000 loans in one transaction exceeds the server's transaction memory.
    """
    with Gateway(settings) as gw:
        gw.run_schema("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS")
        gw.run_schema("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 20000 ROWS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--bulk", action="store_true", help="also measure the bulk path")
    ap.add_argument("--no-online", action="store_true", help="skip the online path")
    ap.add_argument(
        "--modes",
        nargs="+",
        default=["online", "reload", "warm"],
        help="online modes to run, in order (default: online reload warm)",
    )
    ap.add_argument(
        "--loadcsv", action="store_true", help="also run Neo4j's LOAD CSV baseline (same run)"
    )
    ap.add_argument(
        "--schema-timed",
        action="store_true",
        help="the online load creates the schema on the clock (LOAD CSV's is never timed)",
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "credgraph-bench")
    args = ap.parse_args()
    rows_out: list[dict[str, Any]] = []
    importer: dict[int, float] = {}
    for scale in args.scales:
        data = args.work / f"data-{scale}"
        if not (data / "blacklist.csv").exists():
            generate(data, scale, 1, "csv")
        total_rows = sum(sum(1 for _ in open(p, "rb")) - 1 for p in data.glob("*.csv"))
        runs = [] if args.no_online else [args.modes]
        if args.bulk:
            runs.append(["bulk"])  # a server of its own: bulk needs an empty database
        if args.loadcsv:
            runs.append(["loadcsv"])  # a freshly started server of its own
        for modes in runs:
            with tempfile.TemporaryDirectory(prefix="credgraph-bench-home-") as home:
                with bench_server(Path(home)) as server:
                    env = env_for(server.settings)
                    if "online" in modes and not args.schema_timed:
                        # As for LOAD CSV: the schema exists before the clock starts.
                        with Gateway(server.settings) as gw:
                            ensure_schema(gw)
                    for mode in modes:
                        if mode == "loadcsv":
                            wall, per_file = load_csv(server, data)
                            rows_out.append(
                                {
                                    "scale": scale,
                                    "mode": "LOAD CSV",
                                    "rows": total_rows,
                                    "seconds": wall,
                                    "rate": total_rows / wall,
                                    "rss": 0.0,
                                    "rejected": 0,
                                }
                            )
                            print(rows_out[-1], per_file, file=sys.stderr)
                            continue
                        if mode == "warm":
                            empty(server.settings)
                        cmd = [
                            sys.executable,
                            "-m",
                            "credgraph.cli.main",
                            "load",
                            str(data),
                            "--json",
                        ]
                        cmd += ["--rejects", f"{home}/r.csv"] + (
                            ["--bulk"] if mode == "bulk" else []
                        )
                        wall, rss, out = run_measured(cmd, env)
                        rows_out.append(
                            {
                                "scale": scale,
                                "mode": mode,
                                "rows": total_rows,
                                "seconds": wall,
                                "rate": total_rows / wall,
                                "rss": rss,
                                "rejected": json.loads(out)["rejected"],
                            }
                        )
                        print(rows_out[-1], file=sys.stderr)
                        for note in json.loads(out).get("notes", []):
                            print(f"  {mode}: {note}", file=sys.stderr)
                        if mode == "bulk":
                            took = _importer_seconds(json.loads(out).get("notes", []))
                            if took is not None:
                                importer[scale] = took
    print(f"\nmachine: {machine()}; date: {time.strftime('%Y-%m-%d')}\n")
    print(
        table(
            rows_out,
            [
                ("scale", "subjects", ","),
                ("mode", "path", ""),
                ("rows", "rows", ","),
                ("seconds", "seconds", ".1f"),
                ("rate", "rows/s", ",.0f"),
                ("rss", "loader peak RSS MiB", ".0f"),
                ("rejected", "rejected", ","),
            ],
        )
    )
    ratios = _ratios(rows_out, importer)
    if ratios:
        print("\n" + "\n".join(ratios))


def _ratios(rows: list[dict[str, Any]], importer: dict[int, float]) -> list[str]:
    """LOAD CSV seconds / credgraph seconds at each scale that has both (goals: online
    >= 1.0, bulk >= 2.0), and the importer's share of the bulk load."""
    seconds = {(r["scale"], r["mode"]): r["seconds"] for r in rows}
    out = []
    for (scale, mode), took in seconds.items():
        base = seconds.get((scale, "LOAD CSV"))
        if mode not in ("online", "bulk") or base is None:
            continue
        goal = 1.0 if mode == "online" else 2.0
        out.append(
            f"- {scale:,} subjects: credgraph {mode} {took:.1f} s vs LOAD CSV {base:.1f} s: "
            f"ratio {base / took:.2f} (goal >= {goal})"
        )
    for scale, took in importer.items():
        bulk = seconds.get((scale, "bulk"))
        if bulk:
            out.append(
                f"- {scale:,} subjects: the importer (neo4j-admin database import full; default "
                f"threads = {len(os.sched_getaffinity(0))} available processors, "
                f"default off-heap memory) took {took:.1f} s of the bulk load's {bulk:.1f} s "
                f"({100 * took / bulk:.0f}%)"
            )
    return out


if __name__ == "__main__":
    main()
