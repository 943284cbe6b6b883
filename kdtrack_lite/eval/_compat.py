"""NumPy 2 compatibility shim for motmetrics 1.4.0.

motmetrics 1.4.0 (the latest release on PyPI) calls ``np.asfarray`` in
``motmetrics.distances.iou_matrix`` / ``norm2squared_matrix``. NumPy 2.0 removed that function
(NEP 52); its documented replacement is ``np.asarray(a, dtype=float)``. Without the shim every
IoU-based motmetrics evaluation fails with ``AttributeError`` under NumPy 2.

:func:`import_motmetrics` restores the alias **only when NumPy lacks it** (NumPy 1.x is left
untouched) and then imports motmetrics. It is idempotent. We add the name back on the ``numpy``
module because motmetrics looks it up there at call time (``np.asfarray(...)``); we do not edit
site-packages. Remove this module once motmetrics ships a NumPy-2-ready release.
"""

from __future__ import annotations

import numpy as np


def _asfarray(a, dtype=np.float64):
    """NumPy 1.x ``asfarray``: ``a`` as a floating-point array (integer dtypes become float64)."""
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.dtype(np.float64)
    return np.asarray(a, dtype=dtype)


def apply_numpy2_shim() -> bool:
    """Give NumPy back ``asfarray`` if it is missing. Returns True when the shim was installed."""
    if hasattr(np, "asfarray"):
        return False
    np.asfarray = _asfarray  # type: ignore[attr-defined]
    return True


def import_motmetrics():
    """Apply the shim, then import and return the ``motmetrics`` module."""
    apply_numpy2_shim()
    import motmetrics

    return motmetrics
