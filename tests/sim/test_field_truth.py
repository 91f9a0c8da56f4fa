"""The simulator's truth exported in the field-case format is what the field scorer reads."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spinewise.config import SignalConfig
from spinewise.sim import simulate
import numpy as np

from spinewise.sim.field_truth import ambiguous_flags, forward_axis_error_deg, to_field_truth

SCORER = Path(__file__).resolve().parents[3] / "shared" / "field-cases" / "score.py"


def rep(start_s, end_s, **kw):
    return dict(start_s=start_s, end_s=end_s, **kw)


def test_values_near_a_threshold_are_ambiguous():
    cfg = SignalConfig()
    assert ambiguous_flags("squat", rep(0.0, 2.1), cfg) == ["too_fast"]
    assert ambiguous_flags("squat", rep(0.0, 2.5), cfg) == []
    assert ambiguous_flags("dead_bug", rep(0.0, 5.0, hold_s=2.3), cfg) == ["short_hold"]
    assert ambiguous_flags("bird_dog", rep(0.0, 9.0, hold_s=7.0, roll_deg=-5.3), cfg) == ["hip_rotation"]
    assert ambiguous_flags("bird_dog", rep(0.0, 9.0, hold_s=7.0, roll_deg=6.0), cfg) == []


def test_export_keeps_the_truth_and_adds_the_field_keys():
    truth = simulate("exercise_session", seed=3, rate_hz=25.0).truth
    out = to_field_truth(truth)
    assert "ambiguous" not in truth["sets"][0]["reps_detail"][0]      # input untouched
    assert out["steps"] == truth["activity"]["steps"]
    assert out["sample_rate_hz"] == 25.0
    assert all(isinstance(r["ambiguous"], list) for s in out["sets"] for r in s["reps_detail"])
    r_sb = np.asarray(truth["mounting"]["R_sensor_from_body"])
    assert np.allclose(np.asarray(out["mount"]["R_BS"]) @ r_sb, np.eye(3), atol=1e-6)


def test_forward_axis_error_against_the_committed_mounting():
    truth = to_field_truth(simulate("exercise_session", seed=3, rate_hz=25.0).truth)
    r_sb = np.asarray(truth["mounting"]["R_sensor_from_body"])
    assert forward_axis_error_deg(truth["mount"], {"R_sensor_from_body": r_sb.tolist()}) < 1e-3
    flipped = r_sb @ np.diag([-1.0, -1.0, 1.0])            # forward and left reversed
    assert abs(forward_axis_error_deg(truth["mount"], {"R_sensor_from_body": flipped.tolist()}) - 180) < 1e-3
    assert forward_axis_error_deg(truth["mount"], {"calibrated": False}) is None


@pytest.mark.skipif(not SCORER.exists(), reason="../shared/field-cases/score.py is not beside the checkout")
def test_the_field_scorer_reads_the_export():
    spec = importlib.util.spec_from_file_location("field_score", SCORER)
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    truth = to_field_truth(simulate("mixed", seed=5, rate_hz=25.0).truth)
    # the truth itself as the prediction scores perfectly
    perfect = dict(sets=[dict(s, reps_detail=[dict(r) for r in s["reps_detail"]]) for s in truth["sets"]
                         if s["exercise"] not in ("plank", "side_plank")],
                   holds=truth["holds"], activity=truth["activity"])
    got = score.score(truth, perfect)
    assert got["sets_found"] == got["sets_true"] > 0
    assert got["holds_found"] == got["holds_true"] > 0
    assert set(got["rep_errs"]) == {0}
    assert abs(got["sed_err"]) < 1e-9 and abs(got["steps_err"]) < 1e-9
    assert all(c[1] == 0 and c[2] == 0 for c in got["flags"].values())
