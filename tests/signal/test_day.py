"""DayTracker pieces: sedentary bouts/breaks, slouch runs, neutral learning."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spinewise.signal.neutral import NeutralEstimator
from spinewise.signal.sedentary import SedentaryTracker
from spinewise.signal.slouch import SlouchTracker


def _feed(tr, spans):
    ev = []
    for a, b, kind in spans:
        for t in range(a, b):
            ev += tr.span(float(t), float(t + 1), kind)
    return ev + tr.finish()


def test_bouts_bridge_short_interruptions_and_breaks_need_a_minute():
    tr = SedentaryTracker(tolerance_s=60, break_min_s=60)
    ev = _feed(tr, [(0, 600, "sedentary"), (600, 640, "upright"), (640, 1200, "sedentary"),
                    (1200, 1300, "upright"), (1300, 1330, "sedentary")])
    bouts = [(e.data["start_s"], e.data["end_s"]) for e in ev if e.kind == "sedentary_bout"]
    breaks = [(e.data["start_s"], e.data["end_s"]) for e in ev if e.kind == "break"]
    assert bouts == [(0.0, 1200.0)]                    # 40 s interruption bridged; 30 s bout unlisted
    assert breaks == [(1200.0, 1300.0)]


def test_exercise_ends_a_bout_however_short_and_a_new_one_starts_after_it():
    """Issue 16: a 40 s squat set inside an hour at the desk is not bridged like a 40 s
    stand-up; the bout ends where the set's own edges say, not at the epoch boundary."""
    tr = SedentaryTracker(tolerance_s=60, break_min_s=60)
    ev = []
    for t in range(0, 600):
        ev += tr.span(float(t), float(t + 1), "sedentary")
    ev += tr.span(599.6, 641.0, "exercise")           # set 599.6-640.3 s, epochs 600-640 marked
    state = tr.get_state()
    tr = SedentaryTracker(tolerance_s=60, break_min_s=60)
    tr.set_state(state)
    for t in range(640, 1200):
        ev += tr.span(float(t), float(t + 1), "sedentary")
    ev += tr.finish()
    bouts = [(e.data["start_s"], e.data["end_s"]) for e in ev if e.kind == "sedentary_bout"]
    assert bouts == [(0.0, 599.6), (641.0, 1200.0)]


def test_slouch_needs_min_duration_and_counts_from_its_start():
    tr = SlouchTracker(min_s=30)
    flags, events = [], []
    pattern = [False] * 5 + [True] * 20 + [False] * 10 + [True] * 40 + [False] * 12
    for i, like in enumerate(pattern):
        released, ev = tr.push(i, float(i), float(i + 1), like, -30.0 if like else -5.0)
        flags += released
        events += ev
    released, ev = tr.flush()
    flags += released
    events += ev
    assert [r for r, _ in flags] == list(range(len(pattern)))   # all released, in order
    slouched = [r for r, s in flags if s]
    assert slouched == list(range(35, 75))
    assert [e.kind for e in events] == ["slouch_started", "slouch_ended"]
    assert events[0].data["start_s"] == 35.0 and events[1].data["end_s"] == 75.0


def test_sitting_neutral_ignores_slumps_and_stays_in_the_body_model_range():
    n = NeutralEstimator(0.75, -12.0, min_epochs=10, limits_deg=(-22.0, 0.0))
    assert n.value() == -12.0
    for _ in range(300):
        n.add(-8.0)
    for _ in range(200):
        n.add(-30.0)                                   # slumped 40 % of the time
    assert abs(n.value() - (-8.0)) < 0.5
    m = NeutralEstimator(0.75, -12.0, min_epochs=10, limits_deg=(-22.0, 0.0))
    for _ in range(100):
        m.add(-35.0)                                   # the day starts with a long slump
    assert m.value() == -12.0                          # beyond the plausible range: the prior


def _sitting(rng, n, mean_deg, sd_deg=0.6):
    return rng.normal(mean_deg, sd_deg, n).tolist()


def test_sitting_neutral_is_the_upright_most_sustained_posture_however_long_the_slumps():
    rng = np.random.default_rng(1)
    n = NeutralEstimator(0.75, -12.0, limits_deg=(-22.0, 0.0))
    # slumps within seconds of sitting down, within the plausible range, 15 min long
    for i, v in enumerate(_sitting(rng, 900, -17.0)):
        n.add(v, 10.0 if i < 30 else 1.0)             # the settled seconds after sitting down
    assert n.value() == pytest.approx(-17.0, abs=0.3)  # nothing else seen yet: the slump is all
    for v in _sitting(rng, 120, -5.0):                 # two minutes upright: 10 % of the time
        n.add(v)
    assert n.value() == pytest.approx(-5.0, abs=0.3)
    for v in _sitting(rng, 900, -17.0):                # upright stays neutral at 6 % of the time
        n.add(v)
    assert n.value() == pytest.approx(-5.0, abs=0.3)
    q = NeutralEstimator(0.75, -12.0, limits_deg=(-22.0, 0.0))
    for v in _sitting(rng, 600, -11.0) + _sitting(rng, 1200, -26.0) + _sitting(rng, 40, 2.0):
        q.add(v)                                       # 2/3 slumped; 40 s perched forward
    assert q.value() == pytest.approx(-11.0, abs=0.3)  # brief perching is not sustained


def test_long_slump_from_the_start_is_judged_against_the_population_prior():
    rng = np.random.default_rng(2)
    n = NeutralEstimator(0.75, -12.0, limits_deg=(-22.0, 0.0))
    for v in _sitting(rng, 600, -33.0):
        n.add(v)
    assert n.known and n.value() == -12.0              # -33 is no plausible neutral: a slump
    for v in _sitting(rng, 60, -17.3):                 # then a minute sitting upright
        n.add(v)
    assert n.value() == pytest.approx(-17.3, abs=0.3)


def test_standing_neutral_stays_the_median():
    rng = np.random.default_rng(3)
    n = NeutralEstimator(0.5, 0.0, limits_deg=(-4.0, 4.0))
    assert n.upright_side == 0
    for v in _sitting(rng, 500, 1.3, 1.0):
        n.add(v)
    assert n.value() == pytest.approx(1.3, abs=0.3)
    n.add(float("nan"))                                # teaches nothing, no error
    with pytest.raises(ValueError):
        NeutralEstimator(0.75, -12.0, upright_side=2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-120, 120) | st.just(float("nan")), max_size=400))
def test_neutral_stays_in_limits_whatever_the_input(values):
    n = NeutralEstimator(0.75, -12.0, min_epochs=5, limits_deg=(-22.0, 0.0))
    for v in values:
        n.add(v)
    assert -22.0 <= n.value() <= 0.0


def _run_slouch(flags_flex, min_s=30, chunks=None):
    tr = SlouchTracker(min_s=min_s)
    out, events = [], []
    for i, (like, flex) in enumerate(flags_flex):
        released, ev = tr.push(i, float(i), float(i + 1), like, flex)
        out += released
        events += ev
        if chunks and i in chunks:                      # restore mid-run
            state = tr.get_state()
            tr = SlouchTracker(min_s=min_s)
            tr.set_state(state)
    released, ev = tr.flush()
    return out + released, events + ev


def test_slouch_needs_most_of_the_run_beyond_the_threshold():
    rng = np.random.default_rng(4)
    # a posture just inside the threshold: sway crosses it 25 % of the time, for 10 minutes
    near = [(bool(rng.random() < 0.25), -29.0) for _ in range(600)]
    out, events = _run_slouch(near)
    assert [r for r, _ in out] == list(range(600)) and not any(s for _, s in out) and not events
    # a few noisy epochs, then a real slouch: found, from the noisy run's end on
    seq = [(False, -5.0)] * 5 + near[:40] + [(True, -31.0)] * 60 + [(False, -5.0)] * 20
    out, events = _run_slouch(seq)
    slouched = [r for r, s in out if s]
    assert [r for r, _ in out] == list(range(len(seq)))
    assert slouched and slouched[-1] == 104 and 45 - 8 <= slouched[0] <= 45
    assert [e.kind for e in events] == ["slouch_started", "slouch_ended"]
    assert events[0].data["flexion_deg"] < -30.0
    # chunking / restore does not change anything
    out2, events2 = _run_slouch(seq, chunks={20, 44, 70, 104})
    assert out2 == out and [e.data for e in events2] == [e.data for e in events]


def test_remount_shifts_what_was_learned_by_the_change_of_the_neutral_posture():
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(5)
    n = NeutralEstimator(0.75, -12.0, limits_deg=(-22.0, 0.0))
    for v in _sitting(rng, 600, -14.6) + _sitting(rng, 300, -28.4):
        n.add(v)
    assert n.value() == pytest.approx(-14.6, abs=0.3)
    R_old = Rotation.from_euler("zyx", [30, 10, -5], degrees=True).as_matrix()
    R_new = R_old @ Rotation.from_euler("y", 1.3, degrees=True).as_matrix()  # refined by 1.3 deg
    delta = n.remount(R_old, R_new)
    assert abs(delta) == pytest.approx(1.3, abs=0.05)
    assert n.value() == pytest.approx(-14.6 + delta, abs=0.3)
    total = n.hist.sum()
    n.shift(0.0)
    n.shift(float("nan"))
    assert n.hist.sum() == pytest.approx(total)        # shifting keeps every epoch


def test_a_recording_gap_is_not_sleep():
    """Two 20 min lying spells 1e9 s apart: neither is a 30 min lying run, and the unmeasured
    time between them is not sleep (analyze once reported sleep_s = 1,000,000,081)."""
    from dataclasses import replace

    from spinewise.config import SignalConfig
    from spinewise.signal.analyzer import Analyzer
    from tests.signal.synth import segments_signal

    chunk, _ = segments_signal([("lying_supine", 1200.0, 0.0)], rate_hz=25.0, seed=3)
    an = Analyzer(SignalConfig(), "gap", 25.0)
    for k in range(2):
        an.update(replace(chunk, t_s=chunk.t_s + k * (1e9 + 1200.0)))
    an.finish()
    activity = an.summary()["activity"]
    assert activity["sleep_s"] == 0.0
    assert activity["sedentary_s"] <= 2 * 1200.0 + 1.0
