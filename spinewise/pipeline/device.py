"""One sensor's streaming state in the live pipeline: reorder buffer -> Analyzer -> live figures.

A ``DeviceSession`` is the unit the pipeline snapshots and restores. It owns:

- the :class:`~spinewise.pipeline.jumps.JumpGuard` (a jump in time or sequence numbers goes on
  only once the next message confirms it: one absurd chunk cannot move the stream),
- the :class:`ReorderBuffer` (duplicates, late and out-of-order samples, gaps),
- the :class:`~spinewise.signal.analyzer.Analyzer` (the same object ``spinewise analyze`` runs,
  fed the same samples in the same order, so live results equal offline results),
- :class:`LiveFigures`, what the retained ``<prefix>/<device>/state`` message shows.

End of stream: a replay (or a gateway that knows a recording ended) publishes a status
``{"state": "end", "end_t_s": <time of the last sample>}``. The session then finishes the
Analyzer as soon as it has released that sample (or, if the tail never comes, when the service
sees the device silent for the reorder wait). After that, new samples start a fresh Analyzer.
A marker before the newest sample received, or more than the reorder wait beyond it, is not
this stream's end (stale, or forged) and is ignored (``end_markers_ignored``).
Session time: the Analyzer runs on seconds since ``origin_s`` (the start of the minute of the
session's first sample), exactly as ``spinewise analyze`` runs on seconds since a recording's
first sample; events are mapped back to epoch seconds on the way out. So a replay that starts on
a whole minute feeds the Analyzer bit-for-bit the times ``analyze`` sees (the signal chain rounds
and compares times, and float64 at 1.7e9 s resolves only 0.24 us), and minute epochs stay
aligned to clock minutes live.

Pure apart from logging: no clock, no I/O.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from spinewise.events import Event
from spinewise.pipeline.jumps import JumpGuard
from spinewise.pipeline.reorder import ReorderBuffer
from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

AnalyzerFactory = Callable[[str, float], object]   # (device_id, rate_hz) -> Analyzer

# Event and summary keys holding points in time (shifted by the origin); every other *_s key is
# a duration (hold_s, elapsed_s, duration_s, sitting_s, ...) and is left alone.
TIME_KEYS = frozenset({"t_s", "start_s", "end_s", "t_from_s"})
ORIGIN_ALIGN_S = 60.0


def shift_times(obj, offset_s: float):
    """A copy of an event's data (or a summary) with its points in time moved by ``offset_s``."""
    if isinstance(obj, dict):
        return {k: (v + offset_s if k in TIME_KEYS and isinstance(v, (int, float))
                    and not isinstance(v, bool) else shift_times(v, offset_s))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [shift_times(v, offset_s) for v in obj]
    return obj


@dataclass
class LiveFigures:
    """What the retained state topic carries; updated from events only (event time)."""
    t_s: float | None = None
    day: str | None = None
    activity: str | None = None
    activity_since_s: float | None = None
    flexion_deg: float | None = None
    lateral_deg: float | None = None
    incl_deg: float | None = None
    reps_today: int = 0
    sets_today: int = 0
    holds_today: int = 0
    sedentary_s_today: float = 0.0
    slouching: bool = False
    current_set: dict | None = None      # {"exercise", "reps"}
    current_hold: dict | None = None     # {"exercise", "elapsed_s"}
    gaps: int = 0
    finished: bool = False

    def apply(self, events: list[Event], day_of: Callable[[float], str]) -> None:
        for ev in events:
            d = ev.data
            self.t_s = ev.t_s if self.t_s is None else max(self.t_s, ev.t_s)
            try:
                day = day_of(ev.t_s)
            except (ValueError, OverflowError, OSError):   # a time no calendar has: same day
                day = self.day
            if day != self.day:          # a new local day: the "today" figures restart
                self.day = day
                self.reps_today = self.sets_today = self.holds_today = 0
                self.sedentary_s_today = 0.0
            k = ev.kind
            if k == "posture":
                self.flexion_deg = _num(d.get("flexion_deg"))
                self.lateral_deg = _num(d.get("lateral_deg"))
                self.incl_deg = _num(d.get("incl_deg"))
            elif k == "activity":
                self.activity = d.get("activity")
                self.activity_since_s = _num(d.get("start_s", ev.t_s))
            elif k == "minute":
                self.sedentary_s_today += _num(d.get("sedentary_s")) or 0.0
            elif k == "set_started":
                self.current_set = {"exercise": d.get("exercise"), "reps": 0}
            elif k == "rep":
                self.reps_today += 1
                if self.current_set is None or self.current_set.get("exercise") != d.get("exercise"):
                    self.current_set = {"exercise": d.get("exercise"), "reps": 0}
                self.current_set["reps"] += 1
            elif k == "set_finished":
                self.sets_today += 1
                self.current_set = None
            elif k == "hold_started":
                self.current_hold = {"exercise": d.get("exercise"), "elapsed_s": 0.0}
            elif k == "hold_running":
                self.current_hold = {"exercise": d.get("exercise"),
                                     "elapsed_s": _num(d.get("elapsed_s"))}
            elif k == "hold_finished":
                self.holds_today += 1
                self.current_hold = None
            elif k == "slouch_started":
                self.slouching = True
            elif k == "slouch_ended":
                self.slouching = False
            elif k == "gap":
                self.gaps += 1

    def payload(self, device_id: str, user: str) -> dict:
        doc = asdict(self)
        doc.update(device=device_id, user=user, trunk_angle_deg=self.flexion_deg,
                   sedentary_min_today=round(self.sedentary_s_today / 60.0, 1))
        return doc


def _num(v) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


@dataclass
class SessionStats:
    samples: int = 0
    chunks: int = 0
    sessions: int = 0
    end_markers_ignored: int = 0


class DeviceSession:
    def __init__(self, device_id: str, user: str, analyzer_factory: AnalyzerFactory, *,
                 rate_hz: float = 50.0, reorder_wait_s: float = 2.0, max_pending: int = 30000,
                 day_of: Callable[[float], str] = lambda t: str(int(t // 86400))) -> None:
        self.device_id = device_id
        self.user = user
        self.rate_hz = float(rate_hz)
        self._factory = analyzer_factory
        self._day_of = day_of
        self.guard = JumpGuard(device_id, reorder_wait_s, max_pending)
        self.buffer = ReorderBuffer(device_id, rate_hz, reorder_wait_s, max_pending)
        self.analyzer = None                  # created by the first sample (rate from the payload)
        self.live = LiveFigures()
        self.stats = SessionStats()
        self.end_t_s: float | None = None     # end-of-stream requested up to this sample time
        self.last_summary: dict | None = None
        self.origin_s: float | None = None    # epoch second the Analyzer's time 0 stands for
        self._announced: str | None = None

    # -- data ------------------------------------------------------------------------------
    @property
    def pending_samples(self) -> int:
        """Samples held back: unconfirmed jumps and holes waiting to be filled."""
        return self.guard.pending_samples + self.buffer.pending_samples

    def ingest(self, chunks: list[ImuChunk]) -> list[Event]:
        events: list[Event] = []
        for chunk in chunks:
            self.stats.chunks += 1
            events += self._push(self.guard.push(chunk))
        events += self._maybe_end()
        return events

    def _push(self, pieces: list[ImuChunk]) -> list[Event]:
        events: list[Event] = []
        for piece in pieces:
            released, gap_events = self.buffer.push(piece)
            events += self._run(released, gap_events)
        return events

    def flush(self) -> list[Event]:
        """Release what is held back (device silent for the wait)."""
        events = self._push(self.guard.flush())
        released, gap_events = self.buffer.flush()
        events += self._run(released, gap_events)
        return events + self._maybe_end(silent=True)

    def request_end(self, end_t_s: float | None) -> list[Event]:
        """End of stream announced: finish once the sample at ``end_t_s`` has been analysed."""
        if end_t_s is None:
            return self.finish()
        confirmed = self._push(self.guard.confirm_end(float(end_t_s)))
        last = self.buffer.last_t_s
        if self.analyzer is None and last is not None and last >= end_t_s - 1e-6 and not confirmed:
            return []      # that stream was already finished (a repeated / retained marker)
        newest = self.buffer.newest_t_s
        if not confirmed and (newest is None or not (
                newest - 1e-6 <= end_t_s <= newest + self.buffer.wait_s)):
            # A real marker names the stream's last sample and is sent once every sample was
            # acknowledged: only reordering can keep the tail behind it, and no further than
            # the reorder wait (a stream still held whole by the jump guard is confirmed by
            # the marker above, so with nothing received there is nothing to end). Before the newest sample it is stale or forged; far beyond, it
            # is forged. Believed, either would end the Analyzer mid-stream (now, or at the
            # next silence) and split one session's sets, holds and minutes in two.
            self.stats.end_markers_ignored += 1
            log.debug("device=%s end marker at %.3f ignored: samples up to %s received",
                      self.device_id, end_t_s, newest)
            return []
        self.end_t_s = float(end_t_s)
        return confirmed + self._maybe_end()

    def finish(self) -> list[Event]:
        """Analyze the tail and close the Analyzer's open sets, holds and minute."""
        events = self._push(self.guard.flush())
        released, gap_events = self.buffer.flush()
        events += self._run(released, gap_events)
        if self.analyzer is not None:
            fin = self._abs(self.analyzer.finish())
            self.live.apply(fin, self._day_of)
            events += fin
            try:
                self.last_summary = shift_times(self.analyzer.summary(), self.origin_s or 0.0)
            except Exception:  # a summary bug must not lose the finish events
                log.exception("device=%s analyzer summary failed", self.device_id)
            log.info("device=%s session finished samples=%d", self.device_id, self.stats.samples)
        self.analyzer = None
        self.end_t_s = None
        self.live.finished = True
        self.live.current_set = self.live.current_hold = None
        return events

    def _maybe_end(self, silent: bool = False) -> list[Event]:
        if self.end_t_s is None:
            return []
        last = self.buffer.last_t_s
        if (last is not None and last >= self.end_t_s - 1e-6) or silent:
            if silent and (last is None or last < self.end_t_s - 1e-6):
                log.warning("device=%s end of stream at %.3f but samples stop at %s: finishing",
                            self.device_id, self.end_t_s, last)
            return self.finish()
        return []

    def _run(self, released: ImuChunk | None, gap_events: list[Event]) -> list[Event]:
        events = list(gap_events)
        if released is not None and len(released):
            if self.analyzer is None:
                self.rate_hz = float(released.rate_hz)
                self.origin_s = math.floor(float(released.t_s[0]) / ORIGIN_ALIGN_S) * ORIGIN_ALIGN_S
                self.analyzer = self._factory(self.device_id, self.rate_hz)
                self.stats.sessions += 1
                self.live.finished = False
                if self._announced:
                    events += self._abs(self.analyzer.announce(self._announced))
            # rounding to the microsecond undoes the float noise of (epoch + t) - epoch
            rel = replace(released, t_s=np.round(released.t_s - self.origin_s, 6))
            events += self._abs(self.analyzer.update(rel))
            self.stats.samples += len(released)
        self.live.apply(events, self._day_of)
        return events

    def _abs(self, events) -> list[Event]:
        """Analyzer events (session time) -> epoch time."""
        off = self.origin_s or 0.0
        if not events:
            return []
        if off == 0.0:
            return list(events)
        return [Event(e.kind, e.t_s + off, shift_times(e.data, off), e.device_id) for e in events]

    # -- commands --------------------------------------------------------------------------
    def announce(self, exercise: str | None) -> list[Event]:
        """The user announced an exercise (None: the set is over); kept for the next Analyzer."""
        self._announced = exercise
        if self.analyzer is None:
            return []
        events = self._abs(self.analyzer.announce(exercise) or [])
        self.live.apply(events, self._day_of)
        return events

    def calibrate(self) -> list[Event]:
        if self.analyzer is None:
            log.info("device=%s calibrate requested before any samples: ignored", self.device_id)
            return []
        events = self._abs(self.analyzer.calibrate() or [])
        self.live.apply(events, self._day_of)
        return events

    # -- persistence -----------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"v": 1, "device_id": self.device_id, "user": self.user, "rate_hz": self.rate_hz,
                "buffer": self.buffer.get_state(), "guard": self.guard.get_state(),
                "analyzer": None if self.analyzer is None else self.analyzer.get_state(),
                "live": asdict(self.live), "stats": asdict(self.stats), "end_t_s": self.end_t_s,
                "last_summary": self.last_summary, "announced": self._announced,
                "origin_s": self.origin_s}

    def set_state(self, state: dict) -> None:
        self.rate_hz = float(state["rate_hz"])
        self.buffer.set_state(state["buffer"])
        if state.get("guard") is not None:        # snapshots from before the guard have none
            self.guard.set_state(state["guard"])
        self.analyzer = None
        if state["analyzer"] is not None:
            self.analyzer = self._factory(self.device_id, self.rate_hz)
            self.analyzer.set_state(state["analyzer"])
        self.live = LiveFigures(**state["live"])
        self.stats = SessionStats(**state["stats"])
        self.end_t_s = state["end_t_s"]
        self.last_summary = state["last_summary"]
        self._announced = state.get("announced")   # the Analyzer's own state already has it
        self.origin_s = state.get("origin_s")
