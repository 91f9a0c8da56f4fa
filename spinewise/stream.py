"""The one type every part of spinewise speaks: a chunk of IMU samples.

Units are in the names: ``t_s`` seconds (event time: seconds from the recording's first
sample offline, Unix epoch seconds live), ``acc_g`` specific force in g, ``gyro_dps``
angular rate in degrees per second. Both vectors are in the *sensor* frame. A sensor
without a gyroscope (Polar H10) carries ``gyro_dps=None``; consumers must then say that
gyro-derived figures are unavailable rather than invent them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

GRAVITY_M_S2 = 9.80665


@dataclass(frozen=True, eq=False)
class ImuChunk:
    t_s: np.ndarray                      # (N,) float64, strictly increasing
    acc_g: np.ndarray                    # (N, 3) float64, sensor frame
    gyro_dps: np.ndarray | None = None   # (N, 3) float64, sensor frame, None = no gyro
    device_id: str = "local"
    rate_hz: float = 50.0                # nominal sample rate
    quat_wxyz: np.ndarray | None = None  # (N, 4) optional on-sensor orientation
    seq: np.ndarray | None = None        # (N,) int64 per-sample sequence numbers
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, dtype=np.float64).reshape(-1)
        n = t.shape[0]
        acc = np.asarray(self.acc_g, dtype=np.float64).reshape(n, 3)
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "acc_g", acc)
        if self.gyro_dps is not None:
            object.__setattr__(self, "gyro_dps",
                               np.asarray(self.gyro_dps, dtype=np.float64).reshape(n, 3))
        if self.quat_wxyz is not None:
            object.__setattr__(self, "quat_wxyz",
                               np.asarray(self.quat_wxyz, dtype=np.float64).reshape(n, 4))
        if self.seq is not None:
            object.__setattr__(self, "seq", np.asarray(self.seq, dtype=np.int64).reshape(n))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        return self.gyro_dps is not None

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self) else 0.0

    def slice(self, start: int, stop: int) -> "ImuChunk":
        def cut(a):
            return None if a is None else a[start:stop]
        return replace(self, t_s=self.t_s[start:stop], acc_g=self.acc_g[start:stop],
                       gyro_dps=cut(self.gyro_dps), quat_wxyz=cut(self.quat_wxyz),
                       seq=cut(self.seq))

    def split(self, size: int):
        """Yield consecutive sub-chunks of at most ``size`` samples."""
        for i in range(0, len(self), size):
            yield self.slice(i, i + size)

    @staticmethod
    def concat(chunks: list["ImuChunk"]) -> "ImuChunk":
        if not chunks:
            raise ValueError("concat needs at least one chunk")
        first = chunks[0]

        def cat(name):
            parts = [getattr(c, name) for c in chunks]
            if any(p is None for p in parts):
                return None
            return np.concatenate(parts)
        return replace(first, t_s=cat("t_s"), acc_g=cat("acc_g"), gyro_dps=cat("gyro_dps"),
                       quat_wxyz=cat("quat_wxyz"), seq=cat("seq"))

    @staticmethod
    def empty(device_id: str = "local", rate_hz: float = 50.0, has_gyro: bool = True) -> "ImuChunk":
        return ImuChunk(np.zeros(0), np.zeros((0, 3)),
                        np.zeros((0, 3)) if has_gyro else None, device_id, rate_hz)
