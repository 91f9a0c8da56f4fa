"""Step candidates from vertical acceleration, independent of how the clip is mounted.

Vertical acceleration is the specific force projected on the tracked world-up direction,
minus 1 g, so it needs no mounting calibration (walking is also what calibrates the
mounting). A 0.6-3.5 Hz Butterworth band-pass keeps the step fundamental of slow to brisk
walking (cadence 70-200 steps/min) and drops posture changes and tremor. Each step gives one
cycle of vertical acceleration at the lower back (Zijlstra & Hof 2003); a step candidate is
an upward crossing of +threshold after the signal was last below -threshold (hysteresis,
so sensor noise cannot double-count).

One heel strike per step, at a steady cadence: a crossing sooner than ``REFRACTORY_RATIO`` of
the current step period after the previous step is the second peak of the same step (a
double-peaked heel strike, a trunk wobble in a turn, the push-off and the landing of gait
initiation; on the voisard and mobgap recordings these intervals are 0.2-0.35 s inside
0.5-0.9 s steps) and is not a step. The step period is the median of the last
``PERIOD_INTERVALS`` crossing-to-crossing intervals that fit walking (0.25-1.0 s): taken from
all crossings, not the accepted steps, so a double peak can only shorten it (a more lenient
refractory) and a missed step or a pause cannot lengthen it (a period taken from accepted
steps locks on to every other step: one long first interval makes the refractory reject the
next real step, and so on). After ``STEP_RESET_S`` without a crossing it is forgotten; before
a period is known only ``MIN_STEP_S`` (240 steps/min) applies.

An asymmetric (antalgic) gait can strike hard with one foot and softly with the other: the soft
steps' cycles stay under ``STEP_THRESHOLD_G`` and only every other step is found (wide
simulator bodies: a 73 steps/min walker with 0.10 g and 0.04 g steps read 46 % short on walking
time). Such a walk shows as strong steps a stride apart. Once the last ``STRIDE_INTERVALS``
strong-to-strong intervals are strides (``STRIDE_S``, within ``STRIDE_SPREAD`` of each other),
an upward crossing of the lower ``WEAK_THRESHOLD_G`` (its own hysteresis) midway through the
stride (``WEAK_PHASE`` of it after the last strong step, none counted since) is the other
foot's step. A symmetric walk never opens that gate (its strong steps come a step apart, under
``STRIDE_S[0]``), so its steps are exactly what they were.

Lost samples (a BLE or Awinda radio drops packets: 2/3 of the voisard recordings lose
20-650 ms here and there while walking) are filled by linear interpolation when ``t_s`` is
given, for holes up to ``GAP_FILL_S``: the band-pass and the cadence rule count samples, so a
walk that lost a tenth of its samples looked a tenth faster, its steps closer than they are,
and the refractory dropped real steps as second peaks (voisard 07-3: 26 of 35 steps). Filled
samples only feed the filter; a step found in a hole is flagged on the next real sample.
Without holes the result is bit-identical to the unfilled detector.

The state (band-pass ``zi``, hysteresis side, samples since the last step and crossing, the
recent intervals, the last sample's time and value) is carried across chunks: results do not
depend on the chunking.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from spinewise.signal.iir import sosfilt_step

STEP_BAND_HZ = (0.6, 3.5)
STEP_THRESHOLD_G = 0.04
MIN_STEP_S = 0.25
REFRACTORY_RATIO = 0.6
STEP_PERIOD_MAX_S = 1.0
STEP_RESET_S = 2.0
GAP_FILL_S = STEP_RESET_S     # lost samples (radio packets) up to this long are interpolated
PERIOD_INTERVALS = 4          # step period = median of the last crossing intervals
WEAK_THRESHOLD_G = 0.02       # the soft foot of an asymmetric gait (module docstring)...
STRIDE_S = (1.1, 2.4)         # ...between strong steps a stride apart (25-55 strides/min)...
STRIDE_INTERVALS = 3          # ...the last 3 of them, within STRIDE_SPREAD of each other...
STRIDE_SPREAD = 1.25
WEAK_PHASE = (0.35, 0.65)     # ...and the weak crossing this far into the stride


def _upward_crossings(bp: np.ndarray, thr: float, side: int) -> tuple[np.ndarray, int]:
    """Hysteresis: an upward crossing of +thr after the signal was last below -thr. ``side``
    is 1 when the last extreme was above +thr, 0 below -thr (or unknown) -> (flags, side)."""
    n = bp.size
    above = bp > thr
    below = bp < -thr
    flags = np.zeros(n, dtype=bool)
    if not below.any():
        # the common case (still, or mid-cycle): the side can only go up, at the first
        # sample above +threshold, which is a crossing if the last extreme was below
        if above.any():
            if side == 0:
                flags[int(np.argmax(above))] = True
            side = 1
        return flags, side
    marks = np.full(n, -1, dtype=np.int8)
    marks[above] = 1
    marks[below] = 0
    last = np.where(marks >= 0, np.arange(n), -1)
    np.maximum.accumulate(last, out=last)
    sides = np.where(last >= 0, marks[np.maximum(last, 0)], side).astype(np.int8)
    prev = np.concatenate([[side], sides[:-1]])
    return (sides == 1) & (prev == 0), int(sides[-1])


class StepDetector:
    def __init__(self, rate_hz: float, threshold_g: float = STEP_THRESHOLD_G) -> None:
        self.rate_hz = float(rate_hz)
        hi = min(STEP_BAND_HZ[1], 0.45 * self.rate_hz)
        self._sos = sps.butter(2, (STEP_BAND_HZ[0], hi), btype="bandpass", fs=self.rate_hz,
                               output="sos")
        self.threshold_g = float(threshold_g)
        self._zi: np.ndarray | None = None
        self._side = 0   # 1 = last extreme above +thr, 0 = below -thr (or unknown)
        # samples since the last step and the last crossing (a day ago when none yet), and
        # the last step-like crossing intervals (s) whose median is the step period
        self._since_step = self._since_raw = 10 ** 9
        self._intervals: list[float] = []
        self._last_tv: tuple[float | None, float | None] = (None, None)   # last sample's t_s, a_v
        # the weak-step gate: hysteresis side at WEAK_THRESHOLD_G, samples since the last strong
        # step, the last strong-to-strong intervals (s) that fit a stride
        self._side_weak = 0
        self._since_strong = 10 ** 9
        self._strides: list[float] = []

    def update(self, acc_g: np.ndarray, up: np.ndarray,
               t_s: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """-> (vertical band-passed acc in g (N,), step flag per sample (N,) bool). With
        ``t_s`` (s, increasing) holes of lost samples are filled first (module docstring)."""
        n = acc_g.shape[0]
        if n == 0:
            return np.zeros(0), np.zeros(0, dtype=bool)
        a_v = np.einsum("ij,ij->i", acc_g, up) - 1.0
        if self._zi is None:
            self._zi = np.zeros((self._sos.shape[0], 2))
        real = None
        if t_s is not None:
            a_v, real = self._fill_holes(np.asarray(t_s, dtype=np.float64), a_v)
        bp, self._zi = sosfilt_step(self._sos, a_v, self._zi)
        crossings, self._side = _upward_crossings(bp, self.threshold_g, self._side)
        weak, self._side_weak = _upward_crossings(bp, WEAK_THRESHOLD_G, self._side_weak)
        flags = self._cadence_filter(crossings, weak & ~crossings)
        if real is None:
            return bp, flags
        # a step in a hole moves on to the next real sample (there is always one: the
        # filled samples lie between real ones)
        pos = np.cumsum(real) - 1 + (~real)
        out = np.zeros(n, dtype=bool)
        out[pos[flags]] = True
        return bp[real], out

    def _fill_holes(self, t_s: np.ndarray, a_v: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Linear interpolation into holes of 1.5 to GAP_FILL_S sample periods since the
        previous sample -> (signal on the filled grid, mask of the real samples) or
        (a_v, None) when nothing is missing."""
        last_t, last_v = self._last_tv
        self._last_tv = (float(t_s[-1]), float(a_v[-1]))
        if last_t is None:
            prev_t = np.concatenate([[t_s[0]], t_s[:-1]])
        else:
            prev_t = np.concatenate([[last_t], t_s[:-1]])
        dt = (t_s - prev_t) * self.rate_hz
        missing = np.where((dt > 1.5) & (dt <= GAP_FILL_S * self.rate_hz),
                           np.rint(dt).astype(np.int64) - 1, 0)
        total = int(missing.sum())
        if total == 0:
            return a_v, None
        # real sample i lands at i + (samples inserted before it, its own hole included)
        pos = np.arange(t_s.size) + np.cumsum(missing)
        real = np.zeros(t_s.size + total, dtype=bool)
        real[pos] = True
        # filled sample j of the hole before real sample i sits at prev_t + (j+1)/(k+1) dt
        hole_of = np.repeat(np.arange(t_s.size), missing)
        j = np.arange(total) - np.repeat(np.cumsum(missing) - missing, missing)
        frac = (j + 1) / (missing[hole_of] + 1)
        prev_v = np.concatenate([[a_v[0] if last_v is None else last_v], a_v[:-1]])
        filled = np.empty(real.size)
        filled[real] = a_v
        filled[~real] = prev_v[hole_of] + frac * (a_v[hole_of] - prev_v[hole_of])
        return filled, real

    def _cadence_filter(self, crossings: np.ndarray, weak: np.ndarray) -> np.ndarray:
        """Keep the crossings that are one step after the previous step, and the weak ones
        that are the soft foot's (module docstring); loops over crossings only (~2-4 per
        second of walking)."""
        n = crossings.size
        idx = np.flatnonzero(crossings | weak)
        if idx.size == 0:
            self._since_step += n
            self._since_raw += n
            self._since_strong += n
            return crossings
        keep = np.zeros(n, dtype=bool)
        step, raw = -self._since_step, -self._since_raw    # in this chunk's sample frame
        strong = -self._since_strong
        for i in idx:
            if not crossings[i]:
                # one soft step per stride, midway after the last strong one
                stride = self._stride_s()
                if stride and step <= strong and \
                        WEAK_PHASE[0] * stride <= (i - strong) / self.rate_hz <= WEAK_PHASE[1] * stride:
                    keep[i] = True
                    step = int(i)
                continue
            dt_s = (i - raw) / self.rate_hz
            raw = int(i)
            if dt_s > STEP_RESET_S:
                self._intervals = []
            elif MIN_STEP_S <= dt_s <= STEP_PERIOD_MAX_S:
                self._intervals = (self._intervals + [dt_s])[-PERIOD_INTERVALS:]
            period_s = float(np.median(self._intervals)) if self._intervals else 0.0
            if (i - step) / self.rate_hz < max(MIN_STEP_S, REFRACTORY_RATIO * period_s):
                continue
            keep[i] = True
            step = int(i)
            gap_s = (i - strong) / self.rate_hz
            stride = self._stride_s()
            if stride and WEAK_PHASE[0] * stride <= gap_s <= WEAK_PHASE[1] * stride:
                continue          # the soft foot just made the threshold: the stride runs on
            if STRIDE_S[0] <= gap_s <= STRIDE_S[1]:
                self._strides = (self._strides + [gap_s])[-STRIDE_INTERVALS:]
            else:
                self._strides = []
            strong = int(i)
        self._since_step, self._since_raw, self._since_strong = n - step, n - raw, n - strong
        return keep

    def _stride_s(self) -> float:
        """The stride of a walk found only by its strong steps, or 0 (module docstring)."""
        s = self._strides
        if len(s) < STRIDE_INTERVALS or max(s) > STRIDE_SPREAD * min(s):
            return 0.0
        return float(np.median(s))

    def get_state(self) -> dict:
        return {"zi": None if self._zi is None else self._zi.copy(), "side": self._side,
                "since": [self._since_step, self._since_raw], "intervals": list(self._intervals),
                "last_tv": list(self._last_tv), "side_weak": self._side_weak,
                "since_strong": self._since_strong, "strides": list(self._strides)}

    def set_state(self, state: dict) -> None:
        self._zi = None if state["zi"] is None else np.asarray(state["zi"], dtype=np.float64)
        self._side = int(state["side"])
        self._since_step, self._since_raw = (int(x) for x in state.get("since", (10 ** 9,) * 2))
        self._intervals = [float(x) for x in state.get("intervals", [])]
        self._side_weak = int(state.get("side_weak", 0))
        self._since_strong = int(state.get("since_strong", 10 ** 9))
        self._strides = [float(x) for x in state.get("strides", [])]
        last = state.get("last_tv", (None, None))
        self._last_tv = (None if last[0] is None else float(last[0]),
                         None if last[1] is None else float(last[1]))


# SD of the band-passed vertical acceleration in a gait-like epoch: the hysteresis already
# demands +-STEP_THRESHOLD_G per step, and a cycle that just makes it has an SD of ~0.71 of
# that; 0.75 keeps slow, soft walking (older adults and a walker with MS in the mobgap lab
# recordings: 0.03-0.04 g in a third of their walking epochs) that 0.04 g dropped.
GAIT_MIN_STD_G = 0.75 * STEP_THRESHOLD_G
GAIT_STEPS_PER_S = (0.7, 3.6)     # 42-216 steps/min


def epoch_gait(n_steps: np.ndarray, v_sum: np.ndarray, v_sq_sum: np.ndarray, counts: np.ndarray,
               epoch_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch: (vertical-acc std in g, gait-like bool) from step counts and sums."""
    mean = v_sum / counts
    std = np.sqrt(np.maximum(v_sq_sum / counts - mean * mean, 0.0))
    rate = n_steps / epoch_s
    gait = (rate >= GAIT_STEPS_PER_S[0]) & (rate <= GAIT_STEPS_PER_S[1]) & (std >= GAIT_MIN_STD_G)
    return std, gait
