"""`credgraph scheduler`: scheduled propagation (credgraph.jobs), until SIGTERM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from credgraph.cli.app import app, settings_of
from credgraph.graph.errors import ConfigError, UsageError


@app.command("scheduler")
def scheduler_cmd(
    ctx: typer.Context,
    every: Annotated[
        str | None,
        typer.Option(help="run every DURATION, e.g. 15m, 1h, 1d [CREDGRAPH_SCHEDULE_EVERY]"),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(
            help="run at the times of a crontab expression, e.g. '0 3 * * *' "
            "[CREDGRAPH_SCHEDULE_CRON]"
        ),
    ] = None,
    only_if_changed: Annotated[
        bool | None,
        typer.Option(
            "--only-if-changed/--always",
            help="skip a tick when nothing was loaded or disputed since the current run "
            "(and the policy and as-of day are the same) [CREDGRAPH_SCHEDULE_ONLY_IF_CHANGED]",
            show_default=False,
        ),
    ] = None,
    now: Annotated[
        bool | None,
        typer.Option(
            "--now/--no-now",
            help="also run once at start [CREDGRAPH_SCHEDULE_NOW]",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="scoring policy TOML (default: the shipped one) [CREDGRAPH_SCHEDULE_POLICY]"
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="time zone of --cron (default UTC) [CREDGRAPH_SCHEDULE_TIMEZONE]"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="serve Prometheus /metrics on this port [CREDGRAPH_METRICS_PORT]"
        ),
    ] = None,
    metrics_host: Annotated[
        str | None,
        typer.Option(help="address of /metrics (default 127.0.0.1) [CREDGRAPH_METRICS_HOST]"),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(help="text or json (one JSON object a line) [CREDGRAPH_LOG_FORMAT]"),
    ] = None,
) -> None:
    """Run propagation on a schedule until stopped (SIGTERM or Ctrl-C).

    One run at a time across processes and machines (the writer lease): a tick
    that finds a load or another run at work is skipped and logged; fires that
    come during a run are coalesced into one; a failed run is retried with a
    bounded back-off (CREDGRAPH_SCHEDULE_RETRIES, _RETRY_DELAY, _RETRY_MAX).
    SIGTERM abandons a run at work: it is marked failed, the lease released,
    the previous run stays current. Without --every or --cron, the settings
    decide (default: every 1h). One log line per event on standard error.
    """
    from credgraph.jobs.schedule import Backoff, make_trigger, parse_duration, parse_timezone
    from credgraph.jobs.scheduler import Scheduler, configure_logging
    from credgraph.jobs.settings import DEFAULT_EVERY, load_schedule_settings

    conf = load_schedule_settings()
    fmt = log_format or conf.log_format
    if fmt not in ("text", "json"):
        raise UsageError(f"log format must be text or json, not {fmt!r}", field="log_format")
    for name, given in (("every", every), ("cron", cron), ("timezone", timezone)):
        if given is not None and not given.strip():
            raise UsageError(f"--{name} is empty", field=name)
    if every or cron:
        sched_every, sched_cron = every, cron
    else:
        sched_every, sched_cron = conf.schedule_every, conf.schedule_cron
        if not sched_every and not sched_cron:
            sched_every = DEFAULT_EVERY
    tz = parse_timezone(timezone or conf.schedule_timezone)
    trigger = make_trigger(sched_every, sched_cron, tz)
    backoff = Backoff(
        retries=conf.schedule_retries,
        first=parse_duration(conf.schedule_retry_delay, "retry_delay"),
        cap=parse_duration(conf.schedule_retry_max, "retry_max"),
    )
    pause = None
    if conf.schedule_test_pause:
        phase, _, secs = conf.schedule_test_pause.partition("=")
        pause = (phase, parse_duration(secs, "test_pause").total_seconds())
    settings = settings_of(ctx)
    # CREDGRAPH_DEBUG=1 (README): the traceback of an unexpected error in a run, logged
    # at debug level after its `attempt_failed`, and each run's phases
    configure_logging(fmt, debug=bool(os.environ.get("CREDGRAPH_DEBUG")))
    sched = Scheduler(
        settings,
        trigger,
        timezone=tz,
        only_if_changed=conf.schedule_only_if_changed
        if only_if_changed is None
        else only_if_changed,
        policy_file=policy or conf.schedule_policy,
        backoff=backoff,
        run_now=conf.schedule_now if now is None else now,
        test_pause=pause,
    )
    port = metrics_port if metrics_port is not None else conf.metrics_port
    if port is not None:
        host = metrics_host or conf.metrics_host
        try:
            bound = sched.metrics.serve(port, host)
        except (OSError, OverflowError, ValueError) as exc:  # in use, no such address
            raise ConfigError(
                f"cannot serve /metrics on {host}:{port}: {exc}",
                field="metrics_port",
                hint="choose another CREDGRAPH_METRICS_PORT / --metrics-port or host",
            ) from exc
        sched.event("metrics", host=host, port=bound)
    try:
        sched.serve()
    finally:
        sched.metrics.close()
