"""Response models of the HTTP API: the OpenAPI description is generated from these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable code: not_found, forbidden, ...")
    message: str
    field: str | None = Field(None, description="the input field the error is about")
    hint: str | None = None
    status: int = Field(description="the HTTP status, repeated")


class ErrorResponse(BaseModel):
    """The one shape of every error (4xx and 5xx alike)."""

    error: ErrorBody


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when the database does not answer")
    database: bool
    current_run: str | None = None


class Page(BaseModel):
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class SubjectHit(BaseModel):
    id: str
    kind: str
    name: str | None = Field(description="a person's initials for the viewer role")
    trust_score: float | None
    matched: str = Field(description="id, name (name or alias), or all (no query)")


class SubjectPage(Page):
    items: list[SubjectHit]
    run: str | None


class Risk(BaseModel):
    intrinsic: float
    network: float
    total: float


class SubjectScore(BaseModel):
    trust_score: float
    risk: Risk
    run: str | None


class SubjectFields(BaseModel):
    """A subject's data as the caller's role may see it (null: absent or withheld)."""

    name: str | None = None
    aliases: list[str] | None = None
    country: str | None = None
    birth_date: str | None = Field(None, description="investigator and admin only")
    national_id: str | None = Field(None, description="masked; investigator and admin only")
    net_worth: float | None = Field(None, description="investigator and admin only")
    registration_no: str | None = None
    region: str | None = None
    industry: str | None = None
    founded_on: str | None = None
    status: str | None = None
    registered_capital: float | None = None
    equity: float | None = None
    total_assets: float | None = None


class Provenance(BaseModel):
    source: str | None = None
    source_file: str | None = None
    source_row: int | None = None
    load_id: Any = None
    loaded_at: str | None = None


class Subject(BaseModel):
    id: str
    kind: str
    fields: SubjectFields
    provenance: Provenance
    score: SubjectScore | None
    listings: list[dict[str, Any]]
    loans_borrowed: list[dict[str, Any]]


class DomainRisk(Risk):
    network_uncapped: float


class Centrality(BaseModel):
    pagerank: float
    betweenness: float
    kcore: int
    circle: int | None


class RunRef(BaseModel):
    id: str
    as_of: str
    policy_hash: str


class Contribution(BaseModel):
    domain: str
    records: list[str]
    source_subject: str
    amount: float
    path: list[Any]
    hops: int
    strength: float
    record_date_basis: dict[str, str] = Field(
        default_factory=dict,
        description="the records whose date is not the source's own, by id: loaded (no date, "
        "counted from its load) or partial (a year or month, counted from its first day)",
    )


class Record(BaseModel):
    id: str
    kind: str
    label: str
    domain: str
    date: str | None
    date_basis: str = Field(
        "input",
        description="input: the date is the source's own; loaded: the source gave no date, "
        "the record counts from the day it was loaded; partial: the source gave only a year "
        "or a year and month, the record counts from its first day",
    )
    severity: float
    decay: float
    effective: float
    status: str


class HistoryPoint(BaseModel):
    run: str
    as_of: str | None
    trust_score: float
    current: bool | None


class Score(BaseModel):
    """A trust score with its explanation (PRODUCT.md, principle 1)."""

    subject: str
    kind: str
    trust_score: float
    risk: Risk
    domains: dict[str, DomainRisk]
    centrality: Centrality
    run: RunRef
    contributions: list[Contribution] | None
    records: list[Record] | None
    explanation_note: str | None = Field(
        None, description="why contributions are null (the run's saved projection is absent)"
    )
    history: list[HistoryPoint]


class Node(BaseModel):
    key: str = Field(description="unique in the response: kind:id")
    id: str
    kind: str = Field(description="person, firm, loan or blacklist_entry")
    label: str
    depth: int
    trust_score: float | None
    risk: Risk | None
    amount: float | None
    currency: str | None
    status: str | None


class Edge(BaseModel):
    key: str
    source: str
    target: str
    kind: str
    amount: float | None
    share: float | None
    guarantee_kind: str | None


class Neighbourhood(BaseModel):
    centre: str
    depth: int
    limit: int
    kinds: list[str]
    run: str | None
    nodes: list[Node]
    edges: list[Edge]
    truncated: str | None = Field(
        description="null when whole; 'limit' when the node limit cut it, 'time' when the "
        "time limit did"
    )


class RunSummary(BaseModel):
    id: str
    status: str | None
    current: bool
    as_of: str | None
    started_at: str | None
    ended_at: str | None
    policy_hash: str | None
    subjects: int | None


class RunPage(Page):
    items: list[RunSummary]


class RunDetail(RunSummary):
    circles: int | None
    counts: Any = None
    timings: Any = None
    policy: Any = None
    error: str | None = None


class AuditEvent(BaseModel):
    id: str
    at: str
    actor: str
    role: str | None
    subject: str
    action: str
    reason: str | None
    via: str
    run: str | None
    detail: str | None = None  # a refused lookup's "refused: why", a query's parameters


class AuditPage(Page):
    items: list[AuditEvent]


class QueryList(BaseModel):
    items: list[dict[str, Any]]


class QueryResult(BaseModel):
    model_config = {"extra": "allow"}
