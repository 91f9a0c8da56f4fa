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


def test_breath_filter_written_out_equals_scipy_sosfilt():
    """HoldMeter._breath runs the breathing band-pass frame by frame in plain floats: the same
    bits as scipy.signal.sosfilt with carried state, which it replaces."""
    import json

    from scipy import signal as sps

    from spinewise.signal.exercise import holds

    def scipy_breath(self, x):
        sos = holds._BREATH_SOS
        zi = np.zeros((sos.shape[0], 2, 3)) if self.zi is None else np.asarray(self.zi)
        y, zi = sps.sosfilt(sos, np.asarray(x)[None, :], axis=0, zi=zi)
        self.zi = zi.tolist()
        self.win.append(float(np.sum(y[0] ** 2)))
        n = len(self.win)
        self.win, keep = [], self.win                    # the window logic is not under test
        return keep[-1] if n else None

    rng = np.random.default_rng(5)
    a = holds.HoldMeter(0.0, [1.0, 0.0, 0.0])
    b = holds.HoldMeter(0.0, [1.0, 0.0, 0.0])
    t = np.arange(3000) * 0.1
    rot = np.column_stack([3 * np.sin(2 * np.pi * 0.25 * t), np.cumsum(rng.normal(0, 0.05, len(t))),
                           rng.normal(0, 0.5, len(t))])
    for x in rot:
        a._breath(x)
        got = a.win[-1]
        a.win = []
        assert got == scipy_breath(b, x)
        assert json.dumps(a.zi) == json.dumps(b.zi)


def test_effort_floor_cache_follows_every_block():
    """EffortFloor.floor is cached between blocks: always the value the histogram gives."""
    from spinewise.signal.exercise.effort import EffortFloor

    rng = np.random.default_rng(6)
    fl = EffortFloor()
    for k in range(3000):
        fl.update(k * 0.1 + 0.05, float(rng.lognormal(0, 1)))
        assert fl.floor() == fl._floor_uncached()
        if k == 1500:
            fl = EffortFloor.from_state(fl.get_state())
            assert "_floor_key" not in fl.get_state()
    assert fl.floor() is not None
