"""``spinewise simulate``: write a simulated recording (CSV) and its truth (FILE.truth.json)."""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a lower-back IMU recording with ground truth",
                       description="Write a simulated lower-back IMU recording (CSV) and its ground "
                                   "truth (FILE.truth.json); see spinewise/sim/README.md.")
    p.add_argument("--scenario", required=True,
                   help="exercise_session | office_day | mixed | day24 | office_snippet")
    p.add_argument("--seed", type=int, default=0, help="person, plan and sensor draws (default 0)")
    p.add_argument("--rate", type=float, default=50.0, help="sample rate, 25-104 Hz (default 50)")
    p.add_argument("--out", required=True, help="output CSV; the truth goes to OUT.truth.json")
    p.add_argument("--mount", default="random",
                   help="random (any fixed rotation, default) | upright | belt_x_up | belt_x_down | "
                        "belt_y_up | skewed | euler:Z,Y,X")
    p.add_argument("--no-gyro", action="store_true", help="accelerometer only (gx,gy,gz empty)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds (day scenarios: office_day 28800, mixed 3600, day24 86400 by default)")
    p.add_argument("--exercises", default=None,
                   help="comma-separated subset for the exercise sessions, e.g. plank,bird_dog")
    p.add_argument("--start", default=None, help="UTC ISO time of the first sample "
                                                 "(default 2026-01-05T08:00:00Z, a Monday)")
    p.add_argument("--acc-noise", type=float, default=None, help="accelerometer noise, g RMS")
    p.add_argument("--gyro-noise", type=float, default=None, help="gyro noise, deg/s RMS")
    p.add_argument("--gyro-bias", type=float, default=None,
                   help="max gyro bias per axis, deg/s (drawn within +-value)")
    p.add_argument("--acc-bias", type=float, default=None, help="max acc bias per axis, g")
    p.add_argument("--gyro-drift", type=float, default=None,
                   help="RMS of the slow gyro bias wander, deg/s (default drawn 0.01-0.1)")
    p.add_argument("--ideal", action="store_true", help="no noise and no bias")
    p.add_argument("--dose-scale", type=float, default=1.0,
                   help="scale the guide's rep counts (e.g. 0.3 for short recordings)")
    p.add_argument("--bad-form-rate", type=float, default=0.25,
                   help="share of sets / holds with a form fault, 0-1 (default 0.25)")
    p.add_argument("--sets", type=int, default=1, help="sets per exercise (default 1)")
    p.add_argument("--no-calibration-intro", action="store_true",
                   help="start without the standing + walking intro")
    p.add_argument("--decimals", type=int, default=None,
                   help="decimals for ax..gz (default: exact shortest form)")
    p.add_argument("--device-id", default="sim")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spinewise.sim import simulate

    exercises = [e.strip() for e in args.exercises.split(",") if e.strip()] if args.exercises else None
    try:
        sim = simulate(args.scenario, seed=args.seed, rate_hz=args.rate, mount=args.mount,
                       gyro=not args.no_gyro, duration_s=args.duration, exercises=exercises,
                       start_utc=args.start, acc_noise_g=args.acc_noise, gyro_noise_dps=args.gyro_noise,
                       gyro_bias_dps=args.gyro_bias, acc_bias_g=args.acc_bias,
                       gyro_drift_dps=args.gyro_drift, noise=not args.ideal,
                       dose_scale=args.dose_scale, bad_form_rate=args.bad_form_rate,
                       sets=args.sets, calibration=not args.no_calibration_intro,
                       device_id=args.device_id)
    except ValueError as exc:
        print(f"spinewise simulate: {exc}", file=sys.stderr)
        return 2
    try:
        csv_path, truth_path = sim.save(args.out, decimals=args.decimals)
    except (ValueError, OSError) as exc:
        print(f"spinewise simulate: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    a = sim.truth["activity"]
    print(f"wrote {csv_path} ({sim.n_samples} samples, {sim.duration_s:.1f} s at {sim.rate_hz:g} Hz, "
          f"gyro {'yes' if sim.has_gyro else 'no'}) and {truth_path}: {len(sim.truth['sets'])} sets, "
          f"{len(sim.truth['holds'])} holds, {a['steps']} steps, slouch {sim.truth['posture']['slouch_s']:.0f} s")
    return 0

