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

import numpy as np

HALF_LIFE_EPOCHS = 2 * 3600.0      # forgets over ~2 h of still time (temperature drift)
RIDGE = 30.0                       # prior weight (epochs) pulling c and b towards 0


class AccBiasModel:
    def __init__(self) -> None:
        self._forget = 0.5 ** (1.0 / HALF_LIFE_EPOCHS)
        self.xtx = np.zeros((4, 4))
        self.xty = np.zeros(4)
        self.n = 0.0

    def add(self, up_body: np.ndarray, offset_m_s2: float) -> None:
        """A still epoch: its mean gravity direction and its mean |acc| - 1 g (m/s^2)."""
        if not np.isfinite(offset_m_s2) or not np.all(np.isfinite(up_body)):
            return
        x = np.array([1.0, up_body[0], up_body[1], up_body[2]])
        self.xtx *= self._forget
        self.xty *= self._forget
        self.n = self.n * self._forget + 1.0
        self.xtx += np.outer(x, x)
        self.xty += x * offset_m_s2

    def coefficients(self) -> np.ndarray:
        """[c, bx, by, bz] in m/s^2 (zeros before anything was seen)."""
        if self.n <= 0:
            return np.zeros(4)
        return np.linalg.solve(self.xtx + RIDGE * np.eye(4), self.xty)

    def offset(self, up_body: np.ndarray) -> float:
        c = self.coefficients()
        return float(c[0] + np.dot(c[1:], up_body))

    def get_state(self) -> dict:
        return {"xtx": self.xtx.copy(), "xty": self.xty.copy(), "n": self.n}

    def set_state(self, s: dict) -> None:
        self.xtx = np.asarray(s["xtx"], dtype=np.float64).reshape(4, 4)
        self.xty = np.asarray(s["xty"], dtype=np.float64).reshape(4)
        self.n = float(s["n"])
