"""Benchmark `credgraph propagate`: export, compute and write-back times, peak memory,
and the compute step against the same propagation written with networkx.

For each scale: generate (cached), start a dedicated managed Neo4j, load the
sample (bulk when available, else online), run ``credgraph propagate --json``
as a child process (phase timings from its report, peak RSS from ``wait4``),
time one subject's explanation, then time the compute step in-process with
the engine (scipy sparse) and with networkx (dict-of-dicts graphs, the same
walk-sum formula, closed walks subtracted per source) on the same projection.
The networkx version runs up to --nx-max subjects.

    .venv/bin/python benchmarks/propagate.py --scales 10000 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import networkx as nx
import numpy as np
from common import bench_server, env_for, machine, run_measured, table

from credgraph.graph.engine.explain import explain
from credgraph.graph.engine.intrinsic import intrinsic_risk
from credgraph.graph.engine.policy import DOMAINS, Policy, load_policy
from credgraph.graph.engine.projection import Projection, build_projection
from credgraph.graph.engine.propagation import propagate
from credgraph.loaders.generate import generate
from credgraph.loaders.tables import tables_from_folder

AS_OF = date(2026, 6, 30)


def networkx_network_risk(projection: Projection, policy: Policy) -> dict[str, np.ndarray]:
    """The engine's walk sum, written plainly over networkx graphs (the comparison)."""
    hop, a = policy.propagation.hop_limit, policy.propagation.damping
    b_all = intrinsic_risk(projection)
    out = {}
    for d in DOMAINS:
        g = projection.graphs[d]
        G = nx.DiGraph()
        G.add_nodes_from(range(projection.n_subjects))
        G.add_weighted_edges_from(
            zip(g.src.tolist(), g.dst.tolist(), g.weight.tolist(), strict=True)
        )
        b = b_all[d]
        n = np.zeros(projection.n_subjects)
        x = {i: float(v) for i, v in enumerate(b) if v > 0}
        for h in range(1, hop + 1):
            nxt: dict[int, float] = {}
            for u, val in x.items():
                for _, v, w in G.out_edges(u, data="weight"):
                    nxt[v] = nxt.get(v, 0.0) + val * w
            for v, val in nxt.items():
                n[v] += a ** (h - 1) * val
            x = nxt
        for s in np.flatnonzero(b > 0).tolist():  # closed walks back to the source
            y = {s: 1.0}
            ret = 0.0
            for h in range(1, hop + 1):
                nxt = {}
                for u, val in y.items():
                    for _, v, w in G.out_edges(u, data="weight"):
                        nxt[v] = nxt.get(v, 0.0) + val * w
                ret += a ** (h - 1) * nxt.get(s, 0.0)
                y = nxt
            n[s] -= b[s] * ret
        out[d] = np.maximum(n, 0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--nx-max", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "credgraph-bench")
    ap.add_argument("--online", action="store_true", help="load online even if bulk exists")
    args = ap.parse_args()
    policy = load_policy(None)
    rows = []
    for scale in args.scales:
        data = args.work / f"data-{scale}"
        if not (data / "blacklist.csv").exists():
            generate(data, scale, 1, "csv")
        with tempfile.TemporaryDirectory(prefix="credgraph-bench-home-") as home:
            with bench_server(Path(home)) as server:
                env = env_for(server.settings)
                cli = [sys.executable, "-m", "credgraph.cli.main"]
                load_cmd = [*cli, "load", str(data), "--json", "--rejects", f"{home}/r.csv"]
                if not args.online:
                    load_cmd.append("--bulk")
                load_wall, _, _ = run_measured(load_cmd, env)
                wall, rss, out = run_measured(
                    [*cli, "propagate", "--as-of", AS_OF.isoformat(), "--json"], env
                )
                report = json.loads(out)
                t = report["timings"]
                row = {
                    "scale": scale,
                    "load": load_wall,
                    "export": t["export"],
                    "compute": t["projection"] + t["propagation"] + t["centrality"],
                    "propagation": t["propagation"],
                    "centrality": t["centrality"],
                    "write_back": t["write_back"],
                    "total": wall,
                    "rss": rss,
                }
        projection = build_projection(tables_from_folder(data), policy, AS_OF)
        started = time.perf_counter()
        scores = propagate(projection, policy)
        row["engine"] = time.perf_counter() - started
        worst = int(np.argmax(scores.network["credit"]))
        started = time.perf_counter()
        for _ in range(10):
            explain(projection, policy, scores, worst)
        row["explain_ms"] = (time.perf_counter() - started) / 10 * 1000
        if scale <= args.nx_max:
            started = time.perf_counter()
            ref = networkx_network_risk(projection, policy)
            row["networkx"] = time.perf_counter() - started
            for d in DOMAINS:
                assert np.allclose(ref[d], scores.network[d], atol=1e-9), d
            row["ratio"] = row["networkx"] / row["engine"]
        else:
            row["networkx"] = float("nan")
            row["ratio"] = float("nan")
        rows.append(row)
        print(row, file=sys.stderr)
    print(f"\nmachine: {machine()}; date: {time.strftime('%Y-%m-%d')}\n")
    print(
        table(
            rows,
            [
                ("scale", "subjects", ","),
                ("export", "export s", ".1f"),
                ("compute", "compute s", ".1f"),
                ("centrality", "of which centrality s", ".1f"),
                ("write_back", "write-back s", ".1f"),
                ("total", "end to end s", ".1f"),
                ("rss", "peak RSS MiB", ".0f"),
                ("engine", "propagation s", ".3f"),
                ("networkx", "networkx s", ".2f"),
                ("ratio", "networkx / engine", ".0f"),
                ("explain_ms", "explain ms", ".1f"),
            ],
        )
    )


if __name__ == "__main__":
    main()
