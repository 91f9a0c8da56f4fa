"""Analyzer on committed simulator fixtures: accuracy, chunking, restore, acc-only, bad input."""
import json
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from spinewise.config import SignalConfig
from spinewise.signal.analyzer import Analyzer
from spinewise.stream import ImuChunk


def _run(chunks, exercise=False, restore_at=None, posture_rate_hz=0.0):
    a = Analyzer(SignalConfig(), exercise=exercise, posture_rate_hz=posture_rate_hz)
    events = []
    for i, c in enumerate(chunks):
        if restore_at is not None and i == restore_at:
            state = pickle.loads(pickle.dumps(a.get_state()))
            a = Analyzer(SignalConfig(), exercise=exercise, posture_rate_hz=posture_rate_hz)
            a.set_state(state)
        events += a.update(c)
    events += a.finish()
    return a.summary(), events


def _check_against_truth(s, truth, slouch_tol_s):
    act, ta = s["activity"], truth["activity"]
    assert abs(act["sedentary_s"] - ta["sedentary_s"]) <= 0.05 * ta["sedentary_s"] + 3
    assert abs(act["walking_s"] - ta["walking_s"]) <= 0.10 * ta["walking_s"] + 2
    assert abs(act["steps"] - ta["steps"]) <= 0.05 * ta["steps"] + 2
    assert act["breaks"] == ta["breaks"]
    assert abs(s["posture"]["slouch_s"] - truth["posture"]["slouch_s"]) <= slouch_tol_s
    assert s["calibration"]["calibrated"]
    R = np.asarray(truth["mounting"]["R_sensor_from_body"])
    Rm = np.asarray(s["calibration"]["R_sensor_from_body"])
    assert np.degrees(np.arccos(np.clip((np.trace(Rm.T @ R) - 1) / 2, -1, 1))) < 6.0


def test_office_fixture_matches_truth(office_25hz):
    chunk, truth = office_25hz
    s, _ = _run([chunk])
    _check_against_truth(s, truth, slouch_tol_s=15)
    assert s["duration_s"] == pytest.approx(truth["duration_s"], abs=0.1)
    assert "axial_rate_dps" not in s["unavailable"]


def test_accelerometer_only_fixture(office_accel_only):
    chunk, truth = office_accel_only
    assert chunk.gyro_dps is None
    s, events = _run([chunk], posture_rate_hz=5.0)
    _check_against_truth(s, truth, slouch_tol_s=15)
    assert "axial_rate_dps" in s["unavailable"] and s["has_gyro"] is False
    posture = [e for e in events if e.kind == "posture"]
    assert abs(len(posture) - 5 * truth["duration_s"]) <= 2


def test_identical_for_25_sample_chunks_and_after_restore(office_25hz):
    chunk, _ = office_25hz
    s1, e1 = _run([chunk], exercise=True)
    s2, e2 = _run(list(chunk.split(25)), exercise=True)
    s3, e3 = _run(list(chunk.split(1000)), exercise=True, restore_at=5)
    dump = lambda s: json.dumps(s, sort_keys=True)
    assert dump(s1) == dump(s2) == dump(s3)
    key = lambda evs: sorted(json.dumps(e.to_dict(), sort_keys=True) for e in evs)
    assert key(e1) == key(e2) == key(e3)


def test_minute_events_add_up(office_25hz):
    chunk, _ = office_25hz
    s, events = _run([chunk])
    minutes = [e.data for e in events if e.kind == "minute"]
    assert len(minutes) == int(np.ceil(s["duration_s"] / 60))
    total = sum(m[f"{c}_s"] for m in minutes for c in ("sitting", "standing", "walking", "lying", "exercise"))
    assert total == pytest.approx(s["duration_s"], abs=1.5)
    assert sum(m["steps"] for m in minutes) == s["activity"]["steps"]
    assert sum(m["slouch_s"] for m in minutes) == pytest.approx(s["posture"]["slouch_s"], abs=0.5)


def test_bad_samples_are_counted_not_fatal(office_25hz):
    chunk, _ = office_25hz
    part = chunk.slice(0, 2000)
    acc = part.acc_g.copy()
    acc[100] = np.nan
    t = part.t_s.copy()
    t[500] = t[499]                                        # duplicate time
    bad = ImuChunk(t, acc, part.gyro_dps, rate_hz=part.rate_hz)
    s, _ = _run([bad])
    assert s["rejected"] == {"non_finite": 1, "non_monotonic": 1}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=6, max_size=60),
       st.booleans())
def test_garbage_never_raises(values, gyro):
    n = len(values) // 6
    arr = np.asarray(values[:6 * n], dtype=np.float64).reshape(n, 6)
    t = np.cumsum(np.abs(np.nan_to_num(arr[:, 0], nan=0.01, posinf=1.0, neginf=1.0)) + 0.001)
    a = Analyzer(SignalConfig(), exercise=False)
    a.update(ImuChunk(t, arr[:, :3], arr[:, 3:] if gyro else None, rate_hz=50.0))
    a.update(ImuChunk(t, arr[:, :3], arr[:, 3:] if gyro else None, rate_hz=50.0))  # time repeats
    a.finish()
    s = a.summary()
    json.dumps(s, allow_nan=False)


def test_user_calibration_and_never_calibrated_paths():
    from tests.signal.synth import random_mounting, segments_signal
    chunk, _ = segments_signal([("standing", 20, 0), ("sitting", 100, -25)],
                               R_sensor_from_body=random_mounting(4), rate_hz=25.0)
    head, tail = chunk.slice(0, 250), chunk.slice(250, len(chunk))
    a = Analyzer(SignalConfig(), exercise=False, posture_rate_hz=1.0)
    events = a.update(head)
    ev = a.calibrate()                                # standing upright now
    assert ev and ev[0].data["reason"] == "user"
    events += a.update(tail) + a.finish()
    s = a.summary()
    assert s["calibration"]["reason"] == "user"
    incl = [e.data["incl_deg"] for e in events if e.kind == "posture"]
    # superior is exact from the user's word; without any walking the anterior sign is a
    # guess, so only the sign-free inclination is checked here
    assert abs(incl[15]) < 1.5 and abs(incl[-1] - 25.0) < 1.5
    b = Analyzer(SignalConfig(), exercise=False, posture_rate_hz=0.0)
    b.update(chunk)
    b.finish()
    s = b.summary()                                   # no walking, no user: mounting assumed
    assert s["calibration"]["calibrated"] is False and s["calibration"]["reason"] == "assumed"
    assert s["duration_s"] == pytest.approx(120.0, abs=0.1)


@pytest.mark.parametrize("name", ["ex_supine_25hz_upright", "ex_all_accel_only_25hz"])
def test_live_sedentary_bouts_end_where_exercise_begins(name):
    """Issue 16: the live ``sedentary_bout`` events never overlap a set or hold (the fixtures
    sit between sets shorter than the bout tolerance); chunked and restored alike."""
    from tests.signal.conftest import fixture_path, read_all
    chunk = read_all(fixture_path(name))
    n = len(chunk)
    chunks = [chunk.slice(i, min(i + 977, n)) for i in range(0, n, 977)]
    s, events = _run(chunks, exercise=True, restore_at=len(chunks) // 2)
    spans = [(x["start_s"], x["end_s"]) for x in s["sets"] + s["holds"]]
    bouts = [(e.data["start_s"], e.data["end_s"]) for e in events if e.kind == "sedentary_bout"]
    assert spans and bouts
    for b in bouts:
        for x in spans:
            assert min(b[1], x[1]) - max(b[0], x[0]) <= 1e-6, (b, x)
