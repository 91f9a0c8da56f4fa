"""Slouch bouts: sustained flexion beyond a personal threshold from the posture's neutral.

An epoch is slouch-like when (sitting) flexion < sitting neutral - threshold (slumping adds
posterior tilt) or (standing) flexion > standing neutral + threshold (forward flexion); the
caller judges that against neutral.py's estimate. A run of slouch-like epochs (gaps up to
``GAP_EPOCHS`` bridged, so breathing and sway around the threshold do not split it) becomes a
slouch once it lasts ``min_s`` *and* at least ``MIN_LIKE_SHARE`` of its epochs are slouch-like,
i.e. the run's median flexion is beyond the threshold: "sustained flexion beyond the threshold".
Without the share, a posture that sits just inside the threshold (a slump 1 deg shallower than
it) would make a bout out of the sway that crosses the threshold now and then. A run whose share
is too low when it reaches ``min_s`` drops its oldest epochs (released as not slouch) up to its
next slouch-like epoch, so a real slouch that follows a few noisy epochs is still found, and at
most ``min_s`` (plus a gap) of epochs are ever held. Once confirmed, the whole held run counts
from its first epoch; the bout goes on while gaps stay within ``GAP_EPOCHS``. Epochs are released
in order with their slouch flag, so per-minute slouch time is exact.
"""
from __future__ import annotations

from spinewise.events import Event

GAP_EPOCHS = 8
MIN_LIKE_SHARE = 0.5


class SlouchTracker:
    def __init__(self, min_s: float, device_id: str = "local") -> None:
        self.min_s = float(min_s)
        self.device_id = device_id
        self._held: list = []          # [record, like, t0, flex] awaiting a decision
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
        self._held.append([record, like, t0, flex])
        if like:
            self._gap = 0
            self._last_like_end = t1
            if self._confirmed:
                self._flex_sum += flex
                self._flex_n += 1
            elif t1 - self._start >= self.min_s:
                out += self._trim_to_share(t1)
                if t1 - self._start >= self.min_s:
                    self._confirm(ev)
            if self._confirmed:
                out += [(r[0], True) for r in self._held]
                self._held = []
        else:
            self._gap += 1
            if self._gap > GAP_EPOCHS:
                out += self._close(ev)
        return out, ev

    def _trim_to_share(self, t1: float) -> list:
        """Drop the oldest epochs (not slouch) while the run is long enough but too few of its
        epochs are slouch-like. The newest epoch is slouch-like, so this ends."""
        out = []
        while t1 - self._start >= self.min_s and \
                sum(1 for h in self._held if h[1]) < MIN_LIKE_SHARE * len(self._held):
            out.append((self._held.pop(0)[0], False))
            while not self._held[0][1]:
                out.append((self._held.pop(0)[0], False))
            self._start = self._held[0][2]
        return out

    def _confirm(self, ev: list) -> None:
        self._confirmed = True
        likes = [h[3] for h in self._held if h[1]]
        self._flex_sum, self._flex_n = float(sum(likes)), len(likes)
        ev.append(Event("slouch_started", self._start,
                        {"start_s": round(self._start, 3), "end_s": None,
                         "flexion_deg": round(self._flex_sum / self._flex_n, 1)},
                        self.device_id))

    def _close(self, ev: list) -> list:
        # the trailing gap epochs are not slouch; earlier ones were released already
        out = [(h[0], False) for h in self._held]
        if self._confirmed:
            self._end_bout(ev)
        self._reset()
        return out

    def _end_bout(self, ev: list) -> None:
        ev.append(Event("slouch_ended", self._last_like_end,
                        {"start_s": round(self._start, 3), "end_s": round(self._last_like_end, 3),
                         "flexion_deg": round(self._flex_sum / max(self._flex_n, 1), 1)},
                        self.device_id))
        self.bouts.append([self._start, self._last_like_end])
        if len(self.bouts) > 5000:         # constant memory on a weeks-long stream
            del self.bouts[0]

    def _reset(self) -> None:
        self._held, self._start, self._confirmed, self._gap = [], None, False, 0
        self._flex_sum, self._flex_n = 0.0, 0

    def flush(self):
        ev: list = []
        if self._start is None:
            return [], ev
        if self._confirmed:
            # the slouch lasts to the end: like epochs held after a gap still count
            out = []
            trailing = True
            for h in reversed(self._held):
                trailing = trailing and not h[1]
                out.append((h[0], not trailing))
            out.reverse()
            self._end_bout(ev)
        else:
            out = [(h[0], False) for h in self._held]
        self._reset()
        return out, ev

    def get_state(self) -> dict:
        return {"held": [list(h) for h in self._held], "start": self._start,
                "last_like_end": self._last_like_end, "gap": self._gap,
                "confirmed": self._confirmed, "flex_sum": self._flex_sum, "flex_n": self._flex_n,
                "bouts": [list(b) for b in self.bouts]}

    def set_state(self, s: dict) -> None:
        self._held = [[h[0], bool(h[1]), float(h[2]), float(h[3])] for h in s["held"]]
        self._start = s["start"]
        self._last_like_end = float(s["last_like_end"])
        self._gap = int(s["gap"])
        self._confirmed = bool(s["confirmed"])
        self._flex_sum = float(s["flex_sum"])
        self._flex_n = int(s["flex_n"])
        self.bouts = [list(b) for b in s["bouts"]]
