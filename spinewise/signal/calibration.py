"""Mounting calibration: find the body axes in the sensor frame, automatically.

The clip may sit at any rotation. Walking is the anchor for *up* because it is the one
activity that is certainly upright and recognisable without knowing the mounting (vertical
acceleration and step candidates are mounting-free, see gait.py):

- superior (body z) = mean gravity direction over walking epochs (from the middle of walks,
  >= MIN_WALK_EPOCHS of them). The trunk's small forward lean while walking becomes part of
  "neutral", which is what a posture coach wants (neutral = how you carry yourself);
- anterior (body x) = the horizontal direction forward_cues.ForwardCues settles on from
  several independent cues (gait axis and pendulum phase, centripetal acceleration in turns,
  forward bends, the floor-exercise context, the guided ``calibrate``), with the probability
  that its sign is right (``confidence``);
- right-handed completion: y = z x x.

Decisions: the first mounting is adopted as soon as the superior axis is known (reason
"walking"), with whatever confidence the forward cues have then. Evidence keeps arriving;
when it says the committed forward axis is off by more than REVISE_DEG with confidence >=
REVISE_CONFIDENCE, the mounting is revised (reason "revised", logged as a warning: a flip
is never committed silently). After REFINE_WALK_EPOCHS of walking the superior axis is
re-estimated once (reason "refined").

Re-calibration when the clip is moved: once calibrated, the walking gravity direction is
tracked with an exponential average; when it sits more than ``MOVED_DEG`` away from body z
for ``MOVED_EPOCHS`` sustained-walking epochs in a row, all evidence restarts and a new
mounting is adopted after the next walking (reason "moved").

Per-sample work runs only inside gait-like epochs (filters restart at the first epoch of
each walk), so a day of sitting costs almost nothing here, and everything is decided per
complete epoch: the result does not depend on the chunking.
"""
from __future__ import annotations

import logging
import math

import numpy as np
from scipy import signal as sps

from spinewise.signal.epochs import EpochSplitter
from spinewise.signal.forward_cues import (BEND_WEIGHT, HIGH_CONFIDENCE, USER_WEIGHT, ForwardCues,
                                           horizontal)
from spinewise.signal.gait import STEP_BAND_HZ, epoch_gait
from spinewise.signal.iir import sosfilt_step

log = logging.getLogger(__name__)

MIN_WALK_EPOCHS = 8           # s of (mid-)walking before the first calibration
REFINE_WALK_EPOCHS = 300      # one refinement after 5 min of walking
MOVED_DEG = 15.0
MOVED_EPOCHS = 20
EMA_ALPHA = 0.1               # walking-gravity tracker (~10 walking epochs)
SUSTAINED_WALK_EPOCHS = 10    # the moved-clip watch only looks inside walks this long
BOUT_PIECE_EPOCHS = 30        # a long walk votes once per this many epochs
REVISE_DEG = 30.0
REVISE_CONFIDENCE = 0.8
VELOCITY_LEAK_S = 2.0         # leaky integrator: vertical acceleration -> velocity
TURN_LP_HZ = 0.5              # centripetal acceleration and yaw rate, below the stride
STEP_PERIOD_S = (0.35, 1.0)   # 60-170 steps/min: the lag of the step-to-step covariance
BEND_MIN_DEG = 20.0           # a bend leans at least this far from upright...
BEND_MAX_EPOCHS = 6           # ...for at most this long...
UPRIGHT_MAX_DEG = 25.0        # ...back to rest near the pose before or this close to upright
REF_MAX_TILT_DEG = 40.0       # a bend starts from a still pose this close to upright
STILL_DEG = 4.0               # an epoch is still when every sample is this close to its mean
USER_BOW_WINDOW_S = 20.0      # the guided calibrate: bow forward within this long


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


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


class _GaitSignals:
    """Per-sample cue signals inside a walk (band-passed horizontal acceleration, vertical
    velocity, step-apart products, turn regression terms), reduced to per-epoch sums. The
    filters run over consecutive gait-like epochs and restart at a walk's first epoch."""

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = float(rate_hz)
        hi = min(STEP_BAND_HZ[1], 0.45 * self.rate_hz)
        self.bp = sps.butter(2, (STEP_BAND_HZ[0], hi), btype="bandpass", fs=self.rate_hz, output="sos")
        self.lp = sps.butter(2, TURN_LP_HZ, fs=self.rate_hz, output="sos")
        dt = 1.0 / self.rate_hz
        a = math.exp(-dt / VELOCITY_LEAK_S)
        self.leak = np.array([[dt, 0.0, 0.0, 1.0, -a, 0.0]])
        self.hist_n = int(math.ceil(STEP_PERIOD_S[1] * self.rate_hz)) + 1
        self.reset()

    def reset(self) -> None:
        self.zi_h = np.zeros((self.bp.shape[0], 2, 3))
        self.zi_v = np.zeros((1, 2))
        self.zi_a = np.zeros((self.lp.shape[0], 2, 3))
        self.zi_w = np.zeros((self.lp.shape[0], 2))
        self.hist = np.zeros((self.hist_n, 3))
        self.last_step_s: float | None = None
        self.period_s = 0.55

    def run(self, t, up, acc, gyro, steps, starts) -> dict[str, np.ndarray]:
        dyn = acc - up
        h, self.zi_h = sosfilt_step(self.bp, dyn, self.zi_h)
        vert = np.einsum("ij,ij->i", h, up)
        vel, self.zi_v = sosfilt_step(self.leak, vert, self.zi_v)
        sign = -h * vel[:, None]
        # lag of one step per sample, from the running step period
        lag = np.empty(t.size, dtype=np.int64)
        i0 = 0
        for i in np.flatnonzero(steps):
            lag[i0:i] = round(self.period_s * self.rate_hz)
            if self.last_step_s is not None:
                d = float(t[i]) - self.last_step_s
                if STEP_PERIOD_S[0] <= d <= STEP_PERIOD_S[1]:
                    self.period_s += 0.3 * (d - self.period_s)
            self.last_step_s = float(t[i])
            i0 = i
        lag[i0:] = round(self.period_s * self.rate_hz)
        lag = np.clip(lag, 1, self.hist_n)
        xx = np.concatenate([self.hist, h])
        partner = xx[np.arange(t.size) + self.hist_n - lag]
        prod = (h[:, :, None] * partner[:, None, :]).reshape(-1, 9)
        self.hist = xx[-self.hist_n:]
        out = {"lag": np.add.reduceat(prod, starts, axis=0),
               "sign": np.add.reduceat(sign, starts, axis=0)}
        if gyro is not None:
            w, self.zi_w = sosfilt_step(self.lp, np.einsum("ij,ij->i", gyro, up), self.zi_w)
            a, self.zi_a = sosfilt_step(self.lp, dyn, self.zi_a)
            out["tw"] = np.add.reduceat(a * w[:, None], starts, axis=0)
            out["ww"] = np.add.reduceat(w * w, starts)
        return out

    def get_state(self) -> dict:
        return {"zi_h": self.zi_h.copy(), "zi_v": self.zi_v.copy(), "zi_a": self.zi_a.copy(),
                "zi_w": self.zi_w.copy(), "hist": self.hist.copy(), "last_step_s": self.last_step_s,
                "period_s": self.period_s}

    def set_state(self, s: dict) -> None:
        for k in ("zi_h", "zi_v", "zi_a", "zi_w", "hist"):
            setattr(self, k, np.asarray(s[k], dtype=np.float64))
        self.last_step_s = s["last_step_s"]
        self.period_s = float(s["period_s"])


class MountingCalibrator:
    """Feed sensor-frame samples; returns a list of (t_from_s, R, reason, confidence) mounting changes."""

    def __init__(self, epoch_s: float = 1.0) -> None:
        self.epoch_s = float(epoch_s)
        self._split = EpochSplitter(epoch_s)
        self.rate_hz: float | None = None
        self._sig: _GaitSignals | None = None
        self.cues = ForwardCues()
        self.R: np.ndarray | None = None
        self.reason = ""
        self.confidence = 0.5
        self._reset_walk()
        self._ema_up: np.ndarray | None = None
        self._moved_run = 0
        self._refined = False
        self._prev_gait = False
        self._gait_run = 0
        self._run_open = False        # the gait filters carry state into the next epoch
        self._user_bow_until: float | None = None
        self._bend = {"n": 0, "best": None, "best_cos": 1.0, "ref": None, "last": None}

    def _reset_walk(self) -> None:
        self._n_walk = 0
        self._sum_up = np.zeros(3)
        self._piece = {"n": 0, "up": np.zeros(3), "sign": np.zeros(3), "signs": [], "tw": np.zeros(3),
                       "ww": 0.0}

    def start(self, rate_hz: float) -> None:
        if self._sig is None or self.rate_hz != float(rate_hz):
            self.rate_hz = float(rate_hz)
            self._sig = _GaitSignals(self.rate_hz)

    # -- streaming -------------------------------------------------------------------
    def update(self, t_s, up_s, acc_s, vert_bp_g, steps, gyro_s=None) -> list[tuple[float, np.ndarray, str, float]]:
        arrays = dict(up=up_s, acc=acc_s, v=vert_bp_g, st=steps.astype(np.int64))
        if gyro_s is not None:
            arrays["gyro"] = gyro_s
        return self._epochs(self._split.push(t_s, **arrays))

    def flush(self) -> list[tuple[float, np.ndarray, str, float]]:
        return self._epochs(self._split.flush())

    def _epochs(self, ep) -> list[tuple[float, np.ndarray, str, float]]:
        if len(ep) == 0:
            return []
        out: list = []
        v = ep.arrays["v"]
        _std, gait = epoch_gait(ep.sum("st"), ep.sum("v"), np.add.reduceat(v * v, ep.starts),
                                ep.counts, self.epoch_s)
        up_mean = ep.mean("up")
        if not gait.any():
            # nothing gait-like (most of a day): bends only
            if self._piece["n"]:
                out += self._close_piece(float(ep.index[0] * self.epoch_s))
            self._gait_run, self._prev_gait, self._run_open = 0, False, False
            if self.R is not None:
                out += self._bends(ep, up_mean, 0, gait.size)
            return out
        sig = self._gait_sums(ep, gait)
        idx = np.arange(gait.size)
        last_off = np.maximum.accumulate(np.where(~gait, idx, -1))
        run = np.where(last_off >= 0, idx - last_off, idx + 1 + self._gait_run)
        self._gait_run = int(run[-1])
        sustained = run >= SUSTAINED_WALK_EPOCHS
        prev = np.concatenate([[self._prev_gait], gait[:-1]])
        self._prev_gait = bool(gait[-1])
        mid = gait & prev               # only the middle of walking bouts
        # in time order: runs of non-gait epochs (bends; the mounting is fixed inside them)
        # and gait epochs (walking evidence, decisions)
        k = 0
        while k < gait.size:
            if not gait[k]:
                j = k
                while j + 1 < gait.size and not gait[j + 1]:
                    j += 1
                if self._piece["n"]:
                    out += self._close_piece(float(ep.index[k] * self.epoch_s))
                if self.R is not None:
                    out += self._bends(ep, up_mean, k, j + 1)
                k = j + 1
                continue
            out += self._bend_walked(up_mean[k], float(ep.index[k] * self.epoch_s))
            if mid[k]:
                change = self._walk_epoch(up_mean[k], sig, k, bool(sustained[k]),
                                          float((ep.index[k] + 1) * self.epoch_s))
                if change is not None:
                    out.append(change)
            k += 1
        return out

    def _gait_sums(self, ep, gait: np.ndarray) -> dict[str, np.ndarray]:
        """Per-epoch sums of the cue signals for the gait-like epochs (zeros elsewhere)."""
        n_ep = gait.size
        sums = {"lag": np.zeros((n_ep, 9)), "sign": np.zeros((n_ep, 3)), "tw": np.zeros((n_ep, 3)),
                "ww": np.zeros(n_ep)}
        ends = ep.starts + ep.counts
        gyro = ep.arrays.get("gyro")
        k = 0
        while k < n_ep:
            if not gait[k]:
                self._run_open = False
                k += 1
                continue
            j = k
            while j + 1 < n_ep and gait[j + 1]:
                j += 1
            if not self._run_open:
                self._sig.reset()
            s0, s1 = int(ep.starts[k]), int(ends[j])
            part = self._sig.run(ep.t_s[s0:s1], ep.arrays["up"][s0:s1], ep.arrays["acc"][s0:s1],
                                 None if gyro is None else gyro[s0:s1], ep.arrays["st"][s0:s1],
                                 ep.starts[k:j + 1] - s0)
            for name, val in part.items():
                sums[name][k:j + 1] = val
            self._run_open = True
            k = j + 1
        if not gait[-1]:
            self._run_open = False
        return sums

    # -- walking epochs -----------------------------------------------------------------
    def _walk_epoch(self, up: np.ndarray, sig: dict, k: int, sustained: bool, t_end: float):
        up = up / max(np.linalg.norm(up), 1e-12)
        if self.R is not None and sustained and self._watch_moved(up):
            return None
        self._n_walk += 1
        self._sum_up += up
        self.cues.add_lag(sig["lag"][k].reshape(3, 3), 1)
        p = self._piece
        p["n"] += 1
        p["up"] = p["up"] + up
        p["sign"] = p["sign"] + sig["sign"][k]
        p["signs"].append(sig["sign"][k].tolist())
        p["tw"] = p["tw"] + sig["tw"][k]
        p["ww"] += float(sig["ww"][k])
        if p["n"] >= BOUT_PIECE_EPOCHS:
            self._vote_piece()
        if self.R is None and self._n_walk >= MIN_WALK_EPOCHS:
            if self._piece["n"]:
                self._vote_piece()
            return self._adopt(t_end, "moved" if self.reason == "moved" else "walking")
        if self.R is not None and not self._refined and self._n_walk >= REFINE_WALK_EPOCHS:
            self._refined = True
            return self._adopt(t_end, "refined")
        return None

    def _watch_moved(self, up: np.ndarray) -> bool:
        self._ema_up = up if self._ema_up is None else (1 - EMA_ALPHA) * self._ema_up + EMA_ALPHA * up
        off = _angle_deg(self._ema_up, self.R[:, 2])
        self._moved_run = self._moved_run + 1 if off > MOVED_DEG else 0
        if self._moved_run < MOVED_EPOCHS:
            return False
        log.info("clip moved: walking gravity %.0f deg off the calibrated superior axis", off)
        self.R, self._moved_run, self._ema_up, self._refined = None, 0, None, False
        self._reset_walk()
        self.cues.reset()
        self.reason = "moved"
        self.confidence = 0.5
        return True

    def _vote_piece(self) -> None:
        """A piece of a walk votes with its own mean gravity as vertical."""
        p = self._piece
        if p["n"]:
            z = p["up"] / max(np.linalg.norm(p["up"]), 1e-12)
            self.cues.add_gait_bout(p["sign"], np.asarray(p["signs"]).reshape(-1, 3), z)
            self.cues.add_turn_bout(p["tw"], p["ww"], 1.0 / self.rate_hz, z)
        self._piece = {"n": 0, "up": np.zeros(3), "sign": np.zeros(3), "signs": [], "tw": np.zeros(3),
                       "ww": 0.0}

    def _close_piece(self, t_s: float) -> list:
        self._vote_piece()
        return self._reconsider(t_s)

    # -- decisions ---------------------------------------------------------------------
    def _superior(self) -> np.ndarray:
        return self._sum_up / np.linalg.norm(self._sum_up)

    def _adopt(self, t_from: float, reason: str):
        z = self._superior()
        x, conf, detail = self.cues.estimate(z)
        if x is None:
            x = most_horizontal_axis(z)
        self.R = rotation_from_axes(z, x)
        self.confidence = conf
        self.reason = reason
        self._ema_up = self.R[:, 2].copy()
        log.info("mounting from walking (%s): forward confidence %.2f %s", reason, conf, detail["log_odds"])
        return float(t_from), self.R.copy(), reason, conf

    def _reconsider(self, t_from: float) -> list:
        """New evidence: keep the committed forward axis unless it is now clearly wrong."""
        if self.R is None:
            return []
        z = self.R[:, 2]
        x, conf, detail = self.cues.estimate(z)
        if x is None:
            return []
        if _angle_deg(x, self.R[:, 0]) <= REVISE_DEG or conf < REVISE_CONFIDENCE:
            self.confidence = self.cues.confidence_of(self.R[:, 0], z)
            return []
        log.warning("forward axis revised by %.0f deg (confidence %.2f, cues %s)",
                    _angle_deg(x, self.R[:, 0]), conf, detail["log_odds"])
        self.R = rotation_from_axes(z, x)
        self.confidence = conf
        self.reason = "revised"
        return [(float(t_from), self.R.copy(), "revised", conf)]

    # -- bends -------------------------------------------------------------------------
    def _bends(self, ep, up_mean: np.ndarray, k0: int, k1: int) -> list:
        """Brief leans in epochs k0..k1-1 (none gait-like): from a still, near-upright pose
        (standing or sitting), the gravity direction swings more than BEND_MIN_DEG away and
        comes back to rest near that pose or near upright within BEND_MAX_EPOCHS. Measured
        from the pose before, not from upright: a person sitting tilted back 18 deg whose
        fidgets reach 21 deg is not bending."""
        z = self.R[:, 2]
        b = self._bend
        s0 = int(ep.starts[k0])
        s1 = int(ep.starts[k1 - 1] + ep.counts[k1 - 1])
        ups = ep.arrays["up"][s0:s1]
        counts = ep.counts[k0:k1]
        starts = ep.starts[k0:k1] - s0
        um = up_mean[k0:k1] / np.linalg.norm(up_mean[k0:k1], axis=1, keepdims=True)
        # still epochs: every sample within STILL_DEG of the epoch's mean
        own = np.minimum.reduceat(np.einsum("ij,ij->i", ups, np.repeat(um, counts, axis=0)), starts)
        still = own > math.cos(math.radians(STILL_DEG))
        # candidates: a sample far from the previous epoch's mean
        last = um[0] if b["last"] is None else np.asarray(b["last"])
        prev = np.vstack([last[None, :], um[:-1]])
        dev = np.minimum.reduceat(np.einsum("ij,ij->i", ups, np.repeat(prev, counts, axis=0)), starts)
        cand = dev < math.cos(math.radians(BEND_MIN_DEG))
        b["last"] = um[-1].tolist()
        if not cand.any() and b["n"] == 0:
            sel = np.flatnonzero(still & (um @ z > math.cos(math.radians(REF_MAX_TILT_DEG))))
            if sel.size:
                b["ref"] = um[sel[-1]].tolist()
            return []
        out = []
        cos_min = math.cos(math.radians(BEND_MIN_DEG))
        for i in range(k1 - k0):
            ref = None if b["ref"] is None else np.asarray(b["ref"])
            if b["n"] == 0 and cand[i] and ref is not None:
                b["n"], b["best"], b["best_cos"] = 0, None, 1.0
                b["n"] = 1
            elif b["n"] != 0:
                b["n"] = b["n"] + 1 if b["n"] > 0 else b["n"]
            if b["n"] > 0:
                seg = ups[starts[i]:starts[i] + counts[i]]
                c = seg @ ref
                j = int(np.argmin(c))
                if c[j] < b["best_cos"]:
                    b["best_cos"], b["best"] = float(c[j]), seg[j].tolist()
                back = still[i] and (um[i] @ ref > cos_min or um[i] @ z > math.cos(math.radians(UPRIGHT_MAX_DEG)))
                if back and b["n"] > 1:
                    peak = np.asarray(b["best"])
                    # out and back: far from the pose before, from upright and from the pose after
                    # (a sitting posture that shifts back 24 deg and stays is no bend)
                    if b["best_cos"] < cos_min and peak @ z < cos_min and peak @ um[i] < cos_min:
                        out += self._bend_vote(peak, ref, float((ep.index[k0 + i] + 1) * self.epoch_s))
                    b["n"] = 0
                elif b["n"] > BEND_MAX_EPOCHS:
                    b["n"] = -1              # too long: a posture change, not a bend
            if b["n"] <= 0 and still[i]:
                if um[i] @ z > math.cos(math.radians(REF_MAX_TILT_DEG)):
                    b["ref"], b["n"] = um[i].tolist(), 0
                else:
                    b["ref"] = None
        return out

    def _bend_walked(self, up: np.ndarray, t_s: float) -> list:
        """A gait-like epoch: if it is upright, a bend just before it came back to upright
        (stood up and walked off) and counts. (Floor exercise can look gait-like too.)"""
        b = self._bend
        out = []
        upright = self.R is not None and _angle_deg(up, self.R[:, 2]) < UPRIGHT_MAX_DEG
        if b["n"] > 1 and upright and b["ref"] is not None:
            peak = np.asarray(b["best"])
            cos_min = math.cos(math.radians(BEND_MIN_DEG))
            if b["best_cos"] < cos_min and peak @ self.R[:, 2] < cos_min and peak @ up < cos_min * np.linalg.norm(up):
                out = self._bend_vote(peak, np.asarray(b["ref"]), t_s)
        b["n"], b["best"], b["best_cos"] = 0, None, 1.0
        b["ref"] = (up / np.linalg.norm(up)).tolist() if upright else None
        b["last"] = (up / np.linalg.norm(up)).tolist()
        return out

    def _bend_vote(self, up_peak: np.ndarray, up_ref: np.ndarray, t_s: float) -> list:
        z = self.R[:, 2]
        fwd = -horizontal(up_peak - up_ref, z)
        log.debug("bend at t=%.1f s: %.0f deg from the pose before", t_s, _angle_deg(up_peak, up_ref))
        if self._user_bow_until is not None and t_s <= self._user_bow_until:
            self._user_bow_until = None
            self.cues.vote("user", fwd, USER_WEIGHT)
            log.info("guided calibration: forward from the bow")
        else:
            self.cues.vote("bend", fwd, BEND_WEIGHT)
        return self._reconsider(t_s)

    # -- external evidence ---------------------------------------------------------------
    def add_vote(self, kind: str, direction_s: np.ndarray, weight: float, t_s: float) -> list:
        """A cue from outside (the exercise tracker's floor context): sensor-frame direction."""
        self.cues.vote(kind, np.asarray(direction_s, dtype=np.float64), weight)
        return self._reconsider(t_s)

    @property
    def high_confidence(self) -> bool:
        return self.R is not None and self.confidence >= HIGH_CONFIDENCE

    def calibrate(self, up_sensor: np.ndarray, t_s: float | None = None) -> np.ndarray:
        """The user says "I'm standing upright now" (and then bows forward): superior from the
        current gravity; forward from the evidence so far, and from the bow if one follows
        within USER_BOW_WINDOW_S."""
        z = np.asarray(up_sensor, dtype=np.float64)
        z = z / np.linalg.norm(z)
        x, _conf, _ = self.cues.estimate(z)
        if x is None and self.R is not None:
            x = self.R[:, 0]
        if x is None or abs(np.dot(x, z)) > 0.95:
            x = most_horizontal_axis(z)
        self.R = rotation_from_axes(z, x)
        self.confidence = self.cues.confidence_of(self.R[:, 0], z)
        self.reason = "user"
        self._ema_up = z.copy()
        self._moved_run = 0
        self._refined = True        # the user's word stands; only a moved clip replaces it
        self._user_bow_until = None if t_s is None else float(t_s) + USER_BOW_WINDOW_S
        self._bend.update(n=0, best=None, best_cos=1.0, ref=z.tolist(), last=z.tolist())
        return self.R.copy()

    # -- state -------------------------------------------------------------------------
    def get_state(self) -> dict:
        p = self._piece
        return {"split": self._split.get_state(), "rate_hz": self.rate_hz,
                "sig": None if self._sig is None else self._sig.get_state(),
                "cues": self.cues.get_state(),
                "R": None if self.R is None else self.R.copy(), "reason": self.reason,
                "confidence": self.confidence,
                "n_walk": self._n_walk, "sum_up": self._sum_up.copy(),
                "piece": {"n": p["n"], "up": p["up"].copy(), "sign": p["sign"].copy(),
                          "signs": [list(s) for s in p["signs"]], "tw": p["tw"].copy(), "ww": p["ww"]},
                "ema_up": None if self._ema_up is None else self._ema_up.copy(),
                "moved_run": self._moved_run, "refined": self._refined,
                "prev_gait": self._prev_gait, "gait_run": self._gait_run, "run_open": self._run_open,
                "user_bow_until": self._user_bow_until, "bend": dict(self._bend)}

    def set_state(self, s: dict) -> None:
        self._split.set_state(s["split"])
        if s.get("rate_hz") is not None:
            self.start(s["rate_hz"])
            self._sig.set_state(s["sig"])
        self.cues.set_state(s["cues"])
        self.R = None if s["R"] is None else np.asarray(s["R"], dtype=np.float64)
        self.reason = str(s["reason"])
        self.confidence = float(s["confidence"])
        self._n_walk = int(s["n_walk"])
        self._sum_up = np.asarray(s["sum_up"], dtype=np.float64)
        p = s["piece"]
        self._piece = {"n": int(p["n"]), "up": np.asarray(p["up"], dtype=np.float64),
                       "sign": np.asarray(p["sign"], dtype=np.float64),
                       "signs": [list(x) for x in p["signs"]], "tw": np.asarray(p["tw"], dtype=np.float64),
                       "ww": float(p["ww"])}
        self._ema_up = None if s["ema_up"] is None else np.asarray(s["ema_up"], dtype=np.float64)
        self._moved_run = int(s["moved_run"])
        self._refined = bool(s["refined"])
        self._prev_gait = bool(s["prev_gait"])
        self._gait_run = int(s["gait_run"])
        self._run_open = bool(s["run_open"])
        self._user_bow_until = s["user_bow_until"]
        self._bend = dict(s["bend"])
