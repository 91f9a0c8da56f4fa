"""Generate long simulated recordings for load / speed benchmarks, and time the simulator.

    .venv/bin/python benchmarks/gen_recordings.py --out /tmp/sw-bench            # day24 at 50 Hz
    .venv/bin/python benchmarks/gen_recordings.py --scenario day24 --days 7 --rate 52 --out /tmp/sw
    .venv/bin/python benchmarks/gen_recordings.py --no-write                     # simulator speed only

Prints samples/s of generation (and of writing the CSV), peak RSS and file size. Files are
named ``<scenario>_<days>d_<rate>hz_seed<seed>.csv`` with their ``.truth.json``.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from spinewise.sim import simulate


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="day24")
    ap.add_argument("--days", type=float, default=1.0, help="length in days (day scenarios)")
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-gyro", action="store_true")
    ap.add_argument("--out", default="/tmp/spinewise-bench")
    ap.add_argument("--no-write", action="store_true", help="only generate (time the simulator)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    duration = None if args.scenario == "exercise_session" else args.days * 86400.0
    sim = simulate(args.scenario, seed=args.seed, rate_hz=args.rate, duration_s=duration,
                   gyro=not args.no_gyro)
    plan_s = time.perf_counter() - t0
    print(f"plan: {len(sim.segments)} segments, {sim.n_samples} samples "
          f"({sim.duration_s / 3600:.1f} h at {args.rate:g} Hz) in {plan_s:.2f} s")
    t0 = time.perf_counter()
    if args.no_write:
        n = sum(len(c) for c in sim.chunks(4096))
        path = None
    else:
        days = f"{args.days:g}d_" if duration else ""
        path, _ = sim.save(Path(args.out) / f"{args.scenario}_{days}{args.rate:g}hz_seed{args.seed}.csv")
        n = sim.n_samples
    dt = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = "generated" if args.no_write else "generated + written"
    print(f"{what}: {n} samples in {dt:.1f} s = {n / dt:,.0f} samples/s "
          f"({sim.duration_s / dt:,.0f}x real time); peak RSS {rss_mb:.0f} MB")
    if path is not None:
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    a = sim.truth["activity"]
    print("truth: " + ", ".join(f"{k} {a[k]:.0f}" for k in
                                ("sitting_s", "standing_s", "walking_s", "lying_s", "exercise_s",
                                 "sedentary_s", "steps", "breaks"))
          + f", slouch_s {sim.truth['posture']['slouch_s']:.0f}, sets {len(sim.truth['sets'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
