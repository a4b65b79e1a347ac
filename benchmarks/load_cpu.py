"""Where a load's time goes: wall, Neo4j CPU and Python CPU per input file.

Starts a dedicated managed server, loads the data twice in this process (the
second time "warm", after emptying the database) and prints, per file, the
wall seconds and the CPU seconds of the server (from /proc/<pid>/stat) and of
this process (``os.times``) spent from one file's first batch to the next
file's. The writers lag the validator by a few batches, so a file's figures
include the tail of the previous one. Linux only.

    .venv/bin/python benchmarks/load_cpu.py /tmp/credgraph-bench/data-100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import bench_server
from load import empty

from credgraph.graph.gateway import Gateway
from credgraph.loaders.load import load


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a folder in the input layout")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="credgraph-bench-home-") as home:
        with bench_server(Path(home)) as server:
            pid = server.pid()
            assert pid is not None
            for rnd in range(args.rounds):
                marks: list[tuple[str, float, float, float]] = []

                def on_rows(file: str, _n: int, marks: list = marks) -> None:  # type: ignore[type-arg]
                    if not marks or marks[-1][0] != file:
                        marks.append((file, time.perf_counter(), server_cpu(pid), own_cpu()))

                start = ("start", time.perf_counter(), server_cpu(pid), own_cpu())
                with Gateway(server.settings) as gw:
                    load(gw, args.data, rejects_path=Path(home) / "r.csv", on_rows=on_rows)
                end = ("end", time.perf_counter(), server_cpu(pid), own_cpu())
                print(
                    f"round {rnd} ({'fresh server' if rnd == 0 else 'warm'}): "
                    f"wall {end[1] - start[1]:.1f} s, Neo4j CPU {end[2] - start[2]:.1f} s, "
                    f"Python CPU {end[3] - start[3]:.1f} s"
                )
                points = [start, *marks, end]
                for (name, t0, n0, p0), (_, t1, n1, p1) in zip(
                    points[1:], points[2:], strict=False
                ):
                    print(
                        f"  {name:28s} wall {t1 - t0:6.1f}  neo4j {n1 - n0:6.1f}  python {p1 - p0:6.1f}"
                    )
                empty(server.settings)


if __name__ == "__main__":
    main()
