"""Scheduled propagation: ``credgraph scheduler``.

APScheduler (a :class:`BackgroundScheduler`, UTC unless told) keeps the
schedule, an interval or a crontab expression; each time it fires it only puts
the time on a queue. The main thread takes fires from the queue and runs
propagation (``credgraph.services.propagation.propagate``), one at a time:

- fires that came while a run (or a retry's wait) was at work are coalesced
  into the next one and counted (``coalesced``), as are fires APScheduler
  itself missed (``coalesce=True``, no misfire limit): missed runs make one run;
- one run at a time across processes and machines is the writer lease's work
  (graph/lease.py): a tick that finds it held is skipped (``busy``) and logged,
  not retried; a crashed holder is taken over at once on the same host, after
  the lease's ttl (60 s) from elsewhere;
- with ``only_if_changed`` a tick runs only when something changed since the
  current run (graph/changes.py), else it is skipped (``unchanged``);
- a failed attempt is logged and counted; if it may pass (the database away,
  a run that failed) it is retried after a bounded back-off (jobs/schedule.py
  :class:`Backoff`), fires meanwhile coalesced; a run the database dropped is
  marked ``failed`` with its reason once the database is back;
- SIGTERM or SIGINT: between runs the scheduler stops; during a run the run is
  abandoned (an exception raised in the main thread, where the run works) at
  once, or, when the run is inside a database call, as soon as that call
  returns (graph/interrupt.py: an exception landing inside the driver could
  leave a lock or a connection behind that the cleanup then waits on): the run
  marks itself ``failed`` and removes its partial scores, the lease is
  released, the previous run stays current. ``kill -USR1`` prints every
  thread's stack to the log (for a stop that seems stuck).

Running the work in the main thread is why the fires go through a queue: a
signal handler can only interrupt the main thread.

Every tick ends in one ``tick`` log event with its ``outcome`` (completed,
busy, unchanged, failed, abandoned) and ``coalesced`` count; every fire is
logged (``fired``), so fires = ticks + coalesced + pending at stop.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from credgraph.graph.changes import (
    changes_since_current,
    current_run,
    run_status,
    settle_abandoned,
)
from credgraph.graph.engine.policy import load_policy
from credgraph.graph.errors import CredgraphError
from credgraph.graph.gateway import Gateway
from credgraph.graph.interrupt import interrupt
from credgraph.graph.lease import Busy, own_holder
from credgraph.graph.runs import RunResult
from credgraph.graph.settings import Settings
from credgraph.jobs.metrics import SchedulerMetrics
from credgraph.jobs.schedule import Backoff, describe
from credgraph.services.propagation import propagate

log = logging.getLogger("credgraph.scheduler")

#: Error codes a retry within minutes cannot mend: logged, counted, left to the next tick.
NOT_RETRIED = frozenset({"config_error", "usage_error", "schema_error", "unfinished_load"})


class SchedulerStopped(BaseException):  # noqa: N818 - like KeyboardInterrupt
    """Raised in the main thread by SIGTERM/SIGINT to abandon the run at work.
    A BaseException, so that no ``except Exception`` on the way swallows it."""


@dataclass
class Outcome:
    outcome: str  # completed, busy, unchanged, failed, abandoned
    retry: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


class Scheduler:
    """Runs propagation on ``trigger`` until stopped (:meth:`serve`)."""

    def __init__(
        self,
        settings: Settings,
        trigger: BaseTrigger,
        *,
        timezone: tzinfo = UTC,
        only_if_changed: bool = False,
        policy_file: Path | None = None,
        backoff: Backoff | None = None,
        run_now: bool = False,
        metrics: SchedulerMetrics | None = None,
        test_pause: tuple[str, float] | None = None,
    ) -> None:
        self.settings = settings
        self.trigger = trigger
        self.timezone = timezone
        self.only_if_changed = only_if_changed
        self.policy_file = policy_file
        self.backoff = backoff or Backoff()
        self.run_now = run_now
        self.metrics = metrics or SchedulerMetrics()
        self.test_pause = test_pause
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._fires: queue.Queue[datetime] = queue.Queue()
        self._fires_lock = threading.Lock()
        self._closed = False  # no more fires taken (stopping)
        self._stop = threading.Event()
        self._interruptible = False
        self._stop_signal: str | None = None
        self._signal_at: datetime | None = None
        self._abandoning = False  # a run was at work when the signal came
        self._ignored = 0  # signals after the first
        self._ticks = 0
        self._abandoned: tuple[str, str] | None = None  # (run id, reason) to settle
        self._gw: Gateway | None = None
        self._aps: BackgroundScheduler | None = None

    # ------------------------------------------------------------------ logging
    def event(self, name: str, level: int = logging.INFO, **fields: Any) -> None:
        log.log(level, name, extra={"fields": {"scheduler": self.name, **fields}})

    # --------------------------------------------------------------- lifecycle
    def serve(self) -> None:
        """Schedule, then take fires and run them until SIGTERM/SIGINT or :meth:`stop`."""
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        dump = getattr(signal, "SIGUSR1", None)  # an operator's `kill -USR1`: every stack
        if dump is not None:
            faulthandler.register(dump, all_threads=True)
        aps = BackgroundScheduler(timezone=self.timezone)
        aps.add_job(
            self._fire,
            self.trigger,
            id="propagate",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        aps.add_listener(self._missed, EVENT_JOB_MISSED)
        self._aps = aps
        self._init_metrics()
        try:
            aps.start()
            self.event(
                "started",
                schedule=describe(self.trigger),
                next=self._next_fire(),
                only_if_changed=self.only_if_changed,
                retries=self.backoff.retries,
            )
            if self.run_now:
                self._fire(now=True)
            self._loop()
        finally:
            with self._fires_lock:
                self._closed = True
            aps.shutdown(wait=False)
            pending = self._drain()
            if self._signal_at is not None:
                self.event(
                    "stopping",
                    signal=self._stop_signal,
                    signal_at=self._signal_at.isoformat(timespec="milliseconds"),
                    abandoning=self._abandoning,
                    ignored=self._ignored or None,
                )
            self.event("stopped", signal=self._stop_signal, pending=pending)
            if self._gw is not None:
                self._gw.close()
            for s, h in old.items():
                # Stopped by a signal, the process is on its way out: a second signal
                # while it exits is ignored (docs/operations.md). Restoring the default
                # handlers here let one kill it with 143; so would keeping a Python
                # handler (the interpreter's shutdown resets those, not SIG_IGN).
                signal.signal(s, signal.SIG_IGN if self._signal_at is not None else h)
            if dump is not None:
                faulthandler.unregister(dump)

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                fired = self._fires.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._tick(fired)
            except SchedulerStopped:
                break

    def _release_own(self, reason: str, run_id: str | None = None) -> None:
        """After a run was abandoned: if this process still holds the writer lease
        (the signal came between taking it and the run's own cleanup), settle that
        run and free the lease, so that the next writer need not wait to take it over.
        The abandoned run ``run_id`` is settled too if it is still ``running``: its own
        cleanup could not mark it when the database was away then (its lease may have
        been handed back since, once the database returned)."""
        try:
            gw = self._gateway()
            holder = own_holder(gw)
            for run in dict.fromkeys(r for r in (holder, run_id) if r is not None):
                if settle_abandoned(gw, run, reason) or run == holder:
                    self.event("settled", run=run, status="failed", error=reason)
        except CredgraphError:
            pass  # the database is away: the next writer takes the lease over

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # No logging here: the handler can run while the main thread is inside a write
        # to the same stream (a reentrant write raises); `stopping` is logged at the stop.
        name = signal.Signals(signum).name
        if self._stop.is_set():
            self._ignored += 1
            return
        self._stop_signal = name
        self._signal_at = datetime.now(UTC)
        self._abandoning = self._interruptible
        self._stop.set()
        if self._interruptible:
            # at once, or when the database call at work returns (graph/interrupt.py)
            interrupt(SchedulerStopped(f"the scheduler was stopped by {name}"))

    # -------------------------------------------------------------------- fires
    def _fire(self, now: bool = False) -> None:
        """APScheduler's job (its own thread): hand the fire to the main thread."""
        with self._fires_lock:
            if self._closed:
                return
            at = datetime.now(UTC)
            self.event("fired", at=at.isoformat(timespec="milliseconds"), now=now)
            self._fires.put(at)
        self._set_next()

    def _missed(self, ev: JobExecutionEvent) -> None:
        self.event(
            "missed", logging.WARNING, scheduled=str(ev.scheduled_run_time), note="coalesced"
        )

    def _drain(self) -> int:
        n = 0
        while True:
            try:
                self._fires.get_nowait()
            except queue.Empty:
                return n
            n += 1

    def _next_fire(self) -> str | None:
        job = self._aps.get_job("propagate") if self._aps else None
        nxt = job.next_run_time if job else None
        return nxt.isoformat() if nxt else None

    def _set_next(self) -> None:
        job = self._aps.get_job("propagate") if self._aps else None
        if job is not None and job.next_run_time is not None:
            self.metrics.next_tick.set(job.next_run_time.timestamp())

    # -------------------------------------------------------------------- ticks
    def _tick(self, fired: datetime) -> None:
        self._ticks += 1
        tick = self._ticks
        coalesced = self._drain()
        attempt = 0
        while True:
            res = self._attempt(tick, attempt)
            if res.outcome == "abandoned":
                self._finish(tick, fired, coalesced, attempt, res)
                raise SchedulerStopped
            if res.retry and attempt < self.backoff.retries and not self._stop.is_set():
                delay = self.backoff.delay(attempt)
                self.event("retrying", logging.WARNING, tick=tick, attempt=attempt, delay=delay)
                self._interruptible = True
                try:
                    if self._stop.is_set() or self._stop.wait(delay):
                        raise SchedulerStopped
                except SchedulerStopped:
                    # stopped before its retries were spent: abandoned, not failed
                    res = Outcome("abandoned", fields={**res.fields, "note": "stopped"})
                    self._finish(tick, fired, coalesced, attempt, res)
                    raise
                finally:
                    self._interruptible = False
                coalesced += self._drain()
                attempt += 1
                continue
            self._finish(tick, fired, coalesced, attempt, res)
            return

    def _finish(
        self, tick: int, fired: datetime, coalesced: int, attempt: int, res: Outcome
    ) -> None:
        self.metrics.ticks.labels(res.outcome).inc()
        level = logging.INFO if res.outcome in ("completed", "busy", "unchanged") else logging.ERROR
        self.event(
            "tick",
            level,
            tick=tick,
            outcome=res.outcome,
            fired=fired.isoformat(timespec="milliseconds"),
            coalesced=coalesced,
            attempts=attempt + 1,
            **res.fields,
        )

    def _gateway(self) -> Gateway:
        if self._gw is None:
            self._gw = Gateway(self.settings)
        self._gw.verify()  # fails fast when the database is away
        return self._gw

    def _attempt(self, tick: int, attempt: int) -> Outcome:
        started = time.monotonic()
        run: dict[str, str | None] = {"id": None}

        def on_phase(phase: str, run_id: str) -> None:
            run["id"] = run_id
            log.debug("phase", extra={"fields": {"run": run_id, "phase": phase}})
            if self.test_pause and phase == self.test_pause[0]:
                self.event("test_pause", run=run_id, phase=phase, seconds=self.test_pause[1])
                time.sleep(self.test_pause[1])

        def work() -> RunResult | None:
            if self._stop.is_set():
                raise SchedulerStopped
            gw = self._gateway()
            if self._abandoned is not None:
                run_id, reason = self._abandoned
                if settle_abandoned(gw, run_id, reason):
                    self.event("settled", run=run_id, status="failed", error=reason)
                self._abandoned = None
            if self.only_if_changed:
                policy = load_policy(self.policy_file)
                reasons = changes_since_current(gw, policy_hash=policy.hash, as_of=date.today())
                if not reasons:
                    return None
                self.event("changed", tick=tick, reasons=reasons)
            return propagate(
                self.settings,
                policy_file=self.policy_file,
                on_phase=on_phase,
                tags={"trigger": "scheduler", "scheduler": self.name, "tick": tick},
            )

        self.metrics.in_progress.set(1)
        try:
            self._interruptible = True
            try:
                res = work()
            finally:
                self._interruptible = False
        except SchedulerStopped as exc:
            if run["id"] and self._status(run["id"]) == "completed":
                # stopped after its switch (while it pruned or released the lease): it
                # is current; what was left undone the next run does
                self._init_metrics()
                return Outcome("completed", fields={"run": run["id"], "note": str(exc)})
            self._release_own(f"SchedulerStopped: {exc}", run["id"])
            return Outcome("abandoned", fields={"run": run["id"], "error": str(exc) or None})
        except Busy as exc:
            return Outcome("busy", fields={"run": run["id"], "holder": exc.message})
        except CredgraphError as exc:
            self.metrics.failures.inc()
            fields = {"run": run["id"], "code": exc.code, "error": exc.message}
            if run["id"] and exc.code == "database_error":
                self._abandoned = (run["id"], f"DatabaseError: {exc.message}")
            self.event("attempt_failed", logging.WARNING, tick=tick, attempt=attempt, **fields)
            return Outcome("failed", retry=exc.code not in NOT_RETRIED, fields=fields)
        except Exception as exc:  # noqa: BLE001 - a bug or the unforeseen: logged, retried
            self.metrics.failures.inc()
            fields = {"run": run["id"], "code": "internal", "error": f"{type(exc).__name__}: {exc}"}
            self.event("attempt_failed", logging.WARNING, tick=tick, attempt=attempt, **fields)
            log.debug("traceback", exc_info=True)
            return Outcome("failed", retry=True, fields=fields)
        finally:
            self.metrics.in_progress.set(0)
        if res is None:
            return Outcome("unchanged")
        duration = time.monotonic() - started
        subjects = res.projection.n_subjects if res.projection else None
        self.metrics.success(datetime.now(UTC), duration, subjects)
        return Outcome(
            "completed",
            fields={"run": res.run_id, "subjects": subjects, "duration": round(duration, 3)},
        )

    def _status(self, run_id: str) -> str | None:
        try:
            return run_status(self._gateway(), run_id)
        except CredgraphError:
            return None

    def _init_metrics(self) -> None:
        """The last success from the store (it may predate this process); skipped
        when the database is away (the first completed run sets it)."""
        try:
            cur = current_run(self._gateway())
        except CredgraphError:
            return
        if cur and cur["ended_at"] is not None and cur["started_at"] is not None:
            ended = cur["ended_at"].to_native()
            started = cur["started_at"].to_native()
            self.metrics.success(ended, (ended - started).total_seconds(), cur["subjects"])


# ----------------------------------------------------------------------- logs
class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = " ".join(f"{k}={_text(v)}" for k, v in fields.items() if v is not None)
        message = record.getMessage().replace("\n", "\\n")  # one line per event
        line = f"{at} {record.levelname} {message} {parts}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        data = {"at": at, "level": record.levelname, "event": record.getMessage()}
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def _text(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)
    return json.dumps(s, ensure_ascii=False) if (" " in s or not s) else s


def configure_logging(fmt: str = "text", debug: bool = False) -> None:
    """One line per event on standard error, as text or JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    log.propagate = False
    # The libraries' warnings (APScheduler's, the Neo4j driver's "Transaction failed and
    # will be retried" while the database is away) go through the same handler: one
    # line each, JSON with the rest, not Python's bare fallback lines on stderr.
    for name in ("apscheduler", "neo4j"):
        lib = logging.getLogger(name)
        lib.handlers[:] = [handler]
        lib.setLevel(logging.WARNING)
        lib.propagate = False
