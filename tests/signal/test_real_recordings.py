"""Analyzer on committed extracts of real lower-back recordings (fixtures/real, mobgap example
data, Apache-2.0; benchmarks/real_data.py writes them): steps and walking against the INDIP
reference, a walk too short to calibrate the mounting, chunking, restore, accelerometer-only."""
import dataclasses
import json
import pickle
from pathlib import Path

import pytest

from spinewise.config import SignalConfig
from spinewise.recording import read_all
from spinewise.signal.analyzer import Analyzer

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"


def _load(name):
    path = REAL / f"{name}.csv"
    if not path.exists():
        pytest.fail(f"missing committed fixture {path}")
    return read_all(path), json.loads(path.with_suffix(".truth.json").read_text())


def _run(chunks, restore_at=None):
    a = Analyzer(SignalConfig(), posture_rate_hz=0.0)
    events = []
    for i, c in enumerate(chunks):
        if restore_at is not None and i == restore_at:
            state = pickle.loads(pickle.dumps(a.get_state()))
            a = Analyzer(SignalConfig(), posture_rate_hz=0.0)
            a.set_state(state)
        events += a.update(c)
    events += a.finish()
    return a.summary(), events


def test_daily_activities_extract_steps_and_walking():
    """52 s: walk (18 steps), sit down, stand up, walk (16 steps), an older adult at ~90
    steps/min with turns."""
    chunk, truth = _load("mobgap_HA001_test11_36-88s")
    s, _ = _run([chunk])
    act = s["activity"]
    assert abs(act["steps"] - truth["steps"]) <= 0.1 * truth["steps"]
    assert abs(act["walking_s"] - truth["activity"]["walking_s"]) <= 0.15 * truth["activity"]["walking_s"]
    assert act["sitting_s"] > 15


def test_a_5_m_walk_counts_its_steps_without_a_mounting_calibration():
    """5 s of walking cannot calibrate the mounting (the MM+ has its x axis up: the sensor
    frame as body frame reads lying); up from the gait epochs still finds the walk. The
    reference stops at the last contact inside the walkway (9); the closing step and the
    first weight shift are foot contacts too."""
    chunk, truth = _load("mobgap_HA001_test5_trial1")
    s, _ = _run([chunk])
    act = s["activity"]
    assert not s["calibration"]["calibrated"]
    assert truth["steps"] <= act["steps"] <= truth["steps"] + 2
    assert 4.0 <= act["walking_s"] <= 7.0
    assert act["lying_s"] == 0.0


def test_real_recording_is_chunk_invariant_restorable_and_works_without_gyro():
    chunk, truth = _load("mobgap_HA001_test11_36-88s")
    whole, e1 = _run([chunk])
    parts, e2 = _run(list(chunk.split(37)), restore_at=40)
    assert json.dumps(parts, sort_keys=True) == json.dumps(whole, sort_keys=True)
    key = lambda evs: sorted(json.dumps(e.to_dict(), sort_keys=True) for e in evs)  # noqa: E731
    assert key(e1) == key(e2)
    acc_only, _ = _run([dataclasses.replace(chunk, gyro_dps=None)])
    assert abs(acc_only["activity"]["steps"] - truth["steps"]) <= 0.1 * truth["steps"]
