"""Subjects over HTTP (and any other edge): search, one subject's view, its
neighbourhood; each read audited before it answers and redacted by role.

Least exposure (PRODUCT.md, principle 6) is decided here, not in a route:

- ``viewer``: subject ids, kinds, scores and explanations; a person's name is
  reduced to initials (``Anna Maria Berg`` -> ``A. M. B.``), and a person's
  aliases, birth date, national id and net worth are left out;
- ``investigator`` and ``admin``: names, aliases and dates; the national id is
  only ever shown masked (its last two characters), never in clear;
- a firm's data are not personal: every role sees them.

Every read of a subject writes one audit event first (graph/audit.py): the
actor (an API key's id), the action (``subject``, ``neighbourhood``; a search
is one event of subject ``*``), the subject, the purpose given and the
current run, as ``credgraph score`` does for scores.
"""

from __future__ import annotations

import re
import time
from typing import Any, LiteralString

from neo4j import exceptions as nx

from credgraph.graph.errors import DatabaseError, NotFound, UsageError
from credgraph.graph.gateway import Gateway, translate_errors
from credgraph.graph.model import PROVENANCE_FIELDS, provenance
from credgraph.graph.runs import Runs
from credgraph.graph.settings import Settings
from credgraph.services.apikeys import rank
from credgraph.services.caller import Caller
from credgraph.services.scores import audit

# -------------------------------------------------------------- redaction
PERSON_FIELDS = ("name", "aliases", "country", "birth_date", "national_id", "net_worth")
FIRM_FIELDS = (
    "name",
    "aliases",
    "registration_no",
    "country",
    "region",
    "industry",
    "founded_on",
    "status",
    "registered_capital",
    "equity",
    "total_assets",
)
VIEWER_HIDDEN = frozenset({"aliases", "birth_date", "national_id", "net_worth"})


def initials(name: str | None) -> str | None:
    """``Anna Maria Berg`` -> ``A. M. B.`` (the viewer's form of a person's name)."""
    if not name:
        return name
    return " ".join(f"{part[0].upper()}." for part in name.split() if part[0].isalnum()) or "?"


def mask(national_id: str | None) -> str | None:
    """A national id masked but for its last two characters: ``***********42``."""
    if not national_id:
        return national_id
    text = str(national_id)
    return "*" * max(len(text) - 2, 3) + text[-2:]


def sees_names(caller: Caller) -> bool:
    """Investigators and admins see names and dates; viewers do not (the CLI, role None, does)."""
    return caller.role is None or rank(caller.role) >= rank("investigator")


def display_name(kind: str, name: str | None, caller: Caller) -> str | None:
    """The name the caller may see: a person's initials for a viewer."""
    return name if kind != "person" or sees_names(caller) else initials(name)


def redact(kind: str, props: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The fields of a subject the caller may see (a whitelist: nothing else leaves)."""
    fields = PERSON_FIELDS if kind == "person" else FIRM_FIELDS
    out = {f: plain(props.get(f)) for f in fields}
    if kind == "person":
        out["national_id"] = mask(out["national_id"])
        if not sees_names(caller):
            out["name"] = initials(out["name"])
            for f in VIEWER_HIDDEN:
                out[f] = None
    return out


def plain(value: Any) -> Any:
    """Neo4j temporal values as ISO text, lists element-wise, the rest as is."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def kind_of(labels: list[str]) -> str:
    for lab, kind in (
        ("Person", "person"),
        ("Firm", "firm"),
        ("Loan", "loan"),
        ("BlacklistEntry", "blacklist_entry"),
    ):
        if lab in labels:
            return kind
    return "subject"


def _current_run(gw: Gateway, settings: Settings) -> dict[str, Any] | None:
    return Runs(gw, settings).current()


# -------------------------------------------------------------- search
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')


def lucene_terms(text: str) -> str | None:
    """A free text as a Lucene query of plain terms: every special character escaped,
    the operator words (AND, OR, NOT, TO) lowercased, terms joined with AND and the last
    one also matched as a prefix. None when nothing searchable is left."""
    terms = []
    for raw in text.split():
        if not any(ch.isalnum() for ch in raw):
            continue
        word = raw.lower() if raw in ("AND", "OR", "NOT", "TO") else raw
        terms.append(_LUCENE_SPECIAL.sub(r"\\\1", word))
    if not terms:
        return None
    *head, last = terms[:16]
    return " AND ".join([*head, f"({last} OR {last}*)"])


def search(
    gw: Gateway,
    settings: Settings,
    q: str | None,
    *,
    caller: Caller,
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    """Subjects whose id is ``q`` or whose name or alias matches it (full-text index
    ``subject_names``), best match first; every subject by id when ``q`` is empty.
    One page of ``limit`` from ``offset``; ``next_offset`` is None on the last page.
    Audited as one lookup (subject ``*``, action ``search``)."""
    run = _current_run(gw, settings)
    run_id = run["id"] if run else None
    audit(gw, caller, "*", "search", run_id)
    text = (q or "").strip()
    want = limit + 1
    if not text:
        rows = gw.read(
            "MATCH (n:Subject) WITH n ORDER BY n.id SKIP $offset LIMIT $want "
            "OPTIONAL MATCH (sc:Score {run: $run, subject: n.id}) "
            "RETURN n.id AS id, labels(n) AS labels, n.name AS name, "
            "sc.trust_score AS trust_score, 'all' AS matched",
            offset=offset,
            want=want,
            run=run_id,
        )
    else:
        exact = gw.read(
            "MATCH (n:Subject {id: $id}) OPTIONAL MATCH (sc:Score {run: $run, subject: n.id}) "
            "RETURN n.id AS id, labels(n) AS labels, n.name AS name, "
            "sc.trust_score AS trust_score, 'id' AS matched",
            id=text,
            run=run_id,
        )
        rows = exact[offset:]
        lucene = lucene_terms(text)
        if lucene is not None and len(rows) < want:
            rows += gw.read(
                "CALL db.index.fulltext.queryNodes('subject_names', $query) "
                "YIELD node, score WHERE node.id <> $id "
                "WITH node, score ORDER BY score DESC, node.id "
                "SKIP $skip LIMIT $take "
                "OPTIONAL MATCH (sc:Score {run: $run, subject: node.id}) "
                "RETURN node.id AS id, labels(node) AS labels, node.name AS name, "
                "sc.trust_score AS trust_score, 'name' AS matched",
                query=lucene,
                id=text,
                skip=max(0, offset - len(exact)),
                take=want - len(rows),
                run=run_id,
            )
    items = []
    for r in rows[:limit]:
        kind = kind_of(r["labels"])
        items.append(
            {
                "id": r["id"],
                "kind": kind,
                "name": display_name(kind, r["name"], caller),
                "trust_score": r["trust_score"],
                "matched": r["matched"],
            }
        )
    return {
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(rows) > limit else None,
        "run": run_id,
    }


# -------------------------------------------------------------- one subject
def subject_view(gw: Gateway, settings: Settings, subject_id: str, *, caller: Caller) -> dict:
    """One subject's data (redacted by role), its current score and its own records.
    Audited first (action ``subject``), also when the subject is not found."""
    run = _current_run(gw, settings)
    run_id = run["id"] if run else None
    audit(gw, caller, subject_id, "subject", run_id)
    rows = gw.read(
        "MATCH (n:Subject {id: $id}) "
        "OPTIONAL MATCH (sc:Score {run: $run, subject: n.id}) "
        "CALL (n) { OPTIONAL MATCH (n)-[:LISTED]->(b:BlacklistEntry) "
        "  RETURN collect(b {.id, .list, .authority, listed_on: toString(b.listed_on), "
        "    expires_on: toString(b.expires_on), delisted_on: toString(b.delisted_on), "
        "    .severity, .disputed}) AS listings } "
        "CALL (n) { OPTIONAL MATCH (n)-[:BORROWED]->(l:Loan) "
        "  RETURN collect(l {.id, .amount, .currency, .status, "
        "    issued_on: toString(l.issued_on), .days_overdue, .disputed}) AS loans } "
        "RETURN properties(n) AS props, labels(n) AS labels, " + provenance("n") + " AS prov, "
        "sc {.trust_score, .intrinsic, .network, .total} AS score, listings, loans",
        id=subject_id,
        run=run_id,
    )
    if not rows:
        raise NotFound(f"no subject {subject_id!r}", field="subject")
    r = rows[0]
    kind = kind_of(r["labels"])
    props = r["props"]
    score = r["score"]
    return {
        "id": subject_id,
        "kind": kind,
        "fields": redact(kind, props, caller),
        "provenance": {f: plain((r["prov"] or {}).get(f)) for f in PROVENANCE_FIELDS},
        "score": None
        if score is None
        else {
            "trust_score": score["trust_score"],
            "risk": {k: score[k] for k in ("intrinsic", "network", "total")},
            "run": run_id,
        },
        "listings": r["listings"],
        "loans_borrowed": r["loans"],
    }


# -------------------------------------------------------------- neighbourhood
EDGE_KINDS: dict[str, str] = {
    "owns": "OWNS",
    "guarantees": "GUARANTEES",
    "lent": "LENT",
    "borrowed": "BORROWED",
    "listed": "LISTED",
    "legal_representative_of": "LEGAL_REPRESENTATIVE_OF",
    "director_of": "DIRECTOR_OF",
    "executive_of": "EXECUTIVE_OF",
    "supervisor_of": "SUPERVISOR_OF",
}
"""The relationship kinds a neighbourhood follows (the data, not the bookkeeping)."""

MAX_DEPTH = 3
HARD_CAP = 500
"""No neighbourhood holds more nodes than this, whatever the limit asked."""


def check_kinds(kinds: list[str] | None) -> list[str]:
    """The relationship kinds asked (all when none), or a usage error naming ``kinds``."""
    if not kinds:
        return list(EDGE_KINDS)
    flat = [k.strip().lower() for part in kinds for k in part.split(",") if k.strip()]
    bad = [k for k in flat if k not in EDGE_KINDS]
    if bad:
        raise UsageError(
            f"unknown relationship kind(s) {', '.join(map(repr, bad))}; "
            f"known: {', '.join(EDGE_KINDS)}",
            field="kinds",
        )
    return sorted(set(flat)) or list(EDGE_KINDS)


class _TimedOut(Exception):
    pass


def _read_within(
    gw: Gateway, cypher: LiteralString, deadline: float, **params: Any
) -> list[dict[str, Any]]:
    """One read in an explicit transaction whose server-side timeout is the time left
    (not retried: a timed-out read is cut, not repeated)."""
    left = deadline - time.monotonic()
    if left <= 0.05:
        raise _TimedOut
    try:
        with translate_errors(), gw.session(read_only=True) as s:
            with s.begin_transaction(timeout=left) as tx:
                rows = [r.data() for r in tx.run(cypher, params)]
                tx.commit()
                return rows
    except DatabaseError as exc:
        cause = exc.__cause__
        if isinstance(cause, nx.Neo4jError) and "TimedOut" in (cause.code or ""):
            raise _TimedOut from exc
        raise


_CENTRE: LiteralString = (
    "OPTIONAL MATCH (s:Subject {id: $id}) OPTIONAL MATCH (l:Loan {id: $id}) "
    "OPTIONAL MATCH (b:BlacklistEntry {id: $id}) "
    "WITH coalesce(s, l, b) AS c WHERE c IS NOT NULL RETURN elementId(c) AS eid"
)
# Every walk step starts from the nodes it has by their element ids, one seek each
# (UNWIND + a correlated subquery with elementId(x) = id: never a scan of a label).
_EXPAND: LiteralString = (
    "UNWIND $frontier AS fid CALL (fid) { MATCH (a) WHERE elementId(a) = fid "
    "MATCH (a)-[r]-(b) WHERE type(r) IN $types "
    "AND (b:Subject OR b:Loan OR b:BlacklistEntry) AND NOT elementId(b) IN $seen "
    "RETURN b } "
    "WITH DISTINCT b LIMIT $room RETURN elementId(b) AS eid"
)
_NODES: LiteralString = (
    "UNWIND $ids AS nid CALL (nid) { MATCH (n) WHERE elementId(n) = nid RETURN n } "
    "OPTIONAL MATCH (sc:Score {run: $run, subject: n.id}) WHERE n:Subject "
    "RETURN elementId(n) AS eid, labels(n) AS labels, n.id AS id, n.name AS name, "
    "n.amount AS amount, n.currency AS currency, n.status AS status, n.list AS list, "
    "sc.trust_score AS trust_score, sc.intrinsic AS intrinsic, sc.network AS network, "
    "sc.total AS total"
)
# The relationships among the nodes reached. From a node with fewer relationships
# than nodes reached, walk them all; from a hub (a bank lends to thousands), look up
# each reached node and expand into the pair instead (Neo4j walks the smaller side),
# so that a bank in the neighbourhood does not cost a walk over all its loans.
_EDGES: LiteralString = (
    "UNWIND $ids AS nid CALL (nid) { MATCH (a) WHERE elementId(a) = nid RETURN a } "
    "CALL (a) { WITH a WHERE COUNT { (a)-->() } <= size($ids) "
    "MATCH (a)-[r]->(b) WHERE type(r) IN $types AND elementId(b) IN $ids RETURN r, b "
    "UNION "
    "WITH a WHERE COUNT { (a)-->() } > size($ids) "
    "UNWIND $ids AS bid CALL (bid) { MATCH (b) WHERE elementId(b) = bid RETURN b } "
    "MATCH (a)-[r]->(b) WHERE type(r) IN $types RETURN r, b } "
    "RETURN elementId(r) AS eid, elementId(a) AS src, elementId(b) AS dst, type(r) AS type, "
    "r.amount AS amount, r.share AS share, r.kind AS guarantee_kind"
)


def neighbourhood(
    gw: Gateway,
    settings: Settings,
    subject_id: str,
    *,
    caller: Caller,
    depth: int = 1,
    limit: int = 100,
    kinds: list[str] | None = None,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """The nodes within ``depth`` hops (1 to 3) of a subject along the relationship
    ``kinds`` (all when none), breadth first, at most ``limit`` nodes (never more than
    :data:`HARD_CAP`), with what a drawing needs: per node its kind, label (redacted
    by role), trust score and risk of the current run, amount and status; per edge its
    kind, amount and share. Loans and blacklist entries are nodes of their own (a
    loan is one hop from its lender, its borrower and its guarantors). ``truncated``
    is ``limit`` when the node limit cut it, ``time`` when the time limit
    (``time_limit``, else ``settings.neighbourhood_time_limit``) did, else None. ``{id}`` may also name a loan or blacklist entry (to expand through one).
    Audited first (action ``neighbourhood``)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise UsageError(f"depth must be 1 to {MAX_DEPTH}, not {depth}", field="depth")
    if not 1 <= limit <= HARD_CAP:
        raise UsageError(f"limit must be 1 to {HARD_CAP}, not {limit}", field="limit")
    types = [EDGE_KINDS[k] for k in check_kinds(kinds)]
    run = _current_run(gw, settings)
    run_id = run["id"] if run else None
    audit(gw, caller, subject_id, "neighbourhood", run_id)
    if time_limit is None:
        time_limit = settings.neighbourhood_time_limit
    deadline = time.monotonic() + time_limit
    centre = _read_within(gw, _CENTRE, deadline + 5, id=subject_id)
    if not centre:
        raise NotFound(f"no subject {subject_id!r}", field="subject")
    seen = [centre[0]["eid"]]
    level = {seen[0]: 0}
    frontier = list(seen)
    truncated: str | None = None
    for d in range(1, depth + 1):
        room = limit - len(seen)
        if room <= 0 or not frontier:
            break
        try:
            rows = _read_within(
                gw, _EXPAND, deadline, frontier=frontier, types=types, seen=seen, room=room + 1
            )
        except _TimedOut:
            truncated = "time"
            break
        new = [r["eid"] for r in rows]
        if len(new) > room:
            new = new[:room]
            truncated = "limit"
        for eid in new:
            level[eid] = d
        seen += new
        frontier = new
        if truncated:
            break
    # Details of what was reached: bounded by the cap, given time of their own.
    after = time.monotonic() + max(time_limit, 1.0)
    node_rows = _read_within(gw, _NODES, after, ids=seen, run=run_id)
    edge_rows = _read_within(gw, _EDGES, after, ids=seen, types=types)
    keys: dict[str, str] = {}
    nodes = []
    for r in sorted(node_rows, key=lambda r: (level[r["eid"]], str(r["id"]))):
        kind = kind_of(r["labels"])
        key = f"{kind}:{r['id']}"
        keys[r["eid"]] = key
        if kind in ("person", "firm"):
            label = display_name(kind, r["name"], caller) or r["id"]
        elif kind == "loan":
            label = f"loan {r['id']}"
        else:
            label = f"{r['list']} {r['id']}"
        nodes.append(
            {
                "key": key,
                "id": r["id"],
                "kind": kind,
                "label": label,
                "depth": level[r["eid"]],
                "trust_score": r["trust_score"],
                "risk": None
                if r["total"] is None
                else {"intrinsic": r["intrinsic"], "network": r["network"], "total": r["total"]},
                "amount": r["amount"],
                "currency": r["currency"],
                "status": r["status"],
            }
        )
    edges = [
        {
            "key": f"{r['type'].lower()}:{keys[r['src']]}>{keys[r['dst']]}:{r['eid'].rsplit(':', 1)[-1]}",
            "source": keys[r["src"]],
            "target": keys[r["dst"]],
            "kind": r["type"].lower(),
            "amount": r["amount"],
            "share": r["share"],
            "guarantee_kind": r["guarantee_kind"],
        }
        for r in sorted(edge_rows, key=lambda r: r["eid"])
        if r["src"] in keys and r["dst"] in keys
    ]
    return {
        "centre": keys[seen[0]],
        "depth": depth,
        "limit": limit,
        "kinds": [k for k, t in EDGE_KINDS.items() if t in types],
        "run": run_id,
        "nodes": nodes,
        "edges": edges,
        "truncated": truncated,
    }
