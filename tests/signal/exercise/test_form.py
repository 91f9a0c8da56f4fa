"""Form flags against the guide's rules and the hold stability meter."""
from __future__ import annotations

import numpy as np

from spinewise.config import SignalConfig
from spinewise.signal.exercise.form import hold_flags, rep_flags
from spinewise.signal.exercise.holds import HoldMeter
from spinewise.signal.exercise.reps import Rep

CFG = SignalConfig()


def _rep(dur, hold, amp=3.0):
    return Rep(start_s=0.0, end_s=dur, peak_s=dur / 2, hold_s=hold, amplitude_deg=amp,
               rot_peak_deg=[0, 0, amp], rot_mean_deg=[0, 0, amp], up_hold=[-1, 0, 0])


def test_rep_flags():
    assert rep_flags("squat", _rep(1.5, 0.2), 0.0, CFG) == ["too_fast"]
    assert rep_flags("squat", _rep(4.0, 0.5), 0.0, CFG) == []
    # a slow rep with a quick move out is not too fast: the whole rep counts (issue 12)
    assert rep_flags("squat", _rep(2.5, 1.5), 0.0, CFG) == []
    assert rep_flags("squat", _rep(1.9, 0.0), 0.0, CFG) == ["too_fast"]
    assert rep_flags("dead_bug", _rep(5.0, 1.0), 0.0, CFG) == ["short_hold"]      # guide: 2 s
    assert rep_flags("dead_bug", _rep(6.0, 2.5), 0.0, CFG) == []
    assert rep_flags("bird_dog", _rep(8.0, 4.0), 0.0, CFG) == ["short_hold"]      # guide: 5-10 s
    assert rep_flags("bird_dog", _rep(10.0, 6.0), 7.0, CFG) == ["hip_rotation"]
    assert rep_flags("bird_dog", _rep(10.0, 6.0), -7.0, CFG) == ["hip_rotation"]


def test_hold_flags():
    assert hold_flags(1.0, 5.0, 6.0, 0.0, CFG) == []
    assert hold_flags(8.0, 5.0, 6.0, 0.0, CFG) == ["sag"]
    assert hold_flags(1.0, 5.0, 25.0, 0.0, CFG) == ["shaking"]
    assert hold_flags(1.0, None, None, 12.0, CFG) == ["breath_hold"]


def test_hold_meter_sway_drift_and_breath():
    rng = np.random.default_rng(1)
    meter = HoldMeter(0.0, np.array([-1.0, 0, 0]))
    t = np.arange(1, 401) * 0.1
    for ti in t:
        breathing = 0.5 * np.sin(2 * np.pi * 0.3 * ti) if ti < 15 or ti > 30 else 0.0
        rot = np.array([0.0, 0.2 * ti + breathing, 0.0]) + 0.05 * rng.standard_normal(3)
        meter.add(ti, rot, 1e-5 if ti < 20 else 4e-5)
    sway, drift = meter.sway_and_drift_deg()
    assert abs(drift - 0.2 * (t[-1] - t[0])) < 0.5 and 0.2 < sway < 0.6
    start, end = meter.tremor_mg()
    assert np.isclose(start, np.sqrt(1e-5) * 1000) and np.isclose(end, np.sqrt(4e-5) * 1000)
    assert meter.quiet_max_s >= 10.0
