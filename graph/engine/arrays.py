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
