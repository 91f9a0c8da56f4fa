"""Per-epoch (1 s) features of the day: posture, movement intensity, gait, vertical travel.

All per-sample work is vectorised per chunk; filters carry their state, and epochs are cut
by EpochSplitter, so the features are identical whatever the chunking.

- ``up``: mean gravity direction in the body frame (normalised) -> trunk angles.
- ``enmo_mg``: Euclidean norm minus one, negatives set to 0, mean per epoch, in mg
  (van Hees et al. 2013), the standard accelerometer movement-intensity metric.
- ``steps``/``v_std``/``gait``: step candidates and vertical-acceleration spread (gait.py).
- ``z_max_m``/``z_min_m``: extremes of the band-limited vertical pelvis travel. The norm of
  the specific force minus 1 g is vertical acceleration to first order whatever the mounting
  or filter; high-passed at 0.2 Hz (2nd order: zero net area, so the step in |acc| that an accelerometer bias makes at a posture change cannot integrate into travel; removes accelerometer bias and slow drift) and integrated twice with
  8 s leaky integrators, it shows the ~0.45 m rise of a sit-to-stand (+) and the drop of a
  stand-to-sit (-). Reaching forward while seated leans just as far but does not travel.
- ``acc_s0_m_s``/``acc_s1_m``: zeroth and first time moments of the vertical acceleration
  (|specific force| - 1 g, m/s^2) over the epoch, sum(a dt) and sum(a (t - epoch start) dt).
  Exact sums, so the classifier can double-integrate the acceleration over any span of whole
  epochs with zero velocity at both ends (activity.net_travel_m): the net vertical travel of a
  sit/stand transition whatever its speed, which the band-limited travel above attenuates for
  slow transitions and distorts for asymmetric ones (a slow descent that ends on the chair).
- ``acc_var_m2_s4``: variance of |acc| - 1 g within the epoch; at rest it is the sensor's
  noise, which sets how far the double integration can be trusted.
- ``dir0_*_s``/``dir1_*_s2``: the same two moments of the unit specific-force direction (body
  frame): an accelerometer bias b reads b . direction in |acc| - 1 g, which a lean moves; with
  these the classifier removes a learned bias sample-exactly (acc_bias.AccBiasModel), also
  without gyro, where the filtered gravity direction lags a quick lean.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from spinewise.signal.body import BodySamples
from spinewise.signal.epochs import EpochSplitter
from spinewise.signal.gait import StepDetector, epoch_gait
from spinewise.signal.iir import sosfilt_step
from spinewise.stream import GRAVITY_M_S2

TRAVEL_HP_HZ = 0.2
TRAVEL_LEAK_S = 8.0

FEATURES = ("t0", "n", "up_x", "up_y", "up_z", "enmo_mg", "v_std", "steps", "gait",
            "z_max_m", "z_min_m", "dyn_mg", "acc_s0_m_s", "acc_s1_m", "acc_var_m2_s4",
            "dir0_x_s", "dir0_y_s", "dir0_z_s", "dir1_x_s2", "dir1_y_s2", "dir1_z_s2")
DIR_COLS = ("dir0_x_s", "dir0_y_s", "dir0_z_s", "dir1_x_s2", "dir1_y_s2", "dir1_z_s2")  # vectors: rotate with the frame


def _travel_sos(rate_hz: float) -> np.ndarray:
    dt = 1.0 / rate_hz
    alpha = np.exp(-dt / TRAVEL_LEAK_S)
    hp = sps.butter(2, TRAVEL_HP_HZ, btype="highpass", fs=rate_hz, output="sos")
    leaky = np.array([[dt, 0.0, 0.0, 1.0, -alpha, 0.0]])
    return np.vstack([hp, leaky, leaky])


_NO_FEATURES = {k: np.zeros(0) for k in FEATURES}


class EpochFeatures:
    def __init__(self, rate_hz: float, epoch_s: float = 1.0) -> None:
        self.rate_hz = float(rate_hz)
        self.epoch_s = float(epoch_s)
        self._split = EpochSplitter(epoch_s)
        self._steps = StepDetector(rate_hz)
        self._sos = _travel_sos(rate_hz)
        self._zi = np.zeros((self._sos.shape[0], 2))

    def update(self, body: BodySamples) -> dict[str, np.ndarray]:
        if len(body) == 0:
            return self._features(self._split.push(np.zeros(0), **self._empty_arrays()))
        acc = body.acc_body_g
        norm = np.sqrt(np.add.reduce(acc * acc, axis=1))      # = np.linalg.norm, minus its checks
        bp, steps = self._steps.update(acc, body.up_body, body.t_s)
        travel, self._zi = sosfilt_step(self._sos, (norm - 1.0) * GRAVITY_M_S2, self._zi)
        dyn2 = np.sum((acc - body.up_body) ** 2, axis=1)
        # vertical specific force: with a gyro the fused up is exact to ~1 deg and the
        # projection on it is the vertical; the norm also reads the horizontal part,
        # |a_h|^2 / 2g: a walk's last, braking step (~2 m/s^2) adds ~0.15 m/s^2 for half a
        # second, tens of cm once double-integrated over a sit-down right after a walk.
        # Without a gyro the low-passed up lags a lean by ~10 deg, so the norm stays.
        vert = np.add.reduce(acc * body.up_body, axis=1) if body.has_gyro else norm
        a_dt = (vert - 1.0) * (GRAVITY_M_S2 / self.rate_hz)
        in_epoch_s = body.t_s - self.epoch_s * np.floor(body.t_s / self.epoch_s)
        d_dt = acc / (np.maximum(norm, 1e-9) * self.rate_hz)[:, None]
        ep = self._split.push(body.t_s, up=body.up_body, enmo=np.maximum(norm - 1.0, 0.0),
                              v=bp, st=steps.astype(np.int64), z=travel, dyn2=dyn2,
                              a0=a_dt, a1=a_dt * in_epoch_s, d0=d_dt, d1=d_dt * in_epoch_s[:, None],
                              a2=((vert - 1.0) * GRAVITY_M_S2) ** 2)
        return self._features(ep)

    def flush(self) -> dict[str, np.ndarray]:
        return self._features(self._split.flush())

    @staticmethod
    def _empty_arrays() -> dict[str, np.ndarray]:
        z = np.zeros(0)
        return {"up": np.zeros((0, 3)), "enmo": z, "v": z, "st": np.zeros(0, np.int64), "z": z,
                "dyn2": z, "a0": z, "a1": z, "d0": np.zeros((0, 3)), "d1": np.zeros((0, 3)), "a2": z}

    def _features(self, ep) -> dict[str, np.ndarray]:
        if len(ep) == 0:
            return dict(_NO_FEATURES)
        up = ep.sum("up")
        up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-12)
        v = ep.arrays["v"]
        steps = ep.sum("st")
        d0, d1 = ep.sum("d0"), ep.sum("d1")
        v_std, gait = epoch_gait(steps, ep.sum("v"), np.add.reduceat(v * v, ep.starts),
                                 ep.counts, self.epoch_s)
        return {"t0": ep.index * self.epoch_s, "n": ep.counts.astype(np.float64),
                "up_x": up[:, 0], "up_y": up[:, 1], "up_z": up[:, 2],
                "enmo_mg": 1000.0 * ep.mean("enmo"), "v_std": v_std,
                "steps": steps.astype(np.float64), "gait": gait.astype(np.float64),
                "z_max_m": ep.max("z"), "z_min_m": ep.min("z"),
                "dyn_mg": 1000.0 * np.sqrt(ep.mean("dyn2")),
                "acc_s0_m_s": ep.sum("a0"), "acc_s1_m": ep.sum("a1"),
                # spread of |acc| - 1 g within the epoch: at rest, the accelerometer's noise
                "acc_var_m2_s4": np.maximum(ep.mean("a2") - (ep.sum("a0") * self.rate_hz
                                                             / np.maximum(ep.counts, 1)) ** 2, 0.0),
                **{f"dir0_{c}_s": d0[:, i] for i, c in enumerate("xyz")},
                **{f"dir1_{c}_s2": d1[:, i] for i, c in enumerate("xyz")}}

    def get_state(self) -> dict:
        return {"split": self._split.get_state(), "steps": self._steps.get_state(),
                "zi": self._zi.copy()}

    def set_state(self, s: dict) -> None:
        self._split.set_state(s["split"])
        self._steps.set_state(s["steps"])
        self._zi = np.asarray(s["zi"], dtype=np.float64)
