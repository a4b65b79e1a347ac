"""One settings object, read once at the edge (CLI entry, API start-up).

Environment variables follow the Neo4j convention for the connection
(``NEO4J_URI``, ``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``)
and ``CREDGRAPH_*`` for everything of credgraph's own. With no ``NEO4J_URI``
the managed local server under ``$CREDGRAPH_HOME`` is used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)

NEO4J_VERSION = "5.26.30"

#: A memory size as Neo4j and the JVM both read it: digits and an optional unit, no more
#: (the value goes into neo4j.conf and onto the JVM's command line).
_MEMORY = re.compile(r"[1-9][0-9]{0,6}[kKmMgG]")


def _default_home() -> Path:
    return Path.home() / ".credgraph"


def _default_jars() -> Path:
    return Path.home() / ".cache" / "credgraph" / f"neo4j-{NEO4J_VERSION}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDGRAPH_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="managed server home")
    bolt_port: int = Field(7687, ge=1, le=65535)
    jars_dir: Path = Field(default_factory=_default_jars, description="Neo4j jars cache")
    heap: str = Field("1g", description="JVM heap, e.g. 1g or 768m")
    pagecache: str = Field("512m", description="page cache, e.g. 512m or 2g")
    start_timeout: float = 120.0

    neo4j_uri: str | None = Field(None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_username: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_USERNAME"))
    # A secret: repr, str, logs and JSON show "**********"; .get_secret_value() where needed.
    neo4j_password: SecretStr | None = Field(None, validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_DATABASE"))

    batch_size: int = Field(5000, ge=1)
    # Transactions an online load keeps in flight (batches of one file at a time).
    load_writers: int = Field(2, ge=1, le=16)
    runs_kept: int = Field(5, ge=1)
    # Where run snapshots live (graph/runstore.py): a directory several processes or
    # hosts may share; None means $CREDGRAPH_HOME/runs (see run_store_dir).
    run_store: Path | None = None
    # Decoded run snapshots a process keeps in memory to explain scores (LRU).
    snapshot_cache: int = Field(2, ge=1, le=64)
    # Seconds a neighbourhood (API, viewer) may walk in the database before it is cut
    # (`truncated: "time"`); reading the details of the nodes reached gets as long
    # again (at least 1 s).
    neighbourhood_time_limit: float = Field(10.0, gt=0, le=300)
    # Seconds the HTTP API waits for an unreachable database (connecting, and the
    # driver's retries of a transaction) before it answers 503: a client and the
    # compose health check get an answer, not a request held for the driver's 30 s.
    api_db_wait: float = Field(5.0, gt=0, le=120)
    # Neo4j Browser on the managed server, on loopback (graph/managed/browser.py).
    browser: bool = False
    http_port: int = Field(7474, ge=1, le=65535)

    @field_validator("home", "jars_dir", mode="after")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        # The home goes into neo4j.conf line by line: no line breaks or other controls.
        if any(ord(c) < 32 or ord(c) == 127 for c in str(v)):
            raise ValueError("must not contain line breaks or other control characters")
        return v.expanduser().resolve()

    @field_validator("run_store", mode="before")
    @classmethod
    def _absolute_store(cls, v: object) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None  # unset or empty: the default under the home
        return Path(str(v)).expanduser().resolve()

    @property
    def run_store_dir(self) -> Path:
        """The run store: ``CREDGRAPH_RUN_STORE``, else ``$CREDGRAPH_HOME/runs``."""
        return self.run_store if self.run_store is not None else self.home / "runs"

    @field_validator("heap", "pagecache", mode="after")
    @classmethod
    def _memory_size(cls, v: str) -> str:
        if not _MEMORY.fullmatch(v):
            raise ValueError(
                "must be a size like 512m, 1g or 1048576k (digits and one unit k, m or g)"
            )
        return v

    @property
    def managed(self) -> bool:
        """True when credgraph runs its own server (no NEO4J_URI given)."""
        return not self.neo4j_uri


def read_settings(cls: type[S], **overrides: object) -> S:
    """An instance of settings class ``cls`` from the environment (keyword overrides
    win); a bad value is one :class:`ConfigError` naming the field and its variable."""
    from pydantic import ValidationError

    from credgraph.graph.errors import ConfigError

    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"bad setting {field}: {first['msg']}",
            hint=f"check the environment variable CREDGRAPH_{field.upper()}",
        ) from exc


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win."""
    return read_settings(Settings, **overrides)
