"""The one paging rule: next_offset is None on the last page and where the next page
would start past the offset the API accepts (it pointed there, and following it was
a 422)."""

from __future__ import annotations

from credgraph.services.paging import MAX_OFFSET, next_offset


def test_next_offset() -> None:
    assert next_offset(0, 20, more=True) == 20
    assert next_offset(40, 20, more=False) is None
    assert next_offset(MAX_OFFSET - 20, 20, more=True) == MAX_OFFSET  # still accepted
    assert next_offset(MAX_OFFSET - 10, 20, more=True) is None  # would be refused
    assert next_offset(MAX_OFFSET, 1, more=True) is None
