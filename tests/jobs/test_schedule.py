"""Schedules without a database: durations, crontab expressions, back-off, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from credgraph.graph.errors import ConfigError, UsageError
from credgraph.jobs.schedule import (
    Backoff,
    crontab_trigger,
    describe,
    format_duration,
    make_trigger,
    parse_duration,
)
from credgraph.jobs.settings import load_schedule_settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1.5h", 5400),
        ("45", 45),
        (" 1H 5M ", 3900),
        ("0.5s", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "m", "15x", "1m1h", "1h1h", "-5m", "1h-", "PT5M", "5 minutes"]
)
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(UsageError, match="every must be a duration") as info:
        parse_duration(text)
    assert info.value.field == "every"


@pytest.mark.parametrize("text", ["0s", "0", "0.0000001", "0.0009s", "0m0.0000004s"])
def test_zero_duration_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [1, 59, 60, 90, 3600, 5400, 86400 + 61, 1.5])
def test_format_is_the_inverse(seconds: float) -> None:
    d = timedelta(seconds=seconds)
    assert parse_duration(format_duration(d)) == d


def fires(trigger: CronTrigger, start: datetime, n: int) -> list[datetime]:
    out: list[datetime] = []
    prev = None
    now = start
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, now)
        assert nxt is not None
        out.append(nxt)
        prev, now = nxt, nxt + timedelta(microseconds=1)
    return out


MONDAY = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday


def test_cron_sunday_is_zero_as_in_crontab() -> None:
    # APScheduler 3's from_crontab alone reads 0 as Monday (its own numbering)
    got = fires(crontab_trigger("0 3 * * 0", UTC), MONDAY, 3)
    assert [d.strftime("%a %H:%M") for d in got] == ["Sun 03:00"] * 3
    assert [d.day for d in got] == [7, 14, 21]
    assert fires(crontab_trigger("0 3 * * 7", UTC), MONDAY, 1) == got[:1]


@pytest.mark.parametrize(
    ("dow", "days"),
    [
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("*/2", ["Tue", "Thu", "Sat", "Sun"]),  # 0, 2, 4, 6 from a Monday on
        ("1/2", ["Mon", "Wed", "Fri"]),
        ("5-7", ["Fri", "Sat", "Sun"]),
        ("0,6", ["Sat", "Sun"]),
        ("*", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
    ],
)
def test_cron_days_of_week(dow: str, days: list[str]) -> None:
    got = fires(crontab_trigger(f"30 2 * * {dow}", UTC), MONDAY, len(days))
    assert [d.strftime("%a") for d in got] == days
    assert all(d.strftime("%H:%M") == "02:30" for d in got)


def test_cron_every_five_minutes_in_a_time_zone() -> None:
    tz = ZoneInfo("Europe/Berlin")
    got = fires(crontab_trigger("*/5 * * * *", tz), MONDAY, 3)
    assert [d.minute for d in got] == [0, 5, 10]
    got = fires(crontab_trigger("0 6 * * *", tz), MONDAY, 1)
    assert got[0].astimezone(UTC).hour == 4  # 06:00 summer time in Berlin


@pytest.mark.parametrize(
    "expr", ["* * * *", "61 * * * *", "* * * * 8", "* * * * funday", "a b c d e"]
)
def test_bad_cron_is_a_usage_error(expr: str) -> None:
    with pytest.raises(UsageError) as info:
        crontab_trigger(expr, UTC)
    assert info.value.field == "cron"


def test_a_cron_that_never_fires_is_refused() -> None:
    """February 31st: APScheduler takes it and never fires (a scheduler that says
    nothing and does nothing); a leap day still fires."""
    with pytest.raises(UsageError, match="never fires"):
        crontab_trigger("0 3 31 2 *", UTC)
    assert crontab_trigger("0 0 29 2 *", UTC) is not None


@pytest.mark.parametrize("text", ["367d", "3000000d", "99999999999d", "1000000000000s"])
def test_durations_past_a_year_and_a_day_are_refused(text: str) -> None:
    """Far-off intervals overflowed the date arithmetic: an internal error."""
    with pytest.raises(UsageError, match="at most 366d") as info:
        parse_duration(text)
    assert info.value.field == "every"


def test_make_trigger() -> None:
    t = make_trigger("15m", None, UTC)
    assert isinstance(t, IntervalTrigger) and t.interval == timedelta(minutes=15)
    assert describe(t) == "every 15m"
    assert isinstance(make_trigger(None, "0 3 * * *", UTC), CronTrigger)
    with pytest.raises(UsageError, match="not both"):
        make_trigger("1h", "0 3 * * *", UTC)
    with pytest.raises(UsageError, match="no schedule"):
        make_trigger(None, None, UTC)


def test_backoff_grows_and_is_bounded() -> None:
    b = Backoff(retries=6, first=timedelta(seconds=30), cap=timedelta(minutes=3))
    assert b.delays() == [30, 60, 120, 180, 180, 180]
    assert b.delay(10_000) == 180  # no overflow, still the cap
    assert Backoff(retries=0).delays() == []
    assert Backoff(retries=2, first=timedelta(seconds=1), cap=timedelta(seconds=1)).delays() == [
        1,
        1,
    ]
    with pytest.raises(UsageError):
        Backoff(retries=-1)
    with pytest.raises(UsageError):
        Backoff(first=timedelta(minutes=5), cap=timedelta(minutes=1))


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGRAPH_SCHEDULE_CRON", "0 3 * * *")
    monkeypatch.setenv("CREDGRAPH_SCHEDULE_ONLY_IF_CHANGED", "true")
    monkeypatch.setenv("CREDGRAPH_METRICS_PORT", "9108")
    s = load_schedule_settings()
    assert s.schedule_cron == "0 3 * * *" and s.schedule_every is None
    assert s.schedule_only_if_changed is True and s.metrics_port == 9108
    assert s.metrics_host == "127.0.0.1"  # loopback unless told
    monkeypatch.setenv("CREDGRAPH_SCHEDULE_RETRIES", "many")
    with pytest.raises(ConfigError) as info:
        load_schedule_settings()
    assert "CREDGRAPH_SCHEDULE_RETRIES" in (info.value.hint or "")


def test_a_tick_stopped_while_waiting_to_retry_is_abandoned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/operations.md: a tick ends `failed` after its retries, `abandoned` when
    stopped. A SIGTERM during the wait before a retry once ended it `failed` after one
    attempt of four."""
    import threading

    from credgraph.graph.settings import load_settings
    from credgraph.jobs import scheduler as sched_mod

    monkeypatch.delenv("NEO4J_URI", raising=False)
    sched = sched_mod.Scheduler(
        load_settings(home=tmp_path),
        IntervalTrigger(hours=1),
        backoff=Backoff(retries=3, first=timedelta(seconds=30)),
    )
    failed = sched_mod.Outcome(
        "failed", retry=True, fields={"code": "database_error", "error": "away"}
    )
    monkeypatch.setattr(sched, "_attempt", lambda tick, attempt: failed)
    finished: list[str] = []
    monkeypatch.setattr(
        sched, "_finish", lambda tick, fired, coalesced, attempt, res: finished.append(res.outcome)
    )
    threading.Timer(0.2, sched.stop).start()
    with pytest.raises(sched_mod.SchedulerStopped):
        sched._tick(datetime.now(UTC))
    assert finished == ["abandoned"]


def test_credgraph_debug_shows_the_scheduler_tracebacks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """README: CREDGRAPH_DEBUG=1 prints an unexpected error's traceback. The scheduler
    logs it at debug level (after `attempt_failed`), which it never enabled."""
    from credgraph.cli.main import main
    from credgraph.jobs import scheduler as sched_mod

    calls: list[bool] = []
    monkeypatch.setattr(
        sched_mod, "configure_logging", lambda fmt="text", debug=False: calls.append(debug)
    )
    monkeypatch.setattr(sched_mod.Scheduler, "serve", lambda self: None)
    monkeypatch.setenv("CREDGRAPH_HOME", str(tmp_path))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.delenv("CREDGRAPH_DEBUG", raising=False)
    assert main(["scheduler", "--every", "1h"]) == 0
    monkeypatch.setenv("CREDGRAPH_DEBUG", "1")
    assert main(["scheduler", "--every", "1h"]) == 0
    assert calls == [False, True]
