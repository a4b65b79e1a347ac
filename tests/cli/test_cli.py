"""The command line without a database: help texts, usage errors, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from credgraph.cli.main import app, main

COMMANDS = [
    ["neo4j", "start"],
    ["neo4j", "stop"],
    ["neo4j", "status"],
    ["neo4j", "install"],
    ["schema"],
    ["generate"],
    ["load"],
    ["propagate"],
    ["runs"],
    ["score"],
    ["scores"],
    ["stress"],
    ["dispute"],
    ["audit"],
    ["demo"],
    ["query"],
    ["cypher"],
    ["report"],
    ["serve"],
    ["apikey", "create"],
    ["apikey", "list"],
    ["apikey", "revoke"],
    ["scheduler"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_has_help(cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*cmd, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Usage" in text and len(text) > 200


def test_all_commands_are_listed() -> None:
    import typer

    names = {c.name for c in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]
    assert {c[0] for c in COMMANDS} <= names


def test_serve_help_names_where_the_openapi_description_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`serve --help` said "OpenAPI at /docs", a page the API does not serve (404): the
    description is /openapi.json, behind a key."""
    from credgraph.api.app import create_app

    assert main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "/openapi.json" in text and "OpenAPI at /docs" not in text
    paths = {getattr(r, "path", None) for r in create_app().routes}
    assert "/openapi.json" in paths and "/docs" not in paths


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--every="], "--every is empty"),  # once fell back to every 1h in silence
        (["--cron", " "], "--cron is empty"),
        (["--timezone="], "--timezone is empty"),
        (["--every", "3000000d"], "at most 366d"),  # once an internal OverflowError
        (["--cron", "0 3 31 2 *"], "never fires"),
        (["--metrics-port", "99999"], "65535"),
    ],
)
def test_scheduler_settings_are_usage_errors(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scheduler", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and "internal error" not in err


def test_a_path_that_cannot_be_written_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output into a place no file can be made was an "internal error"."""
    (tmp_path / "a-file").write_text("x")
    assert main(["generate", str(tmp_path / "a-file" / "out"), "--scale", "10"]) == 1
    err = capsys.readouterr().err
    assert "cannot use" in err and str(tmp_path / "a-file") in err
    assert "internal error" not in err


def test_top_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    """--top -1 was taken and dropped every contribution in silence."""
    for k in ("0", "-1"):
        assert main(["score", "X", "--top", k]) == 2
        assert "--top" in capsys.readouterr().err


def test_runs_limit_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    """runs --limit -1 reached Neo4j and came back as a database error (code 1)."""
    for k in ("0", "-1"):
        assert main(["runs", "--limit", k]) == 2
        assert "--limit" in capsys.readouterr().err


def test_missing_argument_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score"]) == 2
    assert "Missing argument 'subject'" in capsys.readouterr().err
    assert main(["generate", "out"]) == 2  # --scale is required
    assert "Missing option '--scale'" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", [["score", ""], ["score", "  "], ["report", ""]])
def test_a_blank_subject_id_is_a_usage_error(
    cmd: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before connecting (no server here): it was a lookup of '' (exit 1)."""
    assert main(cmd) == 2
    assert "error: give a subject id (it is empty)" in capsys.readouterr().err


def test_bad_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CREDGRAPH_BOLT_PORT", "not-a-port")
    assert main(["neo4j", "status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: bad setting bolt_port")
    assert "Traceback" not in err


def test_no_server_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("CREDGRAPH_HOME", str(tmp_path))
    assert main(["runs"]) == 1
    err = capsys.readouterr().err
    assert "never started" in err and "credgraph neo4j start" in err


def test_unreachable_server_is_explained(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEO4J_PASSWORD", "x")
    assert main(["runs"]) == 1
    err = capsys.readouterr().err
    assert "Neo4j is not reachable" in err and "Traceback" not in err


def test_generate_and_usage_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "g"), "--scale", "50", "--seed", "3"]) == 0
    assert (tmp_path / "g" / "persons.csv").is_file()
    capsys.readouterr()
    for args, message in (
        (["generate", str(tmp_path / "g0"), "--scale", "0"], "scale must be a positive integer"),
        (["stress", "--shock", "X=2"], "error: shock 'X=2': fraction must be in (0, 1], not 2.0"),
        (
            ["stress", "--shock", "X=0.5", "--shock", "X"],
            "error: shock 'X': subject 'X' is shocked twice (give it once)",
        ),
        (["scores", "--format", "xml"], "error: format must be csv, json or parquet, not 'xml'"),
        (["load", str(tmp_path), "--format", "xls"], "error: format must be csv, parquet or ftm"),
        (["propagate", "--as-of", "31/12/2025"], "as_of must be an ISO date (YYYY-MM-DD)"),
        (["dispute", "B1"], "error: a dispute needs a reason"),  # needs --reason or --resolve
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err, (args, err)
        assert "internal error" not in err and "Traceback" not in err


def test_bad_policy_file_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[propagation]\ndamping = 7\n")
    assert main(["propagate", "--policy", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "damping" in err and "p.toml" in err


def test_input_that_looks_like_console_markup_prints_verbatim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rich markup is off: "[/]" in a value crashed the error printer, "[x]" vanished."""
    assert main(["stress", "--shock", "[/]a[bold]=2"]) == 2
    err = capsys.readouterr().err
    assert "error: shock '[/]a[bold]=2': fraction must be in (0, 1]" in err
    assert "hint: see --shock ID[=FRACTION]" in err
    assert "Traceback" not in err


def test_query_csv_keeps_numbers_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    """CSV is for other programs: a loan of 1,234,567.89 is not written 1.23457e+06."""
    from credgraph.cli.query_cmds import print_result
    from credgraph.queries.runner import QueryResult

    res = QueryResult(
        columns=["loan", "amount", "share", "path"],
        rows=[{"loan": "L1", "amount": 1234567.89, "share": 0.7, "path": [0.1234567, "a,b"]}],
    )
    print_result(res, "csv", "t", {})
    assert capsys.readouterr().out == (
        'loan,amount,share,path\nL1,1234567.89,0.7,"0.1234567; a,b"\n'
    )


def test_neo4j_start_waits_as_long_as_the_setting_says(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CREDGRAPH_START_TIMEOUT is how long `neo4j start` waits for Bolt (README,
    Settings); --timeout wins. The option's own default of 120 once hid the setting."""
    from credgraph.graph.managed import ManagedServer

    waited: list[float | None] = []

    def start(self: ManagedServer, timeout: float | None = None) -> dict[str, object]:
        waited.append(timeout or self.settings.start_timeout)
        return {"version": "5", "uri": "bolt://x", "home": "h", "already_running": True}

    monkeypatch.setattr(ManagedServer, "start", start)
    monkeypatch.setenv("CREDGRAPH_START_TIMEOUT", "7")
    assert main(["neo4j", "start"]) == 0
    assert main(["neo4j", "start", "--timeout", "9"]) == 0
    assert waited == [7.0, 9.0]
