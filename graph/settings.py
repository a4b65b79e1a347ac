"""One settings object, read once at the edge (CLI entry, API start-up).

Environment variables follow the Neo4j convention for the connection
(``NEO4J_URI``, ``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``)
and ``CREDGRAPH_*`` for everything of credgraph's own. With no ``NEO4J_URI``
the managed local server under ``$CREDGRAPH_HOME`` is used.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NEO4J_VERSION = "5.26.30"


def _default_home() -> Path:
    return Path.home() / ".credgraph"


def _default_jars() -> Path:
    return Path.home() / ".cache" / "credgraph" / f"neo4j-{NEO4J_VERSION}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDGRAPH_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="managed server home")
    bolt_port: int = Field(7687, ge=1, le=65535)
    jars_dir: Path = Field(default_factory=_default_jars, description="Neo4j jars cache")
    heap: str = "1g"
    pagecache: str = "512m"
    start_timeout: float = 120.0

    neo4j_uri: str | None = Field(None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_username: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_USERNAME"))
    neo4j_password: str | None = Field(None, validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_DATABASE"))

    batch_size: int = Field(5000, ge=1)
    # Transactions an online load keeps in flight (batches of one file at a time).
    load_writers: int = Field(2, ge=1, le=16)
    runs_kept: int = Field(5, ge=1)
    # Neo4j Browser on the managed server, on loopback (graph/managed/browser.py).
    browser: bool = False
    http_port: int = Field(7474, ge=1, le=65535)

    @field_validator("home", "jars_dir", mode="after")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def managed(self) -> bool:
        """True when credgraph runs its own server (no NEO4J_URI given)."""
        return not self.neo4j_uri


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win."""
    from pydantic import ValidationError

    from credgraph.graph.errors import ConfigError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"bad setting {field}: {first['msg']}",
            hint=f"check the environment variable CREDGRAPH_{field.upper()}",
        ) from exc
