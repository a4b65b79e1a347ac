"""The fence's message without a server: whom the lease was lost to."""

from __future__ import annotations

from typing import Any, cast

import pytest

from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import Lease, LeaseLost


class _Tx:
    def __init__(self, rec: dict[str, Any] | None) -> None:
        self.rec = rec

    def run(self, *_: Any, **__: Any) -> _Tx:
        return self

    def single(self) -> dict[str, Any] | None:
        return self.rec


def _lease() -> Lease:
    lease = Lease(cast(Gateway, None), "load-a", "load")
    lease.token = 1
    return lease


def test_lost_to_a_writer_that_released_it_says_so_not_none() -> None:
    with pytest.raises(LeaseLost) as e:
        _lease().fence(_Tx({"holder": None, "token": 2}))
    assert "None" not in str(e.value)
    assert "another writer, which has since released it" in str(e.value)


def test_lost_to_a_holder_names_it() -> None:
    with pytest.raises(LeaseLost) as e:
        _lease().fence(_Tx({"holder": "load-b", "token": 2}))
    assert "lease to load-b;" in str(e.value)
