"""Acceptance: nudges on simulated days land exactly where the policy says.

The simulator's truth segments stand in for the DayTracker (minute, break and set events);
the nudge times from the streaming CoachService are compared with an independent batch
computation of the rule from the same truth, and with invariants checked directly on the
segments: no nudge in quiet hours, none during exercise, >= 50 sedentary minutes in the hour
before each one and no break in it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from spinewise.config import CoachingConfig, Config
from spinewise.events import Event
from spinewise.coaching import CoachService, CoachStore

sim = pytest.importorskip("spinewise.sim")
CLASSES = ("sitting", "standing", "walking", "lying", "exercise")


def seg_class(seg: dict) -> str:
    return seg.get("ends_in", "standing") if seg["activity"] == "transition" else seg["activity"]


def minute_table(truth: dict) -> dict[str, np.ndarray]:
    """Seconds per class (and sedentary) in each whole minute, by exact interval overlap."""
    n = int(truth["duration_s"] // 60)
    lo = np.arange(n) * 60.0
    table = {c: np.zeros(n) for c in CLASSES + ("sedentary",)}
    for seg in truth["segments"]:
        overlap = np.clip(np.minimum(lo + 60, seg["end_s"]) - np.maximum(lo, seg["start_s"]), 0, None)
        cls = seg_class(seg)
        table[cls] += overlap
        if cls == "sitting" or (cls == "lying" and not seg.get("asleep")):
            table["sedentary"] += overlap
    return table


def truth_events(truth: dict, table: dict) -> list[Event]:
    evs = []
    for k in range(len(table["sitting"])):
        data = {f"{c}_s": float(table[c][k]) for c in CLASSES}
        data.update(start_s=60.0 * k, sedentary_s=float(table["sedentary"][k]), steps=0)
        evs.append(Event("minute", 60.0 * k + 60.0, data))
    for b in truth["breaks"]:                       # reported when the break ends
        evs.append(Event("break", b["end_s"], dict(b)))
    for s in truth["sets"] + truth["holds"]:
        kind = "set" if s in truth["sets"] else "hold"
        evs.append(Event(f"{kind}_started", s["start_s"], {"exercise": s["exercise"], "start_s": s["start_s"]}))
        evs.append(Event(f"{kind}_finished", s["end_s"], dict(s)))
    order = {"set_started": 0, "hold_started": 0, "break": 1, "set_finished": 1, "hold_finished": 1, "minute": 2}
    return sorted(evs, key=lambda e: (e.t_s, order[e.kind]))


def local_hm(epoch_s: float, tz: str) -> float:
    d = datetime.fromtimestamp(epoch_s, tz=timezone.utc).astimezone(ZoneInfo(tz))
    return d.hour + d.minute / 60 + d.second / 3600


def in_window(h: float, start: float, end: float) -> bool:
    if start == end:
        return False
    return (start <= h < end) if start < end else (h >= start or h < end)


def hours(hhmm: str) -> float:
    hh, mm = hhmm.split(":")
    return int(hh) + int(mm) / 60


def expected_nudges(truth: dict, table: dict, cfg: CoachingConfig, t0: float) -> list[float]:
    """The policy computed in batch with numpy over the minute table (independent of nudges.py)."""
    sed = table["sedentary"]
    n = len(sed)
    t_end = (np.arange(n) + 1) * 60.0
    w = int(cfg.window_min)
    window_sed = np.convolve(sed, np.ones(w))[:n]             # sum of this minute and w-1 before
    breaks_end = np.array([b["end_s"] for b in truth["breaks"]])
    recent_break = np.array([np.any((breaks_end > t - 60 * w) & (breaks_end <= t)) for t in t_end])
    spans = [(s["start_s"], s["end_s"]) for s in truth["sets"] + truth["holds"]]
    in_set = np.array([any(a <= t < b for a, b in spans) for t in t_end])
    hm = np.array([local_hm(t0 + t, cfg.timezone) for t in t_end])
    quiet = np.array([in_window(h, hours(cfg.quiet_start), hours(cfg.quiet_end)) for h in hm])
    night = [in_window(h, hours(cfg.lying_night_start), hours(cfg.lying_night_end)) for h in hm]
    night_lying = (table["lying"] >= 30) & np.array(night)
    candidate = ((window_sed >= 60 * cfg.sedentary_trigger_min) & ~recent_break & (sed >= 30)
                 & (table["exercise"] == 0) & ~in_set & ~quiet & ~night_lying)
    out, last, per_day = [], -np.inf, {}
    for k in np.flatnonzero(candidate):
        day = datetime.fromtimestamp(t0 + t_end[k], tz=timezone.utc).astimezone(ZoneInfo(cfg.timezone)).date()
        if t_end[k] - last >= 60 * cfg.min_interval_min and per_day.get(day, 0) < cfg.daily_cap:
            out.append(float(t_end[k]))
            last = t_end[k]
            per_day[day] = per_day.get(day, 0) + 1
    return out


def sedentary_between(truth: dict, a: float, b: float) -> float:
    total = 0.0
    for seg in truth["segments"]:
        cls = seg_class(seg)
        if cls == "sitting" or (cls == "lying" and not seg.get("asleep")):
            total += max(0.0, min(b, seg["end_s"]) - max(a, seg["start_s"]))
    return total


CASES = [("office_day", 1, None, "UTC"), ("office_day", 2, None, "Europe/Berlin"),
         ("office_day", 3, "2026-01-05T15:30:00Z", "Europe/Berlin"),   # runs into quiet hours
         ("day24", 4, "2026-01-06T00:00:00Z", "Europe/Berlin")]       # sleep, evening exercise


@pytest.mark.parametrize("scenario, seed, start_utc, tz", CASES)
def test_simulated_day_nudges_where_the_policy_says(scenario, seed, start_utc, tz):
    s = sim.simulate(scenario, seed=seed, start_utc=start_utc)
    truth = s.truth
    t0 = datetime.fromisoformat(truth["start_utc"].replace("Z", "+00:00")).timestamp()
    table = minute_table(truth)
    cfg = Config(coaching=CoachingConfig(timezone=tz))
    svc = CoachService(cfg, CoachStore(), t0_epoch_s=t0)
    events = truth_events(truth, table)
    outs = []
    for i in range(0, len(events), 97):                      # arbitrary batching
        outs += svc.on_events("sim", events[i:i + 97])
    got = [o.event.t_s - t0 for o in outs if o.event is not None and o.event.kind == "nudge"]
    want = expected_nudges(truth, table, cfg.coaching, t0)
    assert got == want
    assert got, "the scenario should produce nudges"
    exercise = [(x["start_s"], x["end_s"]) for x in truth["segments"] if x["activity"] == "exercise"]
    for t in got:
        h = local_hm(t0 + t, tz)
        assert not in_window(h, 22, 7), f"nudge in quiet hours at {h:.2f}"
        assert not any(a <= t <= b for a, b in exercise), "nudge during exercise"
        assert sedentary_between(truth, t - 3600, t) >= 50 * 60 - 1e-6
        assert not any(t - 3600 < b["end_s"] <= t for b in truth["breaks"])
    if start_utc == "2026-01-05T15:30:00Z":
        # the ungated rule would fire in quiet hours: the gate is really exercised
        quiet_cfg = CoachingConfig(timezone=tz, quiet_start="00:00", quiet_end="00:00")
        assert any(in_window(local_hm(t0 + t, tz), 22, 7)
                   for t in expected_nudges(truth, table, quiet_cfg, t0))
