"""HTTP API latency and throughput: the depth-2 neighbourhood and the score routes
at 8 and 32 concurrent clients, beside the same use cases called in-process
through the driver (the same Cypher, no HTTP: the floor).

    nice python benchmarks/api.py [--scale 100000] [--seconds 20] [--clients 8 32] [--warmup 10]

Starts its own managed Neo4j in a temporary home, generates and bulk-loads the
synthetic market, runs propagation (or, with ``--home DIR``, reuses a home that
already holds a scored graph, such as ``benchmarks/queries.py --prepare-only
--home DIR`` leaves), creates a viewer key, starts `credgraph serve` in a child
process and drives it with threads (one keep-alive HTTP client each).
Prints p50/p95/p99 (ms), requests per second, errors and the machine time per
request: the CPU that Neo4j, the API process and this client process spent during
the row, divided by its requests (less noisy than latency on a shared machine).
Goals (issue 14): depth-2 p95 under 50 ms at 8 clients; no errors at 32.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from common import bench_server, env_for, free_port, machine

from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.graph.settings import Settings, load_settings
from credgraph.services.apikeys import create_key
from credgraph.services.caller import Caller
from credgraph.services.loading import load_input
from credgraph.services.propagation import propagate
from credgraph.services.scores import score_lookup
from credgraph.services.subjects import neighbourhood

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of process ``pid`` so far (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def drive(
    work: Callable[[int], bool], clients: int, seconds: float
) -> tuple[np.ndarray, int, float]:
    """Run ``work(i)`` from ``clients`` threads for ``seconds``; latencies (s), errors, wall."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def loop(c: int) -> None:
        i = c
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                ok = work(i)
            except Exception:  # noqa: BLE001 - a timeout or a refused connection is an error
                ok = False
            lat[c].append(time.perf_counter() - t)
            errors[c] += 0 if ok else 1
            i += clients

    threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return np.array([x for per in lat for x in per]), sum(errors), wall


def row(
    name: str,
    mode: str,
    clients: int,
    res: tuple[np.ndarray, int, float],
    cpu: tuple[float, float, float],
) -> str:
    """One table row; ``cpu`` is the seconds of CPU of Neo4j, the API and the client."""
    lat, errors, wall = res
    if not len(lat):
        return f"| {name} | {mode} | {clients} | 0 | {errors} | - | - | - | - | - | - |"
    p50, p95, p99 = (np.percentile(lat, q) * 1000 for q in (50, 95, 99))
    per = [c / len(lat) * 1000 for c in cpu]
    return (
        f"| {name} | {mode} | {clients} | {len(lat):,} | {errors} | "
        f"{p50:.1f} | {p95:.1f} | {p99:.1f} | {len(lat) / wall:,.0f} | "
        f"{sum(per):.1f} | {per[0]:.1f} / {per[1]:.1f} / {per[2]:.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--home", type=Path, help="reuse this home's scored graph")
    ap.add_argument("--port", type=int, default=7799, help="its Bolt port (with --home)")
    ap.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds of untimed requests before a route's first row (2 s before the others):"
        " a server that has not run a route's queries yet spends its first seconds compiling",
    )
    ap.add_argument(
        "--routes",
        nargs="+",
        choices=["neighbourhood", "score"],
        default=["neighbourhood", "score"],
    )
    args = ap.parse_args()
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.home:
        server = ManagedServer(
            load_settings(home=args.home, bolt_port=args.port, heap="2g", pagecache="1g")
        )
        started = server.start()
        try:
            measure(server.settings, args)
        finally:
            if not started.get("already_running"):  # a server running before is left so
                server.stop()
        return

    with tempfile.TemporaryDirectory(prefix="credgraph-api-bench-") as tmp:
        home = Path(tmp) / "home"
        sample = Path(tmp) / "sample"
        from credgraph.loaders.generate import generate

        generate(sample, args.scale, args.seed, "csv")
        with bench_server(home) as server:
            settings = server.settings
            t = time.perf_counter()
            load_input(settings, sample, source="bench", bulk=True)
            print(f"loaded {args.scale:,} subjects in {time.perf_counter() - t:.1f}s", flush=True)
            t = time.perf_counter()
            propagate(settings, as_of="2026-06-30")
            print(f"propagated in {time.perf_counter() - t:.1f}s", flush=True)
            measure(settings, args)


def measure(settings: Settings, args: argparse.Namespace) -> None:
    """Serve the scored graph of ``settings`` and drive it; prints the table."""
    gw = Gateway(settings)
    neo4j_pid = ManagedServer(settings).pid()
    if neo4j_pid is None:
        raise SystemExit("the managed server is not running")
    _, key = create_key(gw, "viewer", "benchmark")
    ids = [r["id"] for r in gw.read("MATCH (s:Subject) RETURN s.id AS id ORDER BY s.id")]
    random.Random(args.seed).shuffle(ids)
    ids = ids[:2000]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "credgraph.cli.main", "serve", "--port", str(port)],
        env=env_for(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not start")
            time.sleep(0.2)
        local = threading.local()

        def client() -> httpx.Client:
            if not hasattr(local, "c"):
                local.c = httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30.0)
            return local.c  # type: ignore[no-any-return]

        caller = Caller(actor="benchmark", via="api", role="viewer")
        cases: dict[str, dict[str, Callable[[int], bool]]] = {
            "neighbourhood depth 2": {
                "api": lambda i: (
                    client()
                    .get(f"/subjects/{ids[i % len(ids)]}/neighbourhood?depth=2&limit=100")
                    .status_code
                    == 200
                ),
                "driver": lambda i: bool(
                    neighbourhood(
                        gw, settings, ids[i % len(ids)], caller=caller, depth=2, limit=100
                    )["nodes"]
                ),
            },
            "score": {
                "api": lambda i: (
                    client().get(f"/subjects/{ids[i % len(ids)]}/score").status_code == 200
                ),
                "driver": lambda i: bool(
                    score_lookup(gw, settings, ids[i % len(ids)], caller=caller)
                ),
            },
        }
        print(
            "| route | via | clients | requests | errors | p50 ms | p95 ms | p99 ms "
            "| req/s | CPU ms/req | Neo4j / API / client |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|",
            flush=True,
        )
        pids = (neo4j_pid, proc.pid)
        for name, modes in cases.items():
            if name.split()[0] not in args.routes:
                continue
            first = True
            for clients in args.clients:
                for mode, work in modes.items():
                    drive(work, clients, args.warmup if first else 2.0)  # untimed
                    first = False
                    before = [cpu_seconds(p) for p in pids] + [time.process_time()]
                    res = drive(work, clients, args.seconds)
                    after = [cpu_seconds(p) for p in pids] + [time.process_time()]
                    spent = [b - a for a, b in zip(before, after, strict=True)]
                    print(row(name, mode, clients, res, (spent[0], spent[1], spent[2])))
                    print(f"  load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
        gw.close()


if __name__ == "__main__":
    main()
