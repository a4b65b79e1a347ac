"""What the use-case tests share: the `credgraph` command as a subprocess, pointed at
the test server through its home or, like another machine, through NEO4J_URI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from credgraph.graph.gateway import connection
from credgraph.graph.managed import ManagedServer
from credgraph.graph.settings import Settings


def own_env() -> dict[str, str]:
    """The environment without any credgraph or Neo4j setting of the test process."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CREDGRAPH_", "NEO4J_"))}


def home_env(server: ManagedServer, **extra: str) -> dict[str, str]:
    """The server's own home (the managed server's credentials file)."""
    env = own_env()
    env.update(CREDGRAPH_HOME=str(server.home), CREDGRAPH_BOLT_PORT=str(server.port), **extra)
    return env


def remote_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """A second home that reaches the same server the way another host would: by
    NEO4J_URI, NEO4J_USERNAME and NEO4J_PASSWORD (it has no server of its own)."""
    uri, (user, password) = connection(settings)
    secret = getattr(password, "get_secret_value", None)
    env = own_env()
    env.update(
        CREDGRAPH_HOME=str(home),
        NEO4J_URI=uri,
        NEO4J_USERNAME=user,
        NEO4J_PASSWORD=secret() if secret else str(password),
        **extra,
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credgraph.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
