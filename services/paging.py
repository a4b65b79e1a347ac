"""Pages of a listing (subjects, runs, the audit log): one rule for every edge.

A page is ``limit`` items from ``offset``; ``offset`` is at most :data:`MAX_OFFSET`
(the API refuses more: skipping further makes the database read and drop that many
rows). ``next_offset`` is None on the last page, and also where the next page would
start past the cap: a listing that long is narrowed by its filters, not paged.
"""

from __future__ import annotations

MAX_OFFSET = 100_000


def next_offset(offset: int, limit: int, more: bool) -> int | None:
    """Where the next page starts, or None (last page, or past :data:`MAX_OFFSET`)."""
    nxt = offset + limit
    return nxt if more and nxt <= MAX_OFFSET else None
