"""Which way is forward? Evidence for the anterior axis from several independent cues.

The superior axis is easy (the mean gravity direction while walking); the anterior axis and,
above all, its *sign* are not: one gait statistic alone came out reversed for one wearer in
three on recordings of other people's bodies, and a reversed sign turns lying prone into
supine and loses every prone or quadruped exercise. So forward is decided from cues that fail
in different ways, each a horizontal direction in the sensor frame with a reliability, and the
result carries the probability that its sign is right (``confidence``).

Cues (log-odds weights are a-priori reliabilities, capped per kind so that many correlated
votes of one kind never make a certainty):

- ``gait_axis``: the antero-posterior *axis* (no sign) from the covariance of horizontal
  acceleration one step apart. The pelvis brakes and pushes off at every step, so AP
  acceleration repeats step to step (positive lag covariance), while mediolateral sway
  alternates left / right (negative). Accurate to a few degrees whatever the person's sway.
- ``gait``: the sign from the inverted pendulum: while the pelvis rises over the stance leg
  it slows down, so forward acceleration follows minus the vertical *velocity*. Both signals
  go through the same band-pass, so the filter's phase cannot flip the relation (it did when
  a filtered vertical was compared with unfiltered AP), and the velocity, unlike the
  derivative, weighs the step fundamental rather than heel-strike transients.
- ``turn`` (gyro only): walking round a bend, the centripetal acceleration points to the
  inside, ``a = omega x v``, so the horizontal acceleration regressed on the yaw rate is
  ``v * left``: forward with its sign, as long as the person walks forwards.
- ``bend``: brief excursions of more than 20 deg from upright that return within a few
  seconds (sit-to-stand, stand-to-sit, squats, picking something up) lean forward.
- ``context``: on the floor, reps that raise the head end (press-ups) are done prone, reps that
  lower it (bridges, knee-to-chest, dead bug) supine: the exercise tracker reports them.
- ``lying``: long rests lying (nights) are more often supine than prone (weak).
- ``user``: the guided ``calibrate`` (stand upright, then bow forward).

The estimate is the gait axis with the sign the votes give (or the votes' resultant when
there is no gait axis yet); ``confidence = sigmoid(|sum of capped log-odds along it|)``.
Everything here is plain accumulated sums: chunk-invariant and restorable.
"""
from __future__ import annotations

import math

import numpy as np

# per-kind caps of the summed log-odds: correlated votes of one kind saturate
CAPS = {"gait": 2.2, "turn": 3.0, "bend": 2.5, "context": 2.5, "lying": 0.6, "user": 5.0}
KINDS = tuple(CAPS)
HIGH_CONFIDENCE = 0.85

GAIT_BOUT_WEIGHT = 1.2          # one consistent walk of >= GAIT_FULL_EPOCHS
GAIT_FULL_EPOCHS = 20
TURN_BOUT_WEIGHT = 1.5
TURN_ENERGY_DEG2 = 4000.0       # sum of yaw rate^2 * dt of one ~90 deg turn
TURN_SPEED_RANGE_M_S = (0.3, 2.5)   # plausible walking speeds from the regression
BEND_WEIGHT = 0.7
CONTEXT_WEIGHT = 1.0
LYING_WEIGHT = 0.3
USER_WEIGHT = 5.0
AXIS_MIN_EPOCHS = 4
AXIS_MIN_CONTRAST = 0.2         # (lambda_max - lambda_min) / (|lambda_max| + |lambda_min|)
G_PER_DPS_PER_M_S = math.radians(1.0) / 9.80665


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return None if n < 1e-12 else v / n


def horizontal(v: np.ndarray, z: np.ndarray) -> np.ndarray:
    return v - float(np.dot(v, z)) * z


class ForwardCues:
    """Accumulated evidence; ``estimate(z)`` -> (anterior unit vector | None, confidence, detail)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lag_cov = np.zeros((3, 3))
        self.lag_epochs = 0
        self.votes = {k: np.zeros(3) for k in KINDS}      # sum of weight * unit vector
        self.weights = {k: 0.0 for k in KINDS}             # sum of weights

    # -- adding evidence --------------------------------------------------------------------
    def add_lag(self, cov: np.ndarray, epochs: int) -> None:
        self.lag_cov += cov
        self.lag_epochs += int(epochs)

    def vote(self, kind: str, direction: np.ndarray, weight: float) -> None:
        """A directional vote: ``direction`` (sensor frame, any length) says 'forward is here'."""
        u = _unit(np.asarray(direction, dtype=np.float64))
        if u is None or not weight > 0:
            return
        self.votes[kind] = self.votes[kind] + weight * u
        self.weights[kind] += float(weight)

    def add_gait_bout(self, sign_sum: np.ndarray, epoch_signs: np.ndarray, z: np.ndarray) -> None:
        """One walk's inverted-pendulum statistic (sum over its epochs) and the per-epoch
        sums, whose agreement says how consistent the relation was."""
        s = horizontal(sign_sum, z)
        if epoch_signs.size == 0 or _unit(s) is None:
            return
        h = epoch_signs - (epoch_signs @ z)[:, None] * z[None, :]
        agree = float(np.linalg.norm(s) / max(np.sum(np.linalg.norm(h, axis=1)), 1e-12))
        n = epoch_signs.shape[0]
        self.vote("gait", s, GAIT_BOUT_WEIGHT * min(1.0, n / GAIT_FULL_EPOCHS) * agree)

    def add_turn_bout(self, xw: np.ndarray, ww_deg2: float, dt_s: float, z: np.ndarray) -> None:
        """One walk's regression of horizontal acceleration (g) on yaw rate (deg/s):
        ``xw = sum(omega * a)``, ``ww = sum(omega^2)``; the coefficient is v * left."""
        if ww_deg2 <= 0:
            return
        b = horizontal(xw / ww_deg2, z)
        speed = float(np.linalg.norm(b)) / G_PER_DPS_PER_M_S
        if not TURN_SPEED_RANGE_M_S[0] <= speed <= TURN_SPEED_RANGE_M_S[1]:
            return
        energy = ww_deg2 * dt_s
        weight = TURN_BOUT_WEIGHT * (1.0 - math.exp(-energy / TURN_ENERGY_DEG2))
        self.vote("turn", np.cross(b, z), weight)          # x = y cross z

    # -- the estimate -----------------------------------------------------------------------
    def _resultant(self, z: np.ndarray) -> tuple[np.ndarray, dict]:
        r = np.zeros(3)
        per_kind = {}
        for k in KINDS:
            w = self.weights[k]
            if w <= 0:
                continue
            v = horizontal(self.votes[k], z) * (min(w, CAPS[k]) / w)
            per_kind[k] = v
            r = r + v
        return r, per_kind

    def axis(self, z: np.ndarray) -> np.ndarray | None:
        """The gait AP axis (unit, sign arbitrary) once it is clear, else None."""
        if self.lag_epochs < AXIS_MIN_EPOCHS:
            return None
        P = np.eye(3) - np.outer(z, z)
        C = P @ (0.5 * (self.lag_cov + self.lag_cov.T)) @ P
        w, V = np.linalg.eigh(C)
        # the eigenvector along z has eigenvalue ~0; the horizontal pair is the other two
        order = np.argsort(np.abs(V.T @ z))
        hv = V[:, order[:2]]
        hw = w[order[:2]]
        top = int(np.argmax(hw))
        contrast = (hw[top] - hw[1 - top]) / max(abs(hw[top]) + abs(hw[1 - top]), 1e-18)
        if hw[top] <= 0 or contrast < AXIS_MIN_CONTRAST:
            return None
        return _unit(horizontal(hv[:, top], z))

    def estimate(self, z: np.ndarray) -> tuple[np.ndarray | None, float, dict]:
        z = z / np.linalg.norm(z)
        r, per_kind = self._resultant(z)
        axis = self.axis(z)
        if axis is not None:
            along = float(np.dot(r, axis))
            x = axis if along >= 0 else -axis
            log_odds = abs(along)
        else:
            x = _unit(r)
            log_odds = float(np.linalg.norm(r))
        detail = {"gait_axis": axis is not None,
                  "log_odds": {k: round(float(np.dot(v, x)) if x is not None else 0.0, 3)
                               for k, v in per_kind.items()}}
        if x is None:
            return None, 0.5, detail
        return x, 1.0 / (1.0 + math.exp(-log_odds)), detail

    def confidence_of(self, x: np.ndarray, z: np.ndarray) -> float:
        """Probability that the sign of ``x`` (a committed anterior axis) is right."""
        r, _ = self._resultant(z / np.linalg.norm(z))
        return 1.0 / (1.0 + math.exp(-float(np.dot(r, x))))

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"lag_cov": self.lag_cov.copy(), "lag_epochs": self.lag_epochs,
                "votes": {k: v.copy() for k, v in self.votes.items()},
                "weights": dict(self.weights)}

    def set_state(self, s: dict) -> None:
        self.lag_cov = np.asarray(s["lag_cov"], dtype=np.float64)
        self.lag_epochs = int(s["lag_epochs"])
        self.votes = {k: np.asarray(s["votes"].get(k, np.zeros(3)), dtype=np.float64) for k in KINDS}
        self.weights = {k: float(s["weights"].get(k, 0.0)) for k in KINDS}
