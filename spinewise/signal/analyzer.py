"""Analyzer: one device's whole signal chain, the same object offline and live.

    ImuChunk -> BodyTracker -> BodySamples -> ExerciseTracker (sets, reps, holds)
                                           -> DayTracker (activity, steps, sedentary, slouch)

The Analyzer wires the two consumers together: ``calibrated`` events hand the mounting to
the DayTracker (which re-expresses epochs held from before the first calibration), and the
ExerciseTracker's set/hold events mark their spans as ``exercise`` in the DayTracker.
``summary()`` is the ``spinewise analyze --json`` contract (docs/architecture.md) plus
extras: "unavailable", "calibration", "rejected", "hourly", "sleep_s", "cadence_spm", ...
"""
from __future__ import annotations

import logging

import numpy as np

from spinewise.config import SignalConfig
from spinewise.events import Event
from spinewise.signal.body_tracker import BodyTracker
from spinewise.signal.day import DayTracker
from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

GYRO_FIGURES = ["axial_rate_dps"]


def _exercise_tracker_cls():
    from spinewise.signal.exercise.tracker import ExerciseTracker
    return ExerciseTracker


class Analyzer:
    def __init__(self, cfg: SignalConfig | None = None, device_id: str = "local",
                 rate_hz: float | None = None, posture_rate_hz: float = 5.0,
                 exercise: bool = True) -> None:
        self.cfg = cfg or SignalConfig()
        self.device_id = device_id
        self.rate_hz = None if rate_hz is None else float(rate_hz)
        self.posture_rate_hz = float(posture_rate_hz)
        self.with_exercise = exercise
        self.body = BodyTracker(self.rate_hz, device_id, self.cfg.epoch_s)
        self.exercise = None
        self.day: DayTracker | None = None
        self._announced: str | None = None
        self.n_samples = 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.calibrations: list[dict] = []

    def _start(self, chunk: ImuChunk) -> None:
        if self.rate_hz is None:
            self.rate_hz = float(chunk.rate_hz)
        self.day = DayTracker(self.cfg, self.rate_hz, self.device_id, self.posture_rate_hz)
        if self.with_exercise:
            self.exercise = _exercise_tracker_cls()(self.cfg, self.rate_hz, self.device_id)
            if self._announced is not None:
                self.exercise.announce(self._announced)

    # -- streaming ---------------------------------------------------------------------
    def update(self, chunk: ImuChunk) -> list[Event]:
        if len(chunk) == 0:
            return []
        if self.day is None:
            self._start(chunk)
        was_calibrated = self.body.calibrated
        body, events = self.body.update(chunk)
        if len(body):
            self.n_samples += len(body)
            if self.first_t is None:
                self.first_t = float(body.t_s[0])
            self.last_t = float(body.t_s[-1])
        out = list(events)
        parts = self._split_at_first_calibration(body, events, was_calibrated)
        for k, part in enumerate(parts):
            if k == len(parts) - 1:
                # the mounting applies from here on, exactly as when the chunk boundary falls
                # on the calibration boundary: consumers see the same sequence either way
                self._on_calibrated(events)
            out += self._consume(part)
        return out

    def _consume(self, body) -> list[Event]:
        events = []
        if self.exercise is not None:
            events = self.exercise.update(body)
            self._mark(events)
        return events + self.day.update(body)

    @staticmethod
    def _split_at_first_calibration(body, events: list[Event], was_calibrated: bool) -> list:
        """The first calibration can land inside a chunk: the samples before its boundary are
        still uncalibrated, whatever the chunk size, so they go downstream as their own part."""
        if was_calibrated or not body.calibrated:
            return [body]
        t_from = min(e.data["t_from_s"] for e in events if e.kind == "calibrated")
        i = int(np.searchsorted(body.t_s, t_from, side="left"))
        if i <= 0:
            return [body]
        return [body.slice(0, i, calibrated=False), body.slice(i, len(body))]

    def finish(self) -> list[Event]:
        if self.day is None:
            return []
        events = self.body.finish()
        self._on_calibrated(events)
        if self.exercise is not None:
            ex = self.exercise.finish()
            self._mark(ex)
            events += ex
        events += self.day.finish()
        return events

    def _on_calibrated(self, events: list[Event]) -> None:
        for e in events:
            if e.kind == "calibrated":
                self.day.set_mounting(np.asarray(e.data["R_sensor_from_body"]), e.data["t_from_s"])
                self.calibrations.append({"t_s": e.t_s, "reason": e.data["reason"]})

    def _mark(self, events: list[Event]) -> None:
        for e in events:
            if e.kind in ("set_started", "hold_started"):
                self.day.mark_exercise(float(e.data["start_s"]), None)
            elif e.kind in ("set_finished", "hold_finished"):
                self.day.mark_exercise(float(e.data["start_s"]), float(e.data["end_s"]))

    def announce(self, exercise: str | None) -> list[Event]:
        self._announced = exercise
        if self.exercise is None:
            return []
        ev = self.exercise.announce(exercise)
        self._mark(ev)
        return ev

    def calibrate(self) -> list[Event]:
        """The user stands upright: take the current gravity direction as superior."""
        events = self.body.calibrate()
        if self.day is not None:
            self._on_calibrated(events)
        return events

    # -- output ------------------------------------------------------------------------
    @property
    def unavailable(self) -> list[str]:
        out = []
        if self.body.has_gyro is False:
            out += GYRO_FIGURES
        if self.exercise is not None:
            un = self.exercise.unavailable
            out += list(un() if callable(un) else un)
        return sorted(set(out))

    def summary(self) -> dict:
        duration = 0.0
        if self.first_t is not None and self.rate_hz:
            duration = self.last_t - self.first_t + 1.0 / self.rate_hz
        ex = self.exercise.summary() if self.exercise is not None else {"sets": [], "holds": []}
        day = self.day.summary() if self.day is not None else DayTracker(
            self.cfg, self.rate_hz or 50.0).summary()
        bias = self.body.gyro_bias_dps
        return {
            "duration_s": round(duration, 3),
            "sample_rate_hz": self.rate_hz,
            "sets": ex.get("sets", []),
            "holds": ex.get("holds", []),
            "activity": day["activity"],
            "posture": day["posture"],
            "unavailable": self.unavailable,
            "has_gyro": self.body.has_gyro,
            "calibration": {
                "calibrated": self.body.calibrated,
                "reason": self.body.reason or ("assumed" if not self.body.calibrated else ""),
                "confidence": round(self.body.confidence, 3),
                "forward_cues": self.body.forward_cues(),
                "R_sensor_from_body": np.round(self.body.R, 6).tolist(),
                "events": self.calibrations,
                "gyro_bias_dps": None if bias is None else np.round(bias, 3).tolist()},
            "rejected": dict(self.body.rejected),
            "hourly": day["hourly"],
        }

    # -- state -------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"rate_hz": self.rate_hz, "body": self.body.get_state(),
                "exercise": None if self.exercise is None else self.exercise.get_state(),
                "day": None if self.day is None else self.day.get_state(),
                "announced": self._announced, "n_samples": self.n_samples,
                "first_t": self.first_t, "last_t": self.last_t,
                "calibrations": [dict(c) for c in self.calibrations]}

    def set_state(self, s: dict) -> None:
        self.rate_hz = s["rate_hz"]
        self.body.set_state(s["body"])
        self._announced = s["announced"]
        if s["day"] is not None:
            self.day = DayTracker(self.cfg, self.rate_hz, self.device_id, self.posture_rate_hz)
            self.day.set_state(s["day"])
            if self.with_exercise and s["exercise"] is not None:
                self.exercise = _exercise_tracker_cls()(self.cfg, self.rate_hz, self.device_id)
                self.exercise.set_state(s["exercise"])
        self.n_samples = int(s["n_samples"])
        self.first_t = s["first_t"]
        self.last_t = s["last_t"]
        self.calibrations = [dict(c) for c in s["calibrations"]]
