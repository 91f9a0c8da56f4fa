"""Exercise postures and rotations from the gravity direction in the body frame.

``up`` is world-up in the body frame (x anterior, y left, z superior). Two numbers place
the trunk: ``elevation_deg`` (how far the head end of the long axis points up: 90 upright,
0 lying flat, + head higher than pelvis) and ``facing_deg`` (which way the front faces when
lying: 0 supine, +-180 prone, +90 lying on the right side, -90 on the left side).
"""
from __future__ import annotations

import math

import numpy as np

UPRIGHT, SUPINE, PRONE, SIDE_RIGHT, SIDE_LEFT = "upright", "supine", "prone", "side_right", "side_left"
POSTURES = (UPRIGHT, SUPINE, PRONE, SIDE_RIGHT, SIDE_LEFT)
UPRIGHT_MIN_ELEVATION_DEG = 50.0


def elevation_deg(up: np.ndarray) -> np.ndarray:
    up = np.atleast_2d(up)
    return np.degrees(np.arcsin(np.clip(up[:, 2], -1.0, 1.0)))


def facing_deg(up: np.ndarray) -> np.ndarray:
    up = np.atleast_2d(up)
    return np.degrees(np.arctan2(up[:, 1], up[:, 0]))


def classify(up: np.ndarray) -> list[str]:
    """Posture per row of ``up`` (one of POSTURES)."""
    elev, face = elevation_deg(up), facing_deg(up)
    out = []
    for e, f in zip(elev, face):
        if e >= UPRIGHT_MIN_ELEVATION_DEG:
            out.append(UPRIGHT)
        elif abs(f) <= 45.0:
            out.append(SUPINE)
        elif abs(f) >= 135.0:
            out.append(PRONE)
        else:
            out.append(SIDE_RIGHT if f > 0 else SIDE_LEFT)
    return out


def body_rotation_deg(up: np.ndarray, up_rest: np.ndarray) -> np.ndarray:
    """Rotation of the body since ``up_rest`` as a rotation vector in the body frame, deg.

    Components are rotations about body x (+ = bend to the right when upright), y (+ = bend
    forward / flexion) and z (+ = turn to the left). Rotation about the vertical is invisible
    to gravity, so the component along ``up_rest`` is always ~0.
    """
    up = np.atleast_2d(up)
    u0 = np.asarray(up_rest, dtype=np.float64).reshape(3)
    # A body rotation by +a about axis n turns fixed world vectors by -a: up x up_rest // n.
    axis = np.cross(up, u0)
    s = np.linalg.norm(axis, axis=1)
    c = up @ u0
    ang = np.degrees(np.arctan2(s, c))
    return axis / np.maximum(s, 1e-12)[:, None] * ang[:, None]


# -- one orientation at a time ------------------------------------------------------------
# The trackers step 10 Hz frames one by one; numpy's per-call overhead on 3-vectors costs
# ~20x the arithmetic, so the per-frame path uses these plain-float twins of the above
# (same formulas; the array versions stay for batches and tests).
def classify1(up) -> str:
    """``classify`` of one orientation."""
    x, y, z = float(up[0]), float(up[1]), float(up[2])
    if math.degrees(math.asin(min(1.0, max(-1.0, z)))) >= UPRIGHT_MIN_ELEVATION_DEG:
        return UPRIGHT
    f = math.degrees(math.atan2(y, x))
    if abs(f) <= 45.0:
        return SUPINE
    if abs(f) >= 135.0:
        return PRONE
    return SIDE_RIGHT if f > 0 else SIDE_LEFT


def body_rotation1_deg(up, up_rest) -> tuple[float, float, float]:
    """``body_rotation_deg`` of one orientation, as a tuple of floats."""
    ux, uy, uz = float(up[0]), float(up[1]), float(up[2])
    rx, ry, rz = float(up_rest[0]), float(up_rest[1]), float(up_rest[2])
    ax, ay, az = uy * rz - uz * ry, uz * rx - ux * rz, ux * ry - uy * rx
    s = math.sqrt(ax * ax + ay * ay + az * az)
    k = math.degrees(math.atan2(s, ux * rx + uy * ry + uz * rz)) / max(s, 1e-12)
    return ax * k, ay * k, az * k
