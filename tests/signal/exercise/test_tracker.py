"""ExerciseTracker on committed simulator fixtures: recognition, reps, holds, live events,
chunking invariance, state restore, announce and the accelerometer-only path."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from spinewise.config import SignalConfig
from spinewise.signal.body import BodySamples, angles_from_up
from spinewise.signal.exercise import ExerciseTracker
from spinewise.signal.exercise.oracle import OracleBody
from tests.signal.exercise.conftest import load, match, run_analyzer, run_oracle, run_oracle_cached

SUPINE = "ex_supine_25hz_upright"          # dead bug, knee-to-chest, spinal rotation, bridge
PRONE = "ex_prone_52hz_random"             # press-ups, knee + forearm plank, side planks
BIRDDOG = "ex_birddog_squat_104hz_belt"    # bird dog (6 reps), squats (2 reps)
ACC_ONLY = "ex_all_accel_only_25hz"        # all nine, short doses, no gyro, 25 Hz


def _sets_with_reps(truth, min_reps=3):
    # unannounced sets need exercise_set_min_reps similar reps before they are named
    return [s for s in truth["sets"] if s["reps"] >= min_reps]


@pytest.mark.parametrize("name", [SUPINE, PRONE])
def test_sets_are_found_named_and_counted(name):
    tracker, _, truth = run_oracle_cached(name)
    detected = tracker.summary()["sets"]
    for t in _sets_with_reps(truth):
        d = match(detected, t)
        assert d is not None, f"{t['exercise']} at {t['start_s']} not found"
        assert d["exercise"] == t["exercise"]
        assert d["reps"] == t["reps"]
        assert abs(d["start_s"] - t["start_s"]) < 1.5 and abs(d["end_s"] - t["end_s"]) < 1.5
        if t["reps_left"] or t["reps_right"]:
            assert (d["reps_left"], d["reps_right"]) == (t["reps_left"], t["reps_right"])


def test_rep_details_follow_the_truth():
    tracker, _, truth = run_oracle_cached(SUPINE)
    t = next(s for s in truth["sets"] if s["exercise"] == "bridge")
    d = match(tracker.summary()["sets"], t)
    for got, want in zip(d["reps_detail"], t["reps_detail"]):
        assert abs(got["start_s"] - want["start_s"]) < 0.6
        assert abs(got["end_s"] - want["end_s"]) < 0.6
        assert abs(got["hold_s"] - want["hold_s"]) < 1.0
        assert abs(got["amplitude_deg"] - want["amplitude_deg"]) < 0.25 * want["amplitude_deg"] + 1.0


def test_alternating_sides_are_labelled():
    tracker, _, truth = run_oracle_cached(SUPINE)
    t = next(s for s in truth["sets"] if s["exercise"] == "spinal_rotation")
    d = match(tracker.summary()["sets"], t)
    assert [r["side"] for r in d["reps_detail"]] == [r["side"] for r in t["reps_detail"]]


def test_holds_duration_stability_and_flags():
    tracker, _, truth = run_oracle_cached(PRONE)
    holds = tracker.summary()["holds"]
    assert len(holds) == len(truth["holds"])
    for t in truth["holds"]:
        d = match(holds, t)
        assert d["exercise"] == t["exercise"]
        assert abs(d["duration_s"] - t["duration_s"]) < 1.0
        st = d["stability"]
        assert 0.0 < st["sway_deg_rms"] < 5.0 and st["tremor_mg_rms"] > 0.0
        # the simulator's sag and shaking faults are flagged, clean holds are not
        for flag in ("sag", "shaking"):
            assert (flag in d["flags"]) == (flag in t["flags"]), (flag, t, d)


def test_live_events():
    tracker, events, truth = run_oracle_cached(PRONE)
    kinds = [e.kind for e in events]
    assert kinds.count("set_started") == kinds.count("set_finished") == len(tracker.summary()["sets"])
    assert kinds.count("hold_started") == kinds.count("hold_finished") == len(truth["holds"])
    started = False
    for e in events:
        if e.kind == "set_started":
            started = True
            first_batch = True
        elif e.kind == "rep" and started and not first_batch:
            # reps after the set is known are counted within 1 s of their end
            assert e.t_s - e.data["end_s"] <= 1.0
        elif e.kind != "rep":
            first_batch = False
    running = [e for e in events if e.kind == "hold_running"]
    assert running and all(e.data["elapsed_s"] >= 1 for e in running)
    # once per elapsed second: consecutive within a hold
    per_hold = np.split(np.array([e.data["elapsed_s"] for e in running]),
                        np.flatnonzero(np.diff([e.data["elapsed_s"] for e in running]) < 0) + 1)
    for seq in per_hold:
        assert np.all(np.diff(seq) == 1)
    finished = [e for e in events if e.kind == "set_finished"]
    assert finished and {"exercise", "start_s", "end_s", "reps", "reps_left", "reps_right",
                         "reps_detail"} <= set(finished[0].data)


@pytest.mark.parametrize("name", [SUPINE, PRONE, BIRDDOG])
def test_every_rep_is_announced_within_1_s_of_its_end(name):
    # before a set is named its reps go out as rep_pending (exercise None); the named set's
    # rep events follow at set_started. Every counted rep had one or the other in time.
    tracker, events, _ = run_oracle_cached(name)
    notices = [e for e in events if e.kind in ("rep", "rep_pending")]
    pending = [e for e in events if e.kind == "rep_pending"]
    assert pending and all(e.data["exercise"] is None and e.data["index"] >= 1 for e in pending)
    reps = [r for s in tracker.summary()["sets"] for r in s["reps_detail"]]
    assert reps
    for r in reps:
        assert any(min(e.data["end_s"], r["end_s"]) > max(e.data["start_s"], r["start_s"])
                   and e.t_s - r["end_s"] <= 1.0 for e in notices), r


def test_chunking_gives_identical_sets():
    one_tr, one_ev, _ = run_oracle(SUPINE, chunk_size=10 ** 7)
    small_tr, small_ev, _ = run_oracle(SUPINE, chunk_size=25)
    assert one_tr.summary() == small_tr.summary()
    assert one_tr.summary()["sets"]
    assert [(e.kind, e.t_s, e.data) for e in one_ev] == [(e.kind, e.t_s, e.data) for e in small_ev]


def test_state_restore_continues_identically():
    rec, truth = load(PRONE)
    cfg = SignalConfig()
    R = truth["mounting"]["R_sensor_from_body"]
    rate = truth["rate_hz"]
    ref = run_oracle_cached(PRONE)[0].summary()
    body = OracleBody(R, rate, rec.has_gyro)
    tracker = ExerciseTracker(cfg, rate)
    chunks = list(rec.split(500))
    half = len(chunks) // 2 + 3        # mid-hold / mid-set somewhere
    for c in chunks[:half]:
        tracker.update(body.update(c))
    state = pickle.loads(pickle.dumps(tracker.get_state()))
    json.dumps(tracker.get_state(), default=float)   # plain data
    resumed = ExerciseTracker(cfg, rate)
    resumed.set_state(state)
    for c in chunks[half:]:
        resumed.update(body.update(c))
    resumed.finish()
    assert resumed.summary() == ref


def test_announce_counts_without_recognising():
    rec, truth = load(BIRDDOG)
    t = next(s for s in truth["sets"] if s["exercise"] == "squat")
    tracker, events, _ = run_oracle(BIRDDOG, announce="squat")
    d = match(tracker.summary()["sets"], t)
    # two squats are too few to recognise unannounced, but announced they count at once
    assert d is not None and d["exercise"] == "squat" and d["reps"] == t["reps"]
    assert all(s["exercise"] == "squat" for s in tracker.summary()["sets"])
    with pytest.raises(ValueError):
        ExerciseTracker(SignalConfig(), 50.0).announce("cartwheel")


def test_no_false_sets_in_office_life():
    for name in ("office_snippet_25hz_random", "office_snippet_52hz_accel_only"):
        tracker = run_oracle(name)[0]
        assert tracker.summary() == {"sets": [], "holds": []}


def test_bird_dog_head_up_after_calibration_error_is_not_a_plank():
    # hands and knees a few degrees head-up (mounting calibrated 8 deg off) sits in the plank
    # incline band; the set's side-to-side rolls must end the "plank" so the set is counted
    from scipy.spatial.transform import Rotation
    rec, truth = load(BIRDDOG)
    r = np.asarray(truth["mounting"]["R_sensor_from_body"]) @ Rotation.from_euler("y", -8, degrees=True).as_matrix()
    body = OracleBody(r, truth["rate_hz"], rec.has_gyro)
    tracker = ExerciseTracker(SignalConfig(), truth["rate_hz"])
    for chunk in rec.split(500):
        tracker.update(body.update(chunk))
    tracker.finish()
    t_set = next(s for s in truth["sets"] if s["exercise"] == "bird_dog")
    d = match(tracker.summary()["sets"], t_set)
    assert d is not None and d["exercise"] == "bird_dog" and d["reps"] >= 3
    held = sum(h["duration_s"] for h in tracker.summary()["holds"])
    assert held < 0.5 * (t_set["end_s"] - t_set["start_s"])


def test_accelerometer_only_25hz():
    tracker, _, truth = run_oracle_cached(ACC_ONLY)
    assert "tremor_mg_rms" in tracker.unavailable     # 8-12 Hz too close to Nyquist at 25 Hz
    holds = tracker.summary()["holds"]
    for t in truth["holds"]:
        d = match(holds, t)
        assert d is not None and d["exercise"] == t["exercise"]
        assert abs(d["duration_s"] - t["duration_s"]) < 1.0
        assert d["stability"]["tremor_mg_rms"] is None
    bd = match(tracker.summary()["sets"], next(s for s in truth["sets"] if s["exercise"] == "bird_dog"))
    assert bd["exercise"] == "bird_dog" and abs(bd["reps"] - 4) <= 1


def test_through_the_analyzer():
    summary, events, truth = run_analyzer(PRONE)
    for t in _sets_with_reps(truth):
        d = match(summary["sets"], t)
        assert d["exercise"] == t["exercise"] and d["reps"] == t["reps"]
    for t in truth["holds"]:
        d = match(summary["holds"], t)
        assert d["exercise"] == t["exercise"] and abs(d["duration_s"] - t["duration_s"]) < 1.0
    summary, _, truth = run_analyzer(SUPINE)
    for t in _sets_with_reps(truth):
        d = match(summary["sets"], t)
        assert d["exercise"] == t["exercise"] and d["reps"] == t["reps"]
    summary, _, truth = run_analyzer(ACC_ONLY)
    assert "tremor_mg_rms" in summary["unavailable"]


def test_active_flag_and_uncalibrated_samples_are_ignored():
    rec, truth = load(PRONE)
    body = OracleBody(truth["mounting"]["R_sensor_from_body"], truth["rate_hz"], rec.has_gyro)
    tracker = ExerciseTracker(SignalConfig(), truth["rate_hz"])
    hold = truth["holds"][0]
    seen_active = False
    for c in rec.split(250):
        tracker.update(body.update(c))
        if hold["start_s"] + 12 < c.t_s[-1] < hold["end_s"] - 2:
            seen_active |= tracker.active
    assert seen_active
    from dataclasses import replace
    fresh = ExerciseTracker(SignalConfig(), truth["rate_hz"])
    body2 = OracleBody(truth["mounting"]["R_sensor_from_body"], truth["rate_hz"], rec.has_gyro)
    for c in rec.split(1000):
        assert fresh.update(replace(body2.update(c), calibrated=False)) == []


def test_garbage_body_samples_are_rejected_not_raised():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    floats = st.floats(allow_nan=True, allow_infinity=True, width=32)

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.tuples(floats, floats, floats), min_size=1, max_size=60))
    def run(rows):
        n = len(rows)
        up = np.asarray(rows, dtype=np.float64)
        t = np.arange(n) * 0.02
        with np.errstate(all="ignore"):
            f, la, inc = angles_from_up(np.nan_to_num(up))
        tracker = ExerciseTracker(SignalConfig(), 50.0)
        body = BodySamples(t, up, None, up, f, la, inc, True, 50.0)
        tracker.update(body)
        tracker.finish()
        with np.errstate(all="ignore"):
            bad = ~(np.all(np.isfinite(up), axis=1) & (np.abs(np.linalg.norm(up, axis=1) - 1.0) < 0.5))
        assert tracker.rejected == int(bad.sum())

    run()


def _upright_rocking(walking: bool, rate=50.0, dur_s=150.0, drop_m=0.35):
    """Standing, flexing forward 20 deg and back every 6 s, the pelvis lowered ``drop_m`` and
    raised with it: squats. With ``walking`` the body also bounces 0.2 g at 1.8 Hz from 8 s
    on, as every step does (they stood still first, so a rest pose is taken)."""
    t = np.arange(int(dur_s * rate)) / rate
    w = 2.0 * np.pi / 6.0
    phase = np.clip(t - 10.0, 0.0, None)
    ang = np.radians(10.0 * (1.0 - np.cos(w * phase)))
    up = np.column_stack([-np.sin(ang), np.zeros_like(ang), np.cos(ang)])   # x anterior
    # height -drop_m (1 - cos) / 2: its second derivative along world-up, in g
    z_acc_g = np.where(t > 10.0, -0.5 * drop_m * w * w * np.cos(w * phase), 0.0) / 9.80665
    acc = up * (1.0 + z_acc_g)[:, None]
    if walking:
        step = np.where(t > 8.0, 0.2, 0.0)       # vertical and fore-aft, a quarter cycle apart
        acc[:, 2] += step * np.sin(2.0 * np.pi * 1.8 * t)
        acc[:, 0] += step * np.cos(2.0 * np.pi * 1.8 * t)
    f, la, inc = angles_from_up(up)
    return BodySamples(t, acc, np.zeros_like(acc), up, f, la, inc, True, rate)


def test_walking_pelvis_rocking_is_not_squats():
    # office seed 3100: the slow beats of a walk's pelvis rocking were counted as squats
    found = {}
    for walking in (False, True):
        tracker = ExerciseTracker(SignalConfig(), 50.0)
        tracker.update(_upright_rocking(walking))
        tracker.finish()
        found[walking] = tracker.summary()["sets"]
    assert [s["exercise"] for s in found[False]] == ["squat"]     # the same motion, quiet
    assert found[True] == []


@pytest.mark.parametrize("bias_g", [0.0, 0.01])
def test_flexing_forward_without_lowering_the_pelvis_is_not_squats(bias_g):
    """Reaching forward while seated, rep after rep, as regular as squats (report seed 9004's
    office day: three reaches of 30 deg counted as a squat set): the pelvis stays on the seat.
    A squat lowers it 0.2-0.5 m (tracker.SQUAT_MIN_TRAVEL_M), also with an accelerometer bias
    that moves with the lean. (With 0.02 g per axis these slow 6 s reaches read 0.10 m of
    travel, at the threshold: past that the reaches count as squats again, as before.)"""
    found = {}
    for drop_m in (0.35, 0.0):
        body = _upright_rocking(False, drop_m=drop_m)
        body = BodySamples(body.t_s, body.acc_body_g + np.array([bias_g, -bias_g, bias_g]),
                           body.gyro_body_dps, body.up_body, body.flexion_deg, body.lateral_deg,
                           body.incl_deg, True, body.rate_hz)
        tracker = ExerciseTracker(SignalConfig(), 50.0)
        tracker.update(body)
        tracker.finish()
        found[drop_m] = [s["exercise"] for s in tracker.summary()["sets"]]
    assert found == {0.35: ["squat"], 0.0: []}


def _bird_dog_stream(order: list[int], rate=50.0, roll_deg=6.0, hold_s=6.0, pause_s=1.0, seed=0):
    """On hands and knees (prone, trunk level), one bird dog rep per entry of ``order``
    (+1 / -1: the side the pelvis rolls to): a 1.2 s minimum-jerk roll out, a hold, the same
    back and a pause at rest; breathing rocks the pelvis 0.3 deg and sensor noise on top."""
    rng = np.random.default_rng(seed)
    move = 1.2
    rep_s = 2 * move + hold_s + pause_s
    lead = 10.0
    t = np.arange(int((lead + len(order) * rep_s + 15.0) * rate)) / rate
    roll = np.zeros_like(t)
    for i, side in enumerate(order):
        x = t - lead - i * rep_s
        ramp = lambda u: np.clip(u, 0, 1) ** 3 * (10 - 15 * np.clip(u, 0, 1) + 6 * np.clip(u, 0, 1) ** 2)
        roll += side * roll_deg * (ramp(x / move) - ramp((x - move - hold_s) / move))
    pitch = 0.3 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 0.05, len(t))
    r, p = np.radians(roll), np.radians(pitch)
    up = np.column_stack([-np.cos(r) * np.cos(p), np.sin(r) * np.cos(p), np.sin(p)])
    acc = up + rng.normal(0, 0.003, up.shape)
    f, la, inc = angles_from_up(up)
    return BodySamples(t, acc, np.zeros_like(acc), up, f, la, inc, True, rate)


@pytest.mark.parametrize("order", [[1, -1] * 10, [1] * 10 + [-1] * 10], ids=["alternating", "blocked"])
def test_bird_dog_alternating_or_in_blocks(order):
    # guide: "Perform 10-12 repetitions per side": people alternate, or do all of one side
    # first (field sessions 101 / 108 were split into 1-2-rep sets when reps had to alternate)
    tracker = ExerciseTracker(SignalConfig(), 50.0)
    tracker.update(_bird_dog_stream(order))
    tracker.finish()
    sets = tracker.summary()["sets"]
    assert [(s["exercise"], s["reps"]) for s in sets] == [("bird_dog", 20)]
    assert sets[0]["reps_left"] == sets[0]["reps_right"] == 10


def test_angle_comparisons_decide_as_the_numpy_angle():
    """_angle_cmp (plain floats, numpy within a hair of the limit) gives the sign of
    _angle_deg - limit on random pairs and on pairs placed at the limit to the last bits."""
    from scipy.spatial.transform import Rotation

    from spinewise.signal.exercise import tracker as tm

    rng = np.random.default_rng(7)
    limits = [tm.HOLD_NEAR_DEG, tm.HOLD_ARRIVE_DEG, tm.HOLD_LEAVE_DEG, tm.HOLD_LIFT_DEG,
              tm.HOLD_MAX_TILT_DEG]
    checked = 0
    for k in range(4000):
        a = rng.normal(0, 1, 3)
        a /= np.linalg.norm(a)
        lim = limits[k % len(limits)]
        axis = np.cross(a, rng.normal(0, 1, 3))
        axis /= np.linalg.norm(axis)
        ang = lim + (rng.normal(0, 1e-13) if k % 2 else rng.normal(0, 3))
        b = Rotation.from_rotvec(np.radians(ang) * axis).apply(a)
        for x, y in ((a, b), (list(b), a.tolist())):
            v = tm._angle_deg(x, y)
            assert tm._angle_cmp(x, y, lim) == (v > lim) - (v < lim)
            checked += 1
    assert checked == 8000
