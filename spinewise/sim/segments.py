"""Trajectory segments: pieces of the pelvis trajectory, each a pure function of time.

A segment answers ``kinematics(t_local) -> (R_world_from_body, pos_world_m, extra_acc_world)``
for any array of local times, including a few milliseconds outside its span (held pose), so the
simulator can differentiate it there. Consecutive segments meet with the same orientation and
with zero velocity/acceleration of every wiggle (envelopes and min-jerk pieces are C2), so the
whole recording is smooth across segment boundaries.

Position only matters through its second derivative, so each segment keeps its own local origin.
Walking's forward progression (speed and heading changes) is given analytically as
``extra_acc`` (tangential v' plus centripetal v*psi'), together with the heel-strike transients.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from spinewise.sim.motion import (Envelope, KeyframeTrack, SmoothNoise, Wiggle, quat_from_rotvec,
                                  quat_mul)
from spinewise.stream import GRAVITY_M_S2 as G0


def _rz_batch(psi_rad: np.ndarray) -> np.ndarray:
    h = 0.5 * np.asarray(psi_rad, dtype=np.float64)
    z = np.zeros_like(h)
    return np.stack([z, z, np.sin(h), np.cos(h)], axis=-1)


def _heading_to_world(psi_rad: np.ndarray, v: np.ndarray) -> np.ndarray:
    c, s = np.cos(psi_rad), np.sin(psi_rad)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], axis=1)


@dataclass
class Segment:
    start_s: float
    duration_s: float
    activity: str                      # sitting|standing|walking|lying|exercise|transition
    detail: str
    info: dict = field(default_factory=dict)   # extra truth fields (slouch, asleep, ...)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def kinematics(self, t_local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q_world_from_body (N,4) scipy order, pos_world_m (N,3), extra_acc_world_m_s2 (N,3))."""
        raise NotImplementedError

    def truth(self) -> dict:
        d = {"start_s": self.start_s, "end_s": self.end_s, "activity": self.activity,
             "detail": self.detail}
        d.update(self.info)
        return d


@dataclass
class PoseSegment(Segment):
    """Keyframed posture (heading-frame rotation + position) plus additive wiggles."""
    heading_deg: float = 0.0
    track: KeyframeTrack | None = None
    wiggles: list[Wiggle] = field(default_factory=list)

    def kinematics(self, t_local):
        rot_h, pos_h = self.track(t_local)
        rv = np.zeros((t_local.size, 3))
        for w in self.wiggles:
            if w.target == "rot":
                rv += w(t_local)
            else:
                pos_h = pos_h + w(t_local)
        q_h = quat_mul(rot_h, quat_from_rotvec(rv))
        psi = np.full(t_local.size, np.radians(self.heading_deg))
        q_w = quat_mul(_rz_batch(psi), q_h)
        return q_w, _heading_to_world(psi, pos_h), np.zeros((t_local.size, 3))


@dataclass
class GaitParams:
    step_hz: float              # steps per second (two per stride)
    speed_m_s: float
    bounce_m: float             # vertical amplitude (half peak-to-peak)
    ap_m: float                 # antero-posterior oscillation amplitude
    ml_m: float                 # medio-lateral sway amplitude (stride frequency)
    yaw_deg: float              # pelvic rotation amplitude (stride frequency)
    obliquity_deg: float        # pelvic roll amplitude (stride frequency)
    tilt_deg: float             # pelvic tilt amplitude (step frequency)
    impact_g: float             # heel-strike transient peak (vertical)
    impact_width_s: float
    cadence_cv: float = 0.02    # slow cadence wander
    limp: float = 0.0           # antalgic asymmetry: alternate steps shorter/longer, softer/harder


@dataclass
class WalkSegment(Segment):
    """Level walking: upright posture, gait oscillations, speed ramps and turns."""
    heading_deg: float = 0.0
    upright: Rotation | None = None          # person's standing posture (heading frame)
    gait: GaitParams | None = None
    heading_track: Envelope | None = None    # heading (rad) vs local time, held at the ends
    cadence_noise: SmoothNoise | None = None
    sway: Wiggle | None = None
    ramp_s: float = 1.2
    heel_strikes_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    impact_gain: np.ndarray = field(default_factory=lambda: np.zeros(0))
    filter_sigma_s: float = 0.0          # sensor bandwidth applied to the transients (exact)

    def __post_init__(self):
        self._env = Envelope.window(0.0, self.duration_s, self.ramp_s)
        # heel strikes: gait phase crosses 2*pi*k while the gait envelope is at least half on
        grid = np.arange(0.0, self.duration_s + 0.05, 0.05)
        ph = self.phase(grid)
        k = np.arange(np.ceil(ph[0] / (2 * np.pi)), np.floor(ph[-1] / (2 * np.pi)) + 1)
        t_k = np.interp(2 * np.pi * k, ph, grid)
        keep = self._env(t_k) >= 0.5
        self.heel_strikes_s = t_k[keep]
        self._strike_index = k[keep].astype(np.int64)

    def phase(self, t):
        g = self.gait
        wander = self.cadence_noise.integral(t)[:, 0] * g.cadence_cv if self.cadence_noise else 0.0
        base = 2.0 * np.pi * g.step_hz * (t + wander)
        # a limp moves alternate heel strikes by -+limp/4 of a step (monotonic for limp < 1.2)
        return base + 0.5 * np.pi * g.limp * np.cos(0.5 * base)

    def psi(self, t):
        base = np.radians(self.heading_deg)
        return base + (self.heading_track(t) if self.heading_track is not None else 0.0)

    def kinematics(self, t_local):
        g = self.gait
        n = t_local.size
        env = self._env(t_local)
        ph = self.phase(t_local)
        half = ph / 2.0   # stride phase: 0 at a left heel strike (even step index)
        pos_h = np.stack([g.ap_m * env * np.sin(ph),
                          g.ml_m * env * np.sin(half),
                          -g.bounce_m * env * np.cos(ph) * (1.0 + g.limp * np.cos(half))],
                         axis=1)
        rv = np.stack([np.radians(g.obliquity_deg) * env * np.sin(half),
                       np.radians(g.tilt_deg) * env * np.cos(ph),
                       -np.radians(g.yaw_deg) * env * np.cos(half)], axis=1)
        if self.sway is not None:
            rv += self.sway(t_local)
        psi = self.psi(t_local)
        q_w = quat_mul(quat_mul(_rz_batch(psi), self.upright.as_quat()[None, :]), quat_from_rotvec(rv))
        pos_w = _heading_to_world(psi, pos_h)
        # forward progression: a = v' t_hat + v psi' n_hat (analytic, not from a position)
        h = 1e-3
        v = g.speed_m_s * env
        dv = g.speed_m_s * (self._env(t_local + h) - self._env(t_local - h)) / (2 * h)
        dpsi = (self.psi(t_local + h) - self.psi(t_local - h)) / (2 * h)
        extra = np.zeros((n, 3))
        extra[:, 0] = dv * np.cos(psi) - v * dpsi * np.sin(psi)
        extra[:, 1] = dv * np.sin(psi) + v * dpsi * np.cos(psi)
        extra[:, 2] = self._impacts(t_local)
        return q_w, pos_w, extra

    def _impacts(self, t):
        """Vertical heel-strike transients: Ricker wavelets (zero net velocity change)."""
        out = np.zeros(t.size)
        hs = self.heel_strikes_s
        if hs.size == 0:
            return out
        # a Ricker wavelet of width s smoothed by a Gaussian of width f is a Ricker wavelet of
        # width sqrt(s^2 + f^2) scaled by (s / that)^3 (it is a second derivative of a Gaussian)
        s0 = self.gait.impact_width_s
        sigma = float(np.hypot(s0, self.filter_sigma_s))
        scale = (s0 / sigma) ** 3
        j = np.searchsorted(hs, t)
        for off in (-2, -1, 0, 1):
            idx = np.clip(j + off, 0, hs.size - 1)
            x = (t - hs[idx]) / sigma
            contrib = self.impact_gain[idx] * (1 - x * x) * np.exp(-0.5 * x * x)
            valid = (j + off >= 0) & (j + off < hs.size)
            out += np.where(valid, contrib, 0.0)
        return out * G0 * scale
