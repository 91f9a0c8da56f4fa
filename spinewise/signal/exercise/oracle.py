"""BodySamples from a *known* mounting ("oracle calibration").

For tests and benchmarks that isolate the exercise tracker from the mounting calibrator:
the simulator's truth gives ``R_sensor_from_body``; gravity comes from the same
GravityEstimator the BodyTracker uses, so only the calibration step is skipped.
"""
from __future__ import annotations

import numpy as np

from spinewise.signal.body import BodySamples, angles_from_up
from spinewise.signal.orientation import GravityEstimator
from spinewise.stream import ImuChunk


class OracleBody:
    def __init__(self, R_sensor_from_body, rate_hz: float, has_gyro: bool) -> None:
        self.R = np.asarray(R_sensor_from_body, dtype=np.float64).reshape(3, 3)
        self.rate_hz = float(rate_hz)
        self._grav = GravityEstimator(rate_hz, has_gyro)

    def update(self, chunk: ImuChunk) -> BodySamples:
        up_s = self._grav.update(chunk.acc_g, chunk.gyro_dps)
        # v_body = R^T v_sensor; for row vectors that is v_sensor @ R
        up_b = up_s @ self.R
        flex, lat, incl = angles_from_up(up_b)
        return BodySamples(t_s=chunk.t_s, acc_body_g=chunk.acc_g @ self.R,
                           gyro_body_dps=None if chunk.gyro_dps is None else chunk.gyro_dps @ self.R,
                           up_body=up_b, flexion_deg=flex, lateral_deg=lat, incl_deg=incl,
                           calibrated=True, rate_hz=self.rate_hz, device_id=chunk.device_id)
