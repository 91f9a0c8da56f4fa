"""How far the pelvis travels up and down during a movement, from the vertical acceleration.

A squat lowers the pelvis 0.2-0.5 m and brings it back up. Reaching forward while seated
flexes the trunk as far, as regularly, rep after rep, but the pelvis stays on the seat: its
sensor moves a few centimetres. The frames' vertical specific force (frames.Frames.vert_g:
acceleration along world-up minus 1 g, the accelerometer's bias included) is integrated
twice over the movement with zero velocity at both ends, which the body has at rest before
and after it. Forcing that removes a linear velocity drift, and with it any constant bias.
"""
from __future__ import annotations

import numpy as np

from spinewise.signal.exercise.frames import FRAME_S
from spinewise.stream import GRAVITY_M_S2

MIN_FRAMES = 5


def excursion_m(t_s: np.ndarray, vert_g: np.ndarray, start_s: float, end_s: float) -> float | None:
    """The range of the pelvis' height (m) over the frames from ``start_s`` to ``end_s``,
    starting and ending at rest; None when fewer than MIN_FRAMES frames fall in the span."""
    sel = (t_s >= start_s) & (t_s <= end_s)
    a = vert_g[sel] * GRAVITY_M_S2
    n = len(a)
    if n < MIN_FRAMES or not np.all(np.isfinite(a)):
        return None
    v = np.cumsum(a) * FRAME_S
    v -= v[-1] * np.arange(1, n + 1) / n          # at rest again at the end
    height = np.cumsum(v) * FRAME_S
    return float(max(height.max(), 0.0) - min(height.min(), 0.0))
