"""Running `credgraph scheduler` as docker-compose.yml does, and reading its log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from credgraph.graph.settings import Settings

#: The scheduler service's command in docker-compose.yml; the tests run exactly this
#: argv (the schedule, metrics and log format come from the environment, as there).
SCHEDULER_ARGV = ["credgraph", "scheduler"]

T = TypeVar("T")


def executable() -> str:
    """The `credgraph` console script of the environment running the tests."""
    exe = Path(sys.executable).with_name("credgraph")
    assert exe.is_file(), f"no credgraph script beside {sys.executable}"
    return str(exe)


def start_scheduler(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``credgraph scheduler`` against the test server, JSON log lines into ``log``."""
    full = dict(os.environ)
    for var in list(full):
        if var.startswith(("CREDGRAPH_", "NEO4J_")):
            del full[var]
    full.update(
        CREDGRAPH_HOME=str(settings.home),
        CREDGRAPH_BOLT_PORT=str(settings.bolt_port),
        CREDGRAPH_LOG_FORMAT="json",
        **env,
    )
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [executable(), *SCHEDULER_ARGV[1:]],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=fh,
        )


def events(log: Path, name: str | None = None) -> list[dict[str, Any]]:
    """The JSON events of a scheduler's log (``name``: only those)."""
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and (name is None or ev.get("event") == name):
            out.append(ev)
    return out


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = 120.0) -> T:
    """Poll ``fn`` until it returns something truthy (returned), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """SIGTERM, then its exit code (killed if it does not end)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the scheduler did not stop on SIGTERM") from None
