"""When the scheduler runs: durations, crontab expressions and the retry back-off.

Pure functions (no database): the command line and the settings give text, these
turn it into an APScheduler trigger or a list of delays, or a usage error that
names the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from credgraph.graph.errors import UsageError

_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
#: The longest duration taken: a year and a day (APScheduler, and dates, end in 9999).
MAX_SECONDS = 366 * 86400.0
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


def parse_duration(text: str, field: str = "every") -> timedelta:
    """A duration such as ``90s``, ``15m``, ``1h30m``, ``2d`` or ``1.5h`` (units w, d,
    h, m, s, largest first, each once), or a bare number of seconds; positive."""
    s = text.strip().lower().replace(" ", "")
    seconds: float | None = None
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        seconds = float(s)
    elif s and _PART.sub("", s) == "":
        units = [u for _, u in _PART.findall(s)]
        order = list(_UNITS)
        if len(set(units)) == len(units) and units == sorted(units, key=order.index):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))
    if seconds is None:
        raise UsageError(
            f"{field} must be a duration such as 90s, 15m, 1h30m or 2d, not {text!r}",
            field=field,
        )
    # (timedelta keeps microseconds: 0.0000001s would be a zero interval, run back to back)
    if seconds < 0.001:
        raise UsageError(
            f"{field} must be longer than zero (1 ms at least), not {text!r}", field=field
        )
    if seconds > MAX_SECONDS:
        raise UsageError(f"{field} must be at most 366d, not {text!r}", field=field)
    return timedelta(seconds=seconds)


def format_duration(d: timedelta) -> str:
    """``timedelta(seconds=5400)`` -> ``1h30m`` (the inverse of :func:`parse_duration`)."""
    total = d.total_seconds()
    parts = []
    for unit, size in _UNITS.items():
        if unit == "s":
            break
        n, total = divmod(total, size)
        if n:
            parts.append(f"{int(n)}{unit}")
    if total or not parts:
        parts.append(f"{total:g}s")
    return "".join(parts)


_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday, names sun..sat, lists, ranges,
    steps) as APScheduler 3 reads it: an explicit list of day names.

    APScheduler 3's ``CronTrigger.from_crontab`` numbers days from Monday = 0, so
    ``0 3 * * 0`` would run on Mondays; spelling the days out keeps crontab's
    meaning (Sunday).
    """
    if field == "*":
        return "*"
    days: set[int] = set()

    def day(tok: str) -> int:
        tok = tok.lower()
        if tok in _DAYS:
            return _DAYS.index(tok)
        if tok.isdigit() and 0 <= int(tok) <= 7:
            return int(tok) % 7
        raise ValueError(f"bad day of week {tok!r}")

    for item in field.split(","):
        rng, _, step_s = item.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise ValueError(f"bad step in {item!r}")
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = day(a), day(b)
            if b.strip() == "7":
                hi = 7  # 5-7: Friday to Sunday
            if hi < lo:
                raise ValueError(f"bad range {item!r}")
        else:
            lo = hi = day(rng)
            if step_s:
                hi = 6
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def crontab_trigger(expr: str, timezone: tzinfo, field: str = "cron") -> CronTrigger:
    """A standard five-field crontab expression (minute hour day-of-month month
    day-of-week) as an APScheduler trigger, days of week read as crontab does.

    Unlike Vixie cron, a restricted day of month and day of week must both match.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise UsageError(
            f"{field} must have five fields (minute hour day-of-month month day-of-week), "
            f"not {expr!r}",
            field=field,
        )
    try:
        fields[4] = _crontab_days(fields[4])
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=timezone)
    except ValueError as exc:
        raise UsageError(
            f"{field} {expr!r} is not a crontab expression: {exc}", field=field
        ) from exc
    if trigger.get_next_fire_time(None, datetime.now(timezone)) is None:
        raise UsageError(f"{field} {expr!r} never fires (no such date)", field=field)
    return trigger


def parse_timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {name!r}", field="timezone") from exc


def make_trigger(every: str | None, cron: str | None, timezone: tzinfo) -> BaseTrigger:
    """An interval trigger (``every``) or a cron trigger (``cron``): exactly one."""
    if every and cron:
        raise UsageError("give a schedule either as every or as cron, not both", field="every")
    if cron:
        return crontab_trigger(cron, timezone)
    if not every:
        raise UsageError("no schedule: give every or cron", field="every")
    return IntervalTrigger(seconds=parse_duration(every).total_seconds(), timezone=timezone)


def describe(trigger: BaseTrigger) -> str:
    if isinstance(trigger, IntervalTrigger):
        return f"every {format_duration(trigger.interval)}"
    return str(trigger)


@dataclass(frozen=True)
class Backoff:
    """Retries of a failed run: ``retries`` more attempts, the k-th (from 0) after
    ``min(cap, first * factor**k)``; bounded in number and in each wait."""

    retries: int = 3
    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=10)
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise UsageError("retries must be 0 or more", field="retries")
        if self.first.total_seconds() <= 0 or self.cap < self.first or self.factor < 1:
            raise UsageError("retry delays must be positive and the cap not below the first")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        grown = self.first.total_seconds() * self.factor ** min(attempt, 64)
        return min(self.cap.total_seconds(), grown)

    def delays(self) -> list[float]:
        return [self.delay(k) for k in range(self.retries)]
