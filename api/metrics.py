"""Prometheus metrics: requests and latencies per route template, the current run
and its age (read from the database at scrape time). One registry per app."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credgraph.graph.errors import CredgraphError
from credgraph.graph.runs import Runs

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RunCollector(Collector):
    """``credgraph_current_run_info{run, as_of}`` and ``credgraph_current_run_age_seconds``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "credgraph_current_run_info", "the current propagation run", labels=["run", "as_of"]
        )
        age = GaugeMetricFamily(
            "credgraph_current_run_age_seconds", "seconds since the current run completed"
        )
        gw = getattr(self.app.state, "gateway", None)
        run: dict[str, Any] | None = None
        if gw is not None:
            try:
                run = Runs(gw, self.app.state.settings).current()
            except CredgraphError:
                run = None
        if run is not None:
            info.add_metric([run["id"], str(run.get("as_of"))], 1.0)
            ended = run.get("ended_at") or run.get("started_at")
            if ended is not None:
                when = ended.to_native() if hasattr(ended, "to_native") else ended
                if isinstance(when, datetime):
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=UTC)
                    age.add_metric([], (datetime.now(UTC) - when).total_seconds())
        yield info
        yield age


def route_template(request: Request) -> str:
    """The route's path template (``/subjects/{subject_id}``, converters left out:
    ``{subject_id:path}`` is ``{subject_id}``), not the path asked."""
    route = request.scope.get("route")
    if route is not None and hasattr(route, "path"):
        return _CONVERTER.sub(r"{\1}", str(route.path))
    for r in request.app.router.routes:
        if isinstance(r, Mount) and request.url.path.startswith(r.path + "/"):
            return r.path + "/{path}"  # static files: one label, not one per file
        match, _ = r.matches(request.scope)
        if match == Match.FULL and hasattr(r, "path"):
            return _CONVERTER.sub(r"{\1}", str(r.path))
    return "unmatched"


_CONVERTER = re.compile(r"\{(\w+):\w+\}")


class Measure:
    """Counts and times every HTTP request by route template and status. A plain ASGI
    middleware (``@app.middleware("http")`` would cost an extra task and stream per
    request): the status from the response's start message, 500 when none was sent
    (an exception went past)."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_template(Request(scope))
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - start)
            self.requests.labels(scope["method"], route, str(status)).inc()


def install(app: FastAPI) -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter(
        "credgraph_http_requests",
        "HTTP requests by method, route template and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "credgraph_http_request_duration_seconds",
        "HTTP request latency by method and route template",
        ["method", "route"],
        buckets=BUCKETS,
        registry=registry,
    )
    registry.register(RunCollector(app))

    app.add_middleware(Measure, requests=requests, latency=latency)
    return registry
