"""HoldMeter: roll swing (plank vs bird dog), sway / drift, state round trip."""
from __future__ import annotations

import numpy as np

from spinewise.signal.exercise.frames import FRAME_S
from spinewise.signal.exercise.holds import HoldMeter

UP0 = np.array([-0.2, 0.0, 0.98])


def _feed(roll_deg: np.ndarray, pitch_deg: np.ndarray | None = None) -> HoldMeter:
    m = HoldMeter(0.0, UP0)
    pitch = np.zeros_like(roll_deg) if pitch_deg is None else pitch_deg
    for i, (r, p) in enumerate(zip(roll_deg, pitch)):
        m.add((i + 1) * FRAME_S, np.array([0.0, p, r]), float("nan"))
    return m


def test_bird_dog_rolls_swing_a_plank_does_not():
    t = np.arange(0, 30, FRAME_S)
    rng = np.random.default_rng(1)
    # plank: sway and breathing of a few tenths of a degree
    sway = 0.25 * np.sin(2 * np.pi * 0.3 * t) + 0.1 * rng.standard_normal(len(t))
    assert _feed(sway, 0.5 * np.sin(2 * np.pi * 0.25 * t)).roll_swing_deg() < 1.0
    # bird dog: 1.5 deg to the left held, then 1.5 deg to the right
    roll = np.where((t > 3) & (t < 10), 1.5, 0.0) - np.where((t > 13) & (t < 20), 1.5, 0.0)
    assert _feed(roll + sway).roll_swing_deg() > 2.5


def test_state_round_trip_and_drift():
    t = np.arange(0, 20, FRAME_S)
    m = _feed(np.zeros_like(t), 0.2 * t)            # hips sagging 4 deg over 20 s
    sway, drift = m.sway_and_drift_deg()
    assert sway < 0.05 and abs(drift - 4.0) < 0.1
    m2 = HoldMeter.from_state(m.get_state())
    assert m2.roll_swing_deg() == m.roll_swing_deg()
    assert m2.sway_and_drift_deg() == m.sway_and_drift_deg()
