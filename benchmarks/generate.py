"""Benchmark the synthetic data generator: wall time, throughput and peak memory.

Each scale runs in its own child process; its peak resident set size comes
from ``os.wait4`` (the child's own ``ru_maxrss``), so runs do not mask each
other. Prints a markdown table.

    .venv/bin/python benchmarks/generate.py --scales 100000 1000000 --format csv
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child(scale: int, fmt: str, seed: int, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from credgraph.loaders.generate import generate

    started = time.perf_counter()
    rows = generate(out, scale, seed, fmt)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out.iterdir())
    print(json.dumps({"seconds": seconds, "rows": rows, "bytes": size}))


def _run(scale: int, fmt: str, seed: int, work: Path) -> dict[str, float]:
    out = work / f"{scale}-{fmt}"
    cmd = [sys.executable, __file__, "--child", str(scale), fmt, str(seed), str(out)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"generate --scale {scale} failed with exit code {proc.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss_bytes = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    return {
        "scale": scale,
        "wall": wall,
        "gen": result["seconds"],
        "rows": sum(result["rows"].values()),
        "rss_mib": rss_bytes / 2**20,
        "out_mib": result["bytes"] / 2**20,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="where outputs go (temp)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        scale, fmt, seed, out = args.child
        _child(int(scale), fmt, int(seed), Path(out))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = [_run(s, args.format, args.seed, Path(tmp)) for s in args.scales]
    header = (
        f"generate, format={args.format}, seed={args.seed}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}"
    )
    print(header + "\n")
    print(
        "| subjects | rows written | wall s | generate s | subjects/s | peak RSS MiB | output MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['scale']:,} | {r['rows']:,} | {r['wall']:.1f} | {r['gen']:.1f} "
            f"| {r['scale'] / r['gen']:,.0f} | {r['rss_mib']:.0f} | {r['out_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
