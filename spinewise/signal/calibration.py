"""Mounting calibration: find the body axes in the sensor frame, automatically.

The clip may sit at any rotation. Walking is the anchor because it is the one activity
that is certainly upright and recognisable without knowing the mounting (vertical
acceleration and step candidates are mounting-free, see gait.py):

- superior (body z) = mean gravity direction over walking epochs. The trunk's small
  forward lean while walking becomes part of "neutral", which is what a posture coach
  wants (neutral = how you carry yourself when you move);
- anterior axis = the horizontal direction of the dynamic acceleration that follows the
  *rate of change* of vertical acceleration. In the inverted-pendulum gait of the pelvis,
  forward speed is lowest at mid-stance, when the body is highest (vertical acceleration
  most negative), so a_AP(t) is proportional to +d a_vert / dt; the mediolateral sway runs
  at half the step frequency and averages out of this product. This gives axis *and* sign
  in one statistic. The principal horizontal axis of the dynamic acceleration is kept as
  a cross-check (logged when they disagree).
- right-handed completion: y = z x x.

Re-calibration when the clip is moved: once calibrated, the walking gravity direction is
tracked with an exponential average; when it sits more than ``MOVED_DEG`` away from body z
for ``MOVED_EPOCHS`` walking epochs in a row, the accumulators restart and a new mounting
is adopted as soon as enough walking has been seen (reason "moved").

An explicit ``calibrate(up_sensor)`` ("I'm standing upright now") sets superior from the
current gravity direction and keeps the known anterior axis projected onto the new
horizontal plane (or the walking estimate, or the sensor axis that is most horizontal).
"""
from __future__ import annotations

import logging

import numpy as np
from scipy.signal import lfilter

from spinewise.signal.epochs import EpochSplitter
from spinewise.signal.gait import epoch_gait

log = logging.getLogger(__name__)

MIN_WALK_EPOCHS = 12          # s of walking before the first calibration
REFINE_WALK_EPOCHS = 300      # one refinement after 5 min of walking
MOVED_DEG = 15.0
MOVED_EPOCHS = 20
EMA_ALPHA = 0.1               # walking-gravity tracker (~10 walking epochs)
SUSTAINED_WALK_EPOCHS = 10    # the moved-clip watch only looks inside walks this long


def rotation_from_axes(superior_s: np.ndarray, anterior_s: np.ndarray) -> np.ndarray:
    """R_sensor_from_body with columns (anterior, left, superior) in the sensor frame."""
    z = superior_s / np.linalg.norm(superior_s)
    x = anterior_s - np.dot(anterior_s, z) * z
    nx = np.linalg.norm(x)
    if nx < 1e-6:
        raise ValueError("anterior axis parallel to superior")
    x /= nx
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def most_horizontal_axis(superior_s: np.ndarray) -> np.ndarray:
    """A sensor axis (signed) as an anterior guess when nothing better is known."""
    k = int(np.argmin(np.abs(superior_s)))
    e = np.zeros(3)
    e[k] = 1.0
    return e


class MountingCalibrator:
    """Feed sensor-frame samples; returns a list of (t_from_s, R, reason) mounting changes."""

    def __init__(self, epoch_s: float = 1.0) -> None:
        self.epoch_s = float(epoch_s)
        self._split = EpochSplitter(epoch_s)
        self.R: np.ndarray | None = None
        self.reason = ""
        self._reset_acc()
        self._ema_up: np.ndarray | None = None
        self._moved_run = 0
        self._refined = False
        self._prev_gait = False
        self._gait_run = 0

    def _reset_acc(self) -> None:
        self._n_walk = 0
        self._sum_up = np.zeros(3)
        self._cov = np.zeros((3, 3))
        self._sign = np.zeros(3)

    # -- streaming -------------------------------------------------------------------
    def update(self, t_s, up_s, acc_s, vert_bp_g, steps) -> list[tuple[float, np.ndarray, str]]:
        ep = self._split.push(t_s, up=up_s, acc=acc_s, v=vert_bp_g, st=steps.astype(np.int64))
        return self._epochs(ep)

    def flush(self) -> list[tuple[float, np.ndarray, str]]:
        return self._epochs(self._split.flush())

    def _epochs(self, ep) -> list[tuple[float, np.ndarray, str]]:
        if len(ep) == 0:
            return []
        out = []
        v = ep.arrays["v"]
        _std, gait = epoch_gait(ep.sum("st"), ep.sum("v"), np.add.reduceat(v * v, ep.starts),
                                ep.counts, self.epoch_s)
        if not gait.any():
            # nothing gait-like (most of a day): what the general path below leaves behind
            self._gait_run, self._prev_gait = 0, False
            return out
        # a moved clip is only judged inside sustained walks (>= SUSTAINED_WALK_EPOCHS in a
        # row): rhythmic exercise on the floor can look gait-like for a few seconds
        idx = np.arange(gait.size)
        last_off = np.maximum.accumulate(np.where(~gait, idx, -1))
        run = np.where(last_off >= 0, idx - last_off, idx + 1 + self._gait_run)
        self._gait_run = int(run[-1])
        sustained = run >= SUSTAINED_WALK_EPOCHS
        # only the middle of walking bouts: the epoch before must be gait-like too
        prev = np.concatenate([[self._prev_gait], gait[:-1]])
        self._prev_gait = bool(gait[-1])
        gait = gait & prev
        if not gait.any():
            return out
        up_mean = ep.mean("up")
        if self.R is not None and self._refined:
            # steady state: only the moved-clip watch runs (no axis statistics needed)
            sel = np.flatnonzero(gait & sustained)
            j = self._watch(up_mean[sel]) if sel.size else None
            if j is None:
                return out
            gait = gait.copy()
            gait[:sel[j] + 1] = False
        dyn = ep.arrays["acc"] - ep.arrays["up"]
        # rate of change of vertical acc within each epoch (boundary differences zeroed)
        dv = np.zeros_like(v)
        dv[:-1] = np.diff(v)
        ends = ep.starts + ep.counts - 1
        dv[ends] = 0.0
        cov = np.add.reduceat(dyn[:, :, None] * dyn[:, None, :], ep.starts, axis=0)
        sgn = np.add.reduceat(dyn * dv[:, None], ep.starts, axis=0)
        ks = np.flatnonzero(gait)
        i = 0
        while i < ks.size:
            if self.R is not None and self._refined:
                # steady state: only watch for a moved clip, vectorised over the epochs
                rest = ks[i:]
                rest = rest[sustained[rest]]
                j = self._watch(up_mean[rest]) if rest.size else None
                if j is None:
                    break
                i = int(np.searchsorted(ks, rest[j], side="right"))
                continue
            k = ks[i]
            change = self._walk_epoch(up_mean[k], cov[k], sgn[k], bool(sustained[k]))
            if change is not None:
                out.append((float((ep.index[k] + 1) * self.epoch_s), change[0], change[1]))
            i += 1
        return out

    def _watch(self, ups: np.ndarray) -> int | None:
        """EMA of the walking gravity direction; returns the index at which the clip is
        declared moved (state reset), or None (state advanced over all of ``ups``)."""
        ups = ups / np.maximum(np.linalg.norm(ups, axis=1, keepdims=True), 1e-12)
        zi = (1 - EMA_ALPHA) * self._ema_up[None, :]
        ema, _ = lfilter([EMA_ALPHA], [1.0, -(1 - EMA_ALPHA)], ups, axis=0, zi=zi)
        cos = (ema @ self.R[:, 2]) / np.maximum(np.linalg.norm(ema, axis=1), 1e-12)
        over = np.degrees(np.arccos(np.clip(cos, -1, 1))) > MOVED_DEG
        idx = np.arange(over.size)
        last_ok = np.maximum.accumulate(np.where(~over, idx, -1))
        run = np.where(last_ok >= 0, idx - last_ok, idx + 1 + self._moved_run)
        hit = np.flatnonzero(run >= MOVED_EPOCHS)
        if hit.size == 0:
            self._ema_up = ema[-1].copy()
            self._moved_run = int(run[-1])
            return None
        log.info("clip moved: walking gravity > %.0f deg off the calibrated superior axis",
                 MOVED_DEG)
        self._moved()
        return int(hit[0])

    def _moved(self) -> None:
        self.R, self._moved_run, self._ema_up, self._refined = None, 0, None, False
        self._reset_acc()
        self.reason = "moved"

    def _walk_epoch(self, up: np.ndarray, cov: np.ndarray, sgn: np.ndarray, sustained: bool):
        up = up / max(np.linalg.norm(up), 1e-12)
        self._n_walk += 1
        self._sum_up += up
        self._cov += cov
        self._sign += sgn
        if self.R is not None and sustained:
            self._ema_up = up if self._ema_up is None else (1 - EMA_ALPHA) * self._ema_up + EMA_ALPHA * up
            off = np.degrees(np.arccos(np.clip(np.dot(self._ema_up / np.linalg.norm(self._ema_up),
                                                      self.R[:, 2]), -1, 1)))
            self._moved_run = self._moved_run + 1 if off > MOVED_DEG else 0
            if self._moved_run >= MOVED_EPOCHS:
                log.info("clip moved: walking gravity %.0f deg off the calibrated superior axis", off)
                self._moved()
                return None
        if self.R is None and self._n_walk >= MIN_WALK_EPOCHS:
            return self._adopt(self.reason if self.reason == "moved" else "walking")
        if self.R is not None and not self._refined and self._n_walk >= REFINE_WALK_EPOCHS:
            self._refined = True
            return self._adopt("refined")
        return None

    def _estimate(self) -> np.ndarray:
        z = self._sum_up / np.linalg.norm(self._sum_up)
        P = np.eye(3) - np.outer(z, z)
        s = P @ self._sign
        w, V = np.linalg.eigh(P @ self._cov @ P)
        principal = V[:, -1]
        if np.linalg.norm(s) > 1e-9:
            x = s / np.linalg.norm(s)
            agree = abs(np.dot(x, principal))
            if agree < 0.7:
                log.debug("forward from gait phase and principal axis differ (|cos|=%.2f)", agree)
        else:
            x = principal
        return rotation_from_axes(z, x)

    def _adopt(self, reason: str):
        self.R = self._estimate()
        self.reason = reason
        self._ema_up = self.R[:, 2].copy()
        return self.R.copy(), reason

    def calibrate(self, up_sensor: np.ndarray) -> np.ndarray:
        """The user says "I'm standing upright now": superior from the current gravity."""
        z = np.asarray(up_sensor, dtype=np.float64)
        z = z / np.linalg.norm(z)
        if self.R is not None:
            x = self.R[:, 0]
        elif self._n_walk >= 5:
            x = self._estimate()[:, 0]
        else:
            x = most_horizontal_axis(z)
        if abs(np.dot(x, z)) > 0.95:
            x = most_horizontal_axis(z)
        self.R = rotation_from_axes(z, x)
        self.reason = "user"
        self._ema_up = z.copy()
        self._moved_run = 0
        self._refined = True        # the user's word stands; only a moved clip replaces it
        return self.R.copy()

    # -- state -------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"split": self._split.get_state(),
                "R": None if self.R is None else self.R.copy(), "reason": self.reason,
                "n_walk": self._n_walk, "sum_up": self._sum_up.copy(), "cov": self._cov.copy(),
                "sign": self._sign.copy(),
                "ema_up": None if self._ema_up is None else self._ema_up.copy(),
                "moved_run": self._moved_run, "refined": self._refined,
                "prev_gait": self._prev_gait, "gait_run": self._gait_run}

    def set_state(self, s: dict) -> None:
        self._split.set_state(s["split"])
        self.R = None if s["R"] is None else np.asarray(s["R"], dtype=np.float64)
        self.reason = str(s["reason"])
        self._n_walk = int(s["n_walk"])
        self._sum_up = np.asarray(s["sum_up"], dtype=np.float64)
        self._cov = np.asarray(s["cov"], dtype=np.float64)
        self._sign = np.asarray(s["sign"], dtype=np.float64)
        self._ema_up = None if s["ema_up"] is None else np.asarray(s["ema_up"], dtype=np.float64)
        self._moved_run = int(s["moved_run"])
        self._refined = bool(s["refined"])
        self._prev_gait = bool(s["prev_gait"])
        self._gait_run = int(s["gait_run"])
