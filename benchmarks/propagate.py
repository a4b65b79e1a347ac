"""Benchmark propagation: the engine in-process (projection, propagation, centrality:
what ``credgraph propagate`` computes between export and write-back, as
``pipeline.compute``), one explanation, S10's share, the old walk-sum model as the
baseline; optionally the whole ``credgraph propagate`` command against Neo4j.

Engine mode (default): for each scale, generate (cached, seed --seed), then a child
process reads the folder and runs ``pipeline.compute`` once (the first run after a
load: nothing cached; wall and CPU seconds, since the machine may be shared), times
explanations (the subject with the highest credit network risk, as in the earlier
series, averaged over 10 calls; the subject with the most in-links, its top 20 and
all of its contributions), prints the share of subjects with no record of
their own whose trust is below 1 (S10) and times the walk sum used until 2026-11-30
on the same projection (``designs.py``; up to --baseline-max subjects). Peak RSS of
the child from ``wait4``.

    .venv/bin/python benchmarks/propagate.py --scales 100000 1000000
    .venv/bin/python benchmarks/propagate.py --neo4j --scales 100000   # via the database
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from common import bench_server, env_for, machine, run_measured, table

from credgraph.graph.engine.explain import explain
from credgraph.graph.engine.policy import DOMAINS, load_policy
from credgraph.graph.engine.projection import build_projection
from credgraph.graph.engine.propagation import propagate
from credgraph.loaders.generate import generate
from credgraph.loaders.tables import tables_from_folder

AS_OF = date(2026, 11, 30)


def child(data: Path, as_of: date, baseline: bool) -> None:
    """One engine run in this (fresh) process; prints a JSON line of figures."""
    from designs import combine, pair_amounts

    from credgraph.graph.engine.pipeline import compute

    policy = load_policy(None)
    started = time.perf_counter()
    tables = tables_from_folder(data)
    out: dict[str, float] = {"read": time.perf_counter() - started}
    timings: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    projection, scores, _ = compute(tables, policy, as_of, timings)
    out["compute"] = time.perf_counter() - started
    out["compute_cpu"] = time.process_time() - cpu
    out.update(timings)
    norec = np.ones(projection.n_subjects, dtype=bool)
    for d in DOMAINS:
        norec &= scores.intrinsic[d] == 0
    out["s10"] = 100.0 * float((scores.trust[norec] < 1).mean())
    out["s10_count"] = int((scores.trust[norec] < 1).sum())
    out["no_record"] = int(norec.sum())
    in_links = np.zeros(projection.n_subjects)
    for d in DOMAINS:
        in_links += np.diff(projection.graphs[d].in_indptr)
    typical = int(np.argmax(scores.network["credit"]))  # the subject of the earlier series
    hardest = int(np.argmax(in_links + scores.network["credit"]))
    explain(projection, policy, scores, typical)  # warm the lazily built subject index
    for name, i, top, reps in (
        ("typical", typical, None, 10),
        ("hardest_top20", hardest, 20, 10),
        ("hardest", hardest, None, 5),
    ):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(reps):
            got = explain(projection, policy, scores, i, top=top)
        out[f"explain_{name}_ms"] = (time.perf_counter() - started) / reps * 1000
        out[f"explain_{name}_cpu_ms"] = (time.process_time() - cpu) / reps * 1000
        out[f"explain_{name}_n"] = len(got)
    out["old"] = float("nan")
    if baseline:
        hop, a = policy.propagation.hop_limit, policy.propagation.damping
        started = time.perf_counter()
        for d in DOMAINS:
            _, subj, c = pair_amounts("walk", projection.graphs[d], scores.intrinsic[d], hop, a)
            combine("walk", subj, c, projection.n_subjects)
        out["old"] = time.perf_counter() - started
    print(json.dumps(out))


def engine_main(args: argparse.Namespace) -> None:
    rows = []
    for scale in args.scales:
        data = args.work / f"data-{scale}-seed{args.seed}"
        if not (data / "blacklist.csv").exists():
            generate(data, scale, args.seed, "csv")
        cmd = [sys.executable, __file__, "--child", str(data), "--as-of", args.as_of.isoformat()]
        if scale <= args.baseline_max:
            cmd.append("--baseline")
        wall, rss, text = run_measured(cmd, dict(os.environ))
        row = json.loads(text.strip().splitlines()[-1])
        row.update(scale=scale, wall=wall, rss=rss)
        row["ratio"] = row["old"] / row["propagation"]
        rows.append(row)
        print(row, file=sys.stderr)
    print(f"\nmachine: {machine()}; date: {time.strftime('%Y-%m-%d %H:%M')}\n")
    print(
        table(
            rows,
            [
                ("scale", "subjects", ","),
                ("read", "read folder s", ".1f"),
                ("projection", "projection s", ".2f"),
                ("propagation", "propagation s", ".2f"),
                ("centrality", "centrality s", ".2f"),
                ("compute", "compute s", ".1f"),
                ("wall", "process wall s", ".1f"),
                ("rss", "peak RSS MiB", ".0f"),
                ("compute_cpu", "compute CPU s", ".1f"),
                ("explain_typical_ms", "explain ms", ".0f"),
                ("explain_typical_n", "its contributions", ","),
                ("explain_hardest_top20_ms", "hardest, top 20 ms", ".0f"),
                ("explain_hardest_ms", "hardest, all ms", ".0f"),
                ("explain_hardest_cpu_ms", "hardest, all CPU ms", ".0f"),
                ("explain_hardest_n", "its contributions", ","),
                ("s10", "S10 % below 1", ".2f"),
                ("s10_count", "of no-record", ","),
                ("old", "old walk sum s", ".2f"),
                ("ratio", "old / new propagation", ".2f"),
            ],
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[100_000])
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    ap.add_argument("--baseline-max", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "credgraph-bench")
    ap.add_argument("--neo4j", action="store_true", help="the whole command against Neo4j")
    ap.add_argument("--online", action="store_true", help="load online even if bulk exists")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.as_of, args.baseline)
        return
    if not args.neo4j:
        engine_main(args)
        return
    policy = load_policy(None)
    rows = []
    for scale in args.scales:
        data = args.work / f"data-{scale}-seed{args.seed}"
        if not (data / "blacklist.csv").exists():
            generate(data, scale, args.seed, "csv")
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
                    "snapshot": t.get("snapshot", 0.0),
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
        rows.append(row)
        print(row, file=sys.stderr)
    print(
        f"\nmachine: {machine()}; date: {time.strftime('%Y-%m-%d %H:%M')}; load {os.getloadavg()}\n"
    )
    print(
        table(
            rows,
            [
                ("scale", "subjects", ","),
                ("export", "export s", ".1f"),
                ("compute", "compute s", ".1f"),
                ("centrality", "of which centrality s", ".1f"),
                ("snapshot", "snapshot s", ".1f"),
                ("write_back", "write-back s", ".1f"),
                ("total", "end to end s", ".1f"),
                ("rss", "peak RSS MiB", ".0f"),
                ("engine", "propagation s", ".3f"),
                ("explain_ms", "explain ms", ".1f"),
            ],
        )
    )


if __name__ == "__main__":
    main()
