"""``simulate(scenario, seed, rate_hz, **options) -> Simulation``: the one entry point."""
from __future__ import annotations

import warnings
from datetime import datetime, timezone

import numpy as np

from spinewise.sim import scenarios
from spinewise.sim.person import draw_person
from spinewise.sim.plan import Planner
from spinewise.sim.sensor import draw_sensor, parse_mount
from spinewise.sim.simulation import Simulation
from spinewise.sim.truth import build_truth

# A Monday, 08:00 UTC (coaching's default timezone is UTC): office hours fall outside the
# 22:00-07:00 quiet hours.
DEFAULT_START_UTC = "2026-01-05T08:00:00Z"
MIN_RATE_HZ, MAX_RATE_HZ = 25.0, 104.0


def _rng(seed: int, stream: int) -> np.random.Generator:
    # independent streams: the body/plan does not change when the mounting or noise options do
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stream])


def parse_start(start_utc: str | None) -> datetime:
    text = (start_utc or DEFAULT_START_UTC).strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"start {text!r}: expected an ISO time like {DEFAULT_START_UTC}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def simulate(scenario: str, seed: int = 0, rate_hz: float = 50.0, *, mount: str = "random",
             gyro: bool = True, duration_s: float | None = None, exercises: list[str] | None = None,
             start_utc: str | None = None, acc_noise_g: float | None = None,
             gyro_noise_dps: float | None = None, gyro_bias_dps: float | list | None = None,
             acc_bias_g: float | list | None = None, gyro_drift_dps: float | None = None,
             quantize: bool = True, noise: bool = True,
             dose_scale: float = 1.0, bad_form_rate: float = 0.25, sets: int = 1,
             calibration: bool = True, gait: str = "wide", device_id: str = "sim") -> Simulation:
    """Plan a scenario for a person drawn from ``seed`` and return the (lazy) Simulation.

    mount: "random" (any fixed rotation, per seed), a named mount (spinewise.sim.sensor.NAMED_MOUNTS,
    "upright" = sensor axes on body axes) or "euler:Z,Y,X" degrees. gyro=False: accelerometer only.
    noise=False: an ideal sensor (no noise, no bias; quantisation still applies unless quantize=False).
    Noise options override the per-seed draws (acc noise 0.002-0.02 g, gyro bias up to +-2 deg/s,
    slow gyro bias wander RMS 0.01-0.1 deg/s).
    duration_s: length of the day scenarios (office_day 8 h, mixed 1 h, day24 24 h by default); for
    exercise_session it cuts the session. exercises: subset for the sessions. dose_scale scales the
    number of reps (guide doses at 1.0), e.g. 0.3 for short fixtures. bad_form_rate: share of
    sets / holds done with a form fault (default 0.25). sets: sets per exercise (plank: the knee
    plank once, then forearm planks; side plank: both sides per set). calibration=False drops the
    standing + walking intro. gait: "wide" (default) or "classic" gait priors (sim/person.py).
    """
    if not MIN_RATE_HZ <= float(rate_hz) <= MAX_RATE_HZ:
        raise ValueError(f"rate_hz {rate_hz}: must be within {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz")
    if duration_s is not None and duration_s <= 0:
        raise ValueError("duration_s must be positive")
    if dose_scale <= 0:
        raise ValueError("dose_scale must be positive")
    if not 1 <= int(sets) <= 10:
        raise ValueError("sets must be within 1-10")
    if not 0.0 <= bad_form_rate <= 1.0:
        raise ValueError("bad_form_rate must be within 0-1")
    start = parse_start(start_utc)
    person = draw_person(_rng(seed, 1), gait)
    planner = Planner(person, _rng(seed, 2), heading_deg=float(_rng(seed, 5).uniform(0, 360)))
    planner.dose_scale = float(dose_scale)
    planner.bad_form_rate = float(bad_form_rate)
    planner.sets_per_exercise = int(sets)
    cut = scenarios.build(scenario, planner, duration_s, exercises, start, calibration=calibration)
    segments = planner.segments
    end = segments[-1].end_s
    total = end if cut is None else min(cut, end)
    n = max(1, int(np.floor(total * rate_hz + 1e-9)))
    total = n / float(rate_hz)
    segments = _cut(segments, total)
    set_truth = _cut_sets(planner.sets, total)
    holds = [h for h in planner.holds if h["set_end_s"] <= total]
    slouch = [[a, b if b is not None else total, depth] for a, b, depth in planner.slouch_bouts if a < total]

    mount_name, rot = parse_mount(mount, _rng(seed, 3))
    R = rot.as_matrix()
    if noise:
        sensor = draw_sensor(_rng(seed, 4), R, gyro, acc_noise_g, gyro_noise_dps, gyro_bias_dps,
                             acc_bias_g, quantize, gyro_drift_dps)
    else:
        sensor = draw_sensor(_rng(seed, 4), R, gyro, 0.0, 0.0, [0, 0, 0], [0, 0, 0], quantize,
                             gyro_drift_dps=0.0)
    with warnings.catch_warnings():   # euler angles are informative only; gimbal lock is fine
        warnings.simplefilter("ignore", UserWarning)
        euler = np.round(rot.as_euler("zyx", degrees=True), 4).tolist()
    truth = {"scenario": scenario, "seed": int(seed), "rate_hz": float(rate_hz),
             "start_utc": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "has_gyro": bool(gyro),
             "mounting": {"name": mount_name, "R_sensor_from_body": np.round(R, 9).tolist(),
                          "euler_deg": euler,
                          "euler_convention": "scipy Rotation.from_euler('zyx', deg): "
                                              "extrinsic z, then y, then x"},
             "sensor": sensor.truth(), "person": person.to_dict(),
             "options": {"exercises": list(exercises) if exercises else None, "dose_scale": dose_scale,
                         "bad_form_rate": bad_form_rate, "sets": int(sets),
                         "calibration_intro": calibration, "noise": noise, "gait": gait}}
    truth.update(build_truth(segments, set_truth, holds, slouch, total))
    return Simulation(scenario=scenario, seed=int(seed), rate_hz=float(rate_hz), segments=segments,
                      sensor=sensor, truth=truth, n_samples=n, device_id=device_id,
                      start_utc=truth["start_utc"])


def _cut(segments, total_s):
    out = []
    for s in segments:
        if s.start_s >= total_s - 1e-9:
            break
        if s.end_s > total_s:
            s.duration_s = total_s - s.start_s
            hs = getattr(s, "heel_strikes_s", None)
            if hs is not None and "steps" in s.info:
                s.info["steps"] = int(np.sum(hs < s.duration_s))
            s.info["truncated"] = True
        out.append(s)
    if out and out[-1].end_s < total_s:       # round up to the sample grid: hold the last pose
        out[-1].duration_s = total_s - out[-1].start_s
    return out


def _cut_sets(sets, total_s):
    out = []
    for st in sets:
        reps = [r for r in st["reps_detail"] if r["end_s"] <= total_s]
        if not reps:
            continue
        if len(reps) != len(st["reps_detail"]):
            st = dict(st, reps_detail=reps, reps=len(reps), end_s=reps[-1]["end_s"], truncated=True,
                      reps_left=sum(r["side"] == "left" for r in reps),
                      reps_right=sum(r["side"] == "right" for r in reps))
        out.append(st)
    return out
