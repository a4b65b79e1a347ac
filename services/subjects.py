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
current run, as ``credgraph score`` does for scores. A search's and a
neighbourhood's ``detail`` also names the subjects the answer showed (``shown``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, LiteralString

from neo4j import Query, Session
from neo4j import exceptions as nx

from credgraph.graph.audit import record_shown
from credgraph.graph.errors import DatabaseError, NotFound, UsageError
from credgraph.graph.gateway import Gateway, translate_errors
from credgraph.graph.model import PROVENANCE_FIELDS, provenance
from credgraph.graph.settings import Settings
from credgraph.services.apikeys import rank
from credgraph.services.caller import Caller
from credgraph.services.paging import next_offset
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
    ``subject_names``; for a caller who may not see persons' names, firms' names
    only), best match first; every subject by id when ``q`` is empty.
    One page of ``limit`` from ``offset``; ``next_offset`` is None on the last page.
    Audited as one lookup (subject ``*``, action ``search``, ``detail`` what was
    searched for, written before the search, and then the ids it showed, ``shown``:
    who looked for a name, and whom they saw, is on the record)."""
    text = (q or "").strip()
    asked = {"q": text, "limit": limit, "offset": offset}
    event = audit(
        gw, caller, "*", "search", detail=json.dumps(asked, ensure_ascii=False), current_run=True
    )
    run_id = event["run"]
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
            # A caller who may not see persons' names (a viewer) searches the names of
            # firms only: a person found by the words of a name would confirm that name,
            # which the answer shows as initials.
            rows += gw.read(
                "CALL db.index.fulltext.queryNodes('subject_names', $query) "
                "YIELD node, score WHERE node.id <> $id AND ($names OR NOT node:Person) "
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
                names=sees_names(caller),
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
    shown = [i["id"] for i in items]
    record_shown(gw, [event["id"]], json.dumps(asked | {"shown": shown}, ensure_ascii=False))
    return {
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset(offset, limit, len(rows) > limit),
        "run": run_id,
    }


# -------------------------------------------------------------- one subject
def subject_view(gw: Gateway, settings: Settings, subject_id: str, *, caller: Caller) -> dict:
    """One subject's data (redacted by role), its current score and its own records.
    Audited first (action ``subject``), also when the subject is not found."""
    run_id = audit(gw, caller, subject_id, "subject", current_run=True)["run"]
    rows = gw.read(
        "MATCH (n:Subject {id: $id}) "
        "OPTIONAL MATCH (sc:Score {run: $run, subject: n.id}) "
        "CALL (n) { OPTIONAL MATCH (n)-[:LISTED]->(b:BlacklistEntry) "
        "  RETURN collect(b {.id, .list, .authority, listed_on: toString(b.listed_on), "
        "    .listed_on_basis, expires_on: toString(b.expires_on), "
        "    delisted_on: toString(b.delisted_on), .severity, .disputed}) AS listings } "
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


#: Seconds of their own for the reads that are bounded anyway (the centre, and the
#: details of at most ``HARD_CAP`` nodes): not the walk's time limit, so that a cut
#: walk still answers with what it reached, even on a busy server.
OWN_TIME = 10.0


class _TimedOut(DatabaseError):
    """A read of the neighbourhood ran out of its time: the walk is cut there; the
    centre and the details are not cut, so there it is an error (the server is busy)."""

    def __init__(self) -> None:
        super().__init__(
            "the neighbourhood could not be read in time",
            hint="the database is busy; try again, or with a smaller depth or limit",
        )


def _own_time() -> float:
    return time.monotonic() + OWN_TIME


def _read_within(
    s: Session, cypher: LiteralString, deadline: float, **params: Any
) -> tuple[Any, ...]:
    """One read, auto-commit (one round trip, not retried: a timed-out read is cut,
    not repeated), whose server-side timeout is the time left; its one row's values.
    Every query here returns one row of collected lists: one Bolt message to decode,
    no per-record conversion."""
    left = deadline - time.monotonic()
    if left <= 0.05:
        raise _TimedOut
    try:
        with translate_errors():
            record = s.run(Query(cypher, timeout=left), params).single(strict=True)
            return tuple(record)
    except DatabaseError as exc:
        cause = exc.__cause__
        if isinstance(cause, nx.Neo4jError) and "TimedOut" in (cause.code or ""):
            raise _TimedOut from exc
        raise


_CENTRE: LiteralString = (
    "OPTIONAL MATCH (s:Subject {id: $id}) OPTIONAL MATCH (l:Loan {id: $id}) "
    "OPTIONAL MATCH (b:BlacklistEntry {id: $id}) "
    "RETURN elementId(coalesce(s, l, b)) AS eid"
)
# Every walk step starts from the nodes it has by their element ids, one seek each
# (UNWIND + a correlated subquery with elementId(x) = id: never a scan of a label).
_STEP: LiteralString = (
    "UNWIND $frontier AS fid CALL (fid) { MATCH (a) WHERE elementId(a) = fid "
    "MATCH (a)-[r]-(b) WHERE type(r) IN $types "
    "AND (b:Subject OR b:Loan OR b:BlacklistEntry) AND NOT elementId(b) IN $seen "
    "RETURN b } "
    "WITH DISTINCT b LIMIT $room RETURN collect(elementId(b)) AS eids"
)
# The centre and the first step in one round trip (no centre: null and no step).
_FIRST: LiteralString = (
    "OPTIONAL MATCH (s:Subject {id: $id}) OPTIONAL MATCH (l:Loan {id: $id}) "
    "OPTIONAL MATCH (x:BlacklistEntry {id: $id}) "
    "WITH coalesce(s, l, x) AS c "
    "CALL (c) { WITH c WHERE c IS NOT NULL "
    "  MATCH (c)-[r]-(b) WHERE type(r) IN $types "
    "  AND (b:Subject OR b:Loan OR b:BlacklistEntry) AND b <> c "
    "  WITH DISTINCT b LIMIT $room RETURN collect(elementId(b)) AS eids } "
    "RETURN elementId(c) AS eid, eids"
)
# What was reached, nodes and edges, in one round trip.
_NODES: LiteralString = (
    "CALL () { UNWIND $ids AS nid CALL (nid) { MATCH (n) WHERE elementId(n) = nid RETURN n } "
    "OPTIONAL MATCH (sc:Score {run: $run, subject: n.id}) WHERE n:Subject "
    "RETURN collect([elementId(n), labels(n), n.id, n.name, n.amount, n.currency, "
    "n.status, n.list, sc.trust_score, sc.intrinsic, sc.network, sc.total]) AS nodes } "
)
# The relationships among the nodes reached. From a node with fewer relationships
# than nodes reached, walk them all; from a hub (a bank lends to thousands), look up
# each reached node and expand into the pair instead (Neo4j walks the smaller side),
# so that a bank in the neighbourhood does not cost a walk over all its loans.
_EDGES: LiteralString = (
    "CALL () { UNWIND $ids AS nid CALL (nid) { MATCH (a) WHERE elementId(a) = nid RETURN a } "
    "CALL (a) { WITH a WHERE COUNT { (a)-->() } <= size($ids) "
    "MATCH (a)-[r]->(b) WHERE type(r) IN $types AND elementId(b) IN $ids RETURN r, b "
    "UNION "
    "WITH a WHERE COUNT { (a)-->() } > size($ids) "
    "UNWIND $ids AS bid CALL (bid) { MATCH (b) WHERE elementId(b) = bid RETURN b } "
    "MATCH (a)-[r]->(b) WHERE type(r) IN $types RETURN r, b } "
    "RETURN collect([elementId(r), elementId(a), elementId(b), type(r), "
    "r.amount, r.share, r.kind]) AS edges } "
)
_DETAILS: LiteralString = _NODES + _EDGES + "RETURN nodes, edges"


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
    Audited first (action ``neighbourhood``; the same statement reads the current run;
    ``detail`` the depth, limit and kinds asked); once read, the event's ``detail``
    also names the persons and firms shown (``shown``, the centre first).

    Round trips: the audit event, the centre with the first step, one per further
    step, the details (nodes and edges) of what was reached, the ``shown`` of the
    audit event; each read is one
    auto-commit query in one session. The walk has ``time_limit``; the centre and
    the details get time of their own (a cut walk still answers what it reached)."""
    # The event first: a lookup refused for its parameters is on the record too. Its
    # detail: what was asked, and once the walk is done, whom it showed (``shown``).
    # A lookup refused for its parameters says why ("refused: ...", as elsewhere).
    asked: dict[str, Any] = {"depth": depth, "limit": limit, "kinds": kinds}
    problem: UsageError | None = None
    try:
        if not 1 <= depth <= MAX_DEPTH:
            raise UsageError(f"depth must be 1 to {MAX_DEPTH}, not {depth}", field="depth")
        if not 1 <= limit <= HARD_CAP:
            raise UsageError(f"limit must be 1 to {HARD_CAP}, not {limit}", field="limit")
        types = [EDGE_KINDS[k] for k in check_kinds(kinds)]
    except UsageError as exc:
        problem = exc
    detail = json.dumps(asked, ensure_ascii=False)
    if problem is not None:
        detail = f"refused: {problem.message}; {detail}"
    event = audit(gw, caller, subject_id, "neighbourhood", detail=detail[:2000], current_run=True)
    if problem is not None:
        raise problem
    run_id = event["run"]
    if time_limit is None:
        time_limit = settings.neighbourhood_time_limit
    deadline = time.monotonic() + time_limit
    with gw.session(read_only=True) as s:
        truncated: str | None = None
        first: list[str] | None = None
        if limit == 1:  # no room for a step: the centre alone
            (centre,) = _read_within(s, _CENTRE, _own_time(), id=subject_id)
        else:
            try:
                centre, first = _read_within(
                    s, _FIRST, deadline, id=subject_id, types=types, room=limit
                )
            except _TimedOut:  # the first step was cut: find the centre alone
                (centre,) = _read_within(s, _CENTRE, _own_time(), id=subject_id)
                truncated = "time"
        if centre is None:
            raise NotFound(f"no subject {subject_id!r}", field="subject")
        seen = [centre]
        level = {centre: 0}
        frontier = list(seen)
        for d in range(1, depth + 1):
            room = limit - len(seen)
            if room <= 0 or not frontier or truncated:
                break
            if d == 1 and first is not None:
                new = first
            else:
                try:
                    (new,) = _read_within(
                        s, _STEP, deadline, frontier=frontier, types=types, seen=seen, room=room + 1
                    )
                except _TimedOut:
                    truncated = "time"
                    break
            if len(new) > room:
                new = new[:room]
                truncated = "limit"
            for eid in new:
                level[eid] = d
            seen += new
            frontier = new
        # Details of what was reached: bounded by the cap, given time of their own.
        node_rows, edge_rows = _read_within(
            s, _DETAILS, _own_time(), ids=seen, run=run_id, types=types
        )
    keys: dict[str, str] = {}
    nodes = []
    # rows: [eid, labels, id, name, amount, currency, status, list, trust, intrinsic,
    # network, total] per node; [eid, source eid, target eid, type, amount, share,
    # guarantee kind] per edge
    for eid, labels, nid, name, amount, currency, status, listed, trust, *risk in sorted(
        node_rows, key=lambda r: (level[r[0]], str(r[2]))
    ):
        kind = kind_of(labels)
        key = f"{kind}:{nid}"
        keys[eid] = key
        if kind in ("person", "firm"):
            label = display_name(kind, name, caller) or nid
        elif kind == "loan":
            label = f"loan {nid}"
        else:
            label = f"{listed} {nid}"
        nodes.append(
            {
                "key": key,
                "id": nid,
                "kind": kind,
                "label": label,
                "depth": level[eid],
                "trust_score": trust,
                "risk": None
                if risk[2] is None
                else {"intrinsic": risk[0], "network": risk[1], "total": risk[2]},
                "amount": amount,
                "currency": currency,
                "status": status,
            }
        )
    edges = [
        {
            "key": f"{rtype.lower()}:{keys[src]}>{keys[dst]}:{eid.rsplit(':', 1)[-1]}",
            "source": keys[src],
            "target": keys[dst],
            "kind": rtype.lower(),
            "amount": amount,
            "share": share,
            "guarantee_kind": gkind,
        }
        for eid, src, dst, rtype, amount, share, gkind in sorted(edge_rows)
        if src in keys and dst in keys
    ]
    # Whom the answer shows (its persons and firms, the centre first): a neighbourhood
    # names up to HARD_CAP subjects with their scores (and, for an investigator, names),
    # and the log says whom the caller saw, not only whose neighbourhood they asked for.
    shown = [n["id"] for n in nodes if n["kind"] in ("person", "firm")]
    record_shown(gw, [event["id"]], json.dumps(asked | {"shown": shown}, ensure_ascii=False))
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
