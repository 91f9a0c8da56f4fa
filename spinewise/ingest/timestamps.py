"""Rebuild sample times from what a sensor says, not from when BLE happened to deliver it.

BLE delivers notifications in bursts, one or a few per connection interval (7.5-50 ms, longer
when the radio retries), so arrival times jitter by tens of milliseconds and bunch up. The
sensor's own clock does not. Each sample gets a position on the *sensor clock* ``x`` (seconds):

- sensors with a timestamp (Polar H10: ns at the last sample of a frame; the spinewise profile:
  us at the first sample) use it, unwrapped, with the sample interval measured between frames;
- sensors without one (WitMotion, Thingy:52) count samples: ``x = k / rate_hz``.

and a per-sample sequence number ``k`` (the sensor's counter where it has one, else counted
here), so losses show up as jumps in ``ImuChunk.seq``.

Sensor clock -> host clock is a line ``t = x + c + b (x - x_ref)``: ``b`` is the clock drift (a
crystal's tens of ppm, or percent for a nominal rate that is really 49.6 Hz), fitted by least
squares through the per-window minima of ``arrival - x`` (the minimum is the least-delayed
packet, the best witness of the true offset); ``c`` puts the line on the lower envelope of the
recent packets, so no sample is ever timestamped after it arrived. Output times are strictly
increasing.

Losses: a counter jump (spinewise), a sensor-time jump of more than half a sample interval beyond
the samples received (Polar), or - for sensors with no counter - an arrival later than the clock
model allows (by more than ``resync_s``, or by any amount beyond the usual delay after the gateway
called ``mark_discontinuity()`` on a reconnect) yields a ``gap`` event with the number of samples
lost (exact with a counter or clock, estimated without). A counter or clock that goes backwards
(sensor reboot) or leaps away from the host clock by more than ``clock_jump_s`` is not trusted:
the samples are placed by arrival and the sensor's numbers re-anchored to continue from there.

Pure: arrival times are inputs (event time), no wall clock; ``get_state``/``set_state`` round-trip.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from spinewise.events import Event
from spinewise.ingest.profiles.base import Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Stamped:
    t_s: np.ndarray        # (n,) host-clock event times, strictly increasing across calls
    seq: np.ndarray        # (n,) int64 per-sample sequence numbers
    events: list[Event]    # gap events (before these samples)


class TimestampRebuilder:
    def __init__(self, rate_hz: float, device_id: str = "local", *, window_s: float = 2.0,
                 fit_windows: int = 60, envelope_windows: int = 5, resync_s: float = 1.0,
                 max_drift: float = 0.05, clock_jump_s: float = 30.0) -> None:
        self.rate_hz = float(rate_hz)
        self.device_id = device_id
        self.window_s = window_s
        self.fit_windows = fit_windows
        self.envelope_windows = envelope_windows
        self.resync_s = resync_s
        self.max_drift = max_drift
        self.clock_jump_s = clock_jump_s
        self._s: dict = {
            "interval_s": 1.0 / self.rate_hz,   # sample interval on the sensor clock
            "next_k": None,                     # sequence number of the next sample
            "x_last": None,                     # sensor clock of the last sample (continuous)
            "x_ref": None,
            "x_shift": 0.0,                     # added to the sensor's own time (re-anchoring)
            "t_raw_last": None, "t_unwrap": 0.0,      # sensor time unwrapping
            "c_raw_last": None, "c_unwrap": 0, "k_offset": 0,   # counter unwrapping
            "anchor": None,                     # [k, x] of a sample since the last reset (interval)
            "b": 0.0, "c": None,
            "win": None,                        # [x_start, x_at_min, d_min] of the open window
            "mins": [],                         # closed windows [[x_at_min, d_min], ...]
            "t_last": None,
            "lat": 0.0,                         # usual arrival delay beyond the model (no-counter)
            "resync": False,                    # a reconnect happened: check the next arrival
            "samples": 0, "lost": 0, "gaps": 0, "resets": 0,
        }

    # -- state -----------------------------------------------------------------------------
    def get_state(self) -> dict:
        s = dict(self._s)
        s["mins"] = [list(m) for m in s["mins"]]
        return s

    def set_state(self, state: dict) -> None:
        self._s = dict(state)
        self._s["mins"] = [list(m) for m in state.get("mins", [])]

    @property
    def stats(self) -> dict:
        return {k: self._s[k] for k in ("samples", "lost", "gaps", "resets")} | {
            "drift_ppm": self._s["b"] * 1e6, "interval_s": self._s["interval_s"]}

    # -- the clock model --------------------------------------------------------------------
    def _host(self, x):
        s = self._s
        return x + s["c"] + s["b"] * (x - s["x_ref"])

    def _observe(self, x_last: float, arrival_s: float) -> None:
        s = self._s
        d = arrival_s - x_last
        win = s["win"]
        if win is None or x_last - win[0] >= self.window_s:
            if win is not None:
                s["mins"].append([win[1], win[2]])
                del s["mins"][:-self.fit_windows]
                self._fit_drift()
            s["win"] = win = [x_last, x_last, d]
        elif d < win[2]:
            win[1], win[2] = x_last, d
        pts = s["mins"][-self.envelope_windows:] + [[win[1], win[2]], [x_last, d]]
        s["c"] = min(dd - s["b"] * (xx - s["x_ref"]) for xx, dd in pts)

    def _fit_drift(self) -> None:
        s = self._s
        if len(s["mins"]) < 3:
            return
        m = np.asarray(s["mins"], dtype=np.float64)
        x = m[:, 0] - m[:, 0].mean()
        if np.ptp(x) <= 0:
            return
        b = float(np.dot(x, m[:, 1] - m[:, 1].mean()) / np.dot(x, x))
        s["b"] = float(np.clip(b, -self.max_drift, self.max_drift))

    # -- per notification -------------------------------------------------------------------
    def update(self, frame: Frame, arrival_s: float) -> Stamped:
        """Times and sequence numbers for the samples of one notification received at ``arrival_s``."""
        s = self._s
        n = len(frame)
        if n == 0:
            return Stamped(np.zeros(0), np.zeros(0, np.int64), [])
        if s["next_k"] is None:
            return self._first(frame, arrival_s)
        interval = s["interval_s"]
        lost = 0
        k0 = self._counter(frame)
        x_at = self._sensor_time(frame)
        reset = k0 is False or x_at is False
        if not reset and k0 is not None:
            lost = k0 - s["next_k"]
            if lost < 0:
                reset = True
        if not reset and x_at is not None:
            idx = (n - 1) if frame.sensor_t_at == -1 else frame.sensor_t_at
            if k0 is not None:
                interval = self._measure_interval(k0 + idx, x_at)
            x_last = x_at + (n - 1 - idx) * interval
            if k0 is None:
                m = int(round((x_last - s["x_last"]) / interval))
                if m > n:
                    lost = m - n
                elif m == n:        # nothing lost: refine the interval (slowly: jitter-free anyway)
                    interval = s["interval_s"] = interval + 0.05 * ((x_last - s["x_last"]) / n - interval)
        elif not reset and k0 is not None:   # a counter but no clock
            x_last = s["x_last"] + (lost + n) * interval
        elif not reset:
            # no counter, no clock: only arrival can reveal a loss. Normally only a delay beyond
            # resync_s counts (BLE retries delay packets for far less); after a reconnect the
            # gateway tells us samples were surely missed, and any delay beyond the usual counts.
            x_last = s["x_last"] + n * interval
            late = arrival_s - self._host(x_last)
            if s.get("resync") or late > self.resync_s:
                lost = max(0, int(round((late - s.get("lat", 0.0)) / (interval * (1.0 + s["b"])))))
                x_last += lost * interval
            else:
                s["lat"] = 0.95 * s.get("lat", 0.0) + 0.05 * max(0.0, late)
        if not reset and abs(arrival_s - self._host(x_last)) > self.clock_jump_s:
            reset = True    # counter or clock leapt (set by an app, reset to default, corrupted)
        if reset:
            lost, x_last = self._reanchor(frame, arrival_s)
        s["resync"] = False
        return self._emit(frame, x_last, lost, arrival_s)

    def mark_discontinuity(self) -> None:
        """The link was down (the gateway reconnected): samples were surely missed. Sensors with a
        counter or clock say how many; for the others the next arrival time decides."""
        self._s["resync"] = True

    def _first(self, frame: Frame, arrival_s: float) -> Stamped:
        s = self._s
        n = len(frame)
        k0 = self._counter(frame)
        x_at = self._sensor_time(frame)
        s["next_k"] = 0 if k0 in (None, False) else k0
        if x_at not in (None, False):
            idx = (n - 1) if frame.sensor_t_at == -1 else frame.sensor_t_at
            if k0 not in (None, False):
                s["anchor"] = [k0 + idx, x_at]
            x_last = x_at + (n - 1 - idx) * s["interval_s"]
        else:
            x_last = (n - 1) * s["interval_s"]
        s["x_ref"] = x_last
        return self._emit(frame, x_last, 0, arrival_s)

    def _counter(self, frame: Frame):
        """Unwrapped sequence number of the frame's first sample; None without a counter;
        False when the counter went backwards (sensor reboot)."""
        s = self._s
        if frame.counter is None:
            return None
        raw = int(frame.counter)
        if s["c_raw_last"] is None:
            s["c_unwrap"], s["k_offset"] = raw, 0
        else:
            step = raw - s["c_raw_last"]
            if frame.counter_mod:
                step %= frame.counter_mod
                if step > frame.counter_mod // 2:
                    step -= frame.counter_mod
            if step < 0:
                s["c_raw_last"] = raw
                return False
            s["c_unwrap"] += step
        s["c_raw_last"] = raw
        return s["c_unwrap"] + s["k_offset"]

    def _sensor_time(self, frame: Frame):
        """The sensor's timestamp on the continuous sensor clock; None without one; False when
        it went backwards."""
        s = self._s
        if frame.sensor_t_s is None:
            return None
        raw = float(frame.sensor_t_s)
        if s["t_raw_last"] is not None:
            dt = raw - s["t_raw_last"]
            if frame.sensor_t_mod_s and dt < -frame.sensor_t_mod_s / 2:
                s["t_unwrap"] += frame.sensor_t_mod_s
                dt += frame.sensor_t_mod_s
            if dt <= 0 and not (dt == 0 and frame.counter is not None):
                s["t_raw_last"] = raw
                return False
        s["t_raw_last"] = raw
        return raw + s["t_unwrap"] + s["x_shift"]

    def _measure_interval(self, k: int, x: float) -> float:
        """Counter + clock: the sample interval over everything since the anchor (exact, no fit)."""
        s = self._s
        a = s["anchor"]
        if a is None:
            s["anchor"] = [k, x]
        elif k > a[0]:
            meas = (x - a[1]) / (k - a[0])
            if 0.5 * s["interval_s"] < meas < 2.0 * s["interval_s"]:
                s["interval_s"] = meas
        return s["interval_s"]

    def _reanchor(self, frame: Frame, arrival_s: float) -> tuple[int, float]:
        """The sensor's counter/clock cannot be trusted (reboot, leap): place the samples by
        arrival time and make the sensor's numbers continue from there."""
        s = self._s
        n = len(frame)
        s["resets"] += 1
        interval = s["interval_s"]
        x_last = s["x_last"] + n * interval
        late = arrival_s - self._host(x_last)
        lost = (max(0, int(round((late - s.get("lat", 0.0)) / (interval * (1.0 + s["b"])))))
                if late > self.resync_s or s.get("resync") else 0)
        x_last += lost * interval
        log.warning("device %s: sensor counter/clock jumped (reboot?); re-anchored, ~%d samples lost",
                    self.device_id, lost)
        if frame.counter is not None:
            s["c_unwrap"], s["c_raw_last"] = int(frame.counter), int(frame.counter)
            s["k_offset"] = s["next_k"] + lost - int(frame.counter)
        if frame.sensor_t_s is not None:
            idx = (n - 1) if frame.sensor_t_at == -1 else frame.sensor_t_at
            s["t_unwrap"], s["t_raw_last"] = 0.0, float(frame.sensor_t_s)
            s["x_shift"] = x_last - (n - 1 - idx) * interval - float(frame.sensor_t_s)
        s["anchor"] = None
        return lost, x_last

    def _emit(self, frame: Frame, x_last: float, lost: int, arrival_s: float) -> Stamped:
        s = self._s
        n = len(frame)
        interval = s["interval_s"]
        self._observe(x_last, arrival_s)
        t = self._host(x_last - interval * np.arange(n - 1, -1, -1, dtype=np.float64))
        if s["t_last"] is not None and t[0] <= s["t_last"]:
            # the clock model moved back a little: keep time strictly increasing
            t = np.maximum(t, s["t_last"] + 1e-6 * np.arange(1, n + 1))
        events: list[Event] = []
        seq0 = s["next_k"] + lost
        if lost > 0:
            start = s["t_last"]
            events.append(Event("gap", float(start), {"start_s": float(start), "end_s": float(t[0]),
                                                      "samples_lost": int(lost)}, self.device_id))
            s["lost"] += lost
            s["gaps"] += 1
            log.info("device %s: %d samples lost between %.3f and %.3f", self.device_id, lost,
                     start, t[0])
        s["next_k"] = seq0 + n
        s["x_last"] = float(x_last)
        s["t_last"] = float(t[-1])
        s["samples"] += n
        return Stamped(t, seq0 + np.arange(n, dtype=np.int64), events)
