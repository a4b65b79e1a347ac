"""The scheduler's settings, from the environment (``CREDGRAPH_SCHEDULE_*``,
``CREDGRAPH_METRICS_*``, ``CREDGRAPH_LOG_FORMAT``); the command's flags win.

Kept apart from :class:`credgraph.graph.settings.Settings` (the connection and
the store), which the scheduler reads as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credgraph.graph.settings import read_settings

DEFAULT_EVERY = "1h"


class ScheduleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDGRAPH_", extra="ignore")

    schedule_every: str | None = Field(None, description="interval, e.g. 15m, 1h, 1d")
    schedule_cron: str | None = Field(None, description="crontab expression, e.g. '0 3 * * *'")
    schedule_timezone: str = "UTC"
    schedule_only_if_changed: bool = False
    schedule_now: bool = False
    schedule_policy: Path | None = None
    schedule_retries: int = Field(3, ge=0, le=100)
    schedule_retry_delay: str = "30s"
    schedule_retry_max: str = "10m"
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"
    # A test hook: "PHASE=SECONDS" pauses each run for SECONDS when it enters PHASE
    # (export, compute, write-back), so that a test can kill it there.
    schedule_test_pause: str | None = None


def load_schedule_settings(**overrides: object) -> ScheduleSettings:
    """The scheduler's settings from the environment; keyword overrides win."""
    return read_settings(ScheduleSettings, **overrides)
