"""BodySamples -> 10 Hz feature frames, identical whatever the chunking.

Exercise motion lives below ~2 Hz, so the trackers work on fixed 0.1 s frames aligned to
absolute event time (bin = floor(t_s / 0.1)). A bin is emitted once a later sample arrives,
so a frame never depends on where a chunk boundary fell. Per frame we keep the mean gravity
direction, the dynamic acceleration and (when the rate allows) the 8-12 Hz tremor power
from a Butterworth band-pass whose state is carried across chunks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from spinewise.signal.body import BodySamples

log = logging.getLogger(__name__)

FRAME_S = 0.1
TREMOR_BAND_HZ = (8.0, 12.0)
# Without a gyro the BodyTracker's gravity is a 0.3 Hz low-pass (good for posture, but it
# shrinks a 1.5 s rep to a fifth). Exercise moves are slow and their linear acceleration is
# mostly along gravity (removed by normalising), so a 1.5 Hz low-pass of the body-frame
# accelerometer follows reps faithfully.
ACC_ONLY_UP_CUTOFF_HZ = 1.5


@dataclass(frozen=True, eq=False)
class Frames:
    t_s: np.ndarray          # (F,) frame centre
    up: np.ndarray           # (F, 3) unit mean world-up in the body frame
    dyn_mg: np.ndarray       # (F,) RMS |acc - up| within the frame, mg (motion energy)
    tremor_g2: np.ndarray    # (F,) mean square of 8-12 Hz band acc, g^2; NaN = unavailable
    n: np.ndarray            # (F,) samples in the frame

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


def tremor_available(rate_hz: float, min_rate_hz: float) -> bool:
    """8-12 Hz needs the band well below Nyquist: a sensor's anti-alias roll-off eats the
    top of the band and content at fs-12..fs-8 Hz folds into it (25 Hz: 13-17 Hz -> 8-12)."""
    return rate_hz >= max(min_rate_hz, 2.0 * TREMOR_BAND_HZ[1] * 1.05)


class FrameBuilder:
    def __init__(self, rate_hz: float, tremor_min_rate_hz: float = 30.0) -> None:
        self.rate_hz = float(rate_hz)
        self.has_tremor = tremor_available(self.rate_hz, tremor_min_rate_hz)
        self._sos = (sps.butter(2, TREMOR_BAND_HZ, btype="bandpass", fs=self.rate_hz, output="sos")
                     if self.has_tremor else None)
        self._zi: np.ndarray | None = None
        self._lp = sps.butter(2, min(ACC_ONLY_UP_CUTOFF_HZ, 0.4 * self.rate_hz), fs=self.rate_hz,
                              output="sos")
        self._lp_zi: np.ndarray | None = None
        self._bin: int | None = None
        self._acc = np.zeros(6)   # partial bin sums: up(3), dyn^2, tremor^2, n

    def get_state(self) -> dict:
        return {"zi": None if self._zi is None else self._zi.tolist(), "bin": self._bin,
                "acc": self._acc.tolist(),
                "lp_zi": None if self._lp_zi is None else self._lp_zi.tolist()}

    def set_state(self, state: dict) -> None:
        self._zi = None if state["zi"] is None else np.asarray(state["zi"], dtype=np.float64)
        self._bin = state["bin"]
        self._acc = np.asarray(state["acc"], dtype=np.float64)
        self._lp_zi = None if state["lp_zi"] is None else np.asarray(state["lp_zi"], dtype=np.float64)

    def update(self, body: BodySamples) -> Frames:
        n = len(body)
        if n == 0:
            return _empty()
        acc = np.asarray(body.acc_body_g, dtype=np.float64)
        if body.has_gyro:
            up = np.asarray(body.up_body, dtype=np.float64)
        else:
            if self._lp_zi is None:   # start settled on the first sample, not from zero
                self._lp_zi = sps.sosfilt_zi(self._lp)[:, :, None] * acc[0][None, None, :]
            up, self._lp_zi = sps.sosfilt(self._lp, acc, axis=0, zi=self._lp_zi)
            up = up / np.linalg.norm(up, axis=1, keepdims=True).clip(1e-9)
        dyn2 = np.sum((acc - up) ** 2, axis=1)
        if self._sos is not None:
            if self._zi is None:
                self._zi = np.zeros((self._sos.shape[0], 2, 3))
            band, self._zi = sps.sosfilt(self._sos, acc, axis=0, zi=self._zi)
            trem2 = np.sum(band ** 2, axis=1)
        else:
            trem2 = np.full(n, np.nan)
        bins = np.floor(np.asarray(body.t_s, dtype=np.float64) / FRAME_S).astype(np.int64)
        vals = np.column_stack([up, dyn2, trem2, np.ones(n)])
        # Samples whose bin is older than the open one (clock jitter) join the open bin.
        if self._bin is not None:
            bins = np.maximum(bins, self._bin)
        bins = np.maximum.accumulate(bins)
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        sums = np.add.reduceat(vals, starts, axis=0)
        ids = bins[starts]
        if self._bin is not None and ids[0] == self._bin:
            sums[0] += self._acc
        elif self._bin is not None:
            sums = np.vstack([self._acc, sums])
            ids = np.r_[self._bin, ids]
        # The last bin stays open until a later sample arrives.
        self._bin, self._acc = int(ids[-1]), sums[-1].copy()
        return _frames(ids[:-1], sums[:-1])

    def flush(self) -> Frames:
        if self._bin is None or self._acc[5] == 0:
            return _empty()
        out = _frames(np.array([self._bin]), self._acc[None, :])
        self._acc = np.zeros(6)
        return out


def _frames(ids: np.ndarray, sums: np.ndarray) -> Frames:
    if len(ids) == 0:
        return _empty()
    cnt = sums[:, 5]
    up = sums[:, :3] / np.linalg.norm(sums[:, :3], axis=1, keepdims=True).clip(1e-12)
    return Frames(t_s=(ids + 0.5) * FRAME_S, up=up, dyn_mg=1000.0 * np.sqrt(sums[:, 3] / cnt),
                  tremor_g2=sums[:, 4] / cnt, n=cnt)


def _empty() -> Frames:
    z = np.zeros(0)
    return Frames(z, np.zeros((0, 3)), z, z, z)
