"""Plank / side-plank holds over fresh simulator seeds: found, timing, phantom holds.

Sessions of prone press-up, plank (knee + full), side plank (both sides) and bird dog (the
hands-and-knees pose sits in the plank's angle range), random mounting, a random rate in
25-104 Hz, gyro on 60 % of seeds, through the real Analyzer. A truth hold is found when a
detected hold overlaps it; phantom = a detected hold overlapping none. Prints misses and
timing errors over 2 s, then per gyro / accelerometer-only: found, median |duration error|,
median signed start / end error, phantoms.

    .venv/bin/python benchmarks/accuracy_holds.py --seeds 7000-7011
"""
from __future__ import annotations

import argparse

import numpy as np
from _common import parse_seeds
from accuracy_exercise import RATES_HZ, _overlap, run_tracker

EXERCISES = ["prone_press_up", "plank", "side_plank", "bird_dog"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="7000-7011")
    args = ap.parse_args()
    from spinewise.sim.api import simulate
    tot = {True: [0, 0, 0, [], []], False: [0, 0, 0, [], []]}
    for seed in parse_seeds(args.seeds):
        rng = np.random.default_rng(seed)
        rate = float(rng.choice(RATES_HZ))
        gyro = bool(rng.random() < 0.6)
        sim = simulate("exercise_session", seed=seed, rate_hz=rate, gyro=gyro, exercises=EXERCISES)
        det = run_tracker(sim, False)[0]["holds"]
        used: set[int] = set()
        T = tot[gyro]
        for h in sim.truth["holds"]:
            best, best_ov = None, 0.0
            for i, d in enumerate(det):
                ov = _overlap(h["start_s"], h["end_s"], d["start_s"], d["end_s"])
                if i not in used and ov > best_ov:
                    best, best_ov = i, ov
            T[0] += 1
            what = (f"seed {seed} {rate:g} Hz gyro={gyro} {h['exercise']} entry={h['entry']} "
                    f"elevation {h['incline_deg']:.1f} deg effort {h['effort_dps'][0]:.1f} dps")
            if best is None:
                print(f"  missed  {what} {h['start_s']:.1f}-{h['end_s']:.1f}")
                continue
            used.add(best)
            d = det[best]
            T[1] += 1
            T[3].append(abs(d["duration_s"] - h["duration_s"]))
            T[4].append((d["start_s"] - h["start_s"], d["end_s"] - h["end_s"]))
            if abs(d["duration_s"] - h["duration_s"]) > 2.0 or d["exercise"] != h["exercise"]:
                print(f"  timing  {what} -> {d['exercise']} start {T[4][-1][0]:+.1f} s end {T[4][-1][1]:+.1f} s")
        for i, d in enumerate(det):
            if i not in used:
                T[2] += 1
                print(f"  phantom seed {seed} gyro={gyro} {d['exercise']} {d['start_s']:.1f}-{d['end_s']:.1f}")
    for gyro, (n, found, phantom, err, se) in tot.items():
        if not n:
            continue
        se_a = np.asarray(se) if se else np.full((1, 2), np.nan)
        print(f"{'gyro' if gyro else 'accelerometer only'}: holds {found}/{n} found "
              f"({100.0 * found / n:.1f} %), |duration error| median {np.median(err) if err else float('nan'):.2f} s, "
              f"start {np.median(se_a[:, 0]):+.2f} s, end {np.median(se_a[:, 1]):+.2f} s, phantom holds {phantom}")


if __name__ == "__main__":
    main()
