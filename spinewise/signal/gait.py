"""Step candidates from vertical acceleration, independent of how the clip is mounted.

Vertical acceleration is the specific force projected on the tracked world-up direction,
minus 1 g, so it needs no mounting calibration (walking is also what calibrates the
mounting). A 0.6-3.5 Hz Butterworth band-pass keeps the step fundamental of slow to brisk
walking (cadence 70-200 steps/min) and drops posture changes and tremor. Each step gives one
cycle of vertical acceleration at the lower back (Zijlstra & Hof 2003); a step candidate is
an upward crossing of +threshold after the signal was last below -threshold (hysteresis,
so sensor noise cannot double-count). The state is the band-pass ``zi`` and the hysteresis
side, both carried across chunks: results do not depend on the chunking.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from spinewise.signal.iir import sosfilt_step

STEP_BAND_HZ = (0.6, 3.5)
STEP_THRESHOLD_G = 0.04


class StepDetector:
    def __init__(self, rate_hz: float, threshold_g: float = STEP_THRESHOLD_G) -> None:
        self.rate_hz = float(rate_hz)
        hi = min(STEP_BAND_HZ[1], 0.45 * self.rate_hz)
        self._sos = sps.butter(2, (STEP_BAND_HZ[0], hi), btype="bandpass", fs=self.rate_hz,
                               output="sos")
        self.threshold_g = float(threshold_g)
        self._zi: np.ndarray | None = None
        self._side = 0   # 1 = last extreme above +thr, 0 = below -thr (or unknown)

    def update(self, acc_g: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-> (vertical band-passed acc in g (N,), step flag per sample (N,) bool)."""
        n = acc_g.shape[0]
        if n == 0:
            return np.zeros(0), np.zeros(0, dtype=bool)
        a_v = np.einsum("ij,ij->i", acc_g, up) - 1.0
        if self._zi is None:
            self._zi = np.zeros((self._sos.shape[0], 2))
        bp, self._zi = sosfilt_step(self._sos, a_v, self._zi)
        above = bp > self.threshold_g
        below = bp < -self.threshold_g
        if not below.any():
            # the common case (still, or mid-cycle): the side can only go up, at the first
            # sample above +threshold, which is a step if the last extreme was below
            steps = np.zeros(n, dtype=bool)
            if above.any():
                if self._side == 0:
                    steps[int(np.argmax(above))] = True
                self._side = 1
            return bp, steps
        marks = np.full(n, -1, dtype=np.int8)
        marks[above] = 1
        marks[below] = 0
        last = np.where(marks >= 0, np.arange(n), -1)
        np.maximum.accumulate(last, out=last)
        side = np.where(last >= 0, marks[np.maximum(last, 0)], self._side).astype(np.int8)
        prev = np.concatenate([[self._side], side[:-1]])
        steps = (side == 1) & (prev == 0)
        self._side = int(side[-1])
        return bp, steps

    def get_state(self) -> dict:
        return {"zi": None if self._zi is None else self._zi.copy(), "side": self._side}

    def set_state(self, state: dict) -> None:
        self._zi = None if state["zi"] is None else np.asarray(state["zi"], dtype=np.float64)
        self._side = int(state["side"])


GAIT_MIN_STD_G = 0.04
GAIT_STEPS_PER_S = (0.7, 3.6)     # 42-216 steps/min


def epoch_gait(n_steps: np.ndarray, v_sum: np.ndarray, v_sq_sum: np.ndarray, counts: np.ndarray,
               epoch_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch: (vertical-acc std in g, gait-like bool) from step counts and sums."""
    mean = v_sum / counts
    std = np.sqrt(np.maximum(v_sq_sum / counts - mean * mean, 0.0))
    rate = n_steps / epoch_s
    gait = (rate >= GAIT_STEPS_PER_S[0]) & (rate <= GAIT_STEPS_PER_S[1]) & (std >= GAIT_MIN_STD_G)
    return std, gait
