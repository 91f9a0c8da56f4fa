import json

from hypothesis import given, settings, strategies as st

from spinewise.config import CoachingConfig
from spinewise.events import Event
from spinewise.coaching.nudges import NudgePolicy
from tests.coaching.helpers import brk, epoch, minute, minutes

TZ = "Europe/Berlin"
NINE = epoch("2026-03-02T09:00:00")      # a Monday, 09:00 local


def policy(**kw) -> NudgePolicy:
    return NudgePolicy(CoachingConfig(timezone=TZ, **kw), user="ann")


def nudge_minutes(events) -> list[float]:
    return [round((e.t_s - NINE) / 60.0, 3) for e in events if e.kind == "nudge"]


def test_first_nudge_after_50_sedentary_minutes_then_hourly():
    out = policy().update(minutes(NINE, 180))
    assert nudge_minutes(out) == [50, 110, 170]


def test_break_clears_the_pressure_for_a_whole_window():
    p = policy()
    evs = minutes(NINE, 30) + minutes(NINE + 1800, 2, "walking") + [brk(NINE + 1800, NINE + 1920)]
    evs += minutes(NINE + 1920, 120)
    assert nudge_minutes(p.update(evs)) == [92, 152]


def test_no_nudge_in_quiet_hours_or_lying_at_night():
    late = epoch("2026-03-02T22:05:00")
    assert policy().update(minutes(late, 120)) == []
    # quiet hours moved to midnight: lying in the evening is still protected, sitting is not
    evening = epoch("2026-03-02T20:30:00")
    assert nudge_minutes(policy(quiet_start="23:59").update(minutes(evening, 60, "lying"))) == []
    assert len([e for e in policy(quiet_start="23:59").update(minutes(evening, 60)) if e.kind == "nudge"]) == 1


def test_no_nudge_during_exercise():
    p = policy()
    evs = minutes(NINE, 49) + [Event("set_started", NINE + 49 * 60, {"exercise": "bird_dog"})]
    evs += minutes(NINE + 49 * 60, 5)
    assert nudge_minutes(p.update(evs)) == []
    evs = [Event("set_finished", NINE + 54 * 60, {"exercise": "bird_dog"})] + minutes(NINE + 54 * 60, 2)
    assert nudge_minutes(p.update(evs)) == [55]
    ex = minute(NINE, "sitting")
    ex.data["exercise_s"] = 10.0
    p2 = policy()
    p2.update(minutes(NINE - 3000, 50)[:-1])
    assert nudge_minutes(p2.update([ex])) == []


def test_an_announced_set_silences_nudges_until_stop_or_30_min():
    p = policy()
    p.update(minutes(NINE, 45))
    p.announce_exercise(True, NINE + 45 * 60)
    assert nudge_minutes(p.update(minutes(NINE + 45 * 60, 45))) == [75]   # forgotten set_stop
    p = policy()
    p.update(minutes(NINE, 45))
    p.announce_exercise(True, NINE + 45 * 60)
    p.update(minutes(NINE + 45 * 60, 10))
    p.announce_exercise(False)
    assert nudge_minutes(p.update(minutes(NINE + 55 * 60, 2))) == [56]


def test_current_minute_must_be_sedentary():
    evs = minutes(NINE, 49) + [minute(NINE + 49 * 60, "standing"), minute(NINE + 50 * 60)]
    assert nudge_minutes(policy().update(evs)) == [51]


def test_snooze_and_daily_cap():
    p = policy()
    assert nudge_minutes(p.update(minutes(NINE, 55))) == [50]
    p.snooze(NINE + 100 * 60, 30)
    assert nudge_minutes(p.update(minutes(NINE + 55 * 60, 125))) == [130]
    capped = policy(daily_cap=2, min_interval_min=30)
    assert nudge_minutes(capped.update(minutes(NINE, 600))) == [50, 80]
    assert capped.counts["sent"] == 2


def test_answered_and_ignored():
    p = policy()
    out = p.update(minutes(NINE, 55) + [brk(NINE + 55 * 60, NINE + 58 * 60)] + minutes(NINE + 58 * 60, 70))
    outcomes = [e.data["outcome"] for e in out if e.kind == "nudge_outcome"]
    assert outcomes == ["answered"]
    out = p.update(minutes(NINE + 128 * 60, 30))
    assert [e.data["outcome"] for e in out if e.kind == "nudge_outcome"] == ["ignored"]
    assert p.counts == {"sent": 2, "answered": 1, "ignored": 1}


def test_a_done_reply_answers_the_open_nudge_once():
    p = policy()
    p.update(minutes(NINE, 52))
    assert p.done(NINE + 53 * 60, "ann-9") == []                  # no such nudge open
    [ev] = p.done(NINE + 53 * 60)                                 # the latest open one
    assert ev.kind == "nudge_outcome" and ev.data["id"] == "ann-1" and ev.data["via"] == "reply"
    assert ev.data["outcome"] == "answered" and ev.data["response_s"] == 180.0
    assert p.done(NINE + 54 * 60, "ann-1") == []                  # a redelivered reply: nothing
    out = p.update([brk(NINE + 55 * 60, NINE + 58 * 60)] + minutes(NINE + 58 * 60, 30))
    assert not [e for e in out if e.kind == "nudge_outcome"]      # settled once, not again
    assert p.counts == {"sent": 1, "answered": 1, "ignored": 0}


def test_a_long_walk_after_a_nudge_is_answered_when_it_ends():
    p = policy()
    evs = minutes(NINE, 52) + minutes(NINE + 52 * 60, 30, "walking")
    assert [e.kind for e in p.update(evs)] == ["nudge"]          # nothing settled mid-walk
    out = p.update([brk(NINE + 52 * 60, NINE + 82 * 60)] + minutes(NINE + 82 * 60, 5))
    assert [e.data["outcome"] for e in out if e.kind == "nudge_outcome"] == ["answered"]


def test_suggestion_by_context():
    first = policy().update(minutes(NINE, 50))[0].data["suggestion"]
    assert first["kind"] == "morning_mobility" and "Different Types of Back Pain" in first["guide"][0]
    afternoon = epoch("2026-03-02T14:00:00")
    assert policy().update(minutes(afternoon, 50))[0].data["suggestion"]["kind"] == "walk_break"
    p = policy()
    p.set_flags(acute=True, extension_eases=True)
    out = [e for e in p.update(minutes(afternoon, 240)) if e.kind == "nudge"]
    kinds = [[i.get("exercise") for i in e.data["suggestion"]["items"]] for e in out]
    # press-ups at most every 2 hours: nudges at 50, 110, 170, 230 min -> press-ups at 50 and 170
    assert [("prone_press_up" in k) for k in kinds] == [True, False, True, False]
    p = policy()
    p.set_flags(acute=True)   # extension not reported to ease the pain: no press-ups
    assert all(i.get("exercise") != "prone_press_up"
               for e in p.update(minutes(afternoon, 240)) for i in e.data.get("suggestion", {}).get("items", []))
    p = policy()
    p.set_flags(red_flag=True)
    s = p.update(minutes(afternoon, 50))[0].data["suggestion"]
    assert s["kind"] == "change_position" and s["items"] == [] and "clinician" in s["text"]


def test_bad_events_are_counted_not_raised():
    p = policy()
    bad = [Event("minute", 1.0, {"start_s": 0.0, "sedentary_s": "x"}),
           Event("minute", 1.0, {"start_s": 0.0, "sedentary_s": 500}),
           Event("minute", 1.0, {}), Event("break", 1.0, {"start_s": 0})]
    assert p.update(bad) == []
    assert p.get_state()["rejected"] == 4
    assert nudge_minutes(p.update(minutes(NINE, 50))) == [50]


def _day_events(seed_pattern: list[int]) -> list[Event]:
    evs, t = [], NINE
    for i, n in enumerate(seed_pattern):
        if i % 2 == 0:
            evs += minutes(t, n)
        else:
            evs += minutes(t, n, "walking") + [brk(t, t + 60 * n)]
        t += 60 * n
    return evs


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 80), min_size=2, max_size=12), st.lists(st.integers(1, 60), max_size=6))
def test_chunking_and_restart_do_not_change_nudges(pattern, cuts):
    evs = _day_events(pattern)
    whole = policy().update(evs)
    p, got, i = policy(), [], 0
    for c in sorted(set(min(c * 7, len(evs)) for c in cuts)) + [len(evs)]:
        got += p.update(evs[i:c])
        i = c
        restored = policy()
        restored.set_state(json.loads(json.dumps(p.get_state())))   # JSON-serialisable
        p = restored
    assert [(e.kind, e.t_s, e.data) for e in got] == [(e.kind, e.t_s, e.data) for e in whole]
