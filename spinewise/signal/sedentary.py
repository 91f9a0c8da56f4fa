"""Sedentary bouts and breaks from a time-ordered stream of activity spans.

Definitions (identical to the simulator's truth, spinewise/sim/truth.py):
- sedentary: sitting, or lying while awake, and not exercising. Lying runs longer than
  ``SLEEP_MIN_S`` are taken as sleep (a lower-back sensor cannot tell a nap from reading in
  bed; a continuous half hour lying down is where activity guidelines stop counting it as
  sedentary behaviour). The DayTracker resolves a lying run before passing it on.
- bout: maximal sedentary run; interruptions shorter than ``tolerance_s`` are bridged (inside
  the span, not counted as sedentary time), except exercise: exercising is not sedentary
  behaviour however short the set or hold, so a bout ends where exercise begins and a new one
  starts after it (issue 16: live bouts spanned planks and squat sets). Bouts shorter than
  ``MIN_BOUT_S`` are not listed.
- break: maximal continuous standing/walking run of at least ``break_min_s`` that starts
  right after sedentary time.
"""
from __future__ import annotations

import math

from spinewise.events import Event

MIN_BOUT_S = 60.0
SLEEP_MIN_S = 1800.0
MAX_LISTED = 5000            # bouts/breaks kept for the summary (constant memory over weeks)


class SedentaryTracker:
    def __init__(self, tolerance_s: float, break_min_s: float, device_id: str = "local") -> None:
        self.tolerance_s = float(tolerance_s)
        self.break_min_s = float(break_min_s)
        self.device_id = device_id
        self.bout: list[float] | None = None      # [start, end of last sedentary time]
        self.upright: list[float] | None = None   # candidate break [start, end]
        self._prev_kind: str | None = None
        self.exercise_end_s = -math.inf       # the latest exercise end (bouts start after it)
        self.bouts: list[list[float]] = []
        self.breaks: list[list[float]] = []

    def span(self, start_s: float, end_s: float, kind: str) -> list[Event]:
        """kind: 'sedentary' | 'upright' (standing/walking) | 'exercise' | 'other' (sleep)."""
        out: list[Event] = []
        if kind == "exercise":
            # the span may reach past the epoch to the set's own edges: a bout ends where
            # the exercise began and the next one starts after it ended
            if self.bout is not None:
                self.bout[1] = max(self.bout[0], min(self.bout[1], start_s))
            out += self._close_bout()
            self.exercise_end_s = max(self.exercise_end_s, end_s)
        elif kind == "sedentary":
            if self.bout is not None and start_s - self.bout[1] < self.tolerance_s:
                self.bout[1] = end_s
            else:
                out += self._close_bout()
                self.bout = [min(max(start_s, self.exercise_end_s), end_s), end_s]
        elif self.bout is not None and end_s - self.bout[1] >= self.tolerance_s:
            out += self._close_bout()
        if kind == "upright":
            if self.upright is not None:
                self.upright[1] = end_s
            elif self._prev_kind == "sedentary":
                self.upright = [start_s, end_s]
        else:
            out += self._close_upright()
        self._prev_kind = kind
        return out

    def _close_bout(self) -> list[Event]:
        b, self.bout = self.bout, None
        if b is None or b[1] - b[0] < MIN_BOUT_S:
            return []
        self._keep(self.bouts, b)
        return [Event("sedentary_bout", b[1], {"start_s": round(b[0], 3), "end_s": round(b[1], 3)},
                      self.device_id)]

    def _close_upright(self) -> list[Event]:
        u, self.upright = self.upright, None
        if u is None or u[1] - u[0] < self.break_min_s:
            return []
        self._keep(self.breaks, u)
        return [Event("break", u[1], {"start_s": round(u[0], 3), "end_s": round(u[1], 3)},
                      self.device_id)]

    @staticmethod
    def _keep(lst: list, item: list[float]) -> None:
        lst.append(list(item))
        if len(lst) > MAX_LISTED:
            del lst[0]

    def finish(self) -> list[Event]:
        return self._close_bout() + self._close_upright()

    def get_state(self) -> dict:
        return {"bout": self.bout, "upright": self.upright, "prev_kind": self._prev_kind,
                "exercise_end_s": None if math.isinf(self.exercise_end_s) else self.exercise_end_s,
                "bouts": [list(b) for b in self.bouts], "breaks": [list(b) for b in self.breaks]}

    def set_state(self, s: dict) -> None:
        self.bout = None if s["bout"] is None else list(s["bout"])
        self.upright = None if s["upright"] is None else list(s["upright"])
        self._prev_kind = s["prev_kind"]
        end = s.get("exercise_end_s")               # absent in states saved before it existed
        self.exercise_end_s = -math.inf if end is None else float(end)
        self.bouts = [list(b) for b in s["bouts"]]
        self.breaks = [list(b) for b in s["breaks"]]
