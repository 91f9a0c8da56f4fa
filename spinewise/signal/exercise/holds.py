"""Stability of an isometric hold (plank, side plank) from running sums: bounded memory.

- sway_deg_rms: RMS of the body's rotation about its linear trend over the hold.
- drift_deg: how far that trend carried the body over the hold (hips sagging or rising).
- tremor_mg_rms: 8-12 Hz acceleration RMS; rising tremor near the end is fatigue.
- breath: respiration rocks the pelvis at 0.1-0.7 Hz; a stretch without that rhythm while
  holding is a held breath (guide: "Common Mistakes That Make Exercise Ineffective or Harmful"
  and Core Stabilization - Dead Bug: "holding breath").
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from spinewise.signal.exercise.frames import FRAME_S

TREMOR_WINDOW_S = 5.0
BREATH_BAND_HZ = (0.1, 0.7)
BREATH_WINDOW_S = 2.0
ROLL_TAU_S = 2.0            # smoothing of the roll before its swing is taken (sway, tremor):
                           # bird dog rolls hold 5-10 s, plank effort shakes at 3-12 Hz


_BREATH_SOS = sps.butter(2, BREATH_BAND_HZ, btype="bandpass", fs=1.0 / FRAME_S, output="sos")
_BREATH_SECTIONS = [tuple(float(v) for v in row) for row in _BREATH_SOS]


class HoldMeter:
    def __init__(self, t0_s: float, up0: np.ndarray) -> None:
        self.t0_s = float(t0_s)
        self.up0 = [float(v) for v in up0]
        self.n = 0
        self.st = 0.0       # sums for the per-axis linear fit of rotation vs time
        self.stt = 0.0
        self.sx = [0.0, 0.0, 0.0]
        self.stx = [0.0, 0.0, 0.0]
        self.sxx = [0.0, 0.0, 0.0]
        self.trem_first: list[float] = []
        self.trem_last: list[float] = []
        self.trem_sum = 0.0
        self.trem_n = 0
        self.zi: list | None = None
        self.win: list[float] = []          # band signal squares of the current 2 s window
        self.breath_rms: list[float] = []   # per-window breath RMS (bounded: summarised below)
        self.quiet_run_s = 0.0
        self.quiet_max_s = 0.0
        self.breath_ref: float | None = None
        self.last_t_s = float(t0_s)
        self.roll_lp = 0.0          # smoothed roll about the trunk's long axis (deg)
        self.roll_lo = 0.0
        self.roll_hi = 0.0

    def get_state(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict) -> "HoldMeter":
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        return obj

    def add(self, t_s: float, rot_deg: np.ndarray, tremor_g2: float) -> None:
        """One frame: rotation since the hold began (deg, body frame) and tremor power."""
        x = np.asarray(rot_deg, dtype=np.float64)
        dt = t_s - self.t0_s
        self.n += 1
        self.st += dt
        self.stt += dt * dt
        for k in range(3):
            self.sx[k] += x[k]
            self.stx[k] += dt * x[k]
            self.sxx[k] += x[k] * x[k]
        if np.isfinite(tremor_g2):
            self.trem_sum += float(tremor_g2)
            self.trem_n += 1
            nwin = int(TREMOR_WINDOW_S / FRAME_S)
            if len(self.trem_first) < nwin:
                self.trem_first.append(float(tremor_g2))
            self.trem_last.append(float(tremor_g2))
            if len(self.trem_last) > nwin:
                del self.trem_last[0]
        self._breath(x)
        self.roll_lp += min(1.0, FRAME_S / ROLL_TAU_S) * (float(x[2]) - self.roll_lp)
        self.roll_lo = min(self.roll_lo, self.roll_lp)
        self.roll_hi = max(self.roll_hi, self.roll_lp)
        self.last_t_s = float(t_s)

    def _breath(self, x: np.ndarray) -> None:
        # scipy.signal.sosfilt of one frame, written out: its call overhead on one sample was
        # most of a hold frame's time. Direct form II transposed per section, the operations
        # in the order of scipy's _sosfilt (bit-identical: tests/signal/exercise/test_holds.py)
        zi = ([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]] for _ in _BREATH_SECTIONS] if self.zi is None
              else [[list(z[0]), list(z[1])] for z in self.zi])
        y = [0.0, 0.0, 0.0]
        for c in range(3):
            x_cur = float(x[c])
            for (b0, b1, b2, _a0, a1, a2), z in zip(_BREATH_SECTIONS, zi):
                x_new = b0 * x_cur + z[0][c]
                z[0][c] = b1 * x_cur - a1 * x_new + z[1][c]
                z[1][c] = b2 * x_cur - a2 * x_new
                x_cur = x_new
            y[c] = x_cur
        self.zi = zi
        self.win.append(y[0] * y[0] + y[1] * y[1] + y[2] * y[2])
        if len(self.win) * FRAME_S < BREATH_WINDOW_S:
            return
        rms = float(np.sqrt(np.mean(self.win)))
        self.win = []
        # the filter settles in ~4 s; the first windows set the breathing reference
        self.breath_rms.append(rms)
        if len(self.breath_rms) == 4:
            self.breath_ref = float(np.median(self.breath_rms[1:]))
        if len(self.breath_rms) > 4:
            del self.breath_rms[1]
        if self.breath_ref and rms < 0.3 * self.breath_ref:
            self.quiet_run_s += BREATH_WINDOW_S
            self.quiet_max_s = max(self.quiet_max_s, self.quiet_run_s)
        else:
            self.quiet_run_s = 0.0

    # -- figures -------------------------------------------------------------------------
    def duration_s(self) -> float:
        return self.last_t_s - self.t0_s

    def sway_and_drift_deg(self) -> tuple[float, float]:
        if self.n < 3:
            return 0.0, 0.0
        n = self.n
        var_t = self.stt / n - (self.st / n) ** 2
        res2 = 0.0
        drift2 = 0.0
        for k in range(3):
            mx = self.sx[k] / n
            cov = self.stx[k] / n - (self.st / n) * mx
            var_x = self.sxx[k] / n - mx * mx
            slope = cov / var_t if var_t > 1e-12 else 0.0
            res2 += max(var_x - slope * cov, 0.0)
            drift2 += (slope * self.duration_s()) ** 2
        return float(np.sqrt(res2)), float(np.sqrt(drift2))

    def roll_swing_deg(self) -> float:
        """Range of the smoothed roll since the hold began: a plank stays square, a bird
        dog tips the pelvis 1-4.5 deg towards each lifted leg in turn."""
        return self.roll_hi - self.roll_lo

    def tremor_mg(self) -> tuple[float | None, float | None]:
        """(start, end) tremor RMS in mg, None when unavailable."""
        if not self.trem_first:
            return None, None
        return (1000.0 * float(np.sqrt(np.mean(self.trem_first))),
                1000.0 * float(np.sqrt(np.mean(self.trem_last))))

    def tremor_rms_mg(self) -> float | None:
        if not self.trem_n:
            return None
        return 1000.0 * float(np.sqrt(self.trem_sum / self.trem_n))
