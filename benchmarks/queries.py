"""Latency of every named query (queries/*.cypher) on the generated market.

    .venv/bin/python benchmarks/queries.py [--scale 100000] [--calls 30] [--home DIR]

Starts a managed Neo4j of its own in a temporary home (or reuses ``--home`` if it
already holds a loaded, scored graph: ``--prepare-only`` builds one and keeps it),
generates SCALE subjects, loads them, runs propagation twice (a year ahead, then
as of today, with a dispute in between, so score_drops has drops to rank), then calls each query
``--calls`` times with parameters drawn from the graph (seeded; subjects that
have guarantees, firms that have owners, lenders, blacklist entries) after two
warm-up calls, and prints p50, p95 and max in milliseconds per query, measured
round trip from Python (the read transaction, all rows fetched). Goal: p95 under
200 ms for each. Figures go to docs/benchmarks.md with the machine and date.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from common import ROOT, bench_server, env_for, machine

from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.settings import load_settings
from credgraph.queries.library import check_params, library
from credgraph.queries.runner import run_read


def cli(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "credgraph.cli.main", *args], env=env, check=True, cwd=ROOT
    )


def prepare(server: ManagedServer, scale: int, work: Path) -> None:
    env = env_for(server.settings)
    t = time.perf_counter()
    cli(["generate", str(work / "sample"), "--scale", str(scale), "--seed", "7"], env)
    cli(["load", str(work / "sample"), "--source", "bench"], env)
    # the first run a year ahead (records decayed further: higher trust), the second
    # as of today: score_drops then has real drops to rank
    later = date.today().replace(year=date.today().year + 1).isoformat()
    cli(["propagate", "--as-of", later], env)
    with Gateway(server.settings) as gw:
        loan = gw.read(
            "MATCH (l:Loan) WHERE l.status = 'defaulted' RETURN l.id AS id ORDER BY id LIMIT 1"
        )
    if loan:
        cli(["dispute", loan[0]["id"], "--reason", "benchmark"], env)
    cli(["propagate"], env)
    print(f"prepared {scale:,} subjects in {time.perf_counter() - t:.0f} s", file=sys.stderr)


def samples(gw: Gateway, rng: random.Random, n: int) -> list[dict[str, Any]]:
    """n parameter sets per query, drawn from the graph."""

    def ids(cypher: str) -> list[str]:
        got = [r["id"] for r in gw.read(cypher)]
        return got or ["none"]

    guarantors = ids(
        "MATCH (s:Subject)-[:GUARANTEES]->() RETURN DISTINCT s.id AS id ORDER BY id LIMIT 2000"
    )
    owned = ids("MATCH ()-[:OWNS]->(f:Firm) RETURN DISTINCT f.id AS id ORDER BY id LIMIT 2000")
    owners = ids(
        "MATCH (s:Subject)-[:OWNS|LEGAL_REPRESENTATIVE_OF]->() RETURN DISTINCT s.id AS id "
        "ORDER BY id LIMIT 2000"
    )
    lenders = ids("MATCH (s:Subject)-[:LENT]->() RETURN DISTINCT s.id AS id ORDER BY id LIMIT 2000")
    entries = ids("MATCH (e:BlacklistEntry) RETURN e.id AS id ORDER BY id LIMIT 2000")
    loans = ids("MATCH (l:Loan) RETURN l.id AS id ORDER BY id LIMIT 2000")
    today = date.today().isoformat()
    out: dict[str, list[dict[str, Any]]] = {}
    for _ in range(n):
        a, b = rng.choice(guarantors), rng.choice(owners)
        for name, params in {
            "subject_profile": {"id": a},
            "guarantee_chains": {"id": a, "depth": "3"},
            "guarantee_circles": {"id": a},
            "mutual_guarantees": {"id": a},
            "lender_exposure": {"lender": rng.choice(lenders), "as_of": today},
            "ultimate_owners": {"firm": rng.choice(owned), "threshold": "0.1"},
            "controlled_firms": {"id": b},
            "shortest_path": {"from": a, "to": rng.choice(guarantors)},
            "score_drops": {},
            "newly_listed": {"days": "30", "as_of": today},
            "systemic_subjects": {"by": rng.choice(["pagerank", "betweenness", "kcore"])},
            "contagion_paths": {"entry": rng.choice(entries)},
            "disputed_records": {},
            "provenance": {"id": rng.choice([a, rng.choice(loans), rng.choice(entries)])},
        }.items():
            out.setdefault(name, []).append(params)
    missing = set(library()) - set(out)
    for name in missing:  # a query added later: its defaults, if it has no required one
        out[name] = [{}] * n
    return [{"name": k, "params": v} for k, v in sorted(out.items())]


def measure(
    gw: Gateway, calls: int, seed: int, only: list[str] | None = None
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for item in samples(gw, rng, calls):
        if only and item["name"] not in only:
            continue
        q = library()[item["name"]]
        times: list[float] = []
        sizes: list[int] = []
        for i, given in enumerate([item["params"][0], item["params"][0], *item["params"]]):
            values = check_params(q, given)
            t = time.perf_counter()
            res = run_read(gw, q.cypher, values, timeout=60, max_rows=100_000)
            dt = (time.perf_counter() - t) * 1000
            if i >= 2:  # two warm-up calls
                times.append(dt)
                sizes.append(len(res.rows))
        times.sort()
        rows.append(
            {
                "query": q.name,
                "p50": statistics.median(times),
                "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
                "max": times[-1],
                "rows": statistics.median(sizes),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--home", type=Path, help="a home to reuse (or keep, with --prepare-only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--only", nargs="*", help="measure only these queries")
    args = ap.parse_args()

    def run(server: ManagedServer, work: Path) -> None:
        with Gateway(server.settings) as gw:
            scored = gw.read("MATCH (r:Run {status: 'completed'}) RETURN count(r) AS n")[0]["n"]
        if scored < 2:
            prepare(server, args.scale, work)
        if args.prepare_only:
            return
        with Gateway(server.settings) as gw:
            n = gw.read("MATCH (s:Subject) RETURN count(s) AS n")[0]["n"]
            rows = measure(gw, args.calls, args.seed, args.only)
        print(
            f"{n:,} subjects; {args.calls} calls per query after 2 warm-up calls; "
            f"{machine()}, {date.today()}"
        )
        print("| query | p50 ms | p95 ms | max ms | rows (median) | p95 < 200 ms |")
        print("|---|---:|---:|---:|---:|---|")
        for r in rows:
            ok = "yes" if r["p95"] < 200 else "**no**"
            print(
                f"| {r['query']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | "
                f"{r['rows']:.0f} | {ok} |"
            )

    with tempfile.TemporaryDirectory(prefix="credgraph-bench-queries-") as tmp:
        if args.home:
            settings = load_settings(
                home=args.home, bolt_port=args.port or 7799, heap="2g", pagecache="1g"
            )
            server = ManagedServer(settings)
            server.start()
            run(server, args.home)
            if not args.prepare_only:
                server.stop()
        else:
            with bench_server(Path(tmp) / "home", heap="2g", pagecache="1g") as server:
                run(server, Path(tmp))


if __name__ == "__main__":
    main()
