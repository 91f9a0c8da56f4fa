"""A three-week session of Events with figures known by construction, for the dashboard test.

Built by hand (event kinds and data as in docs/architecture.md) so every panel's expected
number can be stated exactly. User "ann" (device "h10") is the subject; user "bob" adds
data on the same day that ann's panels must not include.

Weeks (Monday-aligned): W1 = 2026-01-05, W2 = 2026-01-12, W3 = 2026-01-19 (= DAY, "today").
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from spinewise.events import Event
from spinewise.ingest.publisher import status_payload


def ts(day: int, hh: int = 0, mm: int = 0, ss: float = 0.0) -> float:
    """Epoch seconds of 2026-01-<day> hh:mm:ss UTC."""
    return datetime(2026, 1, day, hh, mm, tzinfo=timezone.utc).timestamp() + ss


DAY = 19
RANGE_TODAY = (ts(DAY), ts(DAY + 1) - 0.001)
RANGE_WEEKS = (ts(5), ts(DAY + 1) - 0.001)
RANGE_DEVICES = (ts(DAY - 6), ts(DAY + 1) - 0.001)

# (day, hh, exercise, reps, per-rep flags {rep index: [flags]}, amplitude_deg)
SETS = [(6, 18, "bird_dog", 10, {}, 15.0), (8, 18, "bridge", 10, {}, 20.0),
        (13, 18, "bird_dog", 12, {}, 15.0), (15, 18, "bridge", 12, {}, 20.0),
        (DAY, 18, "bird_dog", 12, {3: ["hip_rotation"]}, 15.0)]
# (day, hh, mm, duration_s, sway_deg_rms, tremor_mg_rms, flags)
HOLDS = [(6, 18, 30, 30.0, 1.0, 5.0, []), (13, 18, 30, 40.0, 0.9, 4.0, []),
         (15, 18, 30, 35.0, 0.7, 3.0, []), (DAY, 18, 30, 45.0, 0.8, 2.0, ["sag"])]
PAIN = [(6, 20, 5), (13, 20, 4), (DAY, 12, 3), (DAY, 20, 2)]


def gateway_status(device: str, state: str = "online", **fields) -> dict:
    """The document the BLE gateway publishes on <prefix>/<device>/status (retained), as the
    pipeline receives it (Gateway.status_fields() through Publisher.publish_status())."""
    doc = {"profile": "polar_h10", "address": "C4:7C:8D:6A:12:34", "rate_hz": 50.0, "has_gyro": False,
           "samples": 0, "gaps": 0, "drops": 0, "drift_ppm": 0.0, "reconnects": 0,
           "watchdog_trips": 0, "decode_errors": 0, "spooled": 0, "spool_dropped": 0}
    doc.update(fields)
    return json.loads(status_payload(device, state, **doc))


def _minute(t: float, device: str = "h10", **secs) -> Event:
    data = {"start_s": t, "sitting_s": 0.0, "standing_s": 0.0, "walking_s": 0.0, "lying_s": 0.0,
            "exercise_s": 0.0, "sedentary_s": 0.0, "slouch_s": 0.0, "steps": 0, "enmo_mg": 5.0}
    data.update(secs)
    return Event("minute", t + 60, data, device)


def ann_events() -> list[Event]:
    ev: list[Event] = []
    # -- today: minutes ----------------------------------------------------------------------
    for m in range(60):                                    # 08:00-08:59 sitting, first 20 slouched
        ev.append(_minute(ts(DAY, 8, m), sitting_s=60.0, sedentary_s=60.0,
                          slouch_s=30.0 if m < 20 else 0.0, enmo_mg=2.0))
    for m in range(10):                                    # 09:00-09:09 walking
        ev.append(_minute(ts(DAY, 9, m), walking_s=60.0, steps=100, enmo_mg=60.0))
    for m in range(10, 60):                                # 09:10-09:59 sitting
        ev.append(_minute(ts(DAY, 9, m), sitting_s=60.0, sedentary_s=60.0))
    for m in range(5):                                     # 10:00-10:04 walking
        ev.append(_minute(ts(DAY, 10, m), walking_s=60.0, steps=90, enmo_mg=50.0))
    for m in range(5, 15):                                 # 10:05-10:14 standing
        ev.append(_minute(ts(DAY, 10, m), standing_s=60.0))
    for m in range(10):                                    # 18:00-18:09 exercise
        ev.append(_minute(ts(DAY, 18, m), exercise_s=60.0, enmo_mg=30.0))
    # -- today: activity changes, bouts, breaks, slouch, posture -----------------------------
    for hh, mm, act in [(8, 0, "sitting"), (9, 0, "walking"), (9, 10, "sitting"), (10, 0, "walking"),
                        (10, 5, "standing"), (18, 0, "exercise"), (18, 10, "standing")]:
        ev.append(Event("activity", ts(DAY, hh, mm), {"activity": act, "start_s": ts(DAY, hh, mm)}, "h10"))
    for a, b in [((8, 0), (9, 0)), ((9, 10), (10, 0))]:
        ev.append(Event("sedentary_bout", ts(DAY, *b), {"start_s": ts(DAY, *a), "end_s": ts(DAY, *b)}, "h10"))
    for a, b in [((9, 0), (9, 10)), ((10, 0), (10, 5))]:
        ev.append(Event("break", ts(DAY, *b), {"start_s": ts(DAY, *a), "end_s": ts(DAY, *b)}, "h10"))
    ev.append(Event("slouch_ended", ts(DAY, 8, 20), {"start_s": ts(DAY, 8, 0), "end_s": ts(DAY, 8, 20),
                                                      "flexion_deg": -25.0}, "h10"))
    for i in range(300):                                   # 60 s of posture at 5 Hz
        ev.append(Event("posture", ts(DAY, 8, 0, i * 0.2),
                        {"flexion_deg": -20.0, "lateral_deg": 2.0, "incl_deg": 20.0}, "h10"))
    # -- nudges: one answered, one ignored ---------------------------------------------------
    for (hh, mm), sed, outcome in [((8, 50), 50.0, "answered"), ((9, 58), 48.0, "ignored")]:
        t = ts(DAY, hh, mm)
        ev.append(Event("nudge", t, {"user": "ann", "id": f"ann-{hh}", "reason": "sedentary",
                                     "sedentary_min": sed, "suggestion": {
                                         "kind": "walk_break", "text": "Walk 3-5 minutes",
                                         "items": [], "guide": []}}, "h10"))
        data = {"user": "ann", "id": f"ann-{hh}", "outcome": outcome, "nudge_t_s": t}
        if outcome == "answered":
            data["response_s"] = 600.0
        ev.append(Event("nudge_outcome", t + 900, data, "h10"))
    # -- device health -----------------------------------------------------------------------
    for i in range(13):                                    # every 10 min 08:00-10:00
        ev.append(Event("status", ts(DAY, 8, 0) + i * 600,
                        gateway_status("h10", battery_pct=90 - i, rssi_dbm=-60, samples=30000 * i),
                        "h10"))
    for (hh, mm), dur, lost in [((9, 30), 12.0, 600), ((10, 30), 8.0, 400)]:
        t = ts(DAY, hh, mm)
        ev.append(Event("gap", t + dur, {"start_s": t, "end_s": t + dur, "samples_lost": lost}, "h10"))
    # -- exercise history --------------------------------------------------------------------
    for day, hh, exercise, reps, flags, amp in SETS:
        t0 = ts(day, hh)
        details = []
        for i in range(reps):
            rep = {"exercise": exercise, "index": i + 1, "side": "", "start_s": t0 + 10 * i,
                   "end_s": t0 + 10 * i + 8, "hold_s": 5.0, "amplitude_deg": amp,
                   "flags": flags.get(i + 1, [])}
            details.append(rep)
            ev.append(Event("rep", rep["end_s"], rep, "h10"))
        ev.append(Event("set_finished", t0 + 10 * reps,
                        {"exercise": exercise, "start_s": t0, "end_s": t0 + 10 * reps, "reps": reps,
                         "reps_left": 0, "reps_right": 0, "reps_detail": details}, "h10"))
    for day, hh, mm, dur, sway, tremor, flags in HOLDS:
        t0 = ts(day, hh, mm)
        ev.append(Event("hold_finished", t0 + dur, {
            "exercise": "plank", "start_s": t0, "end_s": t0 + dur, "duration_s": dur,
            "stability": {"sway_deg_rms": sway, "tremor_mg_rms": tremor, "drift_deg": 1.0},
            "flags": flags}, "h10"))
    for day, hh, score in PAIN:
        ev.append(Event("pain", ts(day, hh), {"score": score, "leg": False}, "h10"))
    # the coach's plan (stored in short, no device: the pipeline stores coach events so): programme week 3 asks for 9 sets, re-planned today
    ev.append(Event("plan", ts(13, 7), {"status": "train", "phase": "stability", "week": 2,
                                        "deload": False, "planned_sets": 8, "red_flag": False}, ""))
    ev.append(Event("plan", ts(DAY, 7), {"status": "train", "phase": "stability", "week": 3,
                                         "deload": False, "planned_sets": 9, "red_flag": False}, ""))
    return ev


def bob_events() -> list[Event]:
    """Another user on the same day: must never show up in ann's panels."""
    ev = [_minute(ts(DAY, 12, m), "bob-h10", sitting_s=60.0, sedentary_s=60.0, steps=7, slouch_s=60.0)
          for m in range(30)]
    ev.append(Event("set_finished", ts(DAY, 13), {"exercise": "bird_dog", "start_s": ts(DAY, 12, 50),
                                                  "end_s": ts(DAY, 13), "reps": 50}, "bob-h10"))
    # bob reports leg pain: a red flag; the coach re-plans with exercise paused
    ev.append(Event("pain", ts(DAY, 12, 30), {"score": 6, "leg": True}, "bob-h10"))
    ev.append(Event("plan", ts(DAY, 12, 30), {"status": "stop", "phase": None, "week": None,
                                              "deload": False, "planned_sets": 0, "red_flag": True}, ""))
    ev.append(Event("status", ts(DAY, 12), gateway_status("bob-h10", battery_pct=20, rssi_dbm=-90,
                                                          rate_hz=25.0), "bob-h10"))
    ev.append(Event("gap", ts(DAY, 12, 5), {"start_s": ts(DAY, 12), "end_s": ts(DAY, 12, 5),
                                            "samples_lost": 7500}, "bob-h10"))
    return ev
