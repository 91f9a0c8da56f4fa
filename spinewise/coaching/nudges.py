"""The movement-break nudge policy: a streaming object over day events, in event time.

Rule (every threshold from the user's CoachingConfig): at the end of each ``minute`` event
at time t, nudge when
  - the minutes that lie inside (t - window_min, t] hold >= sedentary_trigger_min sedentary,
  - no break ended inside that window (a break clears the pressure),
  - the last minute itself was sedentary (>= current_sedentary_s): nobody is nudged mid-walk,
  - t is not in quiet hours (local time), not during exercise (exercise seconds in the
    minute, or a set/hold started and not finished, or an announced set), and not while
    lying inside the lying-night window,
  - t >= last nudge + min_interval_min, t >= snooze end, and fewer than daily_cap nudges
    were sent on t's local date.
A nudge followed by a break starting within answered_within_min is answered; so is one the
person answers "done" (a ``done`` reply: the desktop's Done button, a single tap of the DIY
sensor's button, Home Assistant's button; ``via: "reply"`` on the outcome); otherwise it is
ignored, decided at the first sedentary minute after the window plus a grace for reporting
(breaks are reported when they end, so a long walk is not settled while it runs).
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Iterable

from spinewise.config import CoachingConfig
from spinewise.events import Event
from spinewise.coaching.localtime import in_daily_window, local_date
from spinewise.coaching.suggest import NudgeContext, suggest

log = logging.getLogger(__name__)

MINUTE_S = 60.0
# A break is reported after it has lasted its minimum (<= 2 min walking) plus tracker latency;
# wait this long past the answer window before calling a nudge ignored.
_BREAK_REPORT_GRACE_S = 300.0
_EXERCISE_STALE_S = 1800.0
_ANNOUNCE_MAX_S = 1800.0
_EXERCISE_START = {"set_started", "hold_started"}
_EXERCISE_END = {"set_finished", "hold_finished"}


class NudgePolicy:
    """``update(events) -> list[Event]`` of kinds ``nudge`` and ``nudge_outcome``.

    ``t0_epoch_s`` maps event time to epoch seconds for local time (0 for live streams whose
    t_s already is epoch time; the recording's start for replays).
    """

    def __init__(self, settings: CoachingConfig, user: str = "default", t0_epoch_s: float = 0.0):
        self.settings = settings
        self.user = user
        self.t0_epoch_s = float(t0_epoch_s)
        self._s = _fresh_state()

    # -- commands and flags ------------------------------------------------------------
    def snooze(self, t_s: float, minutes: float | None = None) -> float:
        """Snooze from event time t_s; returns the snooze end (event time)."""
        minutes = self.settings.snooze_min if minutes is None else float(minutes)
        self._s["snooze_until_s"] = max(self._s["snooze_until_s"] or -1e18, t_s + minutes * 60.0)
        return self._s["snooze_until_s"]

    def done(self, t_s: float, nudge_id: str | None = None) -> list[Event]:
        """The person answered "done" at event time t_s: the nudge ``nudge_id`` (default: the
        latest one still open) is answered. Nothing when no such nudge is open (already settled,
        or a redelivered reply)."""
        pending = self._s["pending"]
        match = [p for p in pending if nudge_id is None or p[0] == nudge_id]
        if not match:
            return []
        nid, t = match[-1]
        self._s["pending"] = [p for p in pending if p[0] != nid]
        self._s["counts"]["answered"] += 1
        return [Event("nudge_outcome", t_s, {"user": self.user, "id": nid, "outcome": "answered",
                                            "via": "reply", "nudge_t_s": t,
                                            "response_s": max(0.0, t_s - t)})]

    def announce_exercise(self, active: bool, t_s: float | None = None) -> None:
        """An announced set silences nudges until set_stop, or _ANNOUNCE_MAX_S after t_s (a
        forgotten set_stop must not silence the rest of the day)."""
        self._s["announced_until_s"] = (t_s + _ANNOUNCE_MAX_S) if active and t_s is not None else None

    def set_flags(self, **flags: bool) -> None:
        for key in ("acute", "extension_eases", "red_flag"):
            if key in flags:
                self._s["flags"][key] = bool(flags[key])

    @property
    def counts(self) -> dict:
        return dict(self._s["counts"])

    @property
    def last_nudge_t_s(self) -> float | None:
        return self._s["last_nudge_t_s"]

    @property
    def snooze_until_s(self) -> float | None:
        return self._s["snooze_until_s"]

    def sedentary_in_window_s(self) -> float:
        return float(sum(sed for _, sed in self._s["window"]))

    # -- streaming -----------------------------------------------------------------------
    def update(self, events: Iterable[Event]) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            try:
                out.extend(self._one(ev))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self._s["rejected"] += 1
                log.warning("nudge policy: rejected %s event at t=%s: %s", ev.kind, ev.t_s, exc)
        return out

    def _one(self, ev: Event) -> list[Event]:
        s = self._s
        if ev.kind in _EXERCISE_START:
            s["exercising"], s["exercise_started_t_s"] = True, float(ev.t_s)
        elif ev.kind in _EXERCISE_END:
            s["exercising"] = False
        elif ev.kind == "break":
            start, end = _time(ev.data, "start_s"), _time(ev.data, "end_s")
            if end < start:
                raise ValueError(f"break ends before it starts ({start} > {end})")
            s["last_break_end_s"] = max(s["last_break_end_s"] or -1e18, end)
            return self._answer(start, end)
        elif ev.kind == "minute":
            return self._minute(ev)
        return []

    def _minute(self, ev: Event) -> list[Event]:
        cfg, s = self.settings, self._s
        start = _time(ev.data, "start_s")
        sed = _seconds(ev.data, "sedentary_s")
        exercise_s, lying_s = _seconds(ev.data, "exercise_s"), _seconds(ev.data, "lying_s")
        t = start + MINUTE_S
        if s["last_minute_end_s"] is not None and t <= s["last_minute_end_s"]:
            raise ValueError(f"minute at {start} is not after the last one")
        s["last_minute_end_s"] = t
        if s["exercising"] and exercise_s == 0 and t - s["exercise_started_t_s"] > _EXERCISE_STALE_S:
            # a set_finished lost upstream must not silence nudges for the rest of the day
            s["exercising"] = False
        window_s = cfg.window_min * 60.0
        s["window"] = [m for m in s["window"] if m[0] >= t - window_s] + [[start, sed]]
        out = self._expire(t, sed >= cfg.current_sedentary_s)
        if self._should_nudge(t, sed, exercise_s, lying_s, window_s):
            out.append(self._nudge(t, ev.device_id))
        return out

    def _should_nudge(self, t: float, sed: float, exercise_s: float, lying_s: float,
                      window_s: float) -> bool:
        cfg, s = self.settings, self._s
        epoch, tz = t + self.t0_epoch_s, cfg.timezone
        if self.sedentary_in_window_s() < cfg.sedentary_trigger_min * 60.0:
            return False
        if s["last_break_end_s"] is not None and s["last_break_end_s"] > t - window_s:
            return False
        if sed < cfg.current_sedentary_s:
            return False
        if exercise_s > 0 or s["exercising"]:
            return False
        if s["announced_until_s"] is not None and t < s["announced_until_s"]:
            return False
        if s["last_nudge_t_s"] is not None and t - s["last_nudge_t_s"] < cfg.min_interval_min * 60.0:
            return False
        if s["snooze_until_s"] is not None and t < s["snooze_until_s"]:
            return False
        if in_daily_window(epoch, tz, cfg.quiet_start, cfg.quiet_end):
            return False
        if (lying_s >= MINUTE_S / 2
                and in_daily_window(epoch, tz, cfg.lying_night_start, cfg.lying_night_end)):
            return False
        day = local_date(epoch, tz).isoformat()
        if s["day"] != day:
            s["day"], s["sent_today"] = day, 0
        return s["sent_today"] < cfg.daily_cap

    def _nudge(self, t: float, device_id: str) -> Event:
        cfg, s = self.settings, self._s
        epoch = t + self.t0_epoch_s
        first_of_morning = (s["sent_today"] == 0 and not in_daily_window(
            epoch, cfg.timezone, cfg.morning_end, cfg.quiet_start))
        press_up_due = (s["flags"]["acute"] and s["flags"]["extension_eases"]
                        and (s["last_press_up_t_s"] is None
                             or t - s["last_press_up_t_s"] >= cfg.press_up_interval_min * 60.0))
        ctx = NudgeContext(sedentary_min=self.sedentary_in_window_s() / 60.0,
                           window_min=cfg.window_min, first_of_morning=first_of_morning,
                           press_up_due=press_up_due, **s["flags"])
        suggestion = suggest(ctx)
        if any(i.get("exercise") == "prone_press_up" for i in suggestion["items"]):
            s["last_press_up_t_s"] = t
        s["seq"] += 1
        s["sent_today"] += 1
        s["counts"]["sent"] += 1
        s["last_nudge_t_s"] = t
        nudge_id = f"{self.user}-{s['seq']}"
        s["pending"].append([nudge_id, t])
        log.info("nudge %s at t=%.0f: %s", nudge_id, t, suggestion["kind"])
        return Event("nudge", t, {"user": self.user, "id": nudge_id, "reason": "sedentary",
                                  "sedentary_min": round(ctx.sedentary_min, 1),
                                  "window_min": cfg.window_min, "suggestion": suggestion,
                                  "sent_today": s["sent_today"]}, device_id)

    def _answer(self, start: float, end: float) -> list[Event]:
        within = self.settings.answered_within_min * 60.0
        out, keep = [], []
        for nudge_id, t in self._s["pending"]:
            if t <= start <= t + within:
                self._s["counts"]["answered"] += 1
                out.append(Event("nudge_outcome", end, {"user": self.user, "id": nudge_id,
                                                        "outcome": "answered", "nudge_t_s": t,
                                                        "response_s": start - t}))
            else:
                keep.append([nudge_id, t])
        self._s["pending"] = keep
        return out

    def _expire(self, now: float, sedentary_now: bool) -> list[Event]:
        # A break is reported when it ends; while the user is still up a break that began in
        # the answer window may be running, so only a sedentary minute can settle "ignored".
        limit = self.settings.answered_within_min * 60.0 + _BREAK_REPORT_GRACE_S
        out, keep = [], []
        for nudge_id, t in self._s["pending"]:
            if now >= t + limit and sedentary_now:
                self._s["counts"]["ignored"] += 1
                out.append(Event("nudge_outcome", now, {"user": self.user, "id": nudge_id,
                                                        "outcome": "ignored", "nudge_t_s": t}))
            else:
                keep.append([nudge_id, t])
        self._s["pending"] = keep
        return out

    # -- persistence -----------------------------------------------------------------------
    def get_state(self) -> dict:
        return copy.deepcopy(self._s)

    def set_state(self, state: dict) -> None:
        fresh = _fresh_state()
        fresh.update(copy.deepcopy(state))
        self._s = fresh


def _time(data: dict, key: str) -> float:
    value = float(data[key])
    if not abs(value) < 1e11:          # NaN, inf, or beyond any plausible epoch
        raise ValueError(f"{key}={data[key]!r} is not a usable time")
    return value


def _seconds(data: dict, key: str) -> float:
    value = float(data.get(key, 0.0) or 0.0)
    if not 0.0 <= value <= MINUTE_S + 1e-6:
        raise ValueError(f"{key}={value!r} outside 0..60 s")
    return value


def _fresh_state() -> dict:
    return {"window": [], "last_minute_end_s": None, "last_break_end_s": None,
            "last_nudge_t_s": None, "snooze_until_s": None, "day": None, "sent_today": 0,
            "pending": [], "exercising": False, "exercise_started_t_s": 0.0,
            "announced_until_s": None, "last_press_up_t_s": None,
            "flags": {"acute": False, "extension_eases": False, "red_flag": False},
            "counts": {"sent": 0, "answered": 0, "ignored": 0}, "seq": 0, "rejected": 0}
