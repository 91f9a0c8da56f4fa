"""Streaming world-up (gravity) direction in the sensor frame.

With a gyroscope we fuse with VQF (Laidig & Seel 2023): its batch update runs the sample
loop in C++ (~0.6 us/sample, 2.5 s for a 50 Hz day), its full state is a plain dict of
numpy arrays (so a restarted pipeline resumes bit-exactly), and it estimates gyro bias
both at rest and in motion, which matters for the up-to-2 deg/s biases of cheap IMUs.
imufusion (x-io Fusion) was the alternative: comparable accuracy but no batch API
(a Python call per sample, ~1.2 us + loop overhead) and no restorable internal state;
see docs/signal-day.md and benchmarks/bench_day.py --fusion for the comparison.

Without a gyroscope (Polar H10) the gravity direction is a low-passed accelerometer
(2nd-order Butterworth, 0.3 Hz: walking at ~2 Hz is attenuated ~45x, a posture change
settles in ~2 s). ``sosfilt`` (via iir.sosfilt_step) with carried ``zi`` gives the same samples
whatever the chunking.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import signal as sps

from spinewise.signal.iir import sosfilt_step
from spinewise.stream import GRAVITY_M_S2

log = logging.getLogger(__name__)

ACC_ONLY_CUTOFF_HZ = 0.3


def up_from_quat(quat_wxyz: np.ndarray) -> np.ndarray:
    """World-up expressed in the sensor frame for sensor-to-world quaternions (N,4)."""
    w, x, y, z = (quat_wxyz[:, i] for i in range(4))
    up = np.empty((quat_wxyz.shape[0], 3))
    up[:, 0] = 2.0 * (x * z - w * y)
    up[:, 1] = 2.0 * (y * z + w * x)
    up[:, 2] = w * w - x * x - y * y + z * z
    return up


def normalize_rows(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(n, 1e-12)


class GravityEstimator:
    """``update(acc_g, gyro_dps|None) -> up_sensor (N,3)`` unit vectors, chunk-invariant."""

    def __init__(self, rate_hz: float, has_gyro: bool) -> None:
        self.rate_hz = float(rate_hz)
        self.has_gyro = bool(has_gyro)
        self._vqf = None
        self._zi: np.ndarray | None = None
        self.missing_gyro_samples = 0
        if self.has_gyro:
            from vqf import VQF
            self._vqf = VQF(1.0 / self.rate_hz)
        self._sos = sps.butter(2, ACC_ONLY_CUTOFF_HZ, fs=self.rate_hz, output="sos")

    def update(self, acc_g: np.ndarray, gyro_dps: np.ndarray | None) -> np.ndarray:
        n = acc_g.shape[0]
        if n == 0:
            return np.zeros((0, 3))
        if self._vqf is not None:
            if gyro_dps is None:
                # A gyro device sent a chunk without gyro: keep the filter running on the
                # accelerometer alone rather than dropping good samples.
                self.missing_gyro_samples += n
                log.warning("chunk without gyro on a gyro stream (%d samples); acc-only update", n)
                gyro_dps = np.zeros((n, 3))
            out = self._vqf.updateBatch(np.ascontiguousarray(np.radians(gyro_dps)),
                                        np.ascontiguousarray(acc_g * GRAVITY_M_S2))
            return up_from_quat(out["quat6D"])
        if self._zi is None:
            # start settled on the first sample so the first seconds are not a ramp from 0
            self._zi = sps.sosfilt_zi(self._sos)[:, :, None] * acc_g[0][None, None, :]
        lp, self._zi = sosfilt_step(self._sos, acc_g, self._zi)
        return normalize_rows(lp)

    def gyro_bias_dps(self) -> np.ndarray | None:
        if self._vqf is None:
            return None
        bias, _sigma = self._vqf.getBiasEstimate()
        return np.degrees(bias)

    def get_state(self) -> dict:
        return {"has_gyro": self.has_gyro, "rate_hz": self.rate_hz,
                "vqf": None if self._vqf is None else {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                                                       for k, v in self._vqf.state.items()},
                "zi": None if self._zi is None else self._zi.copy(),
                "missing_gyro_samples": self.missing_gyro_samples}

    def set_state(self, state: dict) -> None:
        if bool(state["has_gyro"]) != self.has_gyro or float(state["rate_hz"]) != self.rate_hz:
            raise ValueError("GravityEstimator state is for a different stream (gyro/rate)")
        if self._vqf is not None:
            self._vqf.state = {k: np.asarray(v) if isinstance(v, (list, np.ndarray)) else v
                               for k, v in state["vqf"].items()}
        self._zi = None if state["zi"] is None else np.asarray(state["zi"], dtype=np.float64)
        self.missing_gyro_samples = int(state.get("missing_gyro_samples", 0))
