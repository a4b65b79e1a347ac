"""Draw the score distribution per domain on the generated market, before (the walk
sum used until 2026-11-30, ``designs.py``) and after (the strongest path per source,
noisy-OR): a PNG for docs/.

    .venv/bin/python benchmarks/score_distribution.py --scale 100000 --seed 3 \
        --out docs/score-distribution.png
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from designs import combine, pair_amounts, trust_of  # noqa: E402

from credgraph.graph.engine.intrinsic import intrinsic_risk  # noqa: E402
from credgraph.graph.engine.policy import DOMAINS, load_policy  # noqa: E402
from credgraph.graph.engine.projection import build_projection  # noqa: E402
from credgraph.graph.engine.propagation import propagate  # noqa: E402
from credgraph.loaders.generate import generate  # noqa: E402
from credgraph.loaders.tables import tables_from_folder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "credgraph-bench")
    ap.add_argument("--out", type=Path, default=Path("docs/score-distribution.png"))
    args = ap.parse_args()
    data = args.work / f"data-{args.scale}-seed{args.seed}"
    if not (data / "blacklist.csv").exists():
        generate(data, args.scale, args.seed, "csv")
    policy = load_policy(None)
    proj = build_projection(tables_from_folder(data), policy, args.as_of)
    hop, a = policy.propagation.hop_limit, policy.propagation.damping
    b = intrinsic_risk(proj)
    before_net = {}
    for d in DOMAINS:
        _, subj, c = pair_amounts("walk", proj.graphs[d], b[d], hop, a)
        before_net[d] = combine("walk", subj, c, proj.n_subjects)
    after = propagate(proj, policy)
    norec = np.ones(proj.n_subjects, dtype=bool)
    for d in DOMAINS:
        norec &= b[d] == 0

    def domain_score(net: dict[str, np.ndarray], d: str) -> np.ndarray:
        out: np.ndarray = 100.0 * (1.0 - b[d]) * (1.0 - np.minimum(1.0, net[d]))
        return out

    panels = [
        *[(f"{d} score (100 x (1 - domain risk))", lambda net, d=d: domain_score(net, d)) for d in DOMAINS],
        ("trust score", lambda net: trust_of(b, net)),
    ]  # fmt: skip
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), sharex=True)
    bins = np.linspace(0, 100, 51)
    for ax, (title, fn) in zip(axes, panels, strict=True):
        old = fn(before_net)[norec]
        new = fn(after.network)[norec]
        ax.hist(old, bins=bins, alpha=0.55, color="tab:red",
                label=f"before: walk sum, capped ({(old < 1).mean():.1%} below 1)")  # fmt: skip
        ax.hist(new, bins=bins, alpha=0.55, color="tab:blue",
                label=f"after: strongest path, noisy-OR ({(new < 1).mean():.1%} below 1)")  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylabel("subjects (log)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper center")
    axes[-1].set_xlabel("score (0 = worst); bins of 2 points")
    fig.suptitle(
        f"Subjects with no adverse record of their own ({int(norec.sum()):,} of "
        f"{proj.n_subjects:,}), generated market seed {args.seed}, as of {args.as_of}",
        fontsize=10,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
