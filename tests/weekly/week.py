"""Two simulated weeks for two people, fed through CoachService (the pipeline's coaching path).

Known by construction (Europe/Berlin, ISO weeks 2026-W47 and 2026-W48):
- ann, W47 Mon/Wed/Fri: dead bug 20 reps, bird dog 20 reps, plank 3 x 15 s (sway 1.2 deg).
- ann, W48 Mon/Wed/Fri: dead bug 22 reps, bird dog 24 reps (Fri: hip_rotation on rep 3),
  plank 3 x 16 s (sway 1.0, 0.9, 0.8 by day; Fri's last hold flagged "sag").
- office days Mon-Fri both weeks: sitting 09:00-10:30, walk 10:30-10:40, sitting 10:40-12:40,
  walk 12:40-12:45; exercise days add 10 exercise minutes at 18:00. Saturday: one 30 min walk.
  So 3.5 h sedentary a weekday, 0 at the weekend.
- ann's pain: W48 Mon 08:00 4/10, Wed 08:00 3/10, Sat 09:00 2/10.
- bob, W48 Mon: dead bug 20 reps; Thu 08:00 pain 6/10 spreading down the leg (red flag).
Nudges and their outcomes are whatever the nudge policy decides; tests read them back from
the store and compare with the page.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from spinewise.coaching import CoachService, CoachStore
from spinewise.config import from_dict
from spinewise.events import Event

TZ = "Europe/Berlin"
W47 = date(2026, 11, 16)
W48 = date(2026, 11, 23)
EXERCISE_DAYS = (0, 2, 4)
SEDENTARY_H_WEEKDAY = 3.5


def at(d: date, hh: int, mm: int = 0) -> float:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=ZoneInfo(TZ)).timestamp()


def _minutes(t0: float, n: int, activity: str) -> list[Event]:
    out = []
    for i in range(n):
        data = {k: 0.0 for k in ("sitting_s", "standing_s", "walking_s", "lying_s", "exercise_s",
                                 "sedentary_s", "slouch_s", "enmo_mg")}
        data.update({"start_s": t0 + 60.0 * i, "steps": 100 if activity == "walking" else 0,
                     f"{activity}_s": 60.0})
        if activity == "sitting":
            data["sedentary_s"] = 60.0
        out.append(Event("minute", t0 + 60.0 * (i + 1), data, "h10"))
    return out


def office_day(d: date) -> list[Event]:
    ev = _minutes(at(d, 9), 90, "sitting") + _minutes(at(d, 10, 30), 10, "walking")
    ev.append(Event("break", at(d, 10, 40), {"start_s": at(d, 10, 30), "end_s": at(d, 10, 40)}, "h10"))
    ev += _minutes(at(d, 10, 40), 120, "sitting") + _minutes(at(d, 12, 40), 5, "walking")
    ev.append(Event("break", at(d, 12, 45), {"start_s": at(d, 12, 40), "end_s": at(d, 12, 45)}, "h10"))
    return ev


def _set(t: float, exercise: str, reps: int, flagged_rep: str | None = None) -> Event:
    details = [{"index": i + 1, "side": "left" if i % 2 == 0 else "right",
                "flags": [flagged_rep] if flagged_rep and i == 2 else []} for i in range(reps)]
    return Event("set_finished", t, {"exercise": exercise, "start_s": t - 120, "end_s": t,
                                     "reps": reps, "reps_left": reps // 2, "reps_right": reps - reps // 2,
                                     "reps_detail": details, "flags": []}, "h10")


def _hold(t: float, seconds: float, sway: float, flags: list[str]) -> Event:
    return Event("hold_finished", t, {"exercise": "plank", "start_s": t - seconds, "end_s": t,
                                      "duration_s": seconds,
                                      "stability": {"sway_deg_rms": sway, "tremor_mg_rms": None,
                                                    "drift_deg": 1.0},
                                      "flags": flags}, "h10")


def session(d: date, week: int, day_i: int) -> list[Event]:
    t = at(d, 18)
    ev = _minutes(t, 10, "exercise")
    if week == 47:
        ev += [_set(t + 200, "dead_bug", 20), _set(t + 400, "bird_dog", 20)]
        ev += [_hold(t + 500 + 40 * i, 15.0, 1.2, []) for i in range(3)]
    else:
        ev += [_set(t + 200, "dead_bug", 22),
               _set(t + 400, "bird_dog", 24, "hip_rotation" if day_i == 4 else None)]
        sway = {0: 1.0, 2: 0.9, 4: 0.8}[day_i]
        ev += [_hold(t + 500 + 40 * i, 16.0, sway, ["sag"] if day_i == 4 and i == 2 else [])
               for i in range(3)]
    return sorted(ev, key=lambda e: e.t_s)


def ann_events() -> list[Event]:
    ev = []
    for week, monday in ((47, W47), (48, W48)):
        for i in range(7):
            d = monday + timedelta(days=i)
            if i < 5:
                ev += office_day(d)
            if i in EXERCISE_DAYS:
                ev += session(d, week, i)
            if i == 5:
                ev += _minutes(at(d, 11), 30, "walking")
    return sorted(ev, key=lambda e: e.t_s)


ANN_PAIN = [(W48, 8, 4), (W48 + timedelta(days=2), 8, 3), (W48 + timedelta(days=5), 9, 2)]


def fill(db_path, sink=None) -> CoachStore:
    """Both people's weeks in a coaching store at ``db_path``, as the pipeline writes them.

    ``sink(events, user, device)``, if given, receives what the pipeline would store: the
    tracker's events (device h10) and the coach's own events (device "")."""
    cfg = from_dict({"coaching": {"timezone": TZ, "state_db": str(db_path), "ha_discovery_prefix": ""}})
    store = CoachStore(db_path)
    svc = CoachService(cfg, store)

    def feed(user, events=None, command=None, t_s=None):
        if events:
            out = svc.on_events(user, events)
            if sink:
                sink(events, user, "h10")
        else:
            out = svc.on_command(user, command, t_s=t_s)
        if sink:
            sink([o.event for o in out if o.event is not None], user, "")

    pain = sorted((at(d, hh), s) for d, hh, s in ANN_PAIN)
    events = ann_events()
    for day in sorted({e.t_s // 86400 for e in events}):      # a day's events in one batch
        batch = [e for e in events if e.t_s // 86400 == day]
        while pain and pain[0][0] <= batch[0].t_s:
            t, score = pain.pop(0)
            feed("ann", command=json.dumps({"v": 1, "cmd": "pain", "score": score}), t_s=t)
        feed("ann", batch)
    feed("bob", sorted(office_day(W48) + [_set(at(W48, 18, 5), "dead_bug", 20)], key=lambda e: e.t_s))
    feed("bob", command=json.dumps({"v": 1, "cmd": "pain", "score": 6, "leg": True}),
         t_s=at(W48 + timedelta(days=3), 8))
    return store


def config_text(db_path) -> str:
    return (f'[coaching]\ntimezone = "{TZ}"\nstate_db = "{db_path}"\nha_discovery_prefix = ""\n')
