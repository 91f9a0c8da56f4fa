"""Exercise recognition accuracy over simulated sessions the tracker was not tuned on.

For each seed: a full ``exercise_session`` (all nine exercises, random mounting, a random rate
in 25-104 Hz, gyro or accelerometer-only), run through the real Analyzer path (BodyTracker
calibration) or ``--oracle`` (the simulator's mounting), then the ExerciseTracker. Detected
sets/holds are matched to truth by time overlap. Prints a markdown table per exercise:

- label: detected set/hold overlapping a truth one carries the right exercise name
- exact / +-1: rep count exact / within one (sets; unmatched truth sets count as misses)
- hold |err| median: hold duration error (plank, side plank)
- spurious reps per hour of office_day (``--office-hours``)

Development seeds were 0-299 (0-29 in the first rounds); the tables in docs/exercise-accuracy.md
use seeds 3000-3059 (never used in development) and 1000-1039 (held out in earlier rounds).

    .venv/bin/python benchmarks/accuracy_exercise.py --seeds 3000-3059 --office-hours 4 --office-seeds 3200-3203
    .venv/bin/python benchmarks/accuracy_exercise.py --speed     # tracker cost, us/sample
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _common import parse_seeds

from spinewise.config import SignalConfig
from spinewise.signal.exercise import ExerciseTracker
from spinewise.signal.exercise.oracle import OracleBody
from spinewise.signal.exercise.recognise import EXERCISES, HOLDS

RATES_HZ = (25.0, 26.0, 50.0, 52.0, 100.0, 104.0)


def run_tracker(sim, oracle: bool, chunk: int = 256):
    """(summary, events, tracker) of one simulation through the chosen body path."""
    cfg = SignalConfig()
    if oracle:
        body = OracleBody(sim.truth["mounting"]["R_sensor_from_body"], sim.rate_hz, sim.has_gyro)
        tracker = ExerciseTracker(cfg, sim.rate_hz)
        events = []
        for c in sim.chunks(chunk):
            events += tracker.update(body.update(c))
        events += tracker.finish()
        return tracker.summary(), events
    from spinewise.signal.analyzer import Analyzer
    an = Analyzer(cfg, rate_hz=sim.rate_hz)
    events = []
    for c in sim.chunks(chunk):
        events += an.update(c)
    events += an.finish()
    summ = an.summary()
    return {"sets": summ.get("sets", []), "holds": summ.get("holds", [])}, events


def _overlap(a0, a1, b0, b1) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def score_session(truth: dict, summary: dict) -> list[dict]:
    """One row per truth set/hold (+ one per unmatched detection), for aggregation."""
    rows = []
    det = [dict(d, kind="set") for d in summary["sets"]] + [dict(d, kind="hold") for d in summary["holds"]]
    used = set()
    items = [("set", s) for s in truth["sets"]] + [("hold", h) for h in truth["holds"]]
    for kind, t in items:
        t0, t1 = t["start_s"], t["end_s"]
        best, best_ov = None, 0.0
        for i, d in enumerate(det):
            if i in used:
                continue
            ov = _overlap(t0, t1, d["start_s"], d["end_s"])
            if ov > best_ov:
                best, best_ov = i, ov
        row = {"exercise": t["exercise"], "kind": kind, "matched": best is not None}
        if best is not None:
            used.add(best)
            d = det[best]
            row["label_ok"] = d["exercise"] == t["exercise"]
            row["detected"] = d["exercise"]
            if kind == "set":
                row["rep_err"] = (d.get("reps", 0) if d["kind"] == "set" else 0) - t["reps"]
            else:
                row["dur_err"] = (d.get("duration_s", 0.0) if d["kind"] == "hold" else 0.0) - t["duration_s"]
        rows.append(row)
    for i, d in enumerate(det):
        if i not in used:
            rows.append({"exercise": d["exercise"], "kind": "spurious", "matched": False,
                         "reps": d.get("reps", 0)})
    return rows


def _session(args) -> tuple[int, float, bool, list[dict], float]:
    seed, oracle, bodies = args
    from spinewise.sim.api import simulate
    rng = np.random.default_rng(seed)
    rate = float(rng.choice(RATES_HZ))
    gyro = bool(rng.random() < 0.6)
    sim = simulate("exercise_session", seed=seed, rate_hz=rate, gyro=gyro, bodies=bodies)
    t = time.perf_counter()
    summary, _ = run_tracker(sim, oracle)
    return seed, rate, gyro, score_session(sim.truth, summary), time.perf_counter() - t


def _office(args) -> tuple[float, int, list]:
    seed, hours, oracle = args
    from spinewise.sim.api import simulate
    sim = simulate("office_day", seed=seed, rate_hz=50.0, duration_s=hours * 3600.0,
                   gyro=bool(seed % 2))
    summary, _ = run_tracker(sim, oracle, chunk=2048)
    reps = sum(s["reps"] for s in summary["sets"])
    return sim.duration_s / 3600.0, reps, [(s["exercise"], s["start_s"]) for s in summary["sets"]] + \
        [(h["exercise"], h["start_s"]) for h in summary["holds"]]


def speed(seed: int = 5) -> None:
    """ExerciseTracker cost alone, us per IMU sample, on two ~40 min double-set sessions at
    50 Hz (gyro and accelerometer-only); the body frames are computed once beforehand."""
    from spinewise.signal.analyzer import Analyzer
    from spinewise.sim.api import simulate
    for gyro in (True, False):
        sim = simulate("exercise_session", seed=seed, rate_hz=50.0, gyro=gyro, sets=2)
        an = Analyzer(SignalConfig(), rate_hz=50.0)
        bodies = [b for b, _ in (an.body.update(c) for c in sim.chunks(256)) if len(b)]
        n = sum(len(b) for b in bodies)
        tracker = ExerciseTracker(SignalConfig(), 50.0)
        t = time.perf_counter()
        events = []
        for b in bodies:
            events += tracker.update(b)
        events += tracker.finish()
        dt = time.perf_counter() - t
        print(f"ExerciseTracker, seed {seed}, gyro={gyro}: {n / 50.0 / 60.0:.0f} min, "
              f"{1e6 * dt / n:.1f} us/sample ({dt:.2f} s), {len(events)} events")


def table(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in rows:
        by[r["exercise"]].append(r)
    lines = ["| exercise | truth | label ok | reps exact | reps +-1 | hold abs err median (s) | spurious |",
             "|---|---|---|---|---|---|---|"]
    tot = defaultdict(int)
    for ex in EXERCISES:
        rs = by.get(ex, [])
        truth = [r for r in rs if r["kind"] in ("set", "hold")]
        spur = sum(1 for r in rs if r["kind"] == "spurious")
        lab = sum(1 for r in truth if r.get("label_ok"))
        if ex in HOLDS:
            errs = [abs(r["dur_err"]) for r in truth if r.get("label_ok") and "dur_err" in r]
            med = f"{np.median(errs):.2f}" if errs else "-"
            lines.append(f"| {ex} | {len(truth)} | {_pct(lab, len(truth))} | - | - | {med} | {spur} |")
        else:
            ok = [r for r in truth if r.get("label_ok")]
            exact = sum(1 for r in ok if r["rep_err"] == 0)
            pm1 = sum(1 for r in ok if abs(r["rep_err"]) <= 1)
            tot["sets"] += len(truth)
            tot["exact"] += exact
            tot["pm1"] += pm1
            lines.append(f"| {ex} | {len(truth)} | {_pct(lab, len(truth))} | {_pct(exact, len(truth))} "
                         f"| {_pct(pm1, len(truth))} | - | {spur} |")
        tot["truth"] += len(truth)
        tot["label"] += lab
        tot["spur"] += spur
    lines.append(f"| **all** | {tot['truth']} | {_pct(tot['label'], tot['truth'])} | "
                 f"{_pct(tot['exact'], tot['sets'])} | {_pct(tot['pm1'], tot['sets'])} | | {tot['spur']} |")
    return "\n".join(lines)


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.0f} % ({a}/{b})" if b else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1000-1019", help="e.g. 1000-1039 or 1,2,3")
    ap.add_argument("--oracle", action="store_true", help="use the simulator's mounting (skip calibration)")
    ap.add_argument("--office-hours", type=float, default=0.0, help="hours of office_day per seed")
    ap.add_argument("--office-seeds", default="2000-2001")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bodies", default="classic", choices=("classic", "wide"),
                    help="wide: rep exercises done the way varied real bodies do (sim.exercises.WideReps)")
    ap.add_argument("--verbose", action="store_true", help="print every mismatch")
    ap.add_argument("--speed", action="store_true", help="only time the ExerciseTracker (us/sample)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.speed:
        speed()
        return 0
    seeds = parse_seeds(args.seeds)
    rows, secs = [], []
    with ProcessPoolExecutor(args.jobs) as ex:
        for seed, rate, gyro, rs, dt in ex.map(_session, [(s, args.oracle, args.bodies) for s in seeds]):
            rows += rs
            secs.append(dt)
            if args.verbose:
                for r in rs:
                    bad = (r["kind"] == "spurious" or not r.get("label_ok")
                           or r.get("rep_err", 0) != 0 or abs(r.get("dur_err", 0)) > 1)
                    if bad:
                        print(f"seed {seed} {rate:g} Hz gyro={gyro}: {r}", file=sys.stderr)
        office = []
        if args.office_hours > 0:
            office = list(ex.map(_office, [(s, args.office_hours, args.oracle)
                                           for s in parse_seeds(args.office_seeds)]))
    path = "oracle mounting" if args.oracle else "Analyzer (auto-calibrated mounting)"
    print(f"Exercise accuracy: {len(seeds)} exercise_session seeds ({args.seeds}, {args.bodies} bodies), {path}, "
          f"rates {', '.join(f'{r:g}' for r in RATES_HZ)} Hz, ~60 % with gyro, random mounting.\n")
    print(table(rows))
    if office:
        hours = sum(o[0] for o in office)
        reps = sum(o[1] for o in office)
        print(f"\noffice_day: {hours:.1f} h, {reps} spurious reps ({reps / hours:.2f} per hour), "
              f"spurious sets/holds: {sum(len(o[2]) for o in office)}")
        if args.verbose:
            for o in office:
                print(o[2], file=sys.stderr)
    print(f"\ntracker time per session: median {np.median(secs):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
