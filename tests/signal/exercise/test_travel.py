"""travel.excursion_m: the pelvis' height range over a movement from its vertical acceleration."""
from __future__ import annotations

import numpy as np

from spinewise.signal.exercise import travel
from spinewise.signal.exercise.frames import FRAME_S
from spinewise.stream import GRAVITY_M_S2


def _dip(depth_m: float, move_s: float = 1.2, hold_s: float = 0.5, rest_s: float = 1.0):
    """Frames of a squat: at rest, down ``depth_m`` (minimum jerk), held, up, at rest."""
    t = np.arange(0.0, 2 * rest_s + 2 * move_s + hold_s, FRAME_S)

    def mj(u):
        u = np.clip(u, 0.0, 1.0)
        return u ** 3 * (10 - 15 * u + 6 * u * u)
    z = -depth_m * (mj((t - rest_s) / move_s) - mj((t - rest_s - move_s - hold_s) / move_s))
    acc = np.gradient(np.gradient(z, FRAME_S), FRAME_S)
    return t, acc / GRAVITY_M_S2


def test_a_squat_s_depth_comes_back():
    t, vert = _dip(0.35)
    assert abs(travel.excursion_m(t, vert, t[0], t[-1]) - 0.35) < 0.02


def test_a_constant_bias_cancels():
    t, vert = _dip(0.35)
    assert abs(travel.excursion_m(t, vert + 0.03, t[0], t[-1]) - 0.35) < 0.02


def test_no_vertical_movement_is_no_travel():
    t = np.arange(0.0, 4.0, FRAME_S)
    assert travel.excursion_m(t, np.full(len(t), 0.01), t[0], t[-1]) < 1e-9


def test_too_few_frames_or_unknown_values_tell_nothing():
    t, vert = _dip(0.35)
    assert travel.excursion_m(t, vert, t[0], t[0] + 0.25) is None
    vert[3] = np.nan
    assert travel.excursion_m(t, vert, t[0], t[-1]) is None
