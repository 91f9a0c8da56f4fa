"""Samples expressed in the calibrated body frame: what the trackers consume.

Produced by ``BodyTracker`` (orientation + mounting calibration); see docs/architecture.md
for the frame and angle conventions.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True, eq=False)
class BodySamples:
    t_s: np.ndarray                    # (N,) event time, s
    acc_body_g: np.ndarray             # (N, 3) specific force, body frame, g
    gyro_body_dps: np.ndarray | None   # (N, 3) body frame, deg/s; None without gyro
    up_body: np.ndarray                # (N, 3) unit world-up in the body frame
    flexion_deg: np.ndarray            # (N,) + forward, - posterior tilt
    lateral_deg: np.ndarray            # (N,) + bend to the right
    incl_deg: np.ndarray               # (N,) body z vs world up
    calibrated: bool                   # mounting known (else body frame == sensor frame guess)
    rate_hz: float
    device_id: str = "local"

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        return self.gyro_body_dps is not None

    def slice(self, start: int, stop: int, *, calibrated: bool | None = None) -> "BodySamples":
        def cut(a):
            return None if a is None else a[start:stop]
        return replace(self, t_s=self.t_s[start:stop], acc_body_g=self.acc_body_g[start:stop],
                       gyro_body_dps=cut(self.gyro_body_dps), up_body=self.up_body[start:stop],
                       flexion_deg=self.flexion_deg[start:stop],
                       lateral_deg=self.lateral_deg[start:stop], incl_deg=self.incl_deg[start:stop],
                       calibrated=self.calibrated if calibrated is None else calibrated)


def angles_from_up(up_body: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """flexion_deg, lateral_deg, incl_deg from unit world-up vectors in the body frame."""
    up = np.asarray(up_body, dtype=np.float64).reshape(-1, 3)
    flexion = np.degrees(np.arctan2(-up[:, 0], up[:, 2]))
    lateral = np.degrees(np.arctan2(up[:, 1], up[:, 2]))
    # sqrt(add.reduce(x*x)) is what np.linalg.norm computes, without its per-call checks
    norm = np.sqrt(np.add.reduce(up * up, axis=1))
    incl = np.degrees(np.arccos(np.clip(up[:, 2] / np.maximum(norm, 1e-12), -1, 1)))
    return flexion, lateral, incl
