"""Neo4j Browser on the managed server, opt-in (``CREDGRAPH_BROWSER=true``).

Neo4j 5 serves the Browser's static files from the ``browser/`` folder of the
``org.neo4j.client:neo4j-browser`` jar when that jar is on the server's class
path and the HTTP connector is on. With the setting, the managed server turns
its HTTP connector on, on loopback only (``127.0.0.1:$CREDGRAPH_HTTP_PORT``,
default 7474), and adds the jar (resolved once from Maven Central into the
shared jars folder, beside the server's own jars) to its class path. Open
``http://127.0.0.1:7474/browser/`` and log in with the credentials of the home
(``credentials.json``).

Community Edition has no read-only users: whoever logs in to the Browser can
write. It is a tool for operators who hold the database credentials;
investigators get read-only access through ``credgraph cypher``,
``credgraph query`` and the HTTP API.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from credgraph.graph.errors import ServerError
from credgraph.graph.settings import Settings

BROWSER_ARTIFACT = "org.neo4j.client:neo4j-browser:5.24.0"


def browser_dir(settings: Settings) -> Path:
    return settings.jars_dir / "browser"


def browser_jar(settings: Settings) -> Path:
    version = BROWSER_ARTIFACT.rsplit(":", 1)[1]
    return browser_dir(settings) / f"neo4j-browser-{version}.jar"


def install_browser(settings: Settings) -> Path:
    """Resolve the Browser jar with Maven (once); its path."""
    jar = browser_jar(settings)
    if jar.is_file():
        return jar
    mvn = shutil.which("mvn")
    if not mvn:
        raise ServerError(
            "Maven is not installed (no `mvn` on PATH); it fetches the Neo4j Browser jar",
            hint="install Maven, or unset CREDGRAPH_BROWSER",
        )
    jar.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="browser.", dir=jar.parent))
    proc = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={BROWSER_ARTIFACT}",
            f"-DoutputDirectory={tmp}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    got = tmp / jar.name
    if proc.returncode != 0 or not got.is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise ServerError(f"Maven could not resolve {BROWSER_ARTIFACT}:\n{tail}")
    got.replace(jar)
    shutil.rmtree(tmp, ignore_errors=True)
    return jar


def conf_lines(settings: Settings) -> list[str]:
    """neo4j.conf lines for the HTTP connector: on loopback with the Browser, else off."""
    if not settings.browser:
        return ["server.http.enabled=false"]
    return [
        "server.http.enabled=true",
        f"server.http.listen_address=127.0.0.1:{settings.http_port}",
        f"server.http.advertised_address=127.0.0.1:{settings.http_port}",
    ]


def classpath(settings: Settings) -> str:
    """The extra class path entry of the Browser jar ('' without the setting)."""
    return f":{install_browser(settings)}" if settings.browser else ""
