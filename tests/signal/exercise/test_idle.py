"""The batched idle path (idle.py) takes runs of idle frames off ExerciseTracker._step: with
it on, every event and the whole saved state must equal the frame-by-frame tracker's, bit
for bit (floats compared through their repr), whatever the chunking."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from spinewise.config import SignalConfig
from spinewise.recording import read_all
from spinewise.signal.analyzer import Analyzer
from spinewise.signal.exercise import ExerciseTracker, idle
from spinewise.signal.exercise import tracker as tracker_mod
from spinewise.signal.exercise.oracle import OracleBody

from .conftest import SIM, load

FIXTURES = ["ex_supine_25hz_upright", "ex_prone_52hz_random", "ex_birddog_squat_104hz_belt",
            "ex_all_accel_only_25hz", "office_snippet_25hz_random", "office_snippet_52hz_accel_only"]


def _canonical(state) -> str:
    return json.dumps(state, sort_keys=True, default=lambda o: np.asarray(o).tolist())


def _counting(monkeypatch) -> list:
    """Count the frames the batched path takes."""
    taken = [0]
    run = idle.idle_run

    def counted(tr, t_all, *a, **kw):
        j = run(tr, t_all, *a, **kw)
        taken[0] += j - a[-1]
        return j
    monkeypatch.setattr(idle, "idle_run", counted)
    return taken


def _run(name: str, fast: bool, chunk_size: int, monkeypatch, announce: str | None = None,
         compiled: bool = True):
    monkeypatch.setattr(tracker_mod, "IDLE_FAST", fast)
    monkeypatch.setattr(idle, "_loop", idle._loop if compiled else None)
    rec, truth = load(name)
    body = OracleBody(truth["mounting"]["R_sensor_from_body"], truth["rate_hz"], rec.has_gyro)
    tracker = ExerciseTracker(SignalConfig(), truth["rate_hz"])
    events = tracker.announce(announce) if announce else []
    states = []
    for k, chunk in enumerate(rec.split(chunk_size)):
        events += tracker.update(body.update(chunk))
        if k % 5 == 0:
            states.append(_canonical(tracker.get_state()))
    events += tracker.finish()
    states.append(_canonical(tracker.get_state()))
    return _canonical([(e.kind, e.t_s, e.data) for e in events]), states, tracker.summary()


@pytest.mark.parametrize("compiled", [True, False], ids=["C loop", "Python loop"])
@pytest.mark.parametrize("name", FIXTURES)
def test_idle_path_changes_no_event_and_no_state(name, compiled, monkeypatch):
    taken = _counting(monkeypatch)
    off = _run(name, False, 250, monkeypatch)
    assert taken[0] == 0
    on = _run(name, True, 250, monkeypatch, compiled=compiled)
    assert on[0] == off[0]
    assert on[1] == off[1]            # bit for bit, at every 5th chunk boundary and the end
    assert on[2] == off[2]
    if name.startswith("office"):
        assert taken[0] > 0           # an office snippet has idle upright stretches


def test_the_compiled_loop_is_built():
    """CI builds it (setup.py: an optional extension); a build that failed silently
    would leave the C loop untested and the analysis slower."""
    if os.environ.get("CI") == "true":
        assert idle._loop is not None, "spinewise/signal/exercise/_idle_loop.c was not built"
    elif idle._loop is None:
        pytest.skip("the C loop is not built here (no compiler?): the Python loop runs")


@pytest.mark.parametrize("compiled", [True, False], ids=["C loop", "Python loop"])
@pytest.mark.parametrize("chunk_size", [7, 4096])
def test_idle_path_whatever_the_chunks(chunk_size, compiled, monkeypatch):
    """Runs cut at chunk boundaries of any size (the frame builder itself is chunk-invariant
    only to the last bit or so, so each chunking is compared with itself unbatched)."""
    name = "office_snippet_25hz_random"
    assert (_run(name, True, chunk_size, monkeypatch, compiled=compiled)
            == _run(name, False, chunk_size, monkeypatch))


def test_idle_path_with_an_announced_hold(monkeypatch):
    off = _run("office_snippet_52hz_accel_only", False, 100, monkeypatch, announce="plank")
    on = _run("office_snippet_52hz_accel_only", True, 100, monkeypatch, announce="plank")
    assert on == off


def test_idle_state_restores_mid_recording(monkeypatch):
    """A state saved between idle runs continues in a fresh tracker exactly as without a save."""
    name = "office_snippet_25hz_random"
    ref_events, _, ref_summary = _run(name, True, 50, monkeypatch)
    rec, truth = load(name)
    body = OracleBody(truth["mounting"]["R_sensor_from_body"], truth["rate_hz"], rec.has_gyro)
    tracker = ExerciseTracker(SignalConfig(), truth["rate_hz"])
    events = []
    for k, chunk in enumerate(rec.split(50)):
        if k % 40 == 39:
            restored = ExerciseTracker(SignalConfig(), truth["rate_hz"])
            restored.set_state(pickle.loads(pickle.dumps(tracker.get_state())))
            tracker = restored
        events += tracker.update(body.update(chunk))
    events += tracker.finish()
    assert _canonical([(e.kind, e.t_s, e.data) for e in events]) == ref_events
    assert tracker.summary() == ref_summary


@pytest.mark.parametrize("name", ["office_snippet_25hz_random", "ex_birddog_squat_104hz_belt"])
def test_analyzer_summary_unchanged(name, monkeypatch):
    """Through the whole Analyzer (its own calibration): the same summary either way."""
    rec = read_all(SIM / f"{name}.csv")

    def summary(fast: bool) -> str:
        monkeypatch.setattr(tracker_mod, "IDLE_FAST", fast)
        a = Analyzer(SignalConfig())
        for chunk in rec.split(4096):
            a.update(chunk)
        a.finish()
        return _canonical(a.summary())
    assert summary(True) == summary(False)


def _body(t, elev_deg, lat_deg, rate, seed=4):
    from spinewise.signal.body import BodySamples, angles_from_up
    rng = np.random.default_rng(seed)
    e, lat = np.radians(elev_deg), np.radians(lat_deg)
    up = np.column_stack([np.cos(e) * np.cos(lat), np.cos(e) * np.sin(lat), np.sin(e)])
    up += rng.normal(0, 0.002, up.shape)
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    acc = up + rng.normal(0, 0.004, up.shape)
    f, la, inc = angles_from_up(up)
    return BodySamples(t, acc, np.zeros_like(acc), up, f, la, inc, True, rate)


def _on_and_off(body, rate, monkeypatch, announce: str | None = None, compiled: bool = True):
    """(events, states every chunk, frames the batched path took), batched path on and off."""
    out = {}
    for fast in (True, False):
        with monkeypatch.context() as mp:
            mp.setattr(tracker_mod, "IDLE_FAST", fast)
            mp.setattr(idle, "_loop", idle._loop if compiled else None)
            taken = _counting(mp)
            tracker = ExerciseTracker(SignalConfig(), rate)
            events = tracker.announce(announce) if announce else []
            states = []
            for k in range(0, len(body), 731):
                events += tracker.update(body.slice(k, min(k + 731, len(body))))
                states.append(_canonical(tracker.get_state()))
            events += tracker.finish()
        out[fast] = (_canonical([(e.kind, e.t_s, e.data) for e in events]), states, taken[0])
    return out


def _slumped_sitter(announce: str | None, compiled: bool, monkeypatch):
    """Upright, then a slumped sitter whose pelvis hovers about the upright limit (50 deg
    elevation, tilted back: supine side) with fidgets, then still there."""
    rate = 50.0
    t = np.arange(int(600 * rate)) / rate
    elev = np.where(t < 60, 85.0, 50.0 + 3.0 * np.sin(2 * np.pi * t / 37.0)
                    + 1.5 * np.sin(2 * np.pi * t / 11.0))
    elev += np.where((t % 45) < 2.0, 4.0 * np.sin(2 * np.pi * 1.5 * t), 0.0)
    return _on_and_off(_body(t, elev, 3.0 * np.sin(2 * np.pi * t / 53.0), rate), rate, monkeypatch,
                       announce, compiled)


@pytest.mark.parametrize("compiled", [True, False], ids=["C loop", "Python loop"])
@pytest.mark.parametrize("announce", [None, "plank"])
def test_a_slumped_sitter_at_the_upright_limit(announce, compiled, monkeypatch):
    """Frames off upright but tilted back (supine side) cannot start a hold unless a hold was
    announced: the batched path takes them (moving ones too) and stays exact."""
    out = _slumped_sitter(announce, compiled, monkeypatch)
    assert out[True][0] == out[False][0]
    assert out[True][1] == out[False][1]
    if announce is None:
        assert out[True][2] > 0.9 * 540 * 10     # nearly every frame of the slumped 9 minutes


@pytest.mark.parametrize("compiled", [True, False], ids=["C loop", "Python loop"])
def test_candidate_reps_raise_the_threshold_and_expire_inside_a_run(compiled, monkeypatch):
    """Standing, two 20 deg leans that close as reps (candidates, no set), then still: the
    batched path takes the frames after them with the candidates' threshold, and the
    candidates expire inside a run (exercise_set_gap_s after the last), as _step does."""
    rate = 50.0
    t = np.arange(int(240 * rate)) / rate
    lean = np.zeros_like(t)
    for c in (40.0, 52.0):
        x = np.clip((t - c) / 4.0, 0.0, 1.0)
        lean += 20.0 * np.sin(np.pi * x) ** 2
    elev = 88.0 - lean + 0.3 * np.sin(2 * np.pi * t / 4.0)
    out = _on_and_off(_body(t, elev, np.zeros_like(t), rate, seed=5), rate, monkeypatch,
                      compiled=compiled)
    assert out[True][0] == out[False][0]
    assert out[True][1] == out[False][1]
    # all but the leans' ~130 frames, the first rest pose's 10 and the 15 s after it, when
    # the pose may yet be re-taken (tracker.REST_SETTLE_S) (without the candidates the
    # frames until they expired went to _step: 2,110 then, 1,960 now)
    assert out[True][2] >= 2200
