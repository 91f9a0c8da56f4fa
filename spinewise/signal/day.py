"""DayTracker: the daily half of the signal chain (activity, steps, sedentary, slouch).

    BodySamples -> EpochFeatures (1 s) -> [held until the mounting is known]
                -> ActivityClassifier (10 s look-ahead)
                -> exercise lag (epochs wait EXERCISE_LAG_S so sets recognised late by the
                   ExerciseTracker can still be moved to "exercise" via mark_exercise)
                -> SlouchTracker (holds a run until it is decided, <= slouch_min_s)
                -> totals, per-minute ``minute`` events, per-hour table, lying-run resolution
                   (awake vs asleep) -> SedentaryTracker (bouts, breaks)

Epochs recorded before the first mounting calibration keep their mean gravity direction in
the (guessed) sensor frame; ``set_mounting`` rotates them into the body frame once it is
known, so the minutes before the first walk are classified as well as the rest. All
per-sample work is vectorised; the per-epoch logic runs once a second of data.

Known simplifications (see docs/signal-day.md): a clip moved mid-day is only re-calibrated
at the next walk, epochs in between keep the old mounting; ``minute`` events count lying as
sedentary until the lying run is long enough to be sleep (the summary is exact).
"""
from __future__ import annotations

import logging
import math
from collections import deque

import numpy as np

from spinewise.config import SignalConfig
from spinewise.events import Event
from spinewise.signal.activity import CLASSES, WALK_MIN_EPOCHS, ActivityClassifier
from spinewise.signal.body import BodySamples, angles_from_up
from spinewise.signal.calibration import most_horizontal_axis, rotation_from_axes
from spinewise.signal.day_features import DIR_COLS, FEATURES, EpochFeatures
from spinewise.signal.epochs import EpochSplitter
from spinewise.signal.sedentary import SLEEP_MIN_S, SedentaryTracker
from spinewise.signal.slouch import SlouchTracker

log = logging.getLogger(__name__)

EXERCISE_LAG_S = 120.0
MAX_PENDING_CALIB_S = 4 * 3600.0
MAX_OPEN_MARK_S = 3600.0
MAX_HOURS = 7 * 24                                  # per-hour table kept for the last week
F = {name: i for i, name in enumerate(FEATURES)}
UP_COLS = [F["up_x"], F["up_y"], F["up_z"]]
VEC_COLS = [UP_COLS, [F[c] for c in DIR_COLS[:3]], [F[c] for c in DIR_COLS[3:]]]   # body-frame vectors
# record layout after classification (plain list: cheap and JSON/pickle-friendly)
R_T0, R_DT, R_CLS, R_FLEX, R_LAT, R_INCL, R_ENMO, R_STEPS, R_SIT0, R_STAND0, R_CAND = range(11)
R_EX0, R_EX1 = 11, 12                               # an exercise epoch's mark edges (appended)
HOUR_COLS = CLASSES + ("sedentary", "slouch", "steps")


class DayTracker:
    def __init__(self, cfg: SignalConfig, rate_hz: float, device_id: str = "local",
                 posture_rate_hz: float = 5.0) -> None:
        self.cfg = cfg
        self.rate_hz = float(rate_hz)
        self.epoch_s = float(cfg.epoch_s)
        self.device_id = device_id
        self.features = EpochFeatures(rate_hz, self.epoch_s)
        self.classifier = ActivityClassifier(rate_hz)
        self.slouch = SlouchTracker(cfg.slouch_min_s, device_id)
        self.sedentary = SedentaryTracker(cfg.sedentary_tolerance_s, cfg.break_min_s, device_id)
        self.posture_rate_hz = float(posture_rate_hz)
        self._posture = EpochSplitter(1.0 / posture_rate_hz) if posture_rate_hz > 0 else None
        self.mounting_known = False
        self._calib_from_s = math.inf
        self._R: np.ndarray | None = None
        self._pending: list[list[float]] = []       # feature rows awaiting the mounting
        self._lag: deque = deque()                  # classified records awaiting exercise marks
        self._marks: list[list] = []                # [start_s, end_s | None]
        self.totals = {c: 0.0 for c in CLASSES} | {"sedentary": 0.0, "sleep": 0.0, "slouch": 0.0,
                                                   "steps": 0.0, "enmo_sum": 0.0, "epochs": 0.0}
        self._minute: dict | None = None
        self.hourly: dict[int, list[float]] = {}
        self._last_cls: str | None = None
        self._lying: list[float] | None = None      # current lying run [start, end]
        self.first_t: float | None = None
        self.last_t: float | None = None

    # -- input -------------------------------------------------------------------------
    def set_mounting(self, R_sensor_from_body: np.ndarray, t_from_s: float) -> None:
        """Called on each ``calibrated`` event. The first one re-expresses held epochs."""
        R = np.asarray(R_sensor_from_body, dtype=np.float64)
        if self.mounting_known and self._R is not None:
            # a refinement or a moved clip: what was learned about the person's neutral
            # postures moves with the frame, else the old neutral reads as a slouch
            for est in (self.classifier.sit_neutral, self.classifier.stand_neutral):
                if est.known:
                    est.remount(self._R, R)
        if not self.mounting_known:
            self.mounting_known = True
            self._calib_from_s = float(t_from_s)
            self._R = R
            rows = self._rotate(np.asarray(self._pending).reshape(-1, len(FEATURES)))
            self._pending = []
            self._classify(rows)
        self._R = R

    def _rotate(self, rows: np.ndarray) -> np.ndarray:
        """Sensor-frame (pre-calibration) rows -> body frame, for rows before the switch."""
        if rows.size == 0 or self._R is None:
            return rows
        sel = rows[:, F["t0"]] < self._calib_from_s - 1e-9
        if not sel.any():                       # every epoch after the first calibration
            return rows
        rows = rows.copy()
        for cols in VEC_COLS:
            rows[np.ix_(sel, cols)] = rows[sel][:, cols] @ self._R
        return rows

    def _provisional_up(self, rows: np.ndarray) -> np.ndarray:
        """Held sensor-frame rows that no mounting calibration will re-express (the recording
        ends, or waited too long). Walks too short to calibrate the mounting (it wants
        calibration.MIN_WALK_EPOCHS of mid-walk; a 5 m walk has ~5 s) still say where up is:
        the mean gravity direction of the gait-like epochs in runs of >= WALK_MIN_EPOCHS (a
        sit-to-stand makes 2-3) becomes body z, forward stays a guess (steps and walking need
        only up). Without such a run the sensor frame stands in for the body frame."""
        gait = rows[:, F["gait"]] > 0.5 if rows.size else np.zeros(0, dtype=bool)
        in_run = np.zeros(gait.size, dtype=bool)
        start = None
        for i, g in enumerate(np.append(gait, False)):
            if g and start is None:
                start = i
            elif not g and start is not None:
                if i - start >= WALK_MIN_EPOCHS:
                    in_run[start:i] = True
                start = None
        if not in_run.any():
            log.warning("%s: mounting never calibrated (no walking seen); classifying with the "
                        "sensor frame as body frame", self.device_id)
            return rows
        z = rows[in_run][:, UP_COLS].mean(axis=0)
        z /= np.linalg.norm(z)
        R = rotation_from_axes(z, most_horizontal_axis(z))
        log.warning("%s: mounting not calibrated (walks too short); up from %d s of gait, "
                    "forward guessed", self.device_id, int(in_run.sum()))
        rows = rows.copy()
        rows[:, UP_COLS] = rows[:, UP_COLS] @ R
        return rows

    def mark_exercise(self, start_s: float, end_s: float | None = None) -> None:
        """Epochs in [start_s, end_s) become exercise; ``end_s=None`` opens the mark (a set
        in progress) until a later call with the same start closes it."""
        for m in self._marks:
            if abs(m[0] - start_s) < 1e-6:
                m[1] = end_s
                return
        self._marks.append([float(start_s), None if end_s is None else float(end_s)])

    def update(self, body: BodySamples) -> list[Event]:
        events: list[Event] = []
        if len(body):
            if self.first_t is None:
                self.first_t = float(body.t_s[0])
            self.last_t = float(body.t_s[-1])
            # without a gyro the day features' vertical is |acc| - 1 g, which rectifies motion
            self.classifier.acc_only = not body.has_gyro
            if self._posture is not None:
                events += self._posture_events(self._posture.push(body.t_s, up=body.up_body))
        feats = self.features.update(body)
        events += self._rows_in(feats)
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        if self._posture is not None:
            events += self._posture_events(self._posture.flush())
        events += self._rows_in(self.features.flush())
        if self._pending:
            rows, self._pending = np.asarray(self._pending), []
            events += self._classify(self._provisional_up(rows))
        events += self._records(self.classifier.flush())
        while self._lag:
            events += self._final(self._lag.popleft())
        released, ev = self.slouch.flush()
        events += ev
        for rec, is_slouch in released:
            events += self._aggregate(rec, is_slouch)
        events += self._resolve_lying()
        events += self.sedentary.finish()
        events += self._emit_minute(partial=True)
        return events

    # -- pipeline ----------------------------------------------------------------------
    def _rows_in(self, feats: dict[str, np.ndarray]) -> list[Event]:
        if feats["t0"].size == 0:
            return []
        rows = np.column_stack([feats[k] for k in FEATURES])
        if not self.mounting_known:
            self._pending.extend(rows.tolist())
            over = len(self._pending) - int(MAX_PENDING_CALIB_S / self.epoch_s)
            if over > 0:
                log.warning("%s: no mounting calibration after %.0f h; classifying the oldest "
                            "epochs with the sensor frame", self.device_id, MAX_PENDING_CALIB_S / 3600)
                old, self._pending = self._pending[:over], self._pending[over:]
                return self._classify(self._provisional_up(np.asarray(old)))
            return []
        return self._classify(self._rotate(rows))

    def _classify(self, rows: np.ndarray) -> list[Event]:
        if rows.size == 0:
            return []
        return self._records(self.classifier.push(rows))

    def _records(self, decided) -> list[Event]:
        events: list[Event] = []
        for row, cls, (flex, lat, incl), (sit0, stand0) in decided:
            # neutrals as known at decision time (not at release: that would depend on
            # how much later data the chunk carried)
            rec = [row[F["t0"]], row[F["n"]] / self.rate_hz, cls, flex, lat, incl,
                   row[F["enmo_mg"]], row[F["steps"]] if cls == "walking" else 0.0, sit0, stand0,
                   row[F["steps"]]]
            self._walk_edge_steps(rec)
            self._lag.append(rec)
        if self._lag:
            newest = self._lag[-1][R_T0]
            while self._lag and newest - self._lag[0][R_T0] >= EXERCISE_LAG_S:
                events += self._final(self._lag.popleft())
        return events

    def _walk_edge_steps(self, rec: list) -> None:
        """Steps of the standing epoch just before or after a walk count: a walk starts and
        ends mid-epoch, and its first and last steps (slower, softer) often leave that epoch
        short of gait-like, so it stays "standing" (on real lower-back recordings ~2 steps
        per walk were lost there). Only the steps: walking time keeps the classifier's
        epochs. ``rec`` is about to follow the newest held record."""
        if not self._lag:
            return
        prev = self._lag[-1]
        if abs(rec[R_T0] - prev[R_T0] - self.epoch_s) > 1e-6:
            return
        if rec[R_CLS] == "walking" and prev[R_CLS] == "standing":
            prev[R_STEPS] = prev[R_CAND]
        elif prev[R_CLS] == "walking" and rec[R_CLS] == "standing":
            rec[R_STEPS] = rec[R_CAND]

    def _in_mark(self, t0: float, t1: float) -> list | None:
        """The mark [start_s, end_s | None] holding this epoch's middle, if any."""
        def end(m):
            return m[1] if m[1] is not None else m[0] + MAX_OPEN_MARK_S
        mid = 0.5 * (t0 + t1)
        hit = next((list(m) for m in self._marks if m[0] <= mid < end(m)), None)
        self._marks = [m for m in self._marks if end(m) > t0]   # later epochs only move on
        return hit

    def _final(self, rec: list) -> list[Event]:
        t0, dt = rec[R_T0], rec[R_DT]
        # before the first mounting calibration the exercise tracker saw guessed axes: its
        # marks there are not trusted; and a recognised walk is never an exercise set (gait
        # is the most reliable class; the guide's exercises are done in place)
        mark = self._in_mark(t0, t0 + self.epoch_s) if self._marks else None
        if mark is not None and t0 >= self._calib_from_s and rec[R_CLS] != "walking":
            rec[R_CLS], rec[R_STEPS] = "exercise", 0.0
            # the set's own edges (within the epoch next to it), so a sedentary bout ends
            # exactly where the exercise began, not at the epoch boundary after it
            rec[R_EX0:] = [mark[0], t0 + dt if mark[1] is None else mark[1]]
        cls, flex = rec[R_CLS], rec[R_FLEX]
        thr = self.cfg.slouch_threshold_deg
        like = ((cls == "sitting" and flex < rec[R_SIT0] - thr)
                or (cls == "standing" and flex > rec[R_STAND0] + thr))
        released, events = self.slouch.push(rec, t0, t0 + dt, like, flex)
        for r, is_slouch in released:
            events += self._aggregate(r, is_slouch)
        return events

    def _aggregate(self, rec: list, is_slouch: bool) -> list[Event]:
        events: list[Event] = []
        t0, dt, cls = rec[R_T0], rec[R_DT], rec[R_CLS]
        minute = int(math.floor(t0 / 60.0))
        if self._minute is not None and self._minute["index"] != minute:
            events += self._emit_minute()
        if self._minute is None:
            self._minute = {"index": minute, **{f"{c}_s": 0.0 for c in CLASSES},
                            "sedentary_s": 0.0, "steps": 0.0, "enmo_sum": 0.0, "n": 0,
                            "slouch_s": 0.0}
        m = self._minute
        if cls != self._last_cls:
            events.append(Event("activity", t0, {"activity": cls, "start_s": round(t0, 3)},
                                self.device_id))
            self._last_cls = cls
        # lying runs resolve into awake (sedentary) or asleep when they end
        if cls == "lying":
            if self._lying is not None and t0 - self._lying[1] >= self.cfg.sedentary_tolerance_s:
                # a hole in the recording (sensor off, days between files) ends the run: time
                # nobody measured is not sleep (a 1e9 s gap once counted as 1e9 s asleep)
                events += self._resolve_lying()
            if self._lying is None:
                self._lying = [t0, t0 + dt]
            else:
                self._lying[1] = t0 + dt
        else:
            events += self._resolve_lying()
        provisional_sed = cls == "sitting" or (cls == "lying" and self._lying[1] - self._lying[0] < SLEEP_MIN_S)
        if cls == "sitting":
            self.totals["sedentary"] += dt
            events += self.sedentary.span(t0, t0 + dt, "sedentary")
        elif cls in ("standing", "walking"):
            events += self.sedentary.span(t0, t0 + dt, "upright")
        elif cls == "exercise":
            ex0, ex1 = (rec[R_EX0], rec[R_EX1]) if len(rec) > R_EX1 else (t0, t0 + dt)
            events += self.sedentary.span(min(t0, ex0), max(t0 + dt, ex1), "exercise")
        self.totals[cls] += dt
        self.totals["steps"] += rec[R_STEPS]
        self.totals["enmo_sum"] += rec[R_ENMO]
        self.totals["epochs"] += 1
        if is_slouch:
            self.totals["slouch"] += dt
        m[f"{cls}_s"] += dt
        m["sedentary_s"] += dt if provisional_sed else 0.0
        m["steps"] += rec[R_STEPS]
        m["enmo_sum"] += rec[R_ENMO]
        m["n"] += 1
        m["slouch_s"] += dt if is_slouch else 0.0
        hour = int(math.floor(t0 / 3600.0))
        h = self.hourly.get(hour)
        if h is None:
            h = self.hourly[hour] = [0.0] * len(HOUR_COLS)
            if len(self.hourly) > MAX_HOURS:          # constant memory on a weeks-long stream
                del self.hourly[min(self.hourly)]
        h[CLASSES.index(cls)] += dt
        h[5] += dt if provisional_sed else 0.0
        h[6] += dt if is_slouch else 0.0
        h[7] += rec[R_STEPS]
        return events

    def _resolve_lying(self) -> list[Event]:
        run, self._lying = self._lying, None
        if run is None:
            return []
        if run[1] - run[0] >= SLEEP_MIN_S:
            self.totals["sleep"] += run[1] - run[0]
            return self.sedentary.span(run[0], run[1], "other")
        self.totals["sedentary"] += run[1] - run[0]
        return self.sedentary.span(run[0], run[1], "sedentary")

    def _emit_minute(self, partial: bool = False) -> list[Event]:
        m, self._minute = self._minute, None
        if m is None:
            return []
        data = {"start_s": m["index"] * 60.0, **{f"{c}_s": round(m[f"{c}_s"], 3) for c in CLASSES},
                "sedentary_s": round(m["sedentary_s"], 3), "steps": int(round(m["steps"])),
                "enmo_mg": round(m["enmo_sum"] / max(m["n"], 1), 2),
                "slouch_s": round(m["slouch_s"], 3)}
        if partial:
            data["partial"] = True
        return [Event("minute", m["index"] * 60.0 + 60.0, data, self.device_id)]

    def _posture_events(self, ep) -> list[Event]:
        if len(ep) == 0:
            return []
        up = ep.sum("up")
        flex, lat, incl = angles_from_up(up)
        t = ep.index / self.posture_rate_hz
        return [Event("posture", float(t[i]), {"flexion_deg": round(float(flex[i]), 2),
                                                 "lateral_deg": round(float(lat[i]), 2),
                                                 "incl_deg": round(float(incl[i]), 2)}, self.device_id)
                for i in range(len(ep))]

    # -- output ------------------------------------------------------------------------
    def summary(self) -> dict:
        t = self.totals
        walking_s = t["walking"]
        act = {"sedentary_s": round(t["sedentary"], 1),
               **{f"{c}_s": round(t[c], 1) for c in CLASSES},
               "steps": int(round(t["steps"])), "breaks": len(self.sedentary.breaks),
               "sedentary_bouts": [{"start_s": round(a, 3), "end_s": round(b, 3)}
                                   for a, b in self.sedentary.bouts],
               "sleep_s": round(t["sleep"], 1),
               "cadence_spm": round(60.0 * t["steps"] / walking_s, 1) if walking_s > 0 else None,
               "enmo_mg_mean": round(t["enmo_sum"] / t["epochs"], 2) if t["epochs"] else None,
               "breaks_list": [{"start_s": round(a, 3), "end_s": round(b, 3)}
                               for a, b in self.sedentary.breaks]}
        posture = {"slouch_s": round(t["slouch"], 1),
                   "slouch_bouts": [{"start_s": round(a, 3), "end_s": round(b, 3)}
                                    for a, b in self.slouch.bouts],
                   "neutral_flexion_deg": {
                       "sitting": round(self.classifier.sit_neutral.value(), 1),
                       "standing": round(self.classifier.stand_neutral.value(), 1)},
                   "slouch_threshold_deg": self.cfg.slouch_threshold_deg}
        hourly = [{"hour": k, **{f"{c}_s" if c != "steps" else c: round(v, 1)
                                 for c, v in zip(HOUR_COLS, self.hourly[k])}}
                  for k in sorted(self.hourly)]
        return {"activity": act, "posture": posture, "hourly": hourly}

    # -- state -------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"features": self.features.get_state(), "classifier": self.classifier.get_state(),
                "slouch": self.slouch.get_state(), "sedentary": self.sedentary.get_state(),
                "posture": None if self._posture is None else self._posture.get_state(),
                "mounting_known": self.mounting_known, "calib_from_s": self._calib_from_s,
                "R": None if self._R is None else self._R.copy(),
                "pending": [list(r) for r in self._pending], "lag": [list(r) for r in self._lag],
                "marks": [list(m) for m in self._marks], "totals": dict(self.totals),
                "minute": None if self._minute is None else dict(self._minute),
                "hourly": {k: list(v) for k, v in self.hourly.items()},
                "last_cls": self._last_cls, "lying": None if self._lying is None else list(self._lying),
                "first_t": self.first_t, "last_t": self.last_t}

    def set_state(self, s: dict) -> None:
        self.features.set_state(s["features"])
        self.classifier.set_state(s["classifier"])
        self.slouch.set_state(s["slouch"])
        self.sedentary.set_state(s["sedentary"])
        if self._posture is not None and s["posture"] is not None:
            self._posture.set_state(s["posture"])
        self.mounting_known = bool(s["mounting_known"])
        self._calib_from_s = float(s["calib_from_s"])
        self._R = None if s["R"] is None else np.asarray(s["R"], dtype=np.float64)
        self._pending = [list(r) for r in s["pending"]]
        self._lag = deque(list(r) for r in s["lag"])
        self._marks = [list(m) for m in s["marks"]]
        self.totals = dict(s["totals"])
        self._minute = None if s["minute"] is None else dict(s["minute"])
        self.hourly = {int(k): list(v) for k, v in s["hourly"].items()}
        self._last_cls = s["last_cls"]
        self._lying = None if s["lying"] is None else list(s["lying"])
        self.first_t = s["first_t"]
        self.last_t = s["last_t"]
