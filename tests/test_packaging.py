"""What `pip install .` puts into site-packages: the one namespace and nothing else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_only_the_credgraph_namespace(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("credgraph-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"credgraph"}, top
    for needed in (
        "credgraph/graph/managed/pom.xml",
        "credgraph/graph/engine/policies/default.toml",
        "credgraph/services/scores.py",
        "credgraph/cli/main.py",
    ):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "credgraph = credgraph.cli.main:run" in zipfile.ZipFile(wheel).read(entry).decode()
