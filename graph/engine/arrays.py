"""The array types the engine computes on (numpy, one alias per element type).

Every engine module and the generator name arrays with these aliases, so a
signature says what it holds: ``IntArray`` of subject indices, ``FloatArray``
of risks or amounts, ``DateArray`` of days, ``ObjArray`` of ids.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]
ObjArray = npt.NDArray[np.object_]
StrArray = npt.NDArray[np.str_]


def descending_ranks(values: npt.ArrayLike, ids: npt.ArrayLike) -> IntArray:
    """Competition-free ranks, largest value first: ``rank[i] = 1 + #{j : (-v_j, id_j) <
    (-v_i, id_i)}``, ties broken by id in code-point order (Cypher's ``ORDER BY v DESC,
    id``), so that ``rank <= k`` selects exactly the ``k`` rows such a query returns.

    A run stores these beside each measure so that a "top k" query reads k index
    entries instead of sorting every Score of a run (docs/queries.md).
    """
    v = np.asarray(values, dtype=np.float64)
    keys = np.asarray(ids).astype(str)
    order = np.lexsort((keys, -v))
    ranks = np.empty(len(v), dtype=np.int64)
    ranks[order] = np.arange(1, len(v) + 1, dtype=np.int64)
    return ranks
