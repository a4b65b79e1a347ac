"""The graph model: labels, relationship types and properties, as an allow-list.

Cypher text in credgraph is constant; the only names ever formatted into it
come from the sets below, through :func:`label` and :func:`rel_type`, which
refuse anything else. Values always travel as ``$parameters``.
See docs/data-model.md for the model in an investigator's words.
"""

from __future__ import annotations

from typing import LiteralString, cast

from credgraph.graph.engine.vocabulary import ROLES
from credgraph.graph.errors import CredgraphError

# Node labels --------------------------------------------------------------
SUBJECT = "Subject"
PERSON = "Person"
FIRM = "Firm"
LOAN = "Loan"
BLACKLIST_ENTRY = "BlacklistEntry"
LOAD = "Load"  # one record per `credgraph load`
RUN = "Run"  # one record per propagation run
SCORE = "Score"  # one subject's scores in one run
CIRCLE = "GuaranteeCircle"  # a guarantee circle found in one run
DISPUTE = "Dispute"  # audit trail of a record's disputes
AUDIT = "AuditEvent"  # who looked up whom, when, why
API_KEY = "ApiKey"
META = "CredgraphSchema"  # the schema version the database holds
LEASE = "Lease"  # the writer lease of loads and propagation runs (graph/lease.py)

LABELS = frozenset(
    {
        SUBJECT,
        PERSON,
        FIRM,
        LOAN,
        BLACKLIST_ENTRY,
        LOAD,
        RUN,
        SCORE,
        CIRCLE,
        DISPUTE,
        AUDIT,
        API_KEY,
        META,
        LEASE,
    }
)

# Nodes that record the database's own bookkeeping rather than data: an empty
# database may hold them, and "the same input twice leaves the graph as it was"
# speaks of everything else. Audit events and API keys are records of who looked
# and who may: a bulk load into a database that holds only these carries the
# records over (CARRIED), and a lookup made to check a database does not rule it out.
BOOKKEEPING = (META, LOAD, LEASE, AUDIT, API_KEY)
CARRIED = (LOAD, AUDIT, API_KEY)

# Relationship types --------------------------------------------------------
LEGAL_REPRESENTATIVE_OF = "LEGAL_REPRESENTATIVE_OF"
DIRECTOR_OF = "DIRECTOR_OF"
EXECUTIVE_OF = "EXECUTIVE_OF"
SUPERVISOR_OF = "SUPERVISOR_OF"
OWNS = "OWNS"  # (owner:Subject)-[:OWNS {share}]->(:Firm)
LENT = "LENT"  # (lender:Subject)-[:LENT]->(:Loan)
BORROWED = "BORROWED"  # (borrower:Subject)-[:BORROWED]->(:Loan)
GUARANTEES = "GUARANTEES"  # (guarantor:Subject)-[:GUARANTEES {id, amount}]->(:Loan)
LISTED = "LISTED"  # (:Subject)-[:LISTED]->(:BlacklistEntry)
IN_CIRCLE = "IN_CIRCLE"  # (:Subject)-[:IN_CIRCLE]->(:GuaranteeCircle)
ABOUT = "ABOUT"  # (:Dispute)-[:ABOUT]->(record)

ROLE_TYPES: dict[str, str] = {role: f"{role.upper()}_OF" for role in ROLES}
"""Role (graph.engine.vocabulary.ROLES) -> relationship type, ``director`` -> ``DIRECTOR_OF``."""
assert set(ROLE_TYPES.values()) == {
    LEGAL_REPRESENTATIVE_OF,
    DIRECTOR_OF,
    EXECUTIVE_OF,
    SUPERVISOR_OF,
}

REL_TYPES = frozenset(
    {*ROLE_TYPES.values(), OWNS, LENT, BORROWED, GUARANTEES, LISTED, IN_CIRCLE, ABOUT}
)

# Provenance properties carried by every loaded node and relationship: a reference,
# not the strings (docs/data-model.md "Provenance"). ``load`` is the ``num`` of the
# element's ``(:Load)`` record, ``file`` an index into that record's ``file_names``,
# ``row`` the row's line (CSV, FtM) or row index (Parquet).
PROVENANCE = ("load", "file", "row")

#: What :func:`provenance` gives, as the readers name it.
PROVENANCE_FIELDS = ("source", "source_file", "source_row", "load_id", "loaded_at")


def provenance(var: str) -> LiteralString:
    """A Cypher expression: the provenance of the node or relationship ``var`` as a map
    ``{source, source_file, source_row, load_id, loaded_at, load_outcome}``, one hop to
    its ``(:Load {num: var.load})`` record (index ``load_num``); null for an element no
    load wrote. ``loaded_at`` is the load's start, a DateTime. Not the Load's ``path``
    (where the input lay on the loading host): readers never need it to trace a record."""
    if not var.isidentifier():
        raise ModelError(f"not a Cypher variable: {var!r}")
    return cast(
        LiteralString,
        f"COLLECT {{ MATCH (ld:Load {{num: {var}.load}}) RETURN {{source: ld.source, "
        f"source_file: ld.file_names[{var}.file], source_row: {var}.row, load_id: ld.id, "
        "loaded_at: ld.started_at, load_outcome: ld.outcome} }[0]",
    )


class ModelError(CredgraphError):
    code = "model_error"


def label(name: str) -> str:
    """A label from the allow-list, back-quoted for Cypher; anything else is refused."""
    if name not in LABELS:
        raise ModelError(f"not a credgraph label: {name!r}")
    return f"`{name}`"


def not_bookkeeping(var: str) -> LiteralString:
    """``NOT x:`CredgraphSchema` AND NOT x:`Load` AND ...`` for the variable ``var``."""
    if not var.isidentifier():
        raise ModelError(f"not a Cypher variable: {var!r}")
    return cast(LiteralString, " AND ".join(f"NOT {var}:{label(b)}" for b in BOOKKEEPING))


def rel_type(name: str) -> str:
    """A relationship type from the allow-list, back-quoted; anything else is refused."""
    if name not in REL_TYPES:
        raise ModelError(f"not a credgraph relationship type: {name!r}")
    return f"`{name}`"
