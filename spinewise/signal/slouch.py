"""Slouch bouts: sustained flexion beyond a personal threshold from the posture's neutral.

An epoch is slouch-like when (sitting) flexion < sitting neutral - threshold (slumping adds
posterior tilt) or (standing) flexion > standing neutral + threshold (forward flexion); see
neutral.py. A run of slouch-like epochs (gaps up to ``GAP_EPOCHS`` bridged, so breathing and
sway around the threshold do not split it) becomes a slouch once it lasts ``min_s``; the
whole run counts, from its first epoch. Epochs are held until their run is decided (at most
``min_s``), then released in order with their slouch flag, so per-minute slouch time is exact.
"""
from __future__ import annotations

from spinewise.events import Event

GAP_EPOCHS = 8


class SlouchTracker:
    def __init__(self, min_s: float, device_id: str = "local") -> None:
        self.min_s = float(min_s)
        self.device_id = device_id
        self._held: list = []          # (record, like) awaiting a decision
        self._start: float | None = None
        self._last_like_end = 0.0
        self._gap = 0
        self._confirmed = False
        self._flex_sum = 0.0
        self._flex_n = 0
        self.bouts: list[list[float]] = []

    def push(self, record, t0: float, t1: float, like: bool, flex: float):
        """-> (released [(record, is_slouch)], events)."""
        out, ev = [], []
        if self._start is None:
            if not like:
                return [(record, False)], ev
            self._start, self._gap, self._confirmed = t0, 0, False
            self._flex_sum, self._flex_n = 0.0, 0
        self._held.append((record, like))
        if like:
            self._gap = 0
            self._last_like_end = t1
            self._flex_sum += flex
            self._flex_n += 1
            if not self._confirmed and t1 - self._start >= self.min_s:
                self._confirmed = True
                ev.append(Event("slouch_started", self._start,
                                {"start_s": round(self._start, 3), "end_s": None,
                                 "flexion_deg": round(self._flex_sum / self._flex_n, 1)},
                                self.device_id))
            if self._confirmed:
                out += [(r, True) for r, _ in self._held]
                self._held = []
        else:
            self._gap += 1
            if self._gap > GAP_EPOCHS:
                out += self._close(ev)
        return out, ev

    def _close(self, ev: list) -> list:
        out = []
        if self._confirmed:
            # the trailing gap epochs are not slouch; earlier ones were released already
            out = [(r, False) for r, _ in self._held]
            ev.append(Event("slouch_ended", self._last_like_end,
                            {"start_s": round(self._start, 3), "end_s": round(self._last_like_end, 3),
                             "flexion_deg": round(self._flex_sum / max(self._flex_n, 1), 1)},
                            self.device_id))
            self.bouts.append([self._start, self._last_like_end])
            if len(self.bouts) > 5000:
                del self.bouts[0]
        else:
            out = [(r, False) for r, _ in self._held]
        self._held, self._start, self._confirmed, self._gap = [], None, False, 0
        return out

    def flush(self):
        ev: list = []
        if self._start is None:
            return [], ev
        if self._confirmed:
            # the slouch lasts to the end: like epochs held after a gap still count
            out = []
            trailing = True
            for r, like in reversed(self._held):
                trailing = trailing and not like
                out.append((r, not trailing))
            out.reverse()
            ev.append(Event("slouch_ended", self._last_like_end,
                            {"start_s": round(self._start, 3), "end_s": round(self._last_like_end, 3),
                             "flexion_deg": round(self._flex_sum / max(self._flex_n, 1), 1)},
                            self.device_id))
            self.bouts.append([self._start, self._last_like_end])
        else:
            out = [(r, False) for r, _ in self._held]
        self._held, self._start, self._confirmed, self._gap = [], None, False, 0
        return out, ev

    def get_state(self) -> dict:
        return {"held": [(r, like) for r, like in self._held], "start": self._start,
                "last_like_end": self._last_like_end, "gap": self._gap,
                "confirmed": self._confirmed, "flex_sum": self._flex_sum, "flex_n": self._flex_n,
                "bouts": [list(b) for b in self.bouts]}

    def set_state(self, s: dict) -> None:
        self._held = [(r, bool(like)) for r, like in s["held"]]
        self._start = s["start"]
        self._last_like_end = float(s["last_like_end"])
        self._gap = int(s["gap"])
        self._confirmed = bool(s["confirmed"])
        self._flex_sum = float(s["flex_sum"])
        self._flex_n = int(s["flex_n"])
        self.bouts = [list(b) for b in s["bouts"]]
