"""The recording's own quiet floor of the effort band (frames.EFFORT_BAND_HZ), running.

A plank and lying prone can sit at the same pelvic angle (field recordings: level planks at
0-5 deg, sagging ones below, people resting prone at 5-6.5 deg between holds at 8.8 deg);
what differs is effort: holding the body up shakes the trunk with small fast corrections.
Its size depends on the sensor (noise floor) as much as on the body, so it is judged against
the recording's own quietest stretches: the FLOOR_PERCENTILE of 1 s block RMS values seen so
far, from a fixed log-spaced histogram (bounded memory, plain-data state, and the same value
whatever the chunking since blocks are aligned to absolute frame time).
"""
from __future__ import annotations

import math

from spinewise.signal.exercise.frames import FRAME_S

BLOCK_S = 1.0
FLOOR_PERCENTILE = 2.0      # quietest 2 % of blocks: lying, sitting, standing still
MIN_BLOCKS = 30             # fewer blocks seen: no floor yet (the classic rules apply)
LOG_MIN, LOG_MAX, LOG_STEP = -4.0, 4.0, 0.025   # histogram of log10(RMS), ~6 % wide bins
N_BINS = int(round((LOG_MAX - LOG_MIN) / LOG_STEP))
FRAMES_PER_BLOCK = int(round(BLOCK_S / FRAME_S))


class EffortFloor:
    """``update(t_s, effort2)`` per frame; ``floor()`` is the quiet-floor RMS or None."""

    def __init__(self) -> None:
        self.hist = [0] * N_BINS
        self.total = 0
        self.block = None           # absolute block index being summed
        self.sum = 0.0
        self.n = 0

    def get_state(self) -> dict:
        return {"hist": list(self.hist), "total": self.total, "block": self.block,
                "sum": self.sum, "n": self.n}

    @classmethod
    def from_state(cls, state: dict | None) -> "EffortFloor":
        obj = cls()
        if state:
            obj.hist = list(state["hist"])
            obj.total, obj.block, obj.sum, obj.n = state["total"], state["block"], state["sum"], state["n"]
        return obj

    def update(self, t_s: float, effort2: float) -> None:
        if not math.isfinite(effort2):
            return
        b = int(math.floor(t_s / BLOCK_S))
        if self.block is not None and b != self.block and self.n >= FRAMES_PER_BLOCK // 2:
            self._add(math.sqrt(self.sum / self.n))
        if b != self.block:
            self.block, self.sum, self.n = b, 0.0, 0
        self.sum += effort2
        self.n += 1

    def _add(self, rms: float) -> None:
        k = int((math.log10(max(rms, 10 ** LOG_MIN)) - LOG_MIN) / LOG_STEP)
        self.hist[min(max(k, 0), N_BINS - 1)] += 1
        self.total += 1

    def floor(self) -> float | None:
        # asked every frame of a hold candidate; the histogram changes once a second
        key = (self.total, id(self.hist))
        if self.__dict__.get("_floor_key") != key:
            self._floor_key, self._floor = key, self._floor_uncached()
        return self._floor

    def _floor_uncached(self) -> float | None:
        if self.total < MIN_BLOCKS:
            return None
        need = FLOOR_PERCENTILE / 100.0 * self.total
        acc = 0
        for k, c in enumerate(self.hist):
            acc += c
            if acc >= need:
                return 10 ** (LOG_MIN + (k + 0.5) * LOG_STEP)
        return None
