"""Personal neutral posture, learned online per posture (sitting, standing).

The body model (docs/architecture.md): standing neutral is near the calibrated upright
(the mounting is calibrated on walking, which is done in the person's own upright carriage);
sitting neutral is a person-specific posterior tilt (-5 to -20 deg); slumped sitting adds a
further posterior tilt and slouched standing is forward flexion. Slouching therefore always
lies on one known side of neutral.

Sitting neutral = the **upright-most sustained sitting posture**: the most upright peak of the
still-sitting tilt distribution that holds a sustained share of the sitting time (>=
``MIN_MODE_EPOCHS`` weighted epochs and >= ``MIN_MODE_SHARE`` of the mass), located by a
mean-shift step on the histogram. A share-based quantile (e.g. the 75th percentile) learns the
slump as neutral as soon as slumps fill more than a quarter of the sitting time, which happens
to someone who slumps within seconds of sitting down and stays slumped for many minutes; a
peak needs only its own sustained time, however long the slumps around it. A peak outside the
population's plausible neutral range (``limits_deg``; body model: sitting -22..0 deg from the
upright carriage) is never neutral: it is what a slump looks like. Until an eligible peak has
been seen the population prior ``default_deg`` is the neutral, so a day that starts with a
long, deep slump is judged against the population's neutral and counts as slouch.

Which side is upright comes from ``upright_side`` (+1: higher flexion is more upright, as
sitting, whose slumps are posterior; -1: the reverse); the default derives it from
``quantile`` (> 0.5: +1, < 0.5: -1). With ``upright_side=0`` (the default for quantile 0.5:
standing, whose caller already keeps only near-upright epochs) the plain ``quantile`` of the
histogram is the neutral.

A fixed-bin histogram (0.5 deg bins) keeps memory constant over weeks; counts decay slowly
(half-life ~3 days of posture time) so the neutral follows a person whose carriage improves
with training. Event time only: the decay runs per added epoch, never per wall-clock second.
When the mounting is refined or re-calibrated the same posture reads differently: ``remount``
shifts what was learned by the change of the neutral posture's flexion (the caller,
DayTracker.set_mounting, decides when).
"""
from __future__ import annotations

import numpy as np

from spinewise.signal.body import angles_from_up

BIN_DEG = 0.5
LO_DEG, HI_DEG = -90.0, 90.0
N_BINS = int((HI_DEG - LO_DEG) / BIN_DEG)
CENTERS_DEG = LO_DEG + (np.arange(N_BINS) + 0.5) * BIN_DEG
HALF_LIFE_EPOCHS = 3 * 86400.0 / 4       # ~3 days of a posture (in 1 s epochs)
PEAK_HALF_WIDTH_BINS = 4                 # +-2 deg: a posture's sway + breathing (0.3-1 deg SD)
MIN_MODE_EPOCHS = 30.0                   # "sustained": half a minute of still sitting...
MIN_MODE_SHARE = 0.05                    # ...and 5 % of the posture's time (fidgets, brief perching are not)
CACHE_EPOCHS = 30                        # value() recomputed at most every 30 added epochs


class NeutralEstimator:
    def __init__(self, quantile: float, default_deg: float, min_epochs: int = 60,
                 limits_deg: tuple[float, float] = (LO_DEG, HI_DEG),
                 upright_side: int | None = None) -> None:
        self.quantile = float(quantile)
        self.limits_deg = (float(limits_deg[0]), float(limits_deg[1]))
        self.default_deg = float(default_deg)
        self.min_epochs = int(min_epochs)
        if upright_side is None:
            upright_side = 0 if self.quantile == 0.5 else (1 if self.quantile > 0.5 else -1)
        if upright_side not in (-1, 0, 1):
            raise ValueError(f"upright_side must be -1, 0 or 1, not {upright_side!r}")
        self.upright_side = int(upright_side)
        self.hist = np.zeros(N_BINS)
        self._decay64 = 0.5 ** (64.0 / HALF_LIFE_EPOCHS)
        self._cached: float | None = None
        self._since = 0
        self._count = 0.0

    def add(self, flexion_deg: float, weight: float = 1.0) -> None:
        if not np.isfinite(flexion_deg) or not weight > 0:
            return                         # a NaN tilt or a zero weight teaches nothing
        i = int((min(max(flexion_deg, LO_DEG), HI_DEG - 1e-9) - LO_DEG) / BIN_DEG)
        if self._since % 64 == 0:          # decay in batches of 64 epochs: cheap
            self.hist *= self._decay64
            self._count *= self._decay64
        self.hist[i] += weight
        self._count += weight
        self._since += 1
        if self._since % CACHE_EPOCHS == 0:
            self._cached = None

    @property
    def count(self) -> float:
        return self._count

    @property
    def known(self) -> bool:
        return self.count >= self.min_epochs

    def value(self) -> float:
        """Neutral flexion in degrees (the prior ``default_deg`` until enough epochs were seen)."""
        if not self.known:
            return self.default_deg
        if self._cached is None:
            if self.upright_side == 0:
                v = self._quantile()
            else:
                v = self._upright_mode()
            self._cached = min(max(v, self.limits_deg[0]), self.limits_deg[1])
        return self._cached

    def _quantile(self) -> float:
        c = np.cumsum(self.hist)
        i = int(np.searchsorted(c, self.quantile * c[-1]))
        return float(CENTERS_DEG[min(i, N_BINS - 1)])

    def _upright_mode(self) -> float:
        """Most upright sustained peak whose centre lies within the limits, else the prior."""
        w = PEAK_HALF_WIDTH_BINS
        mass = np.convolve(self.hist, np.ones(2 * w + 1), mode="same")   # epochs within +-2 deg
        need = max(MIN_MODE_EPOCHS, MIN_MODE_SHARE * float(self.hist.sum()))
        left = np.concatenate(([-1.0], mass[:-1]))
        right = np.concatenate((mass[1:], [-1.0]))
        peaks = np.flatnonzero((mass >= need) & (mass >= left) & (mass > right))
        for i in (peaks[::-1] if self.upright_side > 0 else peaks):
            x = self._mean_shift(float(CENTERS_DEG[i]))
            # a peak beyond the plausible neutral range is a slump, never neutral
            if self.limits_deg[0] <= x <= self.limits_deg[1]:
                return x
        return self.default_deg

    def _mean_shift(self, x: float) -> float:
        """The local mean within +-2 deg, iterated: a sub-bin estimate of the peak's centre."""
        half = PEAK_HALF_WIDTH_BINS * BIN_DEG + 1e-9
        for _ in range(8):
            sel = np.abs(CENTERS_DEG - x) <= half
            h = self.hist[sel]
            if h.sum() <= 0:
                break
            nx = float(np.dot(h, CENTERS_DEG[sel]) / h.sum())
            done = abs(nx - x) < 0.01
            x = nx
            if done:
                break
        return x

    def shift(self, delta_deg: float) -> None:
        """Move everything learned by ``delta_deg``: the same posture now reads ``delta_deg``
        more (the mounting was re-calibrated). Sub-bin shifts split each bin linearly."""
        if not np.isfinite(delta_deg) or delta_deg == 0.0:
            return
        k = float(delta_deg) / BIN_DEG
        n = int(np.floor(k))
        frac = k - n
        out = np.zeros(N_BINS)
        for off, w in ((n, 1.0 - frac), (n + 1, frac)):
            src = np.arange(N_BINS)
            dst = np.clip(src + off, 0, N_BINS - 1)        # the extremes pile up at the ends
            np.add.at(out, dst, w * self.hist)
        self.hist = out
        self._cached = None

    def remount(self, R_old: np.ndarray, R_new: np.ndarray) -> float:
        """The mounting changed from ``R_old`` to ``R_new`` (R_sensor_from_body): shift what was
        learned by how much the current neutral posture's flexion changes. -> the shift (deg)."""
        f = np.radians(self.value())
        up_sensor = np.asarray(R_old, dtype=np.float64) @ np.array([-np.sin(f), 0.0, np.cos(f)])
        new = angles_from_up(up_sensor @ np.asarray(R_new, dtype=np.float64))[0][0]
        delta = float(new - np.degrees(f))
        self.shift(delta)
        return delta

    def get_state(self) -> dict:
        return {"hist": self.hist.copy(), "since": self._since, "cached": self._cached,
                "count": self._count}

    def set_state(self, s: dict) -> None:
        self.hist = np.asarray(s["hist"], dtype=np.float64)
        self._since = int(s["since"])
        self._cached = s["cached"]
        self._count = float(s["count"])
