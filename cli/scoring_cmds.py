"""Propagation, scores, stress tests, disputes, the audit log and the demo: each
command parses its options, calls one use case (``credgraph.services``) and prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from credgraph.cli.app import (
    app,
    caller,
    err,
    out,
    print_json,
    settings_of,
    styled,
    subject_id,
)
from credgraph.cli.data_cmds import run_load
from credgraph.graph.errors import UsageError
from credgraph.graph.settings import Settings

# How a contribution names a source's record whose date is not the input's own.
BASIS_NOTE = {
    "loaded": " [no date in the source: counts from its load]",
    "partial": " [dated by a year or month only]",
}


# ------------------------------------------------------------------ analysis
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
    allow_unfinished_load: Annotated[
        bool,
        typer.Option(
            "--allow-unfinished-load",
            help="score even though the newest load failed or was interrupted "
            "(recorded on the run, with your login name)",
        ),
    ] = False,
) -> None:
    """One propagation run: score every subject and make the run current.

    Exports the graph, computes intrinsic and network risk per domain,
    PageRank, betweenness, k-core and guarantee circles, writes the scores
    tagged with the run and switches the current run atomically at the end.
    A failed or killed run leaves the previous run current. While a load or
    another run works on the graph, the run is refused (code 1); so it is
    after a load that failed or was interrupted, until a load completes
    (or with --allow-unfinished-load).
    """
    from credgraph.services.propagation import run_summary

    res = run_propagation(settings_of(ctx), policy, as_of, allow_unfinished_load)
    summary: dict[str, Any] = run_summary(res)
    if json_out:
        print_json(summary)
        return
    for load_id in res.interrupted_loads:
        err.print(f"load {load_id} was still marked running with no writer: marked interrupted")
    if res.unfinished_load:
        u = res.unfinished_load
        err.print(
            f"warning: scored although load {u['id']} ({u['source']}) is {u['outcome']}; "
            "this is recorded on the run"
        )
    if res.unnamed_lists:
        shown = ", ".join(f"{name!r} ({n:,})" for name, n in res.unnamed_lists.items())
        err.print(
            f"warning: blacklist entries on lists the policy does not name were scored "
            f"with its `lists.default`: {shown}; name them in a policy file (--policy) "
            "or correct the list names and load again",
            markup=False,
        )
    out.print(
        f"run {res.run_id} completed: {summary['subjects']:,} subjects scored as of "
        f"{summary['as_of']}, {summary['circles']:,} guarantee circles"
    )
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary["timings"].items()))


@app.command("runs")
def runs_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(min=1, help="how many runs, newest first")] = 20,
) -> None:
    """Run history, newest first; the current run is marked."""
    from credgraph.graph.gateway import open_gateway
    from credgraph.graph.runs import Runs

    with open_gateway(settings_of(ctx)) as gw:
        history = Runs(gw, settings_of(ctx)).history(limit)
    for r in history:
        r.pop("policy", None)
    if json_out:
        print_json(history)
        return
    table = Table(title="runs")
    for col in ("", "run", "status", "as of", "started", "subjects", "circles", "by"):
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
            # who started it: the scheduler tags its runs (graph/changes.py), else the CLI
            str(r.get("trigger") or "cli"),
        )
    out.print(table)


@app.command("score")
def score_cmd(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="subject id")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    top: Annotated[
        int | None, typer.Option("--top", min=1, help="only the K largest contributions")
    ] = None,
    run: Annotated[str | None, typer.Option(help="a past run (default: current)")] = None,
    reason: Annotated[
        str | None, typer.Option(help="why you look this subject up (kept in the audit log)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="who asks (default: the login name)")] = None,
) -> None:
    """A subject's trust score, risk per domain and its explanation.

    Every risk is in [0, 1]. Every contribution names the domain, the source
    subject's adverse records, the amount (the source's risk times its strongest
    path, never more than the source's own risk) and that path of real
    relationships; per domain they combine into the network risk by noisy-OR,
    network = 1 - prod(1 - amount) (docs/policy.md). Runs scored before
    2026-11-30 (walk sum) show their uncapped sum beside the capped one.

    Every lookup is written to the audit log first (who, whom, when, why; see
    `credgraph audit`), also when the subject is not found.
    """
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.scores import score_lookup

    subject = subject_id(subject)  # before connecting: a blank id is a usage error

    with open_gateway(settings_of(ctx)) as gw:
        res = score_lookup(
            gw,
            settings_of(ctx),
            subject,
            caller=caller(actor, reason),
            run_id=run,
            top=top,
        )
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
                + {
                    "loaded": f" (no date in the source: counts from its load on {rec['date']})",
                    "partial": f" (the source gives only a year or month: counts from "
                    f"{rec['date']})",
                }.get(rec.get("date_basis") or "", "")
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
            basis = c.get("record_date_basis") or {}
            recs = ", ".join(r + BASIS_NOTE.get(basis.get(r, ""), "") for r in c["records"])
            out.print(
                f"  {c['amount']:.4f} {c['domain']} from {c['source_subject']} ({recs}) via {path}"
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

    from credgraph.graph.gateway import open_gateway
    from credgraph.services.scores import export_scores

    if fmt not in ("csv", "json", "parquet"):
        raise UsageError(f"format must be csv, json or parquet, not {fmt!r}", field="format")
    if fmt == "parquet" and out_file is None:
        raise UsageError("--format parquet needs --out FILE")
    with open_gateway(settings_of(ctx)) as gw:
        _run, columns, rows = export_scores(
            gw, settings_of(ctx), caller=caller(actor, reason), run_id=run
        )
        if fmt == "parquet":
            import pandas as pd

            frame = pd.DataFrame(list(rows), columns=list(columns))
            try:
                frame.to_parquet(out_file, index=False)
            except OSError as exc:  # pyarrow's errors carry no file name: name the file
                raise OSError(exc.errno, exc.strerror or str(exc), str(out_file)) from exc
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
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="date of the exposures (default: the current run's, else today)"
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="scoring policy TOML (default: the current run's, else the shipped one)"),
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="why you run the test (kept in the audit log)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="who asks (default: the login name)")] = None,
) -> None:
    """DebtRank stress test (Battiston et al. 2012); never writes to the graph but
    the audit log (one `stress` event per shocked subject, naming whom it showed).

    Looks at the graph as the current run scored it (its as-of date and policy)
    unless --as-of or --policy say otherwise; with no run yet, today and the
    shipped policy. The answer names the policy hash and the date it used.
    """
    from credgraph.graph.engine.policy import load_policy
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.propagation import parse_day
    from credgraph.services.stress import parse_shocks, stress

    shocks = parse_shocks(shock)
    day = parse_day(as_of) if as_of is not None else None
    pol = load_policy(policy) if policy is not None else None
    with open_gateway(settings_of(ctx)) as gw:
        res = stress(gw, shocks, day, pol, caller=caller(actor, reason))
    if json_out:
        print_json(res)
        return
    b = res["basis"]
    out.print(
        f"as of {res['as_of']} ({b['as_of_from']}), policy {res['policy_hash'][:12]} "
        f"({b['policy_from']})" + (f", current run {b['run']}" if b["run"] else "")
    )
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
    from credgraph.graph.audit import audit_events
    from credgraph.graph.gateway import open_gateway

    with open_gateway(settings_of(ctx)) as gw:
        events = audit_events(gw, subject=subject, actor=actor, limit=limit)
    if json_out:
        print_json(events)
        return
    table = Table(title="audit log (newest first; --json for each event's whole detail)")
    for col in ("at", "actor", "subject", "action", "reason", "via", "run", "detail"):
        table.add_column(col, overflow="fold")
    for e in events:
        detail = e.get("detail") or ""  # a refused lookup says so: "refused: why"
        if len(detail) > 80:
            detail = detail[:79] + "…"
        table.add_row(
            e["at"],
            e["actor"],
            e["subject"],
            e["action"],
            e["reason"] or "",
            e["via"],
            e.get("run") or "",
            detail,
        )
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
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.disputes import check_request, dispute

    check_request(reason, resolve)
    with open_gateway(settings_of(ctx)) as gw:
        ev = dispute(gw, record, reason=reason, resolve=resolve, caller=caller(actor))
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
    from credgraph.graph.gateway import open_gateway
    from credgraph.graph.managed import ManagedServer
    from credgraph.graph.schema import ensure_schema
    from credgraph.loaders.generate import generate

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
    """The lowest trust scores with their top reason, and the largest guarantee circles
    (the summary use case, audited as one lookup: it names subjects)."""
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.scores import summary

    with open_gateway(settings) as gw:
        res = summary(gw, settings, run_id, caller=caller(reason="credgraph demo"))
    table = Table(title="lowest trust scores")
    for col in ("subject", "name", "trust", "top reason"):
        table.add_column(col, justify="right" if col == "trust" else "left")
    for row in res["lowest"]:
        table.add_row(row["id"], row["name"] or "", f"{row['trust_score']:.1f}", row["reason"])
    out.print(table)
    ctable = Table(title="largest guarantee circles")
    for col in ("circle", "size", "amount inside", "members"):
        ctable.add_column(col)
    for c in res["circles"]:
        members = ", ".join(c["members"][:6]) + (" ..." if len(c["members"]) > 6 else "")
        ctable.add_row(str(c["number"]), str(c["size"]), f"{c['amount_inside']:,.0f}", members)
    out.print(ctable)


def run_propagation(
    settings: Settings,
    policy_file: Path | None,
    as_of: str | None,
    allow_unfinished_load: bool = False,
) -> Any:
    """One propagation run with a status line on the terminal."""
    from credgraph.services.propagation import propagate

    with err.status("propagating") as status:
        return propagate(
            settings,
            policy_file=policy_file,
            as_of=as_of,
            on_phase=lambda p, _run: status.update(f"propagation: {p}"),
            allow_unfinished_load=allow_unfinished_load,
            tags={"trigger": "cli"},
        )
