"""What |specific force| - 1 g reads at rest, as a function of the tilt: the accelerometer's bias
seen along gravity.

An accelerometer with bias b (and a gravity reading of ~1 g) measures |g_hat + b| - 1 ~ b . up
at rest: a constant offset that *changes with the tilt*. A forward lean of 30 deg moves it by up
to |b| / 2 (0.1 m/s^2 for a 0.02 g bias), for as long as the lean lasts, which double-integrated
over a few seconds is tens of centimetres of phantom vertical travel (activity.net_travel_m).
The model ``offset(up) = c + b . up`` (body frame) is learned from the recording's own still
epochs by exponentially forgotten least squares with a small ridge (postures that cover only a
few tilts leave b partly unobservable: the ridge keeps it small, and the fit stays right for
the tilts it has seen). Four numbers of state plus a 4x4 matrix; event time only.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

HALF_LIFE_EPOCHS = 2 * 3600.0      # forgets over ~2 h of still time (temperature drift)
RIDGE = 30.0                       # prior weight (epochs) pulling c and b towards 0
FOLD_EPOCHS = 4096                 # still epochs kept unfolded at most (see add)


class AccBiasModel:
    def __init__(self) -> None:
        self._forget = 0.5 ** (1.0 / HALF_LIFE_EPOCHS)
        self.xtx = np.zeros((4, 4))
        self.xty = np.zeros(4)
        self.n = 0.0
        self._pending: list[tuple[float, float, float, float]] = []   # see add

    def add(self, up_body, offset_m_s2: float) -> None:
        """A still epoch: its mean gravity direction and its mean |acc| - 1 g (m/s^2).

        Kept as four floats and folded into the sums when they are next needed (_fold):
        most epochs of a day are still, and numpy's per-call cost on a 4x4 was most of
        the day classifier's time per epoch."""
        ux, uy, uz, off = float(up_body[0]), float(up_body[1]), float(up_body[2]), float(offset_m_s2)
        if not (math.isfinite(off) and math.isfinite(ux) and math.isfinite(uy) and math.isfinite(uz)):
            return
        self._pending.append((ux, uy, uz, off))
        if len(self._pending) >= FOLD_EPOCHS:
            self._fold()

    def _fold(self) -> None:
        """Fold the pending epochs in: per epoch ``s = s * forget + x x^T`` (and ``x * offset``,
        ``n + 1``), in order. As a first-order recursive filter along the epochs (lfilter:
        y = x + forget * y_prev, the same two roundings per epoch as the one-at-a-time
        update, so the sums are bit-identical: tests/signal/test_acc_bias.py)."""
        if not self._pending:
            return
        p = np.array(self._pending)
        self._pending = []
        x = np.column_stack([np.ones(len(p)), p[:, :3]])                    # (K, 4)
        v = np.concatenate([(x[:, :, None] * x[:, None, :]).reshape(len(p), 16),
                            x * p[:, 3:4], np.ones((len(p), 1))], axis=1)   # (K, 21)
        y0 = np.concatenate([self.xtx.reshape(16), self.xty, [self.n]])
        f = self._forget
        y, _ = lfilter([1.0], [1.0, -f], v, axis=0, zi=(y0 * f)[None, :])
        last = y[-1]
        self.xtx, self.xty, self.n = last[:16].reshape(4, 4).copy(), last[16:20].copy(), float(last[20])

    def coefficients(self) -> np.ndarray:
        """[c, bx, by, bz] in m/s^2 (zeros before anything was seen)."""
        self._fold()
        if self.n <= 0:
            return np.zeros(4)
        return np.linalg.solve(self.xtx + RIDGE * np.eye(4), self.xty)

    def offset(self, up_body: np.ndarray) -> float:
        c = self.coefficients()
        return float(c[0] + np.dot(c[1:], up_body))

    def get_state(self) -> dict:
        self._fold()
        return {"xtx": self.xtx.copy(), "xty": self.xty.copy(), "n": self.n}

    def set_state(self, s: dict) -> None:
        self.xtx = np.asarray(s["xtx"], dtype=np.float64).reshape(4, 4)
        self.xty = np.asarray(s["xty"], dtype=np.float64).reshape(4)
        self.n = float(s["n"])
        self._pending = []
