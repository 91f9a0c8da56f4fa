"""Property tests: any valid option set gives a consistent truth; bad options are ValueErrors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinewise.sim import EXERCISES, SCENARIOS, simulate
from spinewise.sim.sensor import parse_mount


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.sampled_from(SCENARIOS), seed=st.integers(0, 2 ** 40),
       rate=st.floats(25.0, 104.0), duration=st.floats(60.0, 3 * 3600.0),
       exercises=st.lists(st.sampled_from(EXERCISES), min_size=1, max_size=3, unique=True),
       start_h=st.integers(0, 23))
def test_any_plan_is_consistent(scenario, seed, rate, duration, exercises, start_h):
    sim = simulate(scenario, seed=seed, rate_hz=rate, duration_s=duration, exercises=exercises,
                   dose_scale=0.3, start_utc=f"2026-03-0{1 + seed % 7}T{start_h:02d}:17:00Z")
    t = sim.truth
    assert sim.n_samples == round(t["duration_s"] * rate)
    if scenario != "exercise_session":
        assert t["duration_s"] == pytest.approx(np.floor(duration * rate + 1e-9) / rate, abs=1e-3)
    act = t["activity"]
    total = sum(act[f"{c}_s"] for c in ("sitting", "standing", "walking", "lying", "exercise"))
    assert total == pytest.approx(t["duration_s"], abs=0.05)
    for s in t["sets"]:
        assert s["exercise"] in exercises
        assert s["reps"] == len(s["reps_detail"]) >= 1
        assert s["end_s"] <= t["duration_s"] + 1e-6
    # the first block of samples is finite and near 1 g on average
    first = next(sim.chunks(256))
    assert np.all(np.isfinite(first.acc_g))
    assert 0.8 < np.linalg.norm(first.acc_g, axis=1).mean() < 1.2


@given(st.text(max_size=30))
def test_mount_spec_is_parsed_or_rejected_cleanly(spec):
    try:
        name, rot = parse_mount(spec, np.random.default_rng(0))
    except ValueError:
        return
    assert np.allclose(rot.as_matrix() @ rot.as_matrix().T, np.eye(3))


@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_euler_mounts(z, y, x):
    _, rot = parse_mount(f"euler:{z},{y},{x}", np.random.default_rng(0))
    assert np.allclose(np.linalg.det(rot.as_matrix()), 1.0)
