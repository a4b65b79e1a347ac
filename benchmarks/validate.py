"""Validation alone (no database): read and validate a folder in the input layout.

Times the reader and the validator over every file, as a load does (empty graph),
for ``--rounds`` rounds in this process and prints the wall and CPU seconds of
each round per file, then the best round. ``--root`` runs another checkout of
credgraph (for a before/after comparison on the same data, in alternation).

    .venv/bin/python benchmarks/validate.py /tmp/credgraph-bench/data-100000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a folder in the input layout (CSV or Parquet)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--root", type=Path, help="the checkout to import credgraph from")
    args = ap.parse_args()
    root = args.root or Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root.resolve()))
    for name in [m for m in sys.modules if m == "credgraph" or m.startswith("credgraph.")]:
        del sys.modules[name]
    import credgraph
    from credgraph.loaders import readers as _readers
    from credgraph.loaders.readers import discover

    # What a load reads with: blocks where this checkout has them (column-wise
    # validation), else rows (a checkout from before, for --root comparisons).
    read = getattr(_readers, "read_blocks", None) or _readers.read_rows
    from credgraph.loaders.validate import Validator

    print(f"credgraph from {Path(credgraph.__path__[0]).resolve().parent}")
    best: tuple[float, float] | None = None
    from credgraph.loaders import readers

    for rnd in range(args.rounds):
        # A load decodes each Parquet file once in full before reading it (readers.py);
        # forget that it was done, so that every round pays for it as a load does.
        getattr(readers, "_VERIFIED", set()).clear()
        v = Validator(None)
        t0, c0 = time.perf_counter(), own_cpu()
        rows = rejects = 0
        parts = []
        for spec, path in discover(args.data, None):
            t1, c1 = time.perf_counter(), own_cpu()
            for batch in v.validate_file(spec, read(spec, path)):
                rows += len(batch.rows)
                rejects += len(batch.rejects)
            parts.append(f"{path.name} {time.perf_counter() - t1:.2f}/{own_cpu() - c1:.2f}")
        wall, cpu = time.perf_counter() - t0, own_cpu() - c0
        print(
            f"round {rnd}: wall {wall:.2f} s, CPU {cpu:.2f} s, {rows} valid, {rejects} rejects"
            f" ({', '.join(parts)})"
        )
        best = (wall, cpu) if best is None or cpu < best[1] else best
    assert best is not None
    print(f"best round: wall {best[0]:.2f} s, CPU {best[1]:.2f} s")


if __name__ == "__main__":
    main()
