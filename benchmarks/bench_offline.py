"""Whole-process `spinewise analyze` against the floor and a peer, on generated 50 Hz files.

    .venv/bin/python benchmarks/bench_offline.py                       # 24 h files in /tmp/spinewise-bench
    .venv/bin/python benchmarks/bench_offline.py --hours 3 --seed 2     # quicker

Files (generated once with spinewise.sim, reused when present):
- ``day``: a day of office life, no exercise session (``office_day`` scenario, --hours long);
- ``day+session``: the ``day24`` scenario (night, office, an evening exercise session);
- ``session``: one ``exercise_session`` (its natural length, ~1 h).

Per file, each a separate process measured by its own rusage (CPU = user + sys, so other
engineers' load on the shared machine does not count; wall time is printed too):
- ``analyze``: ``spinewise analyze FILE --json`` (parse included);
- ``floor``: pyarrow CSV read + VQF ``updateBatch`` on the same file (skipped when pyarrow is
  not installed);
- ``skdh``: scikit-digital-health's lumbar gait pipeline on the same file (optional: skipped with
  a note when the package is not installed).
Prints x real time (recording duration / CPU), peak RSS and the ratios; no asserts (issue 13).

``--stages`` adds, per file, where the analysis' CPU goes (one more process, the stages timed
from inside it; the wrappers add ~10 % on a day, 200,000 wrapped calls): imports, parsing,
the body tracker (VQF or the accelerometer low-pass, mounting calibration), step candidates
(body and day trackers each run one), the exercise tracker (10 Hz frames, then the per-frame
search: idle runs and ``_step``) and the day tracker.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATE_HZ = 50.0

FLOOR = r"""
import sys, numpy as np, pyarrow.csv as pc, vqf
tab = pc.read_csv(sys.argv[1])
t = tab.column("t").to_numpy()
acc = np.ascontiguousarray(np.column_stack([tab.column(c).to_numpy() for c in ("ax", "ay", "az")]) * 9.81)
gyr = np.ascontiguousarray(np.column_stack([tab.column(c).to_numpy(zero_copy_only=False) for c in ("gx", "gy", "gz")]))
gyr = np.ascontiguousarray(np.nan_to_num(np.radians(gyr)))
out = vqf.VQF(1.0 / 50.0).updateBatch(gyr, acc)
print(len(t), out["quat6D"].shape)
"""

SKDH = r"""
import sys, numpy as np, pyarrow.csv as pc, skdh
tab = pc.read_csv(sys.argv[1])
t = tab.column("t").to_numpy() + 1.7e9
acc = np.column_stack([tab.column(c).to_numpy() for c in ("ax", "ay", "az")])
gait = skdh.gait.GaitLumbar() if hasattr(skdh.gait, "GaitLumbar") else skdh.gait.Gait()
res = gait.predict(time=t, accel=acc, fs=50.0, height=1.75)
print(type(res))
"""


STAGES = r"""
import sys, time
t00 = time.process_time()
import numpy as np
from spinewise.commands.analyze import analyze_recording
from spinewise.signal.analyzer import Analyzer
from spinewise.signal.body_tracker import BodyTracker
from spinewise.signal.calibration import MountingCalibrator
from spinewise.signal.day import DayTracker
from spinewise.signal.exercise import idle
from spinewise.signal.exercise.frames import FrameBuilder
from spinewise.signal.exercise.tracker import ExerciseTracker
from spinewise.signal.gait import StepDetector
from spinewise.signal.orientation import GravityEstimator
T = {"imports": time.process_time() - t00}
N = {}

def wrap(owner, name, key):
    f = getattr(owner, name)
    def timed(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            T[key] = T.get(key, 0.0) + time.process_time() - t
            N[key] = N.get(key, 0) + 1
    setattr(owner, name, timed)

for owner, name, key in [(Analyzer, "update", "analyzer"), (BodyTracker, "update", "body"),
                         (GravityEstimator, "update", "body: gravity"),
                         (StepDetector, "update", "steps (body + day)"),
                         (MountingCalibrator, "update", "body: calibration"),
                         (ExerciseTracker, "update", "exercise"),
                         (FrameBuilder, "update", "exercise: frames"),
                         (ExerciseTracker, "_step", "exercise: _step"),
                         (idle, "idle_run", "exercise: idle runs"),
                         (DayTracker, "update", "day")]:
    wrap(owner, name, key)
t0 = time.process_time()
analyze_recording(sys.argv[1])
total = time.process_time() - t0
T["reading and the rest"] = total - T["analyzer"]
del T["analyzer"]
for k in ["imports", "reading and the rest", "body", "body: gravity", "body: calibration",
          "steps (body + day)", "exercise", "exercise: frames", "exercise: idle runs",
          "exercise: _step", "day"]:
    calls = f"  ({N[k]:,} calls)" if k in ("exercise: _step", "exercise: idle runs") else ""
    print(f"    {k:22s} {T.get(k, 0.0):7.2f} s{calls}")
print(f"    {'total':22s} {time.process_time() - t00:7.2f} s")
"""


def _generate(kind: str, path: Path, hours: float, seed: int) -> None:
    from spinewise.sim import simulate
    scenario = {"day": "office_day", "day+session": "day24", "session": "exercise_session"}[kind]
    duration = None if kind == "session" else hours * 3600.0
    t0 = time.perf_counter()
    sim = simulate(scenario, seed=seed, rate_hz=RATE_HZ, duration_s=duration)
    sim.save(path)
    print(f"  generated {path.name}: {sim.duration_s / 3600:.2f} h in {time.perf_counter() - t0:.0f} s")


def _run(cmd: list[str]) -> tuple[float, float, float, int]:
    """(cpu_s, wall_s, peak_rss_mb, returncode) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        print(f"    {cmd[:3]} failed ({p.returncode}): {err.strip().splitlines()[-1:]}")
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss / 1024.0, p.returncode


def _duration_s(path: Path) -> float:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 4096))
        last = f.read().decode().strip().splitlines()[-1]
    return float(last.split(",")[0]) + 1.0 / RATE_HZ


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="length of the day files")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/spinewise-bench")
    ap.add_argument("--files", default="day,day+session,session",
                    help="comma-separated subset of day, day+session, session")
    ap.add_argument("--stages", action="store_true",
                    help="also print where the analysis' CPU goes, stage by stage")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    spinewise = str(Path(py).with_name("spinewise"))
    have_arrow = importlib.util.find_spec("pyarrow") is not None
    have_skdh = importlib.util.find_spec("skdh") is not None
    if not have_arrow:
        print("note: pyarrow not installed: no floor (pip install pyarrow)")
    if not have_skdh:
        print("note: scikit-digital-health not installed: no peer figures (pip install scikit-digital-health)")
    rows = []
    for kind in args.files.split(","):
        tag = kind.replace("+", "_")
        hours = "" if kind == "session" else f"_{args.hours:g}h"
        path = out / f"bench_offline_{tag}{hours}_seed{args.seed}.csv"
        if not path.exists():
            _generate(kind, path, args.hours, args.seed)
        dur = _duration_s(path)
        print(f"{kind}: {path} ({dur / 3600:.2f} h, {path.stat().st_size / 1e6:.0f} MB)")
        res = {"analyze": _run([spinewise, "analyze", str(path), "--json"])}
        if have_arrow:
            res["floor"] = _run([py, "-c", FLOOR, str(path)])
        if have_skdh:
            res["skdh"] = _run([py, "-c", SKDH, str(path)])
        for name, (cpu, wall, rss, rc) in res.items():
            print(f"  {name:8s} cpu {cpu:7.2f} s = {dur / max(cpu, 1e-9):8,.0f}x real time   "
                  f"wall {wall:7.2f} s   peak {rss:6.0f} MB" + ("" if rc == 0 else "   (FAILED)"))
        a = res["analyze"][0]
        for name in ("floor", "skdh"):
            if name in res and res[name][3] == 0:
                print(f"  analyze / {name}: {a / max(res[name][0], 1e-9):.2f}x the CPU time")
        rows.append((kind, dur, a))
        if args.stages:
            print("  analyze, CPU by stage:")
            sys.stdout.flush()
            subprocess.run([py, "-c", STAGES, str(path)], check=False)
    per_h = {k: a / (d / 3600.0) for k, d, a in rows}
    if len(per_h) > 1:
        print("analyze CPU per recorded hour: " + ", ".join(f"{k} {v:.2f} s" for k, v in per_h.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
