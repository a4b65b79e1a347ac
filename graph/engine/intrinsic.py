"""Intrinsic risk: what a subject's own adverse records say about it, per domain.

For subject ``i`` and domain ``d``::

    b[d][i] = 1 - prod_k (1 - severity_k * decay_k)      over i's active records in d
    decay_k = 0.5 ** (age_days_k / half_life_k)          (1 when the kind has no half-life)

This is the noisy-OR combination of independent pieces of evidence (Pearl 1988,
*Probabilistic Reasoning in Intelligent Systems*, sec. 4.3.2): each record alone
would make the subject adverse with probability ``severity * decay``. It is
bounded in [0, 1] (S1) and can only grow when a record is added (S2).

A record's age counts from its date (a loan's ``status_on``, else ``issued_on``; a
blacklist entry's ``listed_on``) to the as-of date. Records that are not
``active`` as of the date (``not_yet_listed``, ``delisted``, ``expired``,
``disputed``) contribute 0 and keep their status so they can be shown (S6).
Everything here is vectorised: one ``np.bincount`` of ``log1p(-p)`` per domain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from credgraph.graph.engine.arrays import FloatArray
from credgraph.graph.engine.policy import DOMAINS

if TYPE_CHECKING:
    from credgraph.graph.engine.projection import Projection


ACTIVE = "active"
EXPIRED = "expired"
DELISTED = "delisted"
DISPUTED = "disputed"
NOT_YET_LISTED = "not_yet_listed"
STATUSES: tuple[str, ...] = (ACTIVE, EXPIRED, DELISTED, DISPUTED, NOT_YET_LISTED)
"""Record statuses; the first that applies wins, in the order
``not_yet_listed`` (date after as-of), ``delisted`` (delisted_on <= as-of),
``expired`` (expires_on < as-of), ``disputed``, else ``active``."""

STATUS_DTYPE = "<U14"


def decay_factor(age_days: npt.ArrayLike, half_life_days: npt.ArrayLike) -> FloatArray:
    """``0.5 ** (age / half_life)``; ages below 0 count as 0, a NaN half-life means no decay."""
    age = np.maximum(np.asarray(age_days, dtype=np.float64), 0.0)
    hl = np.broadcast_to(np.asarray(half_life_days, dtype=np.float64), age.shape)
    out = np.ones(age.shape, dtype=np.float64)
    m = ~np.isnan(hl) & ~np.isnan(age)
    out[m] = np.exp2(-age[m] / hl[m])
    return out


def record_status(
    as_of: np.datetime64,
    date: npt.NDArray[np.datetime64],
    *,
    expires_on: npt.NDArray[np.datetime64] | None = None,
    delisted_on: npt.NDArray[np.datetime64] | None = None,
    disputed: npt.ArrayLike | None = None,
) -> npt.NDArray[np.str_]:
    """Status of each record as of ``as_of`` (see :data:`STATUSES` for the precedence).

    Missing dates (NaT) never trigger a status: a record with no ``listed_on`` is
    treated as listed, one with no ``expires_on`` as not expiring.
    """
    n = len(date)
    status = np.full(n, ACTIVE, dtype=STATUS_DTYPE)
    # Lowest precedence first: later assignments overwrite.
    if disputed is not None:
        status[np.asarray(disputed, dtype=bool)] = DISPUTED
    if expires_on is not None:
        status[~np.isnat(expires_on) & (expires_on < as_of)] = EXPIRED
    if delisted_on is not None:
        status[~np.isnat(delisted_on) & (delisted_on <= as_of)] = DELISTED
    status[~np.isnat(date) & (date > as_of)] = NOT_YET_LISTED
    return status


def noisy_or_by_group(group: npt.ArrayLike, p: npt.ArrayLike, n_groups: int) -> FloatArray:
    """``1 - prod_{k in g}(1 - p_k)`` for every group ``g`` in ``0..n_groups-1``.

    Computed as ``-expm1(sum log1p(-p))`` with :func:`np.bincount`; ``p = 1`` gives 1;
    a group of one record is returned exactly, and no group comes out below its
    largest value. The ``log``/``exp`` round trip alone can lose the last bit
    (``-expm1(log1p(-0.409)) < 0.409``): a second, tiny record would then lower a
    subject's risk (S2) and two parallel relationships give less than the stronger.
    """
    g = np.asarray(group, dtype=np.int64)
    pp = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        logs = np.log1p(-pp)
    s = np.bincount(g, weights=logs, minlength=n_groups)
    out: FloatArray = np.clip(-np.expm1(s), 0.0, 1.0)
    largest = np.zeros(n_groups)
    np.maximum.at(largest, g, pp)
    np.maximum(out, largest, out=out)
    # a group of one keeps its value exactly (no log/exp round trip)
    single = np.bincount(g, minlength=n_groups) == 1
    out[single] = largest[single]
    return out


def intrinsic_risk(projection: Projection) -> dict[str, FloatArray]:
    """Per domain, the intrinsic risk ``b`` of every subject (see module docstring)."""
    rec = projection.records
    n = projection.n_subjects
    out: dict[str, FloatArray] = {}
    for d_code, d in enumerate(DOMAINS):
        m = (rec.domain == d_code) & (rec.effective > 0.0)
        out[d] = noisy_or_by_group(rec.subject[m], rec.effective[m], n)
    return out
