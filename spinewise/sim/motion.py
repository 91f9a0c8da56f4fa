"""Smooth motion primitives the body model is built from.

Everything here is a *function of time* that can be evaluated at any array of instants, in any
order, any number of times: that is what lets the simulator stream a week at constant memory,
give identical samples whatever the chunking, and derive the gyro and the linear acceleration by
differentiating the very trajectory it reports (never drawing them independently).

- ``min_jerk(tau)``: the minimum-jerk profile 10t^3-15t^4+6t^5. Position, velocity and
  acceleration are continuous at both ends (velocity and acceleration are zero there), so paths
  glued from min-jerk pieces are C2: no spikes in the derived gyro or acceleration.
- ``KeyframeTrack``: orientation + position keyframes joined by min-jerk slerp / lerp.
- ``SmoothNoise``: band-limited random wiggle (a sum of sinusoids with random frequencies and
  phases, unit RMS per axis), with its exact time integral (used for the gait phase).
- ``Envelope``: a C2 amplitude profile (min-jerk steps between knots), zero outside its knots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk profile on [0, 1], clamped outside."""
    x = np.clip(np.asarray(tau, dtype=np.float64), 0.0, 1.0)
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x))


# ---- vectorised unit quaternions (scipy order x, y, z, w); scipy's Rotation is slow per call
def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (rotation b first, then a), broadcasting over leading axes."""
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def quat_conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def quat_from_rotvec(rv: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(rv, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(x/2)/x with its series near 0
    k = np.where(angle > 1e-8, np.sin(half) / np.where(angle > 1e-8, angle, 1.0), 0.5 - angle ** 2 / 48.0)
    return np.concatenate([rv * k, np.cos(half)], axis=-1)


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    q = np.where(q[..., 3:4] < 0, -q, q)
    s = np.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., 3:4])
    k = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return q[..., :3] * k


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v by unit quaternions q (R(q) @ v)."""
    u, w = q[..., :3], q[..., 3:4]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def rot_x(deg: float) -> Rotation:
    return Rotation.from_euler("x", deg, degrees=True)


def rot_y(deg: float) -> Rotation:
    return Rotation.from_euler("y", deg, degrees=True)


def rot_z(deg: float) -> Rotation:
    return Rotation.from_euler("z", deg, degrees=True)


class KeyframeTrack:
    """Orientation ``R_heading_from_body`` and position (m) through keyframes, min-jerk between.

    Keyframe times must be non-decreasing; outside the first/last keyframe the pose is held
    (consistent with zero velocity/acceleration at the knots). Rotations between consecutive
    keyframes take the shorter arc, so keyframes more than ~170 deg apart need an intermediate
    keyframe (the builders do that for rolling over).
    """

    def __init__(self, times_s: list[float], rotations: list[Rotation], positions_m: list):
        self.t = np.asarray(times_s, dtype=np.float64)
        if self.t.ndim != 1 or self.t.size == 0 or np.any(np.diff(self.t) < 0):
            raise ValueError("keyframe times must be a non-empty non-decreasing sequence")
        self.rot = Rotation.concatenate(rotations)
        self._q = self.rot.as_quat()
        self.pos = np.asarray(positions_m, dtype=np.float64).reshape(-1, 3)
        if len(self.rot) != self.t.size or self.pos.shape[0] != self.t.size:
            raise ValueError("keyframe lists differ in length")
        # relative rotation of each piece as a rotation vector (body frame of the piece start)
        if self.t.size > 1:
            self._rv = (self.rot[:-1].inv() * self.rot[1:]).as_rotvec()
        else:
            self._rv = np.zeros((0, 3))

    @property
    def end_rotation(self) -> Rotation:
        return self.rot[-1]

    @property
    def end_position(self) -> np.ndarray:
        return self.pos[-1].copy()

    def __call__(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quaternions (N, 4, scipy order) and positions (N, 3) at the given times."""
        t = np.asarray(t_s, dtype=np.float64)
        if self.t.size == 1:
            return np.tile(self._q[0], (t.size, 1)), np.repeat(self.pos[:1], t.size, axis=0)
        i = np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, self.t.size - 2)
        span = self.t[i + 1] - self.t[i]
        tau = np.where(span > 0, (t - self.t[i]) / np.where(span > 0, span, 1.0), 1.0)
        s = min_jerk(tau)
        q = quat_mul(self._q[i], quat_from_rotvec(self._rv[i] * s[:, None]))
        pos = self.pos[i] + (self.pos[i + 1] - self.pos[i]) * s[:, None]
        return q, pos


def gaussian_gain(freq_hz, sigma_s: float):
    """Amplitude response of a unit-area Gaussian smoothing kernel of std ``sigma_s``."""
    return np.exp(-2.0 * np.pi ** 2 * np.asarray(freq_hz) ** 2 * sigma_s ** 2)


def bandwidth_sigma_s(rate_hz: float, cutoff_fraction: float = 0.4) -> float:
    """Gaussian low-pass std whose -3 dB point is ``cutoff_fraction * rate_hz``."""
    return float(np.sqrt(np.log(2.0) / 2.0) / (np.pi * cutoff_fraction * rate_hz))


class SmoothNoise:
    """Band-limited wiggle: per axis a sum of ``n_terms`` sinusoids, unit RMS, zero mean."""

    def __init__(self, rng: np.random.Generator, f_lo_hz: float, f_hi_hz: float,
                 n_axes: int = 3, n_terms: int = 6):
        self.freq_hz = rng.uniform(f_lo_hz, f_hi_hz, size=(n_axes, n_terms))
        self.phase = rng.uniform(0.0, 2.0 * np.pi, size=(n_axes, n_terms))
        w = rng.uniform(0.5, 1.0, size=(n_axes, n_terms))
        # RMS of a sum of sinusoids with amplitudes a_i is sqrt(sum a_i^2 / 2)
        self.amp = w / np.sqrt(np.sum(w * w, axis=1, keepdims=True) / 2.0)
        self.gain = np.ones_like(self.amp)

    def set_bandwidth(self, sigma_s: float) -> None:
        """Attenuate each sinusoid as a Gaussian low-pass of width ``sigma_s`` would (exact)."""
        self.gain = gaussian_gain(self.freq_hz, sigma_s)

    def __call__(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)[:, None, None]
        arg = 2.0 * np.pi * self.freq_hz[None] * t + self.phase[None]
        return np.sum((self.amp * self.gain)[None] * np.sin(arg), axis=2)          # (N, n_axes)

    def integral(self, t_s: np.ndarray) -> np.ndarray:
        """Exact integral from 0 to t of each axis."""
        t = np.asarray(t_s, dtype=np.float64)[:, None, None]
        w = 2.0 * np.pi * self.freq_hz[None]
        val = -np.cos(w * t + self.phase[None]) + np.cos(self.phase[None])
        return np.sum(self.amp[None] * val / w, axis=2)


@dataclass
class Envelope:
    """C2 amplitude profile: min-jerk steps between (time, value) knots, 0 outside."""
    knots_t: np.ndarray
    knots_v: np.ndarray

    @staticmethod
    def window(start_s: float, end_s: float, ramp_s: float, value: float = 1.0,
               end_value: float | None = None) -> "Envelope":
        """0 before start, ramps to ``value`` (linearly moving to ``end_value``), 0 after end."""
        ramp = max(1e-3, min(ramp_s, (end_s - start_s) / 2.0))
        end_value = value if end_value is None else end_value
        return Envelope(np.array([start_s, start_s + ramp, end_s - ramp, end_s]),
                        np.array([0.0, value, end_value, 0.0]))

    def __call__(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)
        kt, kv = self.knots_t, self.knots_v
        out = np.zeros_like(t)
        if kt.size < 2:
            return out
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, kt.size - 2)
        span = kt[i + 1] - kt[i]
        tau = np.where(span > 0, (t - kt[i]) / np.where(span > 0, span, 1.0), 1.0)
        out = kv[i] + (kv[i + 1] - kv[i]) * min_jerk(tau)
        out = np.where(t < kt[0], kv[0], out)
        return np.where(t > kt[-1], kv[-1], out)


@dataclass
class Wiggle:
    """An additive perturbation: ``envelope(t) * gains * noise(t)`` on one quantity.

    ``target`` is "rot" (small rotation vector, rad, body frame) or "pos" (m, heading frame).
    """
    target: str
    noise: SmoothNoise
    gains: np.ndarray        # (3,) per-axis amplitude (rad or m, RMS)
    envelope: Envelope

    def __call__(self, t_s: np.ndarray) -> np.ndarray:
        return self.envelope(t_s)[:, None] * self.noise(t_s) * self.gains[None, :]
