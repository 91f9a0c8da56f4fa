"""BodyTracker: ImuChunk (sensor frame) -> BodySamples (calibrated body frame) + events.

Orientation (orientation.GravityEstimator), mounting-free step candidates (gait) and the
automatic mounting calibration (calibration.MountingCalibrator) run here once per sample;
everything downstream sees body-frame vectors and angles. A mounting change found inside a
chunk takes effect at the epoch boundary the calibrator reports, so the output is the same
whatever the chunking. Until the first calibration the body frame is a guess (the sensor
frame) and ``BodySamples.calibrated`` is False.

Bad samples (non-finite values, time going backwards or standing still) are dropped,
counted in ``rejected`` and logged; they never reach the filters (a NaN would poison VQF).
"""
from __future__ import annotations

import logging

import numpy as np

from spinewise.events import Event
from spinewise.signal.body import BodySamples, angles_from_up
from spinewise.signal.calibration import MountingCalibrator
from spinewise.signal.gait import StepDetector
from spinewise.signal.orientation import GravityEstimator
from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

MAX_ABS_T_S = 1e11


class BodyTracker:
    def __init__(self, rate_hz: float | None = None, device_id: str = "local",
                 epoch_s: float = 1.0) -> None:
        self.rate_hz = None if rate_hz is None else float(rate_hz)
        self.device_id = device_id
        self.epoch_s = float(epoch_s)
        self.has_gyro: bool | None = None
        self._grav: GravityEstimator | None = None
        self._steps: StepDetector | None = None
        self._calib = MountingCalibrator(epoch_s)
        self.R = np.eye(3)                       # R_sensor_from_body in use
        self.calibrated = False
        self.reason = ""
        self.rejected = {"non_finite": 0, "non_monotonic": 0}
        self._last_t: float | None = None
        self._last_up_s: np.ndarray | None = None

    # -- helpers -----------------------------------------------------------------------
    def _start(self, chunk: ImuChunk) -> None:
        if self.rate_hz is None:
            self.rate_hz = float(chunk.rate_hz)
        self.has_gyro = chunk.has_gyro
        self._grav = GravityEstimator(self.rate_hz, self.has_gyro)
        self._steps = StepDetector(self.rate_hz)
        self._calib.start(self.rate_hz)

    def _clean(self, chunk: ImuChunk) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        t, acc, gyro = chunk.t_s, chunk.acc_g, chunk.gyro_dps
        # fast path, nearly every chunk: all finite, in range, strictly increasing
        if (t.size and np.isfinite(acc).all() and (gyro is None or np.isfinite(gyro).all())
                and np.isfinite(t).all() and np.abs(t).max() < MAX_ABS_T_S
                and (self._last_t is None or t[0] > self._last_t)
                and (t.size < 2 or (t[1:] > t[:-1]).all())):
            self._last_t = float(t[-1])
            return t, acc, gyro
        # |t| beyond ~year 5000 is corrupt, not a time (and would overflow epoch indices)
        ok = np.isfinite(t) & (np.abs(t) < MAX_ABS_T_S) & np.all(np.isfinite(acc), axis=1)
        if gyro is not None:
            ok &= np.all(np.isfinite(gyro), axis=1)
        if not ok.all():
            self.rejected["non_finite"] += int((~ok).sum())
            log.warning("%s: dropped %d non-finite samples", self.device_id, int((~ok).sum()))
        # strictly increasing time, also across chunks
        prev = -np.inf if self._last_t is None else self._last_t
        tt = np.where(ok, t, -np.inf)
        run_max = np.maximum.accumulate(np.concatenate([[prev], tt]))[:-1]
        mono = ok & (t > run_max)
        if (ok & ~mono).any():
            self.rejected["non_monotonic"] += int((ok & ~mono).sum())
            log.warning("%s: dropped %d samples with non-increasing time", self.device_id,
                        int((ok & ~mono).sum()))
        if not mono.all():
            t, acc = t[mono], acc[mono]
            gyro = None if gyro is None else gyro[mono]
        if t.size:
            self._last_t = float(t[-1])
        return t, acc, gyro

    def _samples(self, t, acc_b, gyro_b, up_b) -> BodySamples:
        flex, lat, incl = angles_from_up(up_b)
        return BodySamples(t_s=t, acc_body_g=acc_b, gyro_body_dps=gyro_b, up_body=up_b,
                           flexion_deg=flex, lateral_deg=lat, incl_deg=incl,
                           calibrated=self.calibrated, rate_hz=float(self.rate_hz or 0.0),
                           device_id=self.device_id)

    def _calibrated_event(self, t_s: float, reason: str, confidence: float) -> Event:
        return Event("calibrated", t_s, {"R_sensor_from_body": self.R.round(6).tolist(),
                                         "reason": reason, "t_from_s": t_s,
                                         "confidence": round(float(confidence), 3)},
                     self.device_id)

    @property
    def confidence(self) -> float:
        """Probability that the committed forward axis points the right way (0.5: a guess)."""
        return float(self._calib.confidence) if self.calibrated else 0.0

    def forward_cues(self) -> dict:
        """Log-odds each kind of cue contributes to the committed forward axis."""
        if not self.calibrated:
            return {}
        return self._calib.cues.estimate(self.R[:, 2])[2]["log_odds"]

    @property
    def high_confidence(self) -> bool:
        return self.calibrated and self._calib.high_confidence

    def add_vote(self, kind: str, direction_body: np.ndarray, weight: float, t_s: float) -> list[Event]:
        """Evidence about forward from downstream (the exercise tracker's floor context), as a
        direction in the current body frame; may revise the mounting."""
        if not self.calibrated:
            return []
        changes = self._calib.add_vote(kind, self.R @ np.asarray(direction_body, dtype=np.float64),
                                       weight, t_s)
        events = []
        for t_from, R, reason, conf in changes:
            self.R, self.reason = R, reason
            events.append(self._calibrated_event(t_from, reason, conf))
        return events

    # -- API ---------------------------------------------------------------------------
    def update(self, chunk: ImuChunk) -> tuple[BodySamples, list[Event]]:
        if self._grav is None:
            if len(chunk) == 0:
                return self._empty(), []
            self._start(chunk)
        t, acc, gyro = self._clean(chunk)
        if t.size == 0:
            return self._empty(), []
        if gyro is None and self.has_gyro:
            gyro_for_body = np.full_like(acc, np.nan)   # keep the BodySamples shape promise
        else:
            gyro_for_body = gyro
        up_s = self._grav.update(acc, gyro)
        self._last_up_s = up_s[-1].copy()
        bp, steps = self._steps.update(acc, up_s, t)
        changes = self._calib.update(t, up_s, acc, bp, steps,
                                     gyro if gyro is not None or not self.has_gyro else np.zeros_like(acc))
        events = []
        # piecewise mounting: each change applies from its epoch boundary on
        bounds = [0]
        Rs = [self.R]
        for t_from, R, reason, conf in changes:
            i = int(np.searchsorted(t, t_from, side="left"))
            self.R, self.calibrated, self.reason = R, True, reason
            bounds.append(i)
            Rs.append(R)
            events.append(self._calibrated_event(t_from, reason, conf))
            log.info("%s: mounting calibrated (%s) from t=%.1f s", self.device_id, reason, t_from)
        bounds.append(t.size)
        acc_b = np.empty_like(acc)
        up_b = np.empty_like(up_s)
        gyro_b = None if gyro_for_body is None else np.empty_like(gyro_for_body)
        for k, R in enumerate(Rs):
            sl = slice(bounds[k], bounds[k + 1])
            acc_b[sl] = acc[sl] @ R
            up_b[sl] = up_s[sl] @ R
            if gyro_b is not None:
                gyro_b[sl] = gyro_for_body[sl] @ R
        return self._samples(t, acc_b, gyro_b, up_b), events

    def finish(self) -> list[Event]:
        changes = self._calib.flush()
        events = []
        for t_from, R, reason, conf in changes:
            self.R, self.calibrated, self.reason = R, True, reason
            events.append(self._calibrated_event(t_from, reason, conf))
        return events

    def calibrate(self) -> list[Event]:
        """"I'm standing upright now": superior axis from the current gravity direction."""
        if self._last_up_s is None:
            log.warning("%s: calibrate() before any sample; ignored", self.device_id)
            return []
        t_from = float(self._last_t) if self._last_t is not None else 0.0
        self.R = self._calib.calibrate(self._last_up_s, t_from)
        self.calibrated, self.reason = True, "user"
        return [self._calibrated_event(t_from, "user", self._calib.confidence)]

    def _empty(self) -> BodySamples:
        z = np.zeros(0)
        g = None if not self.has_gyro else np.zeros((0, 3))
        return self._samples(z, np.zeros((0, 3)), g, np.zeros((0, 3)))

    @property
    def gyro_bias_dps(self):
        return None if self._grav is None else self._grav.gyro_bias_dps()

    def get_state(self) -> dict:
        return {"rate_hz": self.rate_hz, "has_gyro": self.has_gyro,
                "grav": None if self._grav is None else self._grav.get_state(),
                "steps": None if self._steps is None else self._steps.get_state(),
                "calib": self._calib.get_state(), "R": self.R.copy(),
                "calibrated": self.calibrated, "reason": self.reason,
                "rejected": dict(self.rejected), "last_t": self._last_t,
                "last_up_s": None if self._last_up_s is None else self._last_up_s.copy()}

    def set_state(self, s: dict) -> None:
        self.rate_hz = s["rate_hz"]
        self.has_gyro = s["has_gyro"]
        if s["grav"] is not None:
            self._grav = GravityEstimator(self.rate_hz, self.has_gyro)
            self._grav.set_state(s["grav"])
            self._steps = StepDetector(self.rate_hz)
            self._steps.set_state(s["steps"])
        self._calib.set_state(s["calib"])
        self.R = np.asarray(s["R"], dtype=np.float64)
        self.calibrated = bool(s["calibrated"])
        self.reason = str(s["reason"])
        self.rejected = dict(s["rejected"])
        self._last_t = s["last_t"]
        self._last_up_s = None if s["last_up_s"] is None else np.asarray(s["last_up_s"])
