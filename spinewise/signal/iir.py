"""Stateful second-order-section filtering with a low per-call cost.

``scipy.signal.sosfilt`` validates its arguments and moves axes through the array-API
layer on every call: ~400 us of Python per call against a few us of filtering for a
25-sample MQTT chunk. The pipeline calls it several times per chunk per device, so the
filters here call scipy's compiled kernel (``scipy.signal._sosfilt._sosfilt``, the one
``sosfilt`` itself ends in) directly with the layout it wants. Same kernel, same inputs:
the output is bit-identical to ``sosfilt(sos, x, axis=0, zi=zi)``. If a scipy release
moves the private kernel, we fall back to the public function.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

try:                                     # private, but stable since scipy 1.4
    from scipy.signal._sosfilt import _sosfilt as _kernel
except ImportError:                      # pragma: no cover - depends on the scipy build
    _kernel = None


def sosfilt_step(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sosfilt(sos, x, axis=0, zi=zi)`` for float64 ``x`` of shape (N,) or (N, C).

    ``zi`` has scipy's layout for axis 0: (n_sections, 2) or (n_sections, 2, C). ``sos``
    must be a C-contiguous float64 (n_sections, 6) array. Returns (y, zf); ``zi`` is not
    modified.
    """
    if _kernel is None:
        return sps.sosfilt(sos, x, axis=0, zi=zi)
    if x.ndim == 1:
        y = np.array(x, dtype=np.float64, order="C").reshape(1, -1)   # filtered in place
        z = np.array(zi, dtype=np.float64, order="C").reshape(1, -1, 2)
        _kernel(sos, y, z)
        return y.reshape(-1), z.reshape(zi.shape)
    y = np.array(x.T, dtype=np.float64, order="C")                      # (C, N)
    z = np.array(np.transpose(zi, (2, 0, 1)), dtype=np.float64, order="C")   # (C, ns, 2)
    _kernel(sos, y, z)
    return y.T, np.transpose(z, (1, 2, 0))
