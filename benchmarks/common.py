"""Shared pieces of the benchmarks: a dedicated managed server, child processes, tables."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from credgraph.graph.managed import ManagedServer  # noqa: E402
from credgraph.graph.settings import Settings, load_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bench_server(home: Path, heap: str = "2g", pagecache: str = "2g") -> Iterator[ManagedServer]:
    """A managed Neo4j of its own (temporary home, free port), stopped afterwards."""
    for var in ("NEO4J_URI", "NEO4J_PASSWORD"):
        os.environ.pop(var, None)
    server = ManagedServer(
        load_settings(home=home, bolt_port=free_port(), heap=heap, pagecache=pagecache)
    )
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    server.start()
    try:
        yield server
    finally:
        server.stop()


def env_for(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CREDGRAPH_HOME=str(settings.home),
        CREDGRAPH_BOLT_PORT=str(settings.bolt_port),
        CREDGRAPH_HEAP=settings.heap,
        CREDGRAPH_PAGECACHE=settings.pagecache,
    )
    return env


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; wall seconds, its own peak RSS (MiB) from wait4, its stdout."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        out.seek(0)
        err.seek(0)
        text = out.read()
        if code not in (0, 3):
            raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err.read()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, text


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Markdown table; columns are (key, header, format)."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|" + "|".join("---:" if f else "---" for _, _, f in columns) + "|"
    body = [
        "| " + " | ".join(format(r[k], f) if f else str(r[k]) for k, _, f in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, sep, *body])
