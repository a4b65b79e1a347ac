"""The `credgraph` command line.

Every command reads the one settings object (environment) at the edge, and
every error a command raises on purpose (:class:`graph.errors.CredgraphError`)
ends as one line on standard error and the exit code of the contract:
0 success, 1 error, 2 usage, 3 loaded with rejected rows.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from graph.errors import CredgraphError, UsageError
from graph.settings import Settings, load_settings

app = typer.Typer(
    name="credgraph",
    help=(
        "Trust-network analyser for credit and compliance investigators.\n\n"
        "Loads people, firms, loans, guarantees and blacklist entries into Neo4j, "
        "propagates risk along guarantees, lending, ownership and control, and "
        "explains every networked trust score.\n\n"
        "Connection: NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE; "
        "without NEO4J_URI the managed local server under $CREDGRAPH_HOME is used "
        "(start it with `credgraph neo4j start`)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(
    help="The managed local Neo4j server (jars from Maven Central, no Docker needed).",
    no_args_is_help=True,
)
app.add_typer(neo4j_app, name="neo4j")

# Piped output is not cut to 80 columns: tables keep their ids whole. No console
# markup: names, ids, paths and messages hold input text ("[bold]", "[/]" or a
# relationship "-[GUARANTEES G1]->") that must print as it is; styles are explicit.
out = Console(width=None if sys.stdout.isatty() else 160, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)


def styled(head: str, style: str, rest: str = "") -> Text:
    """``head`` in ``style`` followed by plain ``rest``: no markup is parsed."""
    return Text.assemble((head, style), rest)


def audit_lookup(
    gw: Any,
    subject: str,
    action: str,
    *,
    reason: str | None,
    actor: str | None = None,
    run: str | None = None,
) -> None:
    """Write the audit event of a lookup from the CLI (graph/audit.py); ``actor``
    defaults to the login name."""
    import getpass

    from graph.audit import record_lookup

    record_lookup(
        gw,
        actor=actor or getpass.getuser(),
        subject=subject,
        action=action,
        reason=reason,
        via="cli",
        run=run,
    )


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    if obj is None:
        obj = load_settings()
        ctx.find_root().obj = obj
    return obj  # type: ignore[no-any-return]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------- neo4j
@neo4j_app.command("install")
def neo4j_install(ctx: typer.Context) -> None:
    """Resolve the Neo4j Community jars with Maven (once; shared by every home)."""
    from graph.managed import ManagedServer

    lib = ManagedServer(settings_of(ctx)).install()
    out.print(f"Neo4j jars ready in {lib}")


@neo4j_app.command("start")
def neo4j_start(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for Bolt")] = 120.0,
) -> None:
    """Start the managed server under $CREDGRAPH_HOME and wait until Bolt answers.

    A no-op when it is already running. Bolt listens on
    127.0.0.1:$CREDGRAPH_BOLT_PORT (default 7687); the password is generated
    at first start and kept in $CREDGRAPH_HOME/credentials.json (mode 0600).
    """
    from graph.managed import ManagedServer

    settings = settings_of(ctx)
    if settings.neo4j_uri:
        err.print(
            f"note: NEO4J_URI is set ({settings.neo4j_uri}); other commands use that server, "
            "not this managed one"
        )
    st = ManagedServer(settings).start(timeout=timeout)
    if json_out:
        print_json(st)
    else:
        state = "already running" if st.get("already_running") else "started"
        out.print(f"Neo4j {st['version']} {state} at {st['uri']} (home {st['home']})")


@neo4j_app.command("stop")
def neo4j_stop(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Shut the managed server down cleanly and wait for it to exit."""
    from graph.managed import ManagedServer

    server = ManagedServer(settings_of(ctx))
    was = server.stop()
    if json_out:
        print_json(server.status() | {"was_running": was})
    else:
        out.print("Neo4j stopped" if was else "Neo4j was not running")


@neo4j_app.command("status")
def neo4j_status(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Is the managed server running, and where? Exit code 0 either way."""
    from graph.managed import ManagedServer

    st = ManagedServer(settings_of(ctx)).status()
    if json_out:
        print_json(st)
        return
    if st["running"]:
        out.print(f"running: pid {st['pid']} at {st['uri']} (home {st['home']})")
    else:
        out.print(f"not running (home {st['home']}, port {st['port']})")


# -------------------------------------------------------------------- schema
@app.command("schema")
def schema_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create or migrate constraints and indexes (idempotent) and print the version."""
    from graph.gateway import open_gateway
    from graph.schema import ensure_schema

    with open_gateway(settings_of(ctx)) as gw:
        res = ensure_schema(gw)
    if json_out:
        print_json(res)
    else:
        out.print(f"schema at version {res['to']} (was {res['from']})")


# ------------------------------------------------------------------ generate
@app.command("generate")
def generate_cmd(
    output: Annotated[Path, typer.Argument(help="folder to write the input files into")],
    scale: Annotated[int, typer.Option("--scale", help="number of subjects (persons + firms)")],
    seed: Annotated[int, typer.Option("--seed", help="random seed; same seed, same bytes")] = 1,
    parquet: Annotated[
        bool, typer.Option("--parquet", help="write Parquet instead of CSV")
    ] = False,
) -> None:
    """Write synthetic data in the input layout: a lending market of SCALE subjects."""
    from loaders.generate import generate

    counts = generate(output, scale, seed, "parquet" if parquet else "csv")
    table = Table(title=f"generated in {output}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)


# ---------------------------------------------------------------------- load
def run_load(
    settings: Settings,
    path: Path,
    *,
    source: str | None,
    fmt: str | None,
    strict: bool,
    rejects: Path | None,
    show: bool = True,
    bulk: bool = False,
) -> Any:
    """Load with a progress bar (rows per second) on a terminal; returns the LoadReport."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from graph.gateway import open_gateway
    from loaders.load import load

    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def on_rows(file: str, n: int) -> None:
        if file not in tasks:
            tasks[file] = progress.add_task(file, total=None, rate="")
        progress.advance(tasks[file], n)
        t = progress.tasks[tasks[file]]
        if t.elapsed:
            progress.update(tasks[file], rate=f"{t.completed / t.elapsed:,.0f} rows/s")

    if bulk:
        from graph.managed import ManagedServer
        from loaders.bulk import bulk_load

        if not settings.managed:
            raise UsageError("--bulk needs the managed server (unset NEO4J_URI)")
        if strict:
            raise UsageError("--bulk and --strict do not go together; validate with --strict first")
        with progress:
            report = bulk_load(
                ManagedServer(settings),
                path,
                source=source,
                fmt=fmt,  # type: ignore[arg-type]
                rejects_path=rejects,
                on_rows=on_rows,
            )
    else:
        with open_gateway(settings) as gw, progress:
            report = load(
                gw,
                path,
                source=source,
                fmt=fmt,  # type: ignore[arg-type]
                strict=strict,
                rejects_path=rejects,
                on_rows=on_rows,
            )
    if show:
        table = Table(title=f"load {report.load_id} ({report.source})")
        for col in ("file", "read", "created", "updated", "unchanged", "rejected"):
            if col == "file":
                table.add_column(col, overflow="fold")
            else:
                table.add_column(col, justify="right")
        for f in report.files:
            table.add_row(
                f.file,
                f"{f.read:,}",
                f"{f.created:,}",
                f"{f.updated:,}",
                f"{f.unchanged:,}",
                Text(f"{f.rejected:,}", style="red") if f.rejected else "0",
            )
        out.print(table)
        for note in report.notes:
            out.print(f"note: {note}")
        if report.rejects_path:
            out.print(f"{report.rejected:,} rejected row(s) written to {report.rejects_path}")
    return report


@app.command("load")
def load_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="a folder in the input layout, or an FtM file")],
    source: Annotated[
        str | None, typer.Option(help="source name kept as provenance (default: folder name)")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or ftm (default: detect)"),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="refuse the whole load (exit 1) if any row is rejected")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="rejects CSV (default: <load id>.rejects.csv)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the load report as JSON")] = False,
    bulk: Annotated[
        bool,
        typer.Option(
            help="first load into an EMPTY managed database with neo4j-admin import "
            "(stops and restarts the server)"
        ),
    ] = False,
) -> None:
    """Load input files into the graph: validated, idempotent, with provenance.

    Every row is checked (required columns, types, dates, enums, ranges,
    references); a rejected row goes to the rejects file with its file, row,
    column and reason, and the rest still loads. Exit code 3 when rows were
    rejected; with --strict nothing is written and the code is 1. Loading the
    same input twice leaves the graph as after the first load. While another
    load or a propagation run works on the graph, the load is refused (code 1).
    """
    if fmt not in (None, "csv", "parquet", "ftm"):
        raise UsageError(f"--format must be csv, parquet or ftm, not {fmt!r}")
    report = run_load(
        settings_of(ctx),
        path,
        source=source,
        fmt=fmt,
        strict=strict,
        rejects=rejects,
        show=not json_out,
        bulk=bulk,
    )
    if json_out:
        print_json(report.as_dict())
    if report.rejected:
        raise typer.Exit(3)


# ------------------------------------------------------------------ analysis
def parse_date(value: str | None, option: str) -> Any:
    from datetime import date

    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{option} must be an ISO date (YYYY-MM-DD), not {value!r}") from exc


def run_propagation(settings: Settings, policy_file: Path | None, as_of: str | None) -> Any:
    from graph.gateway import open_gateway
    from graph.runs import Runs
    from graph.scoring_policy import load_policy

    policy = load_policy(policy_file)
    day = parse_date(as_of, "--as-of")
    with open_gateway(settings) as gw:
        with err.status("propagating") as status:
            result = Runs(gw, settings).run(
                policy, day, on_phase=lambda p: status.update(f"propagation: {p}")
            )
    return result


@app.command("propagate")
def propagate_cmd(
    ctx: typer.Context,
    policy: Annotated[
        Path | None, typer.Option(help="scoring policy TOML (default: the shipped one)")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="date records decay to (default: today)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One propagation run: score every subject and make the run current.

    Exports the graph, computes intrinsic and network risk per domain,
    PageRank, betweenness, k-core and guarantee circles, writes the scores
    tagged with the run and switches the current run atomically at the end.
    A failed or killed run leaves the previous run current. While a load or
    another run works on the graph, the run is refused (code 1).
    """
    res = run_propagation(settings_of(ctx), policy, as_of)
    summary = {
        "run": res.run_id,
        "as_of": res.as_of.isoformat(),
        "policy_hash": res.policy_hash,
        "counts": res.counts,
        "timings": {k: round(v, 3) for k, v in res.timings.items()},
        "subjects": res.projection.n_subjects if res.projection else 0,
        "circles": len(res.centrality.circles) if res.centrality else 0,
    }
    if json_out:
        print_json(summary)
        return
    out.print(
        f"run {res.run_id} completed: {summary['subjects']:,} subjects scored as of "
        f"{summary['as_of']}, {summary['circles']:,} guarantee circles"
    )
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary["timings"].items()))


@app.command("runs")
def runs_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(help="how many runs, newest first")] = 20,
) -> None:
    """Run history, newest first; the current run is marked."""
    from graph.gateway import open_gateway
    from graph.runs import Runs

    with open_gateway(settings_of(ctx)) as gw:
        history = Runs(gw, settings_of(ctx)).history(limit)
    for r in history:
        r.pop("policy", None)
    if json_out:
        print_json(history)
        return
    table = Table(title="runs")
    for col in ("", "run", "status", "as of", "started", "subjects", "circles"):
        # run ids are copied into other commands: never cut them
        table.add_column(
            col, no_wrap=col == "run", min_width=26 if col == "run" else None, overflow="fold"
        )
    for r in history:
        table.add_row(
            "*" if r.get("current") else "",
            r["id"],
            r["status"],
            str(r.get("as_of", "")),
            str(r.get("started_at", ""))[:19],
            f"{r.get('subjects', '') or ''}",
            f"{r.get('circles', '') or ''}",
        )
    out.print(table)


@app.command("score")
def score_cmd(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="subject id")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    top: Annotated[
        int | None, typer.Option("--top", help="only the K largest contributions")
    ] = None,
    run: Annotated[str | None, typer.Option(help="a past run (default: current)")] = None,
    reason: Annotated[
        str | None, typer.Option(help="why you look this subject up (kept in the audit log)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="who asks (default: the login name)")] = None,
) -> None:
    """A subject's trust score, risk per domain and its explanation.

    Every risk is in [0, 1]. Every contribution names the domain, the source
    subject's adverse records, the amount and the strongest real path; per
    domain they add up to the network risk before the cap (`network_uncapped`
    in --json, which may exceed 1; `network` is it capped at 1).

    Every lookup is written to the audit log first (who, whom, when, why; see
    `credgraph audit`), also when the subject is not found.
    """
    from graph.gateway import open_gateway
    from graph.scoring import subject_score

    with open_gateway(settings_of(ctx)) as gw:
        audit_lookup(gw, subject, "score", reason=reason, actor=actor, run=run)
        res = subject_score(gw, settings_of(ctx), subject, run_id=run, top=top)
    if json_out:
        print_json(res)
        return
    out.print(
        styled(res["subject"], "bold", f" ({res['kind']}): trust score {res['trust_score']:.1f}")
    )
    r = res["risk"]
    out.print(
        f"risk: intrinsic {r['intrinsic']:.3f}  network {r['network']:.3f}  total {r['total']:.3f}"
    )
    for d, v in res["domains"].items():
        over = v["network_uncapped"] > v["network"]
        out.print(
            f"  {d}: intrinsic {v['intrinsic']:.3f}  network {v['network']:.3f}"
            + (f" (uncapped {v['network_uncapped']:.3f})" if over else "")
            + f"  total {v['total']:.3f}"
        )
    if res.get("records"):
        out.print("own records:")
        for rec in res["records"]:
            out.print(
                f"  {rec['id']} {rec['label']} ({rec['domain']}) {rec['status']}: "
                f"severity {rec['severity']:.2f} x decay {rec['decay']:.2f}"
            )
    if res.get("contributions") is None:
        out.print(res.get("explanation_note", ""))
    elif res["contributions"]:
        out.print("contributions:")
        for c in res["contributions"]:
            path = "".join(
                p
                if isinstance(p, str)
                else " -["
                + ", ".join(f"{r['kind']} {r['id']}" for r in p["relationships"])
                + "]-> "
                for p in c["path"]
            )
            out.print(
                f"  {c['amount']:.4f} {c['domain']} from {c['source_subject']} "
                f"({', '.join(c['records'])}) via {path}"
            )
    out.print(f"run {res['run']['id']} as of {res['run']['as_of']}")
    if len(res["history"]) > 1:
        out.print("history (newest first):")
        for h in res["history"]:
            mark = " (current)" if h["current"] else ""
            out.print(f"  {h['run']} as of {h['as_of']}: {h['trust_score']:.1f}{mark}")


@app.command("scores")
def scores_cmd(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or parquet")] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="file to write (default: stdout; parquet needs it)")
    ] = None,
    run: Annotated[str | None, typer.Option(help="a past run (default: current)")] = None,
    reason: Annotated[
        str | None, typer.Option(help="why you export the scores (kept in the audit log)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="who asks (default: the login name)")] = None,
) -> None:
    """All scores of the current run, one row per subject, for downstream systems.

    The export is written to the audit log first, as one lookup of subject `*`
    (every subject) with action `scores`.
    """
    import csv

    from graph.gateway import open_gateway
    from graph.runs import Runs
    from graph.scoring import SCORE_COLUMNS, iter_scores

    if fmt not in ("csv", "json", "parquet"):
        raise UsageError(f"--format must be csv, json or parquet, not {fmt!r}")
    if fmt == "parquet" and out_file is None:
        raise UsageError("--format parquet needs --out FILE")
    # Columns added later come after `run`, so readers by position keep working.
    later = [c for c in SCORE_COLUMNS if c.endswith("_network_uncapped")]
    columns = ["id", *[c for c in SCORE_COLUMNS[1:] if c not in later], "run", *later]
    with open_gateway(settings_of(ctx)) as gw:
        run_id = Runs(gw, settings_of(ctx)).get(run)["id"]
        audit_lookup(gw, "*", "scores", reason=reason, actor=actor, run=run_id)
        rows = iter_scores(gw, run_id)
        if fmt == "parquet":
            import pandas as pd

            pd.DataFrame(list(rows), columns=columns).to_parquet(out_file, index=False)
            return
        fh = open(out_file, "w", newline="", encoding="utf-8") if out_file else sys.stdout
        try:
            if fmt == "csv":
                w = csv.DictWriter(fh, fieldnames=columns)
                w.writeheader()
                w.writerows(rows)
            else:
                json.dump(list(rows), fh, ensure_ascii=False)
                fh.write("\n")
        finally:
            if out_file:
                fh.close()


@app.command("stress")
def stress_cmd(
    ctx: typer.Context,
    shock: Annotated[
        list[str],
        typer.Option("--shock", help="ID or ID=FRACTION (initial distress in (0, 1]); repeat"),
    ],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="date of the exposures")] = None,
) -> None:
    """DebtRank stress test (Battiston et al. 2012); never writes to the graph."""
    from graph.gateway import open_gateway
    from graph.scoring import parse_shocks, stress

    shocks = parse_shocks(shock)
    with open_gateway(settings_of(ctx)) as gw:
        res = stress(gw, shocks, parse_date(as_of, "--as-of"))
    if json_out:
        print_json(res)
        return
    out.print(f"DebtRank {res['debtrank']:.6f} (initial shock {res['initial_shock']:.6f})")
    out.print(
        f"defaults: {len(res['defaults'])}  distressed: {len(res['distress'])}  "
        f"unassessed creditors: {len(res['unassessed'])}"
    )
    worst = sorted(res["distress"].items(), key=lambda kv: -kv[1])[:10]
    for sid, h in worst:
        out.print(f"  {sid}: h = {h:.4f}")


@app.command("audit")
def audit_cmd(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="only lookups of this subject")] = None,
    actor: Annotated[str | None, typer.Option(help="only lookups by this actor")] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest N events")] = 100,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit log of subject lookups, newest first: who looked up whom, when and why."""
    from graph.audit import audit_events
    from graph.gateway import open_gateway

    with open_gateway(settings_of(ctx)) as gw:
        events = audit_events(gw, subject=subject, actor=actor, limit=limit)
    if json_out:
        print_json(events)
        return
    table = Table(title="audit log (newest first)")
    for col in ("at", "actor", "subject", "action", "reason", "via"):
        table.add_column(col)
    for e in events:
        table.add_row(e["at"], e["actor"], e["subject"], e["action"], e["reason"] or "", e["via"])
    out.print(table)


@app.command("dispute")
def dispute_cmd(
    ctx: typer.Context,
    record: Annotated[str, typer.Argument(help="loan or blacklist entry id")],
    reason: Annotated[str | None, typer.Option(help="why the record is disputed")] = None,
    resolve: Annotated[bool, typer.Option(help="close the dispute")] = False,
    actor: Annotated[str | None, typer.Option(help="who acts (default: the login name)")] = None,
) -> None:
    """Mark a record disputed (left out of scoring until resolved) or resolve it; audited.

    Takes effect at the next `credgraph propagate`.
    """
    import getpass

    from graph.gateway import open_gateway
    from graph.scoring import dispute

    if not resolve and not (reason and reason.strip()):
        raise UsageError("a dispute needs --reason TEXT (or --resolve to close one)")
    with open_gateway(settings_of(ctx)) as gw:
        ev = dispute(gw, record, reason=reason, resolve=resolve, actor=actor or getpass.getuser())
    out.print(f"{ev['id']}: record {record} {ev['action']} by {ev['actor']} at {ev['at']}")


# ---------------------------------------------------------------------- demo
@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--out", help="folder for the generated sample")] = Path(
        "sample"
    ),
    scale: Annotated[int, typer.Option(help="subjects in the sample")] = 2000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """The main job end to end: Neo4j, sample data, schema, load, propagate, summary.

    Starts the managed server (unless NEO4J_URI is set), generates SCALE
    subjects into --out, creates the schema and loads the sample.
    """
    from graph.gateway import open_gateway
    from graph.managed import ManagedServer
    from graph.schema import ensure_schema
    from loaders.generate import generate

    settings = settings_of(ctx)
    if settings.managed:
        st = ManagedServer(settings).start()
        out.print(
            styled("1. Neo4j", "bold", f" {st['version']} at {st['uri']} (home {st['home']})")
        )
    else:
        out.print(styled("1. Neo4j", "bold", f" at NEO4J_URI={settings.neo4j_uri}"))
    counts = generate(output, scale, seed, "csv")
    out.print(
        styled(
            "2. Generated",
            "bold",
            f" {scale:,} subjects into {output}: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        )
    )
    with open_gateway(settings) as gw:
        res = ensure_schema(gw)
    out.print(styled("3. Schema", "bold", f" at version {res['to']} (was {res['from']})"))
    report = run_load(
        settings,
        output,
        source=f"sample-{seed}",
        fmt="csv",
        strict=False,
        rejects=output / "rejects.csv",
        show=False,
    )
    out.print(
        styled(
            "4. Loaded",
            "bold",
            f" {report.written:,} rows ({report.rejected:,} rejected), load {report.load_id}",
        )
    )
    res = run_propagation(settings, None, None)
    out.print(
        styled(
            "5. Propagated",
            "bold",
            f" run {res.run_id} as of {res.as_of}: "
            + ", ".join(f"{k} {v:.2f}s" for k, v in res.timings.items()),
        )
    )
    print_summary(settings, res.run_id)


def print_summary(settings: Settings, run_id: str) -> None:
    """The lowest trust scores with their top reason, and the largest guarantee circles.

    Audited as one lookup (subject ``*``, action ``summary``): it names subjects.
    """
    from graph.gateway import open_gateway
    from graph.scoring import circles, lowest, subject_score

    with open_gateway(settings) as gw:
        audit_lookup(gw, "*", "summary", reason="credgraph demo", run=run_id)
        low = lowest(gw, run_id, 10)
        table = Table(title="lowest trust scores")
        for col in ("subject", "name", "trust", "top reason"):
            table.add_column(col, justify="right" if col == "trust" else "left")
        for row in low:
            sc = subject_score(gw, settings, row["id"], run_id=run_id, top=1)
            recs = [r for r in sc.get("records") or [] if r["effective"] > 0]
            contrib = (sc.get("contributions") or [None])[0]
            if recs and (contrib is None or recs[0]["effective"] >= contrib["amount"]):
                reason = f"own {recs[0]['label']} {recs[0]['id']} ({recs[0]['domain']})"
            elif contrib:
                reason = (
                    f"{contrib['domain']} risk from {contrib['source_subject']} "
                    f"({', '.join(contrib['records'][:2])}), {contrib['hops']} hop(s)"
                )
            else:
                reason = ""
            table.add_row(row["id"], row["name"] or "", f"{row['trust_score']:.1f}", reason)
        out.print(table)
        ctable = Table(title="largest guarantee circles")
        for col in ("circle", "size", "amount inside", "members"):
            ctable.add_column(col)
        for c in circles(gw, run_id, 5):
            members = ", ".join(c["members"][:6]) + (" ..." if len(c["members"]) > 6 else "")
            ctable.add_row(str(c["number"]), str(c["size"]), f"{c['amount_inside']:,.0f}", members)
        out.print(ctable)


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear message and the contract's exit code for every error.

    Usage errors are typer's own (exit 2, with the command's usage line);
    every CredgraphError becomes ``error: message`` (and a hint) on stderr.
    """
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="credgraph", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CredgraphError as exc:
        err.print(styled("error:", "red", f" {exc.message}"), highlight=False)
        if exc.hint:
            err.print(f"  hint: {exc.hint}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("CREDGRAPH_DEBUG"):
            raise
        err.print(
            styled("internal error:", "red", f" {type(exc).__name__}: {exc}"), highlight=False
        )
        err.print("  hint: set CREDGRAPH_DEBUG=1 to see the traceback, and report it")
        return 1
    return 0


def run() -> None:
    """Console-script wrapper: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":  # python -m cli.main
    run()
