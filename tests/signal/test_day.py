"""DayTracker pieces: sedentary bouts/breaks, slouch runs, neutral learning."""
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
    assert m.value() == -22.0
