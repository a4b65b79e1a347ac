"""The scheduler's log: one line per event, JSON lines with CREDGRAPH_LOG_FORMAT=json,
the libraries' warnings included (docs/operations.md, "Logs")."""

from __future__ import annotations

import json
import logging

import pytest

from credgraph.jobs.scheduler import configure_logging

DRIVER_WARNING = (
    "Transaction failed and will be retried in %ss (%s)",
    1.5,
    "Couldn't connect to 127.0.0.1:7687:\nFailed to establish connection",
)


def test_driver_warnings_are_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    logging.getLogger("neo4j.session").warning(*DRIVER_WARNING)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    ev = json.loads(lines[0])
    assert ev["level"] == "WARNING"
    assert ev["event"].startswith("Transaction failed and will be retried in 1.5s")


def test_driver_warnings_are_one_text_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text")
    logging.getLogger("neo4j.session").warning(*DRIVER_WARNING)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert " WARNING Transaction failed and will be retried in 1.5s" in lines[0]
