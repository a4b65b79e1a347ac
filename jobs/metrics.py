"""The scheduler's Prometheus metrics, in a registry of its own (no global state).

credgraph_scheduler_last_success_timestamp_seconds   end of the last completed run
credgraph_scheduler_last_success_duration_seconds    its duration
credgraph_scheduler_last_success_subjects            subjects it scored
credgraph_scheduler_failures_total                   attempts that failed (retries too)
credgraph_scheduler_ticks_total{outcome}             completed, busy, unchanged, failed, abandoned
credgraph_scheduler_run_in_progress                  1 while a run of this scheduler works
credgraph_scheduler_next_tick_timestamp_seconds      when the schedule fires next
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, start_http_server

OUTCOMES = ("completed", "busy", "unchanged", "failed", "abandoned")


class SchedulerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.last_success = Gauge(
            "credgraph_scheduler_last_success_timestamp_seconds",
            "End of the last completed propagation run (Unix time)",
            registry=r,
        )
        self.last_duration = Gauge(
            "credgraph_scheduler_last_success_duration_seconds",
            "Duration of the last completed propagation run",
            registry=r,
        )
        self.last_subjects = Gauge(
            "credgraph_scheduler_last_success_subjects",
            "Subjects scored by the last completed propagation run",
            registry=r,
        )
        self.failures = Counter(
            "credgraph_scheduler_failures",
            "Propagation attempts of this scheduler that failed (each retry counts)",
            registry=r,
        )
        self.ticks = Counter(
            "credgraph_scheduler_ticks",
            "Scheduled ticks by outcome",
            ["outcome"],
            registry=r,
        )
        for o in OUTCOMES:
            self.ticks.labels(o)
        self.in_progress = Gauge(
            "credgraph_scheduler_run_in_progress",
            "1 while a propagation run of this scheduler is at work",
            registry=r,
        )
        self.next_tick = Gauge(
            "credgraph_scheduler_next_tick_timestamp_seconds",
            "When the schedule fires next (Unix time)",
            registry=r,
        )
        self._server: WSGIServer | None = None

    def success(self, ended: datetime, duration: float, subjects: int | None) -> None:
        self.last_success.set(ended.timestamp())
        self.last_duration.set(duration)
        self.last_subjects.set(subjects or 0)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics on ``host:port`` in a daemon thread; the port bound."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        return generate_latest(self.registry).decode()

    def value(self, name: str, **labels: Any) -> float | None:
        v = self.registry.get_sample_value(name, labels or None)
        return v
