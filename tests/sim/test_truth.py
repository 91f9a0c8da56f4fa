"""truth.json: totals add up, bouts/breaks/slouch are consistent, kinematics match the labels."""
from __future__ import annotations

import json

import numpy as np
import pytest

from spinewise.cli import main
from spinewise.sim import EXERCISES, simulate

CLASSES = ("sitting", "standing", "walking", "lying", "exercise")


def _check_tiling(truth):
    segs = truth["segments"]
    assert segs[0]["start_s"] == 0.0
    for a, b in zip(segs, segs[1:]):
        assert a["end_s"] == pytest.approx(b["start_s"], abs=2e-3)
    assert segs[-1]["end_s"] == pytest.approx(truth["duration_s"], abs=2e-3)
    act = truth["activity"]
    assert sum(act[f"{c}_s"] for c in CLASSES) == pytest.approx(truth["duration_s"], abs=0.05)
    assert act["sedentary_s"] <= act["sitting_s"] + act["lying_s"] + 0.01


@pytest.mark.parametrize("scenario,duration", [("exercise_session", None), ("office_day", 3 * 3600),
                                               ("mixed", None), ("day24", None)])
def test_totals_add_up(scenario, duration):
    sim = simulate(scenario, seed=4, rate_hz=25, duration_s=duration)
    t = sim.truth
    assert t["duration_s"] == pytest.approx(sim.n_samples / 25.0)
    _check_tiling(t)
    for b in t["activity"]["sedentary_bouts"] + t["breaks"] + t["posture"]["slouch_bouts"]:
        assert 0 <= b["start_s"] < b["end_s"] <= t["duration_s"] + 1e-6
    assert t["activity"]["breaks"] == len(t["breaks"])
    json.dumps(t)   # serialisable


def test_day24_has_sleep_and_everything():
    t = simulate("day24", seed=1, rate_hz=25).truth
    assert t["duration_s"] == pytest.approx(86400.0)
    asleep = sum(s["end_s"] - s["start_s"] for s in t["segments"] if s.get("asleep"))
    assert 6.5 * 3600 < asleep < 9 * 3600
    act = t["activity"]
    assert act["lying_s"] >= asleep
    assert act["sedentary_s"] < act["sitting_s"] + act["lying_s"] - asleep + 1
    assert act["walking_s"] > 1800 and act["steps"] > 3000
    assert {s["exercise"] for s in t["sets"]} | {h["exercise"] for h in t["holds"]} == set(EXERCISES)
    assert t["posture"]["slouch_s"] > 0 and act["breaks"] > 3


def test_exercise_session_covers_the_nine_exercises():
    t = simulate("exercise_session", seed=7, rate_hz=25).truth
    assert {s["exercise"] for s in t["sets"]} == set(EXERCISES) - {"plank", "side_plank"}
    assert {(h["exercise"], h["variant"]) for h in t["holds"]} >= {("plank", "knee"), ("plank", "forearm")}
    assert {h["side"] for h in t["holds"] if h["exercise"] == "side_plank"} == {"left", "right"}
    bd = next(s for s in t["sets"] if s["exercise"] == "bird_dog")
    assert bd["reps_left"] == bd["reps_right"] and 10 <= bd["reps_left"] <= 12   # guide: 10-12 per side
    kc = next(s for s in t["sets"] if s["exercise"] == "knee_to_chest")
    assert kc["reps_left"] == kc["reps_right"] == 3                               # guide: 3 per side
    for s in t["sets"]:
        for r in s["reps_detail"]:
            assert s["start_s"] <= r["start_s"] < r["end_s"] <= s["end_s"]
    exercise_s = sum(s["end_s"] - s["start_s"] for s in t["segments"] if s["activity"] == "exercise")
    assert exercise_s == pytest.approx(sum(s["end_s"] - s["start_s"] for s in t["sets"])
                                       + sum(h["set_end_s"] - h["set_start_s"] for h in t["holds"]), abs=0.05)


def test_rep_amplitude_is_the_body_rotation():
    """The labelled amplitude is what the pelvis does: compare with the noise-free trajectory."""
    sim = simulate("exercise_session", seed=12, rate_hz=50, noise=False, dose_scale=0.3)
    checked = 0
    for s in sim.truth["sets"]:
        for r in s["reps_detail"][:2]:
            t0 = r["start_s"]
            tp = t0 + r["up_s"] + r["hold_s"] / 2
            rot = sim.orientation(np.array([t0, tp]))
            total = np.degrees((rot[0].inv() * rot[1]).magnitude())
            other = np.hypot(r.get("roll_deg", 0) if s["exercise"] != "bird_dog" else 0,
                             r.get("tilt_deg", 0) if s["exercise"] in ("bird_dog", "knee_to_chest") else 0)
            # the primary rotation plus any secondary component, with a little sway on top
            assert r["amplitude_deg"] - 2.5 <= total <= np.hypot(r["amplitude_deg"], other) + 2.5, (s["exercise"], r)
            checked += 1
    assert checked >= 12


def test_holds_are_held_face_down_or_sideways():
    sim = simulate("exercise_session", seed=3, rate_hz=50, noise=False, exercises=["plank", "side_plank"])
    for h in sim.truth["holds"]:
        t = np.linspace(h["start_s"] + 1, h["end_s"] - 1, 20)
        b = sim.body_truth(t)
        expect_incl = 90 - h["incline_deg"]
        assert np.all(np.abs(b["incl_deg"] - expect_incl) < h["sag_deg"] + 3.0), h
        if h["exercise"] == "plank":
            assert np.all(b["up_body"][:, 0] < -0.8)     # face down
        else:
            assert np.all(np.abs(b["up_body"][:, 1]) > 0.8)


def test_steps_match_cadence():
    sim = simulate("office_day", seed=6, rate_hz=25, duration_s=2 * 3600)
    walk_s = sum(s.duration_s for s in sim.segments if s.activity == "walking")
    steps = sim.truth["activity"]["steps"]
    cadence = steps / walk_s
    assert 1.4 < cadence < 2.2


def test_sitting_tilt_and_slouch():
    sim = simulate("office_day", seed=8, rate_hz=25, duration_s=4 * 3600, noise=False)
    p = sim.truth["person"]
    bouts = sim.truth["posture"]["slouch_bouts"]
    assert bouts
    for b in bouts[:5]:
        t = np.linspace(b["start_s"] + 3, b["end_s"] - 3, 200)
        flex = np.median(sim.body_truth(t)["flexion_deg"])
        seg = sim.segments[sim.segment_index(t[100:101])[0]]
        if seg.activity == "sitting":
            assert flex < p["sit_flexion_deg"] - p["slump_extra_deg"] + 12
        else:
            assert flex > p["stand_flexion_deg"] + p["slouch_stand_deg"] - 6


def test_cli_writes_csv_and_truth(tmp_path):
    out = tmp_path / "rec.csv"
    rc = main(["simulate", "--scenario", "office_day", "--seed", "3", "--rate", "25",
               "--duration", "30", "--no-gyro", "--out", str(out)])
    assert rc == 0
    truth = json.loads((tmp_path / "rec.truth.json").read_text())
    assert truth["has_gyro"] is False and truth["duration_s"] == 30.0
    from spinewise.recording import read_chunks
    chunks = list(read_chunks(out))
    assert sum(len(c) for c in chunks) == 750 and chunks[0].gyro_dps is None
    assert main(["simulate", "--scenario", "nope", "--out", str(out)]) == 2


def test_sets_option_repeats_every_exercise():
    t = simulate("exercise_session", seed=2, rate_hz=25, sets=2, dose_scale=0.2,
                 exercises=["bridge", "plank", "squat"]).truth
    assert [s["exercise"] for s in t["sets"]].count("bridge") == 2
    assert [s["exercise"] for s in t["sets"]].count("squat") == 2
    assert [h["variant"] for h in t["holds"]] == ["knee", "forearm", "forearm"]
    starts = [s["start_s"] for s in t["sets"]] + [h["set_start_s"] for h in t["holds"]]
    assert len(set(starts)) == len(starts)


def test_slouch_truth_follows_the_product_definition():
    """Every slump is listed with its depth; only those beyond the threshold for >= min_s are
    slouch (SignalConfig), the rest count in slump_s only."""
    from spinewise.config import SignalConfig
    cfg = SignalConfig()
    t = simulate("office_day", seed=8, rate_hz=25, duration_s=4 * 3600, noise=False).truth
    post, person = t["posture"], t["person"]
    assert post["slouch_threshold_deg"] == cfg.slouch_threshold_deg
    assert post["slouch_min_s"] == cfg.slouch_min_s
    assert post["slouch_bouts"]
    for b in post["slouch_bouts"]:
        assert b["depth_deg"] in (round(person["slump_extra_deg"], 2), round(person["slouch_stand_deg"], 2))
        assert b["slouch"] == (b["depth_deg"] > cfg.slouch_threshold_deg
                               and b["end_s"] - b["start_s"] >= cfg.slouch_min_s)
    dur = [b["end_s"] - b["start_s"] for b in post["slouch_bouts"]]
    assert post["slump_s"] == pytest.approx(sum(dur), abs=0.01)
    assert post["slouch_s"] == pytest.approx(sum(d for d, b in zip(dur, post["slouch_bouts"])
                                                 if b["slouch"]), abs=0.01)
    assert "slouch_threshold_deg" in t["definitions"] and "slump" in t["definitions"]


def test_shallow_slumps_are_not_slouch_and_the_threshold_is_a_parameter():
    from spinewise.sim.truth import slouch_bouts_truth
    bouts = [[10.0, 100.0, 12.0], [200.0, 220.0, 25.0], [300.0, 400.0, 25.0], [500.0, 700.0, 20.0]]
    got = slouch_bouts_truth(bouts, duration_s=520.0)
    assert [b["slouch"] for b in got] == [False, False, True, False]   # shallow, short, yes, cut short
    assert got[-1]["end_s"] == 520.0
    assert [b["slouch"] for b in slouch_bouts_truth(bouts, 1000.0, threshold_deg=10.0)] == \
        [True, False, True, True]


def test_committed_fixture_truth_matches_the_simulator():
    """fixtures/sim truth JSON carries the same posture truth the simulator computes now."""
    from pathlib import Path
    fx = Path(__file__).resolve().parents[2] / "fixtures" / "sim" / "office_snippet_25hz_random.truth.json"
    committed = json.loads(fx.read_text())
    now = simulate("office_snippet", seed=105, rate_hz=25, mount="random", gait="classic").truth
    assert committed["posture"] == json.loads(json.dumps(now["posture"]))
