"""Run a real Neo4j Community server from Maven Central jars, without Docker.

Layout of a home (``$CREDGRAPH_HOME``)::

    conf/neo4j.conf      generated at every start from the settings
    data/ logs/ run/     the server's own folders
    import/              the only folder LOAD CSV may read
    credentials.json     user and generated password
    neo4j.pid            pid of the running JVM
    logs/console.log     the JVM's standard output and error
    swap-journal.json    only while a bulk load swaps the store in (see below)

Least privilege: the home is mode 0700 and everything in it 0600 (folders 0700).
Every start sets that on what exists (a home made by an older version, files
copied in) and runs the JVM, ``neo4j-admin`` and the importer with umask 077, so
what they create is their user's alone; credgraph's CLI sets the same umask for
itself (rejects files, staging, run data).

The jars are resolved once by ``mvn dependency:copy-dependencies`` over the
``pom.xml`` beside this file into ``$CREDGRAPH_JARS_DIR/lib`` and shared by
every home. The server runs ``org.neo4j.server.CommunityEntryPoint``; the
password is set before first start with ``org.neo4j.cli.AdminTool dbms
set-initial-password`` (the same jars hold ``neo4j-admin``). The password never
appears on a command line (``ps`` shows every process's arguments to every
user): the tool reads it from an argument file (``@file``, expanded by its
picocli parser), mode 0600 in the home's ``run/`` folder, deleted right after.

The store swap of a bulk load (loaders/bulk.py) is journaled in
``swap-journal.json``: the renames it will do, written (and fsynced) before the
first one and updated after each. :meth:`ManagedServer.start` reads it before
it starts anything: if the load that wrote it is gone, a swap that was not
committed is rolled back (every rename undone, by what exists on disk, so a kill
between a rename and the journal update is covered) and a committed one is
finished (the old store deleted); the server then starts on a whole store.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from credgraph.graph.errors import ServerError
from credgraph.graph.managed import browser
from credgraph.graph.settings import NEO4J_VERSION, Settings

POM = Path(__file__).with_name("pom.xml")
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
SUPPORTED_JAVA = (17, 21)

JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
]

#: File-creation mask of the server, neo4j-admin and the importer: owner only.
UMASK = 0o077
JOURNAL = "swap-journal.json"


@dataclass
class Credentials:
    username: str
    password: SecretStr  # never printed: repr and str show "**********"


def secure_tree(root: Path) -> int:
    """Make ``root`` and everything under it its owner's alone: folders 0700, files
    0600 (group and other bits cleared, nothing else changed); returns how many
    modes were changed. Symbolic links are not followed."""
    changed = 0
    if not root.is_dir():
        return 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            try:
                st = os.lstat(name)
            except FileNotFoundError:  # gone meanwhile (a log rotated)
                continue
            if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.chmod(name, st.st_mode & 0o7700)
                changed += 1
    return changed


def process_started(pid: int, *, live: bool = False) -> int | None:
    """A process's start time (clock ticks after boot, /proc/PID/stat field 22), None if
    it does not exist or there is no /proc; with its id it names one process, even if
    ids are reused. ``live=True``: None for a zombie too (dead, not yet reaped)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat_line.rsplit(")", 1)[1].split()  # after the name, which may hold spaces
    if live and fields[0] == "Z":
        return None
    return int(fields[19])


def _write_json_durably(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` by ``data`` atomically and durably (file and folder fsynced)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ManagedServer:
    """One Neo4j server living in one home and listening on one loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home
        self.port = settings.bolt_port
        self.lib = settings.jars_dir / "lib"

    # ----------------------------------------------------------------- paths
    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def import_dir(self) -> Path:
        return self.home / "import"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        return self.home / "neo4j.pid"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials.json"

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- checks
    @staticmethod
    def java_version() -> int:
        java = shutil.which("java")
        if not java:
            raise ServerError(
                "Java is not installed (no `java` on PATH)",
                hint="install a JDK 17 or 21, e.g. `apt-get install openjdk-17-jre-headless`",
            )
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
        if not m:
            raise ServerError(f"cannot read the Java version from: {out.stderr.strip()[:200]}")
        major = int(m.group(1))
        if major == 1 and m.group(2):
            major = int(m.group(2))
        if major not in SUPPORTED_JAVA:
            raise ServerError(
                f"Neo4j {NEO4J_VERSION} needs Java 17 or 21, found Java {major}",
                hint="put a JDK 17 or 21 first on PATH (or set JAVA_HOME's bin first)",
            )
        return major

    def installed(self) -> bool:
        return (self.lib / f"neo4j-{NEO4J_VERSION}.jar").is_file() and (
            self.lib / ".complete"
        ).is_file()

    def install(self) -> Path:
        """Resolve the Neo4j jars with Maven into the shared jars folder (once)."""
        if self.installed():
            return self.lib
        self.java_version()
        mvn = shutil.which("mvn")
        if not mvn:
            raise ServerError(
                "Maven is not installed (no `mvn` on PATH); it fetches the Neo4j jars",
                hint="install Maven, e.g. `apt-get install maven`",
            )
        self.lib.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="lib.", dir=self.lib.parent))
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not (tmp / f"neo4j-{NEO4J_VERSION}.jar").is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise ServerError(f"Maven could not resolve the Neo4j {NEO4J_VERSION} jars:\n{tail}")
        (tmp / ".complete").write_text(NEO4J_VERSION + "\n")
        if self.lib.exists():
            shutil.rmtree(self.lib)
        tmp.rename(self.lib)
        return self.lib

    def classpath(self) -> str:
        return f"{self.lib}/*" + browser.classpath(self.settings)

    def java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.conf_dir)
        return env

    # ---------------------------------------------------------- configuration
    def write_conf(self) -> Path:
        for d in (self.conf_dir, self.logs_dir, self.import_dir, self.data_dir, self.home / "run"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        s = self.settings
        for name, value in (("heap", s.heap), ("pagecache", s.pagecache)):
            # Settings validate these; a Settings built without validation must not
            # smuggle lines into the file either.
            if not re.fullmatch(r"[1-9][0-9]{0,6}[kKmMgG]", value):
                raise ServerError(f"bad setting {name}: {value!r} is not a memory size")
        if not 1 <= self.port <= 65535:
            raise ServerError(f"bad setting bolt_port: {self.port} is not a port")
        if any(c in str(self.home) for c in "\r\n"):
            raise ServerError("bad setting home: a line break in the path")
        lines = [
            "# Generated by credgraph at every `credgraph neo4j start`; edits are overwritten.",
            f"server.directories.data={self.data_dir}",
            f"server.directories.logs={self.logs_dir}",
            f"server.directories.import={self.import_dir}",
            f"server.directories.run={self.home / 'run'}",
            f"server.directories.plugins={self.home / 'plugins'}",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{self.port}",
            f"server.bolt.advertised_address=127.0.0.1:{self.port}",
            "server.bolt.tls_level=DISABLED",
            *browser.conf_lines(s),  # off, or on loopback for the opt-in Neo4j Browser
            "server.https.enabled=false",
            f"server.memory.heap.initial_size={s.heap}",
            f"server.memory.heap.max_size={s.heap}",
            f"server.memory.pagecache.size={s.pagecache}",
            "dbms.security.auth_enabled=true",
            "dbms.security.allow_csv_import_from_file_urls=true",
            "dbms.usage_report.enabled=false",
            "db.tx_log.rotation.retention_policy=2 files",
            "db.transaction.timeout=0",
            "server.jvm.additional=-XX:+UseG1GC",
        ]
        conf = self.conf_dir / "neo4j.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return conf

    def credentials(self) -> Credentials:
        """The user and password of this home, generated at first start."""
        f = self.credentials_file
        if not f.is_file():
            raise ServerError(
                f"no credentials in {self.home}: the managed server was never started",
                hint="run `credgraph neo4j start`",
            )
        data = json.loads(f.read_text())
        return Credentials(data["username"], SecretStr(data["password"]))

    def _init_credentials(self) -> None:
        """Generate the password and hand it to ``neo4j-admin`` in an argument file
        (``@file``), never on its command line, which every local user can read."""
        if self.credentials_file.is_file():
            return
        # Letters, digits, - and _ (no quoting needed), starting with a letter: a
        # password starting with "-" would be read by neo4j-admin as an option.
        password = "p" + secrets.token_urlsafe(24)
        run_dir = self.home / "run"
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A start killed while neo4j-admin ran left its file (a password never used):
        # remove those of processes gone; a start running beside this one keeps its own.
        for old in run_dir.glob("initial-password.*.args"):
            pid = old.name.split(".")[1]
            if not (pid.isdigit() and _alive(int(pid))):
                old.unlink(missing_ok=True)
        args = run_dir / f"initial-password.{os.getpid()}.args"
        fd = os.open(args, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f'"{password}"\n')
        try:
            proc = subprocess.run(
                [
                    "java",
                    "-cp",
                    self.classpath(),
                    ADMIN_TOOL,
                    "dbms",
                    "set-initial-password",
                    f"@{args}",
                ],
                capture_output=True,
                text=True,
                env=self.java_env(),
                umask=UMASK,
                check=False,
            )
        finally:
            args.unlink(missing_ok=True)
        if proc.returncode != 0:
            tail = proc.stderr.replace(password, "**********").strip()[-500:]
            raise ServerError(f"could not set the initial password: {tail}")
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"username": "neo4j", "password": password}, fh)

    def secure_home(self) -> int:
        """Home 0700 and everything in it its owner's alone (module docstring)."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return secure_tree(self.home)

    # ----------------------------------------------------- the store swap journal
    @property
    def journal_file(self) -> Path:
        return self.home / JOURNAL

    def read_journal(self) -> dict[str, Any] | None:
        """The journal of an unfinished store swap, or None."""
        try:
            data: dict[str, Any] = json.loads(self.journal_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:  # written by atomic replace: only a hand edit breaks it
            raise ServerError(
                f"cannot read the store swap journal {self.journal_file}: {exc}",
                hint="the store under data/ may be half swapped; compare it with the "
                "journal's moves before deleting the journal",
            ) from exc
        return data

    def begin_swap(
        self, load_id: str, staging: Path, moves: list[tuple[Path, Path]]
    ) -> dict[str, Any]:
        """Write the journal of a swap (the renames ``moves``, in order) before the first."""
        pid = os.getpid()
        journal: dict[str, Any] = {
            "version": 1,
            "load_id": load_id,
            "pid": pid,
            "pid_started": process_started(pid),
            "staging": str(staging),
            "moves": [[str(a), str(b)] for a, b in moves],
            "done": 0,
            "phase": "swapping",
        }
        _write_json_durably(self.journal_file, journal)
        return journal

    def note_swap(self, journal: dict[str, Any], **changes: Any) -> None:
        """Record a step of the swap (``done=n`` renames, ``phase='started'``, ...)."""
        journal.update(changes)
        _write_json_durably(self.journal_file, journal)

    @staticmethod
    def swap_is_ours(journal: dict[str, Any]) -> bool:
        """Whether this very process wrote ``journal`` (its pid and start time)."""
        pid = os.getpid()
        return journal.get("pid") == pid and journal.get("pid_started") == process_started(pid)

    def swap_owner_alive(self, journal: dict[str, Any]) -> bool:
        """Whether the process that wrote ``journal`` still runs (not this one)."""
        pid = journal.get("pid")
        if not isinstance(pid, int) or self.swap_is_ours(journal):
            return False
        return process_started(pid) == journal.get("pid_started")

    def recover_swap(self) -> str | None:
        """Finish or roll back a swap whose load is gone; None if there is none.

        ``committed`` (the load recorded its end): the new store stays, the old one
        and the staging folder are deleted. Any earlier phase: the server is stopped
        (it may run on the new store), every rename done is undone, the staging
        folder deleted: the store is the one before the load, whose ``Load`` record
        (``running``) the next writer marks ``interrupted``.
        """
        journal = self.read_journal()
        if journal is None or self.swap_is_ours(journal):  # ours: the swap's own start
            return None
        if self.swap_owner_alive(journal):
            raise ServerError(
                f"a bulk load ({journal.get('load_id')}, process {journal.get('pid')}) "
                "is swapping the store in",
                hint="wait for it to end; it starts the server itself",
            )
        if journal.get("phase") == "committed":
            self.end_swap(journal)
            return "finished"
        self.rollback_swap(journal)
        return "rolled back"

    def rollback_swap(self, journal: dict[str, Any]) -> None:
        """Stop the server and undo the swap's renames, newest first, by what is on
        disk (a rename is done when its target exists and its source does not)."""
        self.stop()
        for src, dst in reversed(journal["moves"]):
            a, b = Path(src), Path(dst)
            if b.exists() and not a.exists():
                a.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.replace(b, a)
        self.end_swap(journal)

    def end_swap(self, journal: dict[str, Any]) -> None:
        """Delete the staging folder (the old or the unused new store) and the journal."""
        shutil.rmtree(journal["staging"], ignore_errors=True)
        self.journal_file.unlink(missing_ok=True)
        _fsync_dir(self.home)

    # --------------------------------------------------------------- process
    def pid(self) -> int | None:
        """The pid of this home's server, if it is alive; clears a stale pid file."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            cmdline = []
        if ENTRY_POINT.encode() in cmdline and f"--home-dir={self.home}".encode() in cmdline:
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    def bolt_ready(self) -> bool:
        from neo4j import GraphDatabase
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        try:
            creds = self.credentials()
        except ServerError:
            return False
        try:
            with GraphDatabase.driver(
                self.uri,
                auth=(creds.username, creds.password.get_secret_value()),
                connection_timeout=2,
            ) as driver:
                driver.verify_connectivity()
            return True
        except (ServiceUnavailable, Neo4jError, OSError):
            return False

    def _log_tail(self, n: int = 20, *, since: int = 0) -> str:
        """The last lines that say why a start failed: this start's console output
        (from byte ``since``: older starts' lines are not its reason), else the logs."""
        parts = []
        for f in (self.console_log, self.logs_dir / "neo4j.log", self.logs_dir / "debug.log"):
            if f.is_file():
                with f.open("rb") as fh:
                    if f == self.console_log:
                        fh.seek(since)
                    lines = fh.read().decode(errors="replace").splitlines()
                if f == self.console_log and lines:
                    # This start's own output (a JVM that could not start writes
                    # "Error occurred during initialization of VM" here, and nothing
                    # to neo4j.log, whose ERROR lines are then from earlier starts).
                    errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
                    return "\n".join((errors or lines)[-n:])
                errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
                parts.extend((errors or lines)[-n:])
                if errors:
                    break
        return "\n".join(parts[-n:])

    def start(self, timeout: float | None = None) -> dict[str, Any]:
        """Start the server and wait until Bolt answers; a no-op if it is running.

        First finishes or rolls back a store swap that a bulk load left unfinished
        (:meth:`recover_swap`), and makes the home its owner's alone."""
        self.recover_swap()
        if self.home.exists():
            self.secure_home()
        if self.pid() is not None:
            if self.bolt_ready() or self._wait_ready(timeout or self.settings.start_timeout):
                return self.status() | {"already_running": True}
        self.install()
        if self.port_in_use():
            raise ServerError(
                f"port {self.port} on 127.0.0.1 is taken by another process",
                hint="stop that process or choose another port with CREDGRAPH_BOLT_PORT",
            )
        self.secure_home()
        self.write_conf()
        self._init_credentials()
        heap = self.settings.heap
        cmd = [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            *JVM_FLAGS,
            "-cp",
            self.classpath(),
            ENTRY_POINT,
            f"--home-dir={self.home}",
            f"--config-dir={self.conf_dir}",
            "--console-mode",
        ]
        self.logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.console_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        console_from = os.fstat(fd).st_size  # this start's output begins here
        with os.fdopen(fd, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.java_env(),
                cwd=self.home,
                start_new_session=True,
                umask=UMASK,
            )
        fd = os.open(self.pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{proc.pid}\n")
        deadline = time.monotonic() + (timeout or self.settings.start_timeout)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise ServerError(
                    f"Neo4j exited during start-up with code {proc.returncode}:\n"
                    + self._log_tail(since=console_from),
                    hint=f"see {self.console_log} and {self.logs_dir / 'neo4j.log'}",
                )
            if self.bolt_ready():
                return self.status() | {"already_running": False}
            time.sleep(0.5)
        self.stop()
        raise ServerError(
            f"Neo4j did not answer on {self.uri} within {timeout or self.settings.start_timeout:.0f} s",
            hint=f"see {self.console_log}; raise CREDGRAPH_START_TIMEOUT on a slow machine",
        )

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                return False
            if self.bolt_ready():
                return True
            time.sleep(0.5)
        return False

    def stop(self, timeout: float = 60.0) -> bool:
        """Shut down cleanly (SIGTERM, then SIGKILL after the timeout); True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> dict[str, Any]:
        pid = self.pid()
        return {
            "running": pid is not None and self.bolt_ready(),
            "pid": pid,
            "uri": self.uri,
            "port": self.port,
            "home": str(self.home),
            "version": NEO4J_VERSION,
            "installed": self.installed(),
            "log": str(self.console_log),
        }


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child; otherwise just probe it.
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return False
