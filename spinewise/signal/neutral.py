"""Personal neutral posture, learned online per posture (sitting, standing).

The body model (docs/architecture.md): standing neutral is near the calibrated upright
(the mounting is calibrated on walking, which is done in the person's own upright carriage);
sitting neutral is a person-specific posterior tilt (-5 to -20 deg); slumped sitting adds a
further posterior tilt and slouched standing is forward flexion. Slouching therefore always
lies on one known side of neutral, so neutral is a one-sided robust quantile of the time
spent in that posture: the 75th percentile of sitting flexion (slumps are more negative) and
the 30th percentile of standing flexion (slouches are more positive). A fixed-bin histogram
(0.5 deg bins) keeps memory constant over weeks; counts decay slowly (half-life ~3 days of
posture time) so the neutral follows a person whose carriage improves with training. The value is kept
within the body model's range (sitting -22..0 deg from the upright carriage) so that a day
that starts with a long slump cannot teach "slumped" as neutral. People sit down upright and
slump later, so the first settled seconds after a sit-down count ``SETTLED_WEIGHT`` times.
"""
from __future__ import annotations

import numpy as np

BIN_DEG = 0.5
LO_DEG, HI_DEG = -90.0, 90.0
N_BINS = int((HI_DEG - LO_DEG) / BIN_DEG)
HALF_LIFE_EPOCHS = 3 * 86400.0 / 4       # ~3 days of a posture (in 1 s epochs)


class NeutralEstimator:
    def __init__(self, quantile: float, default_deg: float, min_epochs: int = 60,
                 limits_deg: tuple[float, float] = (LO_DEG, HI_DEG)) -> None:
        self.quantile = float(quantile)
        self.limits_deg = limits_deg
        self.default_deg = float(default_deg)
        self.min_epochs = int(min_epochs)
        self.hist = np.zeros(N_BINS)
        self._decay64 = 0.5 ** (64.0 / HALF_LIFE_EPOCHS)
        self._cached: float | None = None
        self._since = 0
        self._count = 0.0

    def add(self, flexion_deg: float, weight: float = 1.0) -> None:
        i = int((min(max(flexion_deg, LO_DEG), HI_DEG - 1e-9) - LO_DEG) / BIN_DEG)
        if self._since % 64 == 0:          # decay in batches of 64 epochs: cheap
            self.hist *= self._decay64
        self.hist[i] += weight
        self._count = self._count * (self._decay64 if self._since % 64 == 0 else 1.0) + weight
        self._since += 1
        if self._since % 30 == 0:
            self._cached = None

    @property
    def count(self) -> float:
        return self._count

    @property
    def known(self) -> bool:
        return self.count >= self.min_epochs

    def value(self) -> float:
        """Neutral flexion in degrees (the default until enough epochs were seen)."""
        if not self.known:
            return self.default_deg
        if self._cached is None:
            c = np.cumsum(self.hist)
            i = int(np.searchsorted(c, self.quantile * c[-1]))
            self._cached = min(max(LO_DEG + (i + 0.5) * BIN_DEG, self.limits_deg[0]), self.limits_deg[1])
        return self._cached

    def get_state(self) -> dict:
        return {"hist": self.hist.copy(), "since": self._since, "cached": self._cached,
                "count": self._count}

    def set_state(self, s: dict) -> None:
        self.hist = np.asarray(s["hist"], dtype=np.float64)
        self._since = int(s["since"])
        self._cached = s["cached"]
        self._count = float(s["count"])
