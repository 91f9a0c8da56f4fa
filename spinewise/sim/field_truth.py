"""The simulator's truth in the field-case format, so one scorer judges both.

The field cases (`../shared/field-cases/`, scored by its `score.py`) carry a truth file per
recording. This turns a simulator truth (`spinewise.sim.truth.build_truth`) into the same shape,
so fresh seeds of the simulator and the field cases are scored by the same code with the same
conventions (benchmarks/accuracy_robust.py):

- sets keep every rep under ``reps_detail``; each rep gets ``ambiguous``: the form flags whose
  threshold the true value lies too near to be judged (the scorer's convention: within 0.3 s of
  too_fast, 0.5 s of short_hold, 0.5 deg of hip_rotation), so a rep of 2.05 s counts for neither
  side of the too_fast rule;
- ``steps`` moves to the top level, ``sample_rate_hz`` is the nominal rate;
- ``mount``: ``{"kind", "R_BS"}`` with v_body = R_BS v_sensor, as the field cases give it (the
  transpose of the simulator's ``R_sensor_from_body``).
"""
from __future__ import annotations

import copy

import numpy as np

from spinewise.config import SignalConfig

TOO_FAST_MARGIN_S = 0.3
SHORT_HOLD_MARGIN_S = 0.5
HIP_ROTATION_MARGIN_DEG = 0.5


def ambiguous_flags(exercise: str, rep: dict, cfg: SignalConfig) -> list[str]:
    """The flags of one true rep that lie within the scorer's margin of their threshold."""
    out = []
    if abs((rep["end_s"] - rep["start_s"]) - cfg.too_fast_s) < TOO_FAST_MARGIN_S:
        out.append("too_fast")
    min_hold_s = {"dead_bug": cfg.dead_bug_hold_s, "bird_dog": cfg.bird_dog_hold_s}.get(exercise)
    if min_hold_s is not None and abs(rep.get("hold_s", 0.0) - min_hold_s) < SHORT_HOLD_MARGIN_S:
        out.append("short_hold")
    roll_deg = rep.get("roll_deg")
    if exercise == "bird_dog" and roll_deg is not None \
            and abs(abs(roll_deg) - cfg.hip_rotation_deg) < HIP_ROTATION_MARGIN_DEG:
        out.append("hip_rotation")
    return out


def to_field_truth(truth: dict, cfg: SignalConfig | None = None) -> dict:
    """A copy of ``truth`` in the field-case truth format (the input is not changed)."""
    cfg = cfg or SignalConfig()
    out = copy.deepcopy(truth)
    for s in out["sets"]:
        for rep in s.get("reps_detail", []):
            rep["ambiguous"] = ambiguous_flags(s["exercise"], rep, cfg)
    out["sample_rate_hz"] = truth["rate_hz"]
    out["steps"] = truth["activity"].get("steps", 0)
    mounting = truth.get("mounting")
    if mounting:
        r_sb = mounting["R_sensor_from_body"]
        out["mount"] = {"kind": mounting["name"],
                        "R_BS": [[r_sb[j][i] for j in range(3)] for i in range(3)]}
    return out


def forward_axis_error_deg(mount: dict, calibration: dict) -> float | None:
    """The angle between the true body forward axis and the one ``analyze --json`` committed,
    both in sensor coordinates: ``mount`` a field truth's (``R_BS``: row 0 is body x in the
    sensor frame), ``calibration`` the analysis's (``R_sensor_from_body``: column 0). None when
    the analysis committed no mounting."""
    r_sb = calibration.get("R_sensor_from_body") if calibration else None
    if not mount or not r_sb:
        return None
    true_x = np.asarray(mount["R_BS"], float)[0]
    est_x = np.asarray(r_sb, float)[:, 0]
    cos = float(true_x @ est_x / (np.linalg.norm(true_x) * np.linalg.norm(est_x)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
