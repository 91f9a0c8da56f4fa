"""Repetitions as excursions of the body's rotation away from a rest orientation.

Every exercise here starts a rep from a rest position, moves out, maybe holds, and comes
back: squats flex forward, bridges tilt the pelvis head-down, spinal rotations and bird dogs
roll it. So one detector serves all: the angle ``m`` between the current gravity direction
and the rest one, with hysteresis. A rep begins once ``m`` passes ``on_deg`` and ends when it
falls back under a fraction of its own peak; start and end are the crossings of that
fraction. Reps move with a bell-shaped speed (minimum jerk), so the 25 % and 90 % level
crossings give the true start and end, and the half-way crossings the time held at the end
position (_held_s). The rest orientation
follows slow drift while the body is idle at rest. Works on 10 Hz frames, so memory is
bounded by ``max_rep_s``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import copy
import math

import numpy as np
from scipy.optimize import brentq

from spinewise.signal.exercise.posture import body_rotation1_deg

EDGE_FRACTION = 0.25     # start/end from the crossings of this fraction of the plateau
HI_FRACTION = 0.9        # "at the end position" = above 90 % of the plateau
OFF_FRACTION = 0.6       # hysteresis: back under on*0.6 ends the excursion
MAX_MOVE_S = 4.0         # one-way movement longer than this is not one rep's move
MIN_MOVE_S = 0.2         # and none is quicker than this
SALVAGE_BACK_FRACTION = 0.5   # an aborted excursion back under this x its peak held a rep
CENTRE_S = 30.0          # window for the alternating-movement centre
REST_TAU_S = 8.0         # rest orientation follows drift this slowly, only while at rest


_NOT_STATE = ("rest", "_peak_seen")   # rest is saved as a list; _peak_seen is a cache


@dataclass
class Rep:
    start_s: float
    end_s: float
    peak_s: float
    hold_s: float
    amplitude_deg: float
    rot_peak_deg: list            # body rotation vector at the peak, deg (x, y, z)
    rot_mean_deg: list            # mean body rotation vector over the held part
    up_hold: list                 # mean gravity direction over the held part
    held_from_s: float | None = None   # the held part (above 90 % of the plateau)
    held_to_s: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Excursion:
    """Why an excursion ended without a rep (the tracker may start a new posture episode)."""
    reason: str                   # "too_long" | "too_far"
    t_s: float


class RepDetector:
    min_rep_s_default = 0.8

    def __init__(self, on_deg: float, max_rep_s: float = 40.0, too_far_deg: float = 80.0,
                 min_rep_s: float = 0.8) -> None:
        self.on_deg = float(on_deg)
        self.max_rep_s = max_rep_s
        self.too_far_deg = too_far_deg
        self.min_rep_s = min_rep_s
        # which rotation axes count: all by default; an exercise with a known axis (bird dog:
        # the roll) ignores the others, where breathing rocks the pelvis.
        self.weights = [1.0, 1.0, 1.0]
        self.offset = [0.0, 0.0, 0.0]     # deg, subtracted before weighting (set centre)
        # Single-axis detectors of alternating movements (roll to the left, then the right)
        # keep the last CENTRE_S of that axis and, once told the rest pose hides one side
        # (it was taken during the first hold), centre themselves midway between its extremes.
        self.keep_history = False
        # An excursion ends once under the end level for this long (0: at once). A roll of a
        # degree or two wavers under it for a frame or two with breathing and noise.
        self.end_debounce_s = 0.0
        self._below_since: float | None = None
        self.track_centre = False
        # An alternating set counted on one axis (each side in turn): crossing to the other
        # side ends the rep, even when the pause between never comes back under the end
        # level (a return 0.5 deg off the centre is half of a 1 deg roll).
        self.split_sides = False
        self._hist: list[float] = []
        self._peak, self._peak_n, self._peak_key = 0.0, 0, None   # running excursion peak
        self.salvaged: dict | None = None  # rep rescued from the last aborted excursion
        self.last_m = 0.0                 # weighted / full rotation from rest, last frame
        self.last_m_full = 0.0
        self.rest: np.ndarray | None = None
        self.active = False
        self._on_t = 0.0                  # when the current excursion crossed on_deg
        self._buf_t: list[float] = []     # frames since the excursion's pre-roll
        self._buf_r: list[list[float]] = []
        self._buf_up: list[list[float]] = []
        self._pre_t: list[float] = []     # short pre-roll while idle (start crossing)
        self._pre_m: list[float] = []
        self._pre_r: list[list[float]] = []
        self._pre_up: list[list[float]] = []

    # -- state -------------------------------------------------------------------------
    def get_state(self) -> dict:
        d = copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in _NOT_STATE})
        d["rest"] = None if self.rest is None else self.rest.tolist()
        return d

    def set_state(self, state: dict) -> None:
        self.__dict__.update(copy.deepcopy({k: v for k, v in state.items() if k not in _NOT_STATE}))
        self.rest = None if state["rest"] is None else np.asarray(state["rest"], dtype=np.float64)

    def excursion_peak_deg(self) -> float:
        """Largest rotation from rest (all axes) in the current excursion.

        Asked every frame of a long still excursion (tracker: a small held shift): the
        excursion's frames only grow by appends to the same list until it is replaced, so
        the maximum is carried and extended over the new frames only (the same norms)."""
        if not self.active or not self._buf_r:
            return 0.0
        buf = self._buf_r
        seen = self.__dict__.get("_peak_seen")
        if seen is None or seen[0] is not buf or seen[1] > len(buf):
            seen = self._peak_seen = [buf, 0, 0.0]
        if seen[1] < len(buf):
            new = float(np.linalg.norm(np.asarray(buf[seen[1]:]), axis=1).max())
            seen[2] = new if seen[1] == 0 else max(seen[2], new)
            seen[1] = len(buf)
        return seen[2]

    def excursion_s(self, t_s: float) -> float:
        """How long the current excursion has lasted (0 when idle)."""
        return t_s - self._on_t if self.active else 0.0

    # -- streaming ---------------------------------------------------------------------
    def set_rest(self, up: np.ndarray) -> None:
        self.rest = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
        self.reset()

    def reset(self) -> None:
        """Forget any excursion in progress (keeps the rest pose and weights)."""
        self.active = False
        self._below_since = None
        self._hist = []
        self._buf_t, self._buf_r, self._buf_up = [], [], []
        self._pre_t, self._pre_m, self._pre_r, self._pre_up = [], [], [], []

    def step(self, t_s: float, up: np.ndarray, still: bool, on_deg: float | None = None):
        """Feed one frame; returns a Rep, an Excursion (aborted) or None."""
        if self.rest is None:
            return None
        on = self.on_deg if on_deg is None else on_deg
        # plain floats: this runs once per frame and numpy's call overhead on 3-vectors
        # would dominate (see posture.body_rotation1_deg)
        r = body_rotation1_deg(up, self.rest)
        m_full = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
        if m_full > self.too_far_deg:
            self.salvaged = self._salvage()
            self.reset()
            return Excursion("too_far", t_s)
        self.last_m_full = m_full
        if self.keep_history:
            k = max(range(3), key=lambda i: self.weights[i])
            self._hist.append(r[k])
            del self._hist[:-int(CENTRE_S * 10)]
            lo, hi = min(self._hist), max(self._hist)
            if self.track_centre and not self.active and hi - lo > 3.0 * on:
                self.offset[k] = 0.5 * (lo + hi)
        m = self._weighted(r)
        self.last_m = m
        up_l = [float(up[0]), float(up[1]), float(up[2])]
        r_l = list(r)
        if not self.active:
            if m < on:
                self._pre_t.append(t_s)
                self._pre_m.append(m)
                self._pre_r.append(r_l)
                self._pre_up.append(up_l)
                if len(self._pre_t) > 60:          # 6 s pre-roll is plenty for a start
                    del self._pre_t[0], self._pre_m[0], self._pre_r[0], self._pre_up[0]
                # follow slow drift of the rest pose, but only really at rest (all axes)
                if still and m < 0.5 * on and m_full < OFF_FRACTION * max(on, 2.0):
                    self.rest = drift_rest(self.rest, up_l)
                return None
            self.active = True
            self._on_t = t_s
            self._buf_t = self._pre_t + [t_s]
            self._buf_r = self._pre_r + [r_l]
            self._buf_up = self._pre_up + [up_l]
            self._pre_t, self._pre_m, self._pre_r, self._pre_up = [], [], [], []
            self._peak_key = None
            return None
        self._buf_t.append(t_s)
        self._buf_r.append(r_l)
        self._buf_up.append(up_l)
        if t_s - self._on_t > self.max_rep_s:
            self.salvaged = self._salvage()
            self.reset()
            return Excursion("too_long", t_s)
        # running peak of the weighted rotation over the excursion; recomputed in full only
        # when the weights or the centre changed since it was last taken
        key = (tuple(self.weights), tuple(self.offset))
        if self._peak_key != key or self._peak_n != len(self._buf_r) - 1:
            self._peak = max(self._weighted(v) for v in self._buf_r)
            self._peak_key = key
        else:
            self._peak = max(self._peak, m)
        self._peak_n = len(self._buf_r)
        peak = self._peak
        if self.split_sides and m >= on:
            rep = self._split_at_side_change()
            if rep is not None:
                return rep
        if m >= max(OFF_FRACTION * on, EDGE_FRACTION * peak):
            self._below_since = None
            return None
        if self.end_debounce_s > 0:
            self._below_since = t_s if self._below_since is None else self._below_since
            if t_s - self._below_since < self.end_debounce_s:
                return None
        mags = np.linalg.norm((np.asarray(self._buf_r) - self.offset) * self.weights, axis=1)
        return self._close(mags, float(mags.max()))

    def _split_at_side_change(self) -> Rep | None:
        """The rep on one side, once the axis has crossed the centre to the other side by a
        rep's threshold: closed at the crossing, the rest of the frames start the next."""
        k = max(range(3), key=lambda i: self.weights[i])
        if sum(1 for w in self.weights if w > 0) != 1:
            return None
        vals = np.asarray(self._buf_r)[:, k] - self.offset[k]
        ipk = int(np.argmax(np.abs(vals)))
        sgn = float(np.sign(vals[ipk]))
        if sgn == 0.0 or vals[-1] * sgn >= 0.0:
            return None
        c = ipk + int(np.flatnonzero(vals[ipk:] * sgn <= 0.0)[0])
        bt, br, bu = self._buf_t, self._buf_r, self._buf_up
        self._buf_t, self._buf_r, self._buf_up = bt[:c + 1], br[:c + 1], bu[:c + 1]
        mags = np.abs(vals[:c + 1]) * self.weights[k]
        rep = self._close(mags, float(mags.max()))
        self.active = True
        self._on_t = bt[c]
        self._buf_t, self._buf_r, self._buf_up = bt[c:], br[c:], bu[c:]
        self._peak_key = None
        return rep

    def _salvage(self) -> dict | None:
        """The aborted excursion's rep, if it came at least half way back after its plateau:
        the last rep of a set often returns to a pose a little off the rest (they relax, or
        start to get up), so it never falls under the end level before the excursion aborts."""
        if not self.active or len(self._buf_t) < 3:
            return None
        mags = np.linalg.norm((np.asarray(self._buf_r) - self.offset) * self.weights, axis=1)
        peak = float(mags.max())
        i_d = int(np.flatnonzero(mags >= 0.7 * peak)[-1])
        back = np.flatnonzero(mags[i_d:] < SALVAGE_BACK_FRACTION * peak)
        if len(back) == 0:
            return None
        j = i_d + int(back[0]) + 1
        self._buf_t, self._buf_r, self._buf_up = self._buf_t[:j], self._buf_r[:j], self._buf_up[:j]
        rep = self._close(mags[:j], float(mags[:j].max()))
        return None if rep is None else rep.to_dict()

    def _weighted(self, r) -> float:
        o, w = self.offset, self.weights
        a, b, c = (r[0] - o[0]) * w[0], (r[1] - o[1]) * w[1], (r[2] - o[2]) * w[2]
        return math.sqrt(a * a + b * b + c * c)

    def _close(self, mags: np.ndarray, peak: float):
        t = np.asarray(self._buf_t)
        rot = np.asarray(self._buf_r)
        ups = np.asarray(self._buf_up)
        self.active = False
        self._below_since = None
        self._buf_t, self._buf_r, self._buf_up = [], [], []
        # plateau level: robust to sway and breathing on top of the held pose
        plateau = float(np.median(mags[mags >= 0.7 * peak]))
        # levels relative to the local baseline: a rest pose off by a degree must not
        # stretch a small rep (bird dog) into its neighbours
        base = float(np.percentile(mags, 5))
        hi_lvl = base + HI_FRACTION * (plateau - base)
        lo_lvl = base + EDGE_FRACTION * (plateau - base)
        above = np.flatnonzero(mags >= hi_lvl)
        i_u, i_d = int(above[0]), int(above[-1])
        below = np.flatnonzero(mags[:i_u] < lo_lvl)
        i0 = int(below[-1]) if len(below) else 0
        after = np.flatnonzero(mags[i_d:] < lo_lvl)
        i1 = i_d + int(after[0]) if len(after) else len(t) - 1
        t_lo_u, t_hi_u = _cross(t, mags, i0, lo_lvl), _cross(t, mags, i_u - 1, hi_lvl)
        t_hi_d, t_lo_d = _cross(t, mags, i_d, hi_lvl), _cross(t, mags, i1 - 1, lo_lvl)
        # Reps move with a bell-shaped speed (minimum jerk): the level crossings give the
        # movement times, from which the true start, end and time held at the end follow.
        up_s = min(max(t_hi_u - t_lo_u, 0.0) / (_TAU_HI - _TAU_LO), MAX_MOVE_S)
        down_s = min(max(t_lo_d - t_hi_d, 0.0) / (_TAU_HI - _TAU_LO), MAX_MOVE_S)
        start = max(t_lo_u - _TAU_LO * up_s, float(t[0]))
        end = t_lo_d + _TAU_LO * down_s
        if end - start < self.min_rep_s:
            return None
        hold = _held_s(t, mags, base, plateau, start, end)
        ipk = int(np.argmax(mags))
        return Rep(start_s=round(start, 2), end_s=round(end, 2), peak_s=round(float(t[ipk]), 2),
                   hold_s=round(hold, 2), amplitude_deg=round(plateau, 2),
                   rot_peak_deg=[round(float(v), 2) for v in rot[ipk]],
                   rot_mean_deg=[round(float(v), 2) for v in rot[i_u:i_d + 1].mean(axis=0)],
                   up_hold=[round(float(v), 5) for v in ups[i_u:i_d + 1].mean(axis=0)],
                   held_from_s=round(t_hi_u, 2), held_to_s=round(t_hi_d, 2))


REST_DRIFT_A = 0.1 / REST_TAU_S


def drift_rest(rest, up) -> np.ndarray:
    """One frame of the rest pose's slow drift towards ``up`` (unit result). Plain floats, so
    the tracker's batched idle path (tracker._idle_upright) does the same arithmetic."""
    a = REST_DRIFT_A
    x = (1 - a) * float(rest[0]) + a * float(up[0])
    y = (1 - a) * float(rest[1]) + a * float(up[1])
    z = (1 - a) * float(rest[2]) + a * float(up[2])
    n = math.sqrt(x * x + y * y + z * z)
    return np.array([x / n, y / n, z / n])


def _held_s(t: np.ndarray, mags: np.ndarray, base: float, plateau: float, start: float,
            end: float) -> float:
    """Time held at the end position, from the half-way crossings of the way out and back.

    A minimum-jerk move is half way at half its duration, so with the rep's start and end
    the two half-way crossings give both move times and the hold between them:
    hold = 2 (t_back - t_out) - (end - start). Half way is where the moves are steepest, so
    sway and breathing on top of a small rep (a dead bug's 2-4 deg under 1-2 deg of
    breathing) shift these crossings least; the 90 % crossings used before fell anywhere
    on such a plateau (dead bug holds of 3 s read as 0: short_hold flagged wrongly). The
    level is half of the *held* level, the median between a first estimate's crossings,
    not of the peak (an overshoot at the end of the way out). At most the rep minus two
    shortest moves."""
    half = base + 0.5 * (plateau - base)
    above = np.flatnonzero(mags >= half)
    held = float(np.median(mags[above[0]:above[-1] + 1]))
    half = base + 0.5 * (held - base)
    above = np.flatnonzero(mags >= half)
    t_out = _cross(t, mags, int(above[0]) - 1, half)
    t_back = _cross(t, mags, int(above[-1]), half)
    hold = 2.0 * (t_back - t_out) - (end - start)
    return float(min(max(hold, 0.0), max(0.0, end - start - 2 * MIN_MOVE_S)))


def _min_jerk_tau(level: float) -> float:
    """Normalised time at which a minimum-jerk move reaches ``level`` of its path."""
    return float(brentq(lambda x: x ** 3 * (10 - 15 * x + 6 * x * x) - level, 0.0, 1.0))


_TAU_LO, _TAU_HI = _min_jerk_tau(EDGE_FRACTION), _min_jerk_tau(HI_FRACTION)


def _cross(t: np.ndarray, m: np.ndarray, i: int, level: float) -> float:
    """Time where m crosses ``level`` between frames i and i+1 (linear interpolation)."""
    i = int(np.clip(i, 0, len(t) - 2)) if len(t) > 1 else 0
    if len(t) < 2:
        return float(t[0])
    m0, m1 = m[i], m[i + 1]
    if m1 == m0:
        return float(t[i])
    f = float(np.clip((level - m0) / (m1 - m0), 0.0, 1.0))
    return float(t[i] + f * (t[i + 1] - t[i]))
