"""The subject report: one self-contained HTML page about one subject, for its file
or for the person it concerns (PRODUCT.md: investigators' subject reports).

It holds the subject's identity (personal identifiers only when asked for), its
current trust score and risk per domain with the explanation in plain words, the
records behind it with their source, dates and dispute status, its score across
runs, and a drawing of its neighbourhood (inline SVG laid out here, in Python; the
page loads nothing from anywhere). Audited as one lookup (action ``report``)
before anything is read, through :func:`credgraph.services.scores.score_lookup`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

from credgraph.graph.errors import NotFound
from credgraph.graph.gateway import Gateway
from credgraph.graph.model import provenance
from credgraph.graph.settings import Settings
from credgraph.services.caller import Caller
from credgraph.services.scores import score_lookup

PERSONAL = ("birth_date", "national_id")
IDENTITY = {
    "person": ("name", "country", "birth_date", "national_id", "aliases"),
    "firm": (
        "name",
        "registration_no",
        "country",
        "region",
        "industry",
        "founded_on",
        "status",
        "registered_capital",
        "equity",
        "total_assets",
        "aliases",
    ),
}
MAX_NEIGHBOURS = 24

_SUBJECT = (
    "MATCH (s:Subject {id: $id}) "
    "RETURN CASE WHEN s:Person THEN 'person' ELSE 'firm' END AS kind, properties(s) AS p, "
    + provenance("s")
    + " AS prov"
)

_RECORDS = """
MATCH (s:Subject {id: $id})
CALL (s) {
  MATCH (s)-[rel:BORROWED|LENT|GUARANTEES]->(r:Loan)
  RETURN r, 'loan' AS kind,
         CASE type(rel) WHEN 'BORROWED' THEN 'borrower' WHEN 'LENT' THEN 'lender'
              ELSE 'guarantor' END AS role,
         rel.amount AS guaranteed
  UNION ALL
  MATCH (s)-[:LISTED]->(r:BlacklistEntry)
  RETURN r, 'blacklist' AS kind, 'listed' AS role, null AS guaranteed
}
OPTIONAL CALL (r) {
  MATCH (d:Dispute)-[:ABOUT]->(r)
  RETURN d ORDER BY d.at DESC LIMIT 1
}
OPTIONAL MATCH (ld:Load {num: r.load})  // provenance: one hop to the Load record
RETURN kind, role, r.id AS id, r.list AS list, r.authority AS authority, r.status AS status,
       r.amount AS amount, r.currency AS currency, guaranteed,
       toString(coalesce(r.listed_on, r.issued_on)) AS date,
       r.listed_on_basis AS date_basis,  // 'loaded': no date in the source; 'partial'
       toString(coalesce(r.delisted_on, r.status_on)) AS until,
       toString(r.expires_on) AS expires_on,
       coalesce(r.expires_on < date(), false) AS expired,
       coalesce(r.delisted_on <= date(), false) AS delisted,
       coalesce(r.listed_on > date(), false) AS not_yet_listed,
       coalesce(r.disputed, false) AS disputed,
       d.action AS dispute_action, toString(d.at) AS dispute_at, d.reason AS dispute_reason,
       ld.source AS source, ld.file_names[r.file] AS source_file, r.row AS source_row,
       toString(ld.started_at) AS loaded_at
ORDER BY kind, role, id
"""

_NEIGHBOURS = """
MATCH (s:Subject {id: $id})
CALL (s) {
  MATCH (s)-[r:OWNS|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF|EXECUTIVE_OF|SUPERVISOR_OF]->(o:Subject)
  RETURN o, s.id AS src, o.id AS dst, type(r) AS kind, r.share AS share, null AS via
  UNION ALL
  MATCH (s)<-[r:OWNS|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF|EXECUTIVE_OF|SUPERVISOR_OF]-(o:Subject)
  RETURN o, o.id AS src, s.id AS dst, type(r) AS kind, r.share AS share, null AS via
  UNION ALL
  MATCH (s)-[a:BORROWED|LENT|GUARANTEES]->(l:Loan)<-[b:BORROWED|LENT|GUARANTEES]-(o:Subject)
  WHERE o <> s AND (type(a) = 'BORROWED') <> (type(b) = 'BORROWED')
  RETURN o,
         CASE WHEN type(a) = 'BORROWED' THEN o.id ELSE s.id END AS src,
         CASE WHEN type(a) = 'BORROWED' THEN s.id ELSE o.id END AS dst,
         CASE WHEN 'GUARANTEES' IN [type(a), type(b)] THEN 'GUARANTEES' ELSE 'LENDS' END AS kind,
         null AS share, l.id AS via
}
OPTIONAL MATCH (run:Run {current: true})
OPTIONAL MATCH (sc:Score {run: run.id, subject: o.id})
RETURN o.id AS id, o.name AS name, CASE WHEN o:Person THEN 'person' ELSE 'firm' END AS node_kind,
       sc.trust_score AS trust_score,
       EXISTS { (o)-[:LISTED]->(e:BlacklistEntry)
                WHERE coalesce(e.disputed, false) = false
                  AND (e.listed_on IS NULL OR e.listed_on <= date())
                  AND (e.delisted_on IS NULL OR e.delisted_on > date())
                  AND (e.expires_on IS NULL OR e.expires_on >= date()) } AS listed,
       src, dst, kind, share, via
ORDER BY id, kind, via
"""


def report_data(
    gw: Gateway,
    settings: Settings,
    subject_id: str,
    *,
    caller: Caller,
    with_identifiers: bool = False,
) -> dict[str, Any]:
    """What the report shows, as data (the HTML is :func:`render`). Audited first
    (action ``report``), also when the subject is not found."""
    score: dict[str, Any] | None = None
    note = None
    try:
        score = score_lookup(
            gw,
            settings,
            subject_id,
            caller=caller,
            action="report",
            # who was shown a birth date and national id is on the record
            detail="with identifiers" if with_identifiers else None,
        )
    except NotFound as exc:
        if exc.code not in ("no_run", "not_scored"):
            raise
        note = exc.message
    rows = gw.read(_SUBJECT, id=subject_id)
    if not rows:
        raise NotFound(f"no subject {subject_id!r}", field="subject")
    kind, props, prov = rows[0]["kind"], rows[0]["p"], rows[0]["prov"] or {}
    identity: dict[str, Any] = {}
    for key in IDENTITY[kind]:
        if key in PERSONAL and not with_identifiers:
            continue
        if props.get(key) not in (None, "", []):
            v = props[key]
            identity[key] = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    provenance = {
        k: str(prov[k])
        for k in ("source", "source_file", "source_row", "loaded_at")
        if prov.get(k) is not None
    }
    if "loaded_at" in provenance:
        provenance["loaded_at"] = provenance["loaded_at"][:19].replace("T", " ") + " UTC"
    return {
        "id": subject_id,
        "kind": kind,
        "name": props.get("name") or subject_id,
        "identity": identity,
        "identifiers_shown": with_identifiers,
        "provenance": provenance,
        "score": score,
        "score_note": note,
        "records": gw.read(_RECORDS, id=subject_id),
        "neighbours": gw.read(_NEIGHBOURS, id=subject_id),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "prepared_for": caller.actor,
        "reason": caller.reason,
    }


def subject_report(
    gw: Gateway,
    settings: Settings,
    subject_id: str,
    *,
    caller: Caller,
    with_identifiers: bool = False,
) -> str:
    """The report of one subject as one self-contained HTML page (audited)."""
    return render(
        report_data(gw, settings, subject_id, caller=caller, with_identifiers=with_identifiers)
    )


# ---------------------------------------------------------------- words
DOMAIN_WORDS = {"credit": "credit", "compliance": "compliance"}
KIND_WORDS = {
    "guarantee": "guarantees a loan of",
    "lending": "lent to",
    "ownership_to_owner": "is owned by",
    "ownership_to_firm": "owns",
    "control_to_firm": "controls",
    "legal_representative_to_firm": "is the legal representative of",
    "director_to_firm": "is a director of",
    "executive_to_firm": "is an executive of",
    "supervisor_to_firm": "is a supervisor of",
    "legal_representative_to_person": "has as legal representative",
    "director_to_person": "has as director",
    "executive_to_person": "has as executive",
    "supervisor_to_person": "has as supervisor",
}


def band(trust: float | None) -> str:
    if trust is None:
        return "not scored"
    if trust >= 80:
        return "low risk"
    if trust >= 50:
        return "elevated risk"
    return "high risk"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def path_words(path: list[Any]) -> str:
    """``F2 → (guarantee G2) → F1``: a contribution's path, in words."""
    parts: list[str] = []
    for item in path:
        if isinstance(item, dict):
            rels = item.get("relationships") or []
            names = []
            for r in rels[:2]:
                rid = str(r.get("id", ""))
                kind = str(r.get("kind", "")).replace("_", " ")
                # role and ownership links have composite ids (a|b|role): the kind says it
                names.append(kind if "|" in rid or not rid else f"{kind} {rid}")
            parts.append("(" + "; ".join(names) + ")" if names else "→")
        else:
            parts.append(str(item))
    return " → ".join(parts)


def explanation(data: dict[str, Any]) -> list[str]:
    """The score explained in plain sentences: own records first, then what the
    network passes on, largest first."""
    sc = data["score"]
    if sc is None:
        return [data.get("score_note") or "This subject has no score yet."]
    out = [
        f"Trust score {sc['trust_score']:.1f} of 100 ({band(sc['trust_score'])}): the total "
        f"risk is {sc['risk']['total']:.3f}, from its own records ({sc['risk']['intrinsic']:.3f}) "
        f"and from its network ({sc['risk']['network']:.3f}). Credit and compliance risk are "
        "reported side by side, never netted, and nothing good offsets an adverse record."
    ]
    records = sc.get("records")
    if records:
        for r in records:
            if r.get("effective", 0) > 0:
                dated = ""
                if r.get("date_basis") == "loaded":
                    dated = f", no date in the source: counts from its load on {r.get('date')}"
                elif r.get("date_basis") == "partial":
                    dated = f", the source gives only a year or month: counts from {r.get('date')}"
                elif r.get("date"):
                    dated = f", dated {r['date']}"
                out.append(
                    f"Own record {r['id']} ({r['label']}, {r['domain']} risk{dated}) counts "
                    f"{r['effective']:.2f}: severity {r['severity']:.2f} × decay {r['decay']:.2f}."
                )
            else:
                out.append(
                    f"Own record {r['id']} ({r['label']}) counts nothing: it is {r['status']}."
                )
    elif records is not None:
        out.append("It has no adverse record of its own.")
    contributions = sc.get("contributions")
    contributions = (
        [c for c in contributions or [] if c.get("amount", 0) >= 0.0005]
        if (contributions is not None)
        else None
    )
    if contributions:
        for c in contributions[:8]:
            basis = c.get("record_date_basis") or {}
            recs = ", ".join(
                r
                + {
                    "loaded": " (no date in the source: counts from its load)",
                    "partial": " (dated by a year or month only)",
                }.get(basis.get(r, ""), "")
                for r in c.get("records") or []
            )
            out.append(
                f"{c['amount']:.3f} of its {c['domain']} risk comes from {c['source_subject']}"
                f"{' (records ' + recs + ')' if recs else ''}, {c.get('hops', '?')} hop(s) away: "
                f"{path_words(c.get('path') or [])}."
            )
        if len(contributions) > 8:
            out.append(f"… and {len(contributions) - 8} smaller contribution(s).")
    elif contributions is not None:
        out.append("Nothing in its network passes risk on to it.")
    elif sc.get("explanation_note"):
        out.append(sc["explanation_note"])
    return out


# ---------------------------------------------------------------- drawing
COLOURS = {
    "low risk": "#2e7d32",
    "elevated risk": "#f9a825",
    "high risk": "#c62828",
    "not scored": "#9e9e9e",
}
EDGE_WORDS = {
    "OWNS": "owns",
    "LEGAL_REPRESENTATIVE_OF": "legal rep.",
    "DIRECTOR_OF": "director",
    "EXECUTIVE_OF": "executive",
    "SUPERVISOR_OF": "supervisor",
    "LENDS": "lends",
    "GUARANTEES": "guarantees",
}


def layout(
    center: str, others: list[str], width: int, height: int
) -> dict[str, tuple[float, float]]:
    """A radial layout: the subject in the middle, its neighbours evenly on a ring
    (two rings when there are more than 12), in id order, first one at the top."""
    cx, cy = width / 2, height / 2
    pos = {center: (cx, cy)}
    rings = [others] if len(others) <= 12 else [others[::2], others[1::2]]
    radii = [min(cx, cy) - 60] if len(rings) == 1 else [min(cx, cy) - 140, min(cx, cy) - 50]
    for ring, r in zip(rings, radii, strict=True):
        n = len(ring)
        for k, node in enumerate(ring):
            a = (
                -math.pi / 2
                + 2 * math.pi * k / max(n, 1)
                + (math.pi / n if len(rings) > 1 and r == radii[0] else 0)
            )
            pos[node] = (cx + r * math.cos(a), cy + r * math.sin(a))
    return pos


def neighbourhood_svg(data: dict[str, Any], width: int = 760, height: int = 560) -> str:
    """The subject and its direct neighbours (ownership, roles, loans, guarantees) as
    inline SVG; node colour by trust band, a red ring for an active blacklist entry."""
    me = data["id"]
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], list[str]] = {}
    for row in data["neighbours"]:
        nodes.setdefault(row["id"], row)
        word = EDGE_WORDS.get(row["kind"], row["kind"].lower())
        if row["kind"] == "OWNS" and row.get("share") is not None:
            word += f" {_pct(row['share'])}"
        if row.get("via"):
            word += f" {row['via']}"
        edges.setdefault((row["src"], row["dst"]), [])
        if word not in edges[(row["src"], row["dst"])]:
            edges[(row["src"], row["dst"])].append(word)
    ids = sorted(nodes)
    hidden = max(0, len(ids) - MAX_NEIGHBOURS)
    ids = ids[:MAX_NEIGHBOURS]
    pos = layout(me, ids, width, height)
    sc = data["score"]
    nodes[me] = {
        "id": me,
        "name": data["name"],
        "node_kind": data["kind"],
        "trust_score": sc["trust_score"] if sc else None,
        "listed": any(
            r["kind"] == "blacklist"
            and not (r["disputed"] or r["expired"] or r["delisted"] or r["not_yet_listed"])
            for r in data["records"]
        ),
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="neighbourhood of {escape(me)}" font-family="sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#607d8b"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for (a, b), words in sorted(edges.items()):
        if a not in pos or b not in pos:
            continue
        (x1, y1), (x2, y2) = pos[a], pos[b]
        d = math.hypot(x2 - x1, y2 - y1) or 1.0
        ra = 30 if a == me else 22
        rb = 30 if b == me else 22
        sx, sy = x1 + (x2 - x1) * ra / d, y1 + (y2 - y1) * ra / d
        ex, ey = x2 - (x2 - x1) * (rb + 2) / d, y2 - (y2 - y1) * (rb + 2) / d
        parts.append(
            f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke="#607d8b" '
            'stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        label = escape("; ".join(words)[:40])
        parts.append(
            f'<text x="{mx:.1f}" y="{my - 4:.1f}" font-size="10" fill="#37474f" '
            f'text-anchor="middle" paint-order="stroke" stroke="#fafafa" stroke-width="3">'
            f"{label}</text>"
        )
    for nid in [me, *ids]:
        n = nodes[nid]
        x, y = pos[nid]
        r = 30 if nid == me else 22
        colour = COLOURS[band(n.get("trust_score"))]
        ring = (
            ' stroke="#b71c1c" stroke-width="4"'
            if n.get("listed")
            else ' stroke="#fff" stroke-width="2"'
        )
        shape = (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"{ring}/>'
            if n.get("node_kind") == "person"
            else f'<rect x="{x - r:.1f}" y="{y - r * 0.75:.1f}" width="{2 * r}" '
            f'height="{1.5 * r:.1f}" rx="4" fill="{colour}"{ring}/>'
        )
        trust = n.get("trust_score")
        parts.append(shape)
        parts.append(
            f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" fill="#fff" text-anchor="middle" '
            f'font-weight="bold">{"" if trust is None else f"{trust:.0f}"}</text>'
        )
        name = str(n.get("name") or nid)
        parts.append(
            f'<text x="{x:.1f}" y="{y + r + 13:.1f}" font-size="11" fill="#212121" '
            f'text-anchor="middle" paint-order="stroke" stroke="#fafafa" stroke-width="3">'
            f"{escape(name[:22])} ({escape(nid)})</text>"
        )
    if hidden:
        parts.append(
            f'<text x="10" y="{height - 10}" font-size="11" fill="#555">'
            f"{hidden} more neighbour(s) not drawn</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def history_svg(history: list[dict[str, Any]], width: int = 360, height: int = 90) -> str:
    """The trust score across runs, oldest left, as a small inline line chart."""
    pts = [h for h in reversed(history) if h.get("trust_score") is not None]
    if len(pts) < 2:
        return ""
    step = (width - 20) / (len(pts) - 1)
    xy = [
        (10 + i * step, 10 + (100 - h["trust_score"]) * (height - 20) / 100)
        for i, h in enumerate(pts)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1565c0"/>' for x, y in xy)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="trust score across runs">'
        f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>'
        f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>{dots}</svg>'
    )


# ---------------------------------------------------------------- page
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1000px;color:#212121;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #eceff1;padding-bottom:.2rem;margin-top:2rem}
.muted{color:#607d8b;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border-bottom:1px solid #eceff1;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7f8}
.score{display:flex;gap:2rem;align-items:center;flex-wrap:wrap}
.big{font-size:3rem;font-weight:bold;padding:.3rem 1rem;border-radius:8px;color:#fff}
.bar{background:#eceff1;height:10px;width:160px;border-radius:5px;display:inline-block;
vertical-align:middle}
.bar span{display:block;height:10px;border-radius:5px;background:#c62828}
.tag{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.8rem;background:#eceff1}
.tag.bad{background:#ffcdd2}.tag.warn{background:#fff3cd}
ul.explain li{margin:.3rem 0}
.legend span{display:inline-block;margin-right:1rem}
@media print{body{margin:0}}
"""


def _bar(x: float) -> str:
    return f'<span class="bar"><span style="width:{max(0.0, min(1.0, x)) * 100:.0f}%"></span></span> {x:.3f}'


def render(data: dict[str, Any]) -> str:
    """The report page: one HTML document with its CSS and drawings inline."""
    e = escape
    sc = data["score"]
    h: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>credgraph report: {e(data['name'])} ({e(data['id'])})</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(data['name'])}</h1>",
        f'<div class="muted">{e(data["kind"])} {e(data["id"])} · report generated '
        f"{e(data['generated_at'])}"
        + (f" · run {e(sc['run']['id'])} as of {e(sc['run']['as_of'])}" if sc else "")
        + f" · prepared for {e(data['prepared_for'])}"
        + (f" ({e(data['reason'])})" if data.get("reason") else "")
        + "</div>",
        "<h2>Identity</h2><table>",
    ]
    for k, v in data["identity"].items():
        h.append(f"<tr><th>{e(k.replace('_', ' '))}</th><td>{e(v)}</td></tr>")
    h.append("</table>")
    if not data["identifiers_shown"] and data["kind"] == "person":
        h.append(
            '<p class="muted">Personal identifiers (birth date, national id) are left out; '
            "they are shown only when asked for.</p>"
        )
    if data["provenance"]:
        p = data["provenance"]
        h.append(
            f'<p class="muted">Loaded from {e(p.get("source", "?"))}: {e(p.get("source_file", "?"))}'
            f", row {e(p.get('source_row', '?'))}, at {e(p.get('loaded_at', '?'))}.</p>"
        )

    h.append("<h2>Score</h2>")
    if sc:
        colour = COLOURS[band(sc["trust_score"])]
        h.append('<div class="score">')
        h.append(
            f'<div><div class="big" style="background:{colour}">{sc["trust_score"]:.1f}</div>'
            f'<div class="muted">trust score of 100 · {e(band(sc["trust_score"]))}</div></div>'
        )
        h.append(
            "<table style='width:auto'><tr><th></th><th>own records</th><th>network</th><th>total</th></tr>"
        )
        r = sc["risk"]
        h.append(
            f"<tr><th>all risk</th><td>{_bar(r['intrinsic'])}</td><td>{_bar(r['network'])}</td>"
            f"<td>{_bar(r['total'])}</td></tr>"
        )
        for d, v in sc["domains"].items():
            h.append(
                f"<tr><th>{e(d)}</th><td>{_bar(v['intrinsic'])}</td><td>{_bar(v['network'])}</td>"
                f"<td>{_bar(v['total'])}</td></tr>"
            )
        h.append("</table></div>")
    h.append("<h3>Why</h3><ul class='explain'>")
    h.extend(f"<li>{e(s)}</li>" for s in explanation(data))
    h.append("</ul>")

    h.append("<h2>Records behind it</h2>")
    if data["records"]:
        h.append(
            "<table><tr><th>record</th><th>what</th><th>role</th><th>dates</th>"
            "<th>dispute</th><th>source</th></tr>"
        )
        for rec in data["records"]:
            if rec["kind"] == "loan":
                what = f"loan {rec.get('status') or ''}"
                if rec.get("amount") is not None:
                    what += f", {rec['amount']:,.0f} {rec.get('currency') or ''}"
                if rec.get("guaranteed") is not None:
                    what += f" (guaranteed {rec['guaranteed']:,.0f})"
            else:
                what = f"blacklist {rec.get('list') or ''}" + (
                    f", {rec['authority']}" if rec.get("authority") else ""
                )
            dates = e(rec.get("date") or "")
            if rec.get("date_basis") == "loaded":
                dates += ' <span class="tag">no date in the source: counts from its load</span>'
            elif rec.get("date_basis") == "partial":
                dates += ' <span class="tag">the source gives only a year or month</span>'
            if rec.get("until"):
                dates += (" · delisted " if rec["kind"] == "blacklist" else " · status on ") + e(
                    rec["until"]
                )
            if rec.get("expires_on"):
                dates += f" · expires {e(rec['expires_on'])}"
            if rec.get("expired"):
                dates += ' <span class="tag">expired</span>'
            elif rec["kind"] == "blacklist" and rec.get("delisted"):
                dates += ' <span class="tag">delisted</span>'
            elif rec["kind"] == "blacklist" and rec.get("not_yet_listed"):
                dates += ' <span class="tag">not yet listed</span>'
            if rec["disputed"]:
                dispute = '<span class="tag warn">disputed</span>'
                if rec.get("dispute_at"):
                    dispute += (
                        f" since {e(rec['dispute_at'][:10])}: {e(rec.get('dispute_reason') or '')}"
                    )
            elif rec.get("dispute_action") == "resolved":
                dispute = (
                    f'<span class="tag">resolved {e((rec.get("dispute_at") or "")[:10])}</span>'
                )
            else:
                dispute = ""
            source = (
                f"{e(rec.get('source') or '')}: {e(rec.get('source_file') or '')} row "
                f"{e(str(rec.get('source_row') or ''))}<br><span class='muted'>loaded "
                f"{e((rec.get('loaded_at') or '')[:19])}</span>"
            )
            h.append(
                f"<tr><td>{e(rec['id'])}</td><td>{e(what)}</td><td>{e(rec['role'])}</td>"
                f"<td>{dates}</td><td>{dispute}</td><td>{source}</td></tr>"
            )
        h.append("</table>")
    else:
        h.append("<p>No loans, guarantees or blacklist entries.</p>")

    h.append("<h2>Score history</h2>")
    history = sc["history"] if sc else []
    if history:
        h.append(history_svg(history))
        h.append("<table><tr><th>run</th><th>as of</th><th>trust score</th></tr>")
        for row in history:
            mark = " (current)" if row.get("current") else ""
            h.append(
                f"<tr><td>{e(str(row['run']))}{mark}</td><td>{e(str(row.get('as_of') or ''))}</td>"
                f"<td>{row['trust_score']:.1f}</td></tr>"
            )
        h.append("</table>")
    else:
        h.append("<p>No run has scored this subject yet.</p>")

    h.append("<h2>Neighbourhood</h2>")
    h.append(
        '<p class="legend muted"><span>■ firm</span><span>● person</span>'
        f'<span style="color:{COLOURS["low risk"]}">■ trust ≥ 80</span>'
        f'<span style="color:{COLOURS["elevated risk"]}">■ 50–80</span>'
        f'<span style="color:{COLOURS["high risk"]}">■ below 50</span>'
        f'<span style="color:{COLOURS["not scored"]}">■ not scored</span>'
        "<span>red ring: an active blacklist entry</span>"
        "<span>arrows: owner → firm, lender/guarantor → borrower, person → firm role</span></p>"
    )
    h.append(neighbourhood_svg(data))
    h.append(
        '<p class="muted">This report was written to the audit log (who, whom, when, why). '
        "Scores are computed by credgraph's policy from the records listed; a disputed record "
        "is left out of scoring until the dispute is resolved.</p>"
    )
    h.append("</body></html>")
    return "\n".join(h) + "\n"
