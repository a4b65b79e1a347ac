"""Benchmark `credgraph load`: rows per second and the loader's peak memory.

For each scale: generate the sample (cached under --work), start a dedicated
managed Neo4j, load online into the empty database (then reload it, which
only compares fingerprints), then empty the database and load online again:
"warm", the same load on a server whose JVM has already compiled its hot code
(a long-running server), where "online" pays for that on a freshly started
one. With --bulk, the same data through the offline importer. Each load runs as a child process; its peak RSS comes from
``wait4``. Prints a markdown table.

    .venv/bin/python benchmarks/load.py --scales 10000 100000 [--bulk]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import bench_server, env_for, machine, run_measured, table

from credgraph.graph.gateway import Gateway
from credgraph.graph.settings import Settings
from credgraph.loaders.generate import generate


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
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "credgraph-bench")
    args = ap.parse_args()
    rows_out = []
    for scale in args.scales:
        data = args.work / f"data-{scale}"
        if not (data / "blacklist.csv").exists():
            generate(data, scale, 1, "csv")
        total_rows = sum(sum(1 for _ in open(p, "rb")) - 1 for p in data.glob("*.csv"))
        runs = [] if args.no_online else [args.modes]
        if args.bulk:
            runs.append(["bulk"])  # a server of its own: bulk needs an empty database
        for modes in runs:
            with tempfile.TemporaryDirectory(prefix="credgraph-bench-home-") as home:
                with bench_server(Path(home)) as server:
                    env = env_for(server.settings)
                    for mode in modes:
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


if __name__ == "__main__":
    main()
