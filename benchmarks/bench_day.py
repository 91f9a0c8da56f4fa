"""Speed and memory of the daily signal chain on a simulated 24 h, 50 Hz recording.

    .venv/bin/python benchmarks/bench_day.py [--hours 24] [--rate 50] [--cache DIR] [--fusion]
    .venv/bin/python benchmarks/bench_day.py --per-call [--chunk 25] [--profile]

Prints, separately: the CSV parse time (spinewise.recording.read_chunks), the analysis time
of BodyTracker + DayTracker (orientation, calibration, activity, sedentary, slouch) and of
the whole Analyzer (+ the ExerciseTracker), as real-time factors, plus memory: the peak
RSS of the process and the pickled state size after 1/4, 1/2 and all of the day (constant
memory means it does not grow). ``--fusion`` compares VQF, imufusion and the
accelerometer low-pass on inclination accuracy against the simulator's truth and speed.
If scikit-digital-health is installed its gait pipeline runs on the same file for a ratio.

``--per-call`` measures the fixed cost of one ``Analyzer(exercise=False).update`` call, which
dominates live (an MQTT message carries 0.5 s = 25 samples at 50 Hz): a 20-min 'mixed'
simulation held in memory is fed in ``--chunk``-sample chunks (and in 4096-sample chunks for
comparison), best of 3 runs, printed as us/call and us/sample; ``--profile`` adds a cProfile
of the small-chunk run.
"""
from __future__ import annotations

import argparse
import pickle
import resource
import time
from pathlib import Path

import numpy as np

from spinewise.config import SignalConfig
from spinewise.recording import read_chunks, write_csv
from spinewise.signal.analyzer import Analyzer


def _recording(cache: Path, hours: float, rate: float, seed: int) -> Path:
    path = cache / f"day24_s{seed}_{hours:g}h_{rate:g}hz.csv"
    if path.exists():
        return path
    from spinewise.sim import simulate
    cache.mkdir(parents=True, exist_ok=True)
    print(f"simulating {hours:g} h at {rate:g} Hz (once; cached in {path}) ...", flush=True)
    t = time.perf_counter()
    sim = simulate("day24", seed=seed, rate_hz=rate, duration_s=hours * 3600)
    write_csv(path, sim.chunks(1 << 16), decimals=6)
    (path.with_suffix(".truth.json")).write_text(__import__("json").dumps(sim.truth))
    print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
    return path


def _parse_only(path: Path, chunk: int) -> tuple[float, int]:
    t = time.perf_counter()
    n = sum(len(c) for c in read_chunks(path, chunk))
    return time.perf_counter() - t, n


def _analyse(path: Path, chunk: int, exercise: bool, duration_s: float) -> dict:
    an = Analyzer(SignalConfig(), posture_rate_hz=0.0, exercise=exercise)
    t_an, n = 0.0, 0
    marks = [0.25, 0.5]
    state_sizes = []
    for c in read_chunks(path, chunk):
        t = time.perf_counter()
        an.update(c)
        t_an += time.perf_counter() - t
        n += len(c)
        if marks and c.t_s[-1] >= marks[0] * duration_s:
            marks.pop(0)
            state_sizes.append(len(pickle.dumps(an.get_state())))
    t = time.perf_counter()
    an.finish()
    t_an += time.perf_counter() - t
    state_sizes.append(len(pickle.dumps(an.get_state())))
    return {"seconds": t_an, "samples": n, "state_bytes": state_sizes, "summary": an.summary()}


def _fusion(rate: float, seed: int) -> None:
    """Inclination error of VQF / imufusion / acc low-pass vs truth, walking and exercise."""
    import imufusion

    from spinewise.signal.orientation import GravityEstimator
    from spinewise.sim import simulate
    sim = simulate("mixed", seed=seed, rate_hz=rate, duration_s=1800, gyro_bias_dps=2.0,
                   acc_noise_g=0.02)
    rec = sim.recording()
    truth = sim.body_truth(rec.t_s)
    R = np.asarray(sim.truth["mounting"]["R_sensor_from_body"])
    up_true = truth["up_body"]
    seg_act = np.array([s["activity"] for s in sim.truth["segments"]])
    starts = np.array([s["start_s"] for s in sim.truth["segments"]])
    act = seg_act[np.clip(np.searchsorted(starts, rec.t_s, side="right") - 1, 0, len(starts) - 1)]

    def err(up_sensor):
        up_b = up_sensor @ R
        d = np.degrees(np.arccos(np.clip(np.sum(up_b * up_true, axis=1), -1, 1)))
        return {k: float(np.sqrt(np.mean(d[act == k] ** 2))) for k in ("walking", "exercise", "sitting")}

    out = {}
    t = time.perf_counter()
    g = GravityEstimator(rate, True)
    up = g.update(rec.acc_g, rec.gyro_dps)
    out["vqf (spinewise)"] = (err(up), time.perf_counter() - t)
    t = time.perf_counter()
    up = GravityEstimator(rate, False).update(rec.acc_g, None)
    out["acc low-pass 0.3 Hz"] = (err(up), time.perf_counter() - t)
    ahrs = imufusion.Ahrs()                 # defaults: gain 0.5, acceleration rejection on
    ahrs.set_sample_period(1.0 / rate)
    t = time.perf_counter()
    ups = np.empty((len(rec), 3))
    gyro, acc = rec.gyro_dps, rec.acc_g
    for i in range(len(rec)):
        ahrs.update_no_magnetometer(gyro[i], acc[i])
        ups[i] = ahrs.get_gravity()
    out["imufusion (python loop)"] = (err(ups), time.perf_counter() - t)
    n = len(rec)
    print(f"\norientation on 'mixed' 30 min, {rate:g} Hz, gyro bias up to 2 deg/s, acc noise 0.02 g")
    print(f"{'filter':<26}{'walking':>9}{'exercise':>10}{'sitting':>9}  (RMS inclination error, deg)  us/sample")
    for name, (e, secs) in out.items():
        print(f"{name:<26}{e['walking']:>9.2f}{e['exercise']:>10.2f}{e['sitting']:>9.2f}"
              f"{'':>31}{1e6 * secs / n:>8.2f}")


def _truth_steps(path: Path, hours: float) -> str:
    truth = path.with_suffix(".truth.json")
    if not truth.exists():
        return ""
    import json
    segs = json.loads(truth.read_text())["segments"]
    n = sum(s.get("steps", 0) for s in segs
            if s["activity"] == "walking" and s["end_s"] <= hours * 3600)
    return f", truth {n}"


def _skdh(path: Path, chunk: int, hours: float) -> None:
    """scikit-digital-health (gait classifier + lumbar gait pipeline) on the same samples."""
    if hours <= 0:
        return
    try:
        import skdh
    except ImportError:
        print("scikit-digital-health: not installed; no side-by-side ratio")
        return
    from spinewise.stream import ImuChunk
    parts, n_max = [], None
    for c in read_chunks(path, 1 << 16):
        n_max = n_max or int(hours * 3600 * c.rate_hz)
        parts.append(c)
        if sum(len(p) for p in parts) >= n_max:
            break
    rec = ImuChunk.concat(parts).slice(0, n_max)
    t = time.perf_counter()
    an = Analyzer(SignalConfig(), posture_rate_hz=0.0, exercise=False)
    for c in rec.split(chunk):
        an.update(c)
    an.finish()
    t_sw = time.perf_counter() - t
    steps_sw = an.summary()["activity"]["steps"]
    try:
        t = time.perf_counter()
        unix = rec.t_s + 1.7e9                       # skdh wants unix seconds
        pred = skdh.context.PredictGaitLumbarLgbm().predict(time=unix, accel=rec.acc_g,
                                                             fs=rec.rate_hz)
        bouts = np.column_stack([pred["Gait Bout Start Index"], pred["Gait Bout Stop Index"]])
        gait = skdh.gait.GaitLumbar().predict(time=unix, accel=rec.acc_g, fs=rec.rate_hz,
                                              gait_bouts=bouts, height=1.75)
        t_sk = time.perf_counter() - t
        per_bout = dict(zip(np.asarray(gait.get("Bout N", [])).tolist(),
                            np.asarray(gait.get("Bout Steps", [])).tolist()))
        print(f"scikit-digital-health {skdh.__version__} on the first {hours:g} h: gait "
              f"classifier (LightGBM) + GaitLumbar {t_sk:.1f} s vs spinewise body+day {t_sw:.1f} s "
              f"(ratio {t_sk / t_sw:.1f}); steps: skdh {int(sum(per_bout.values()))} in "
              f"{len(per_bout)} bouts (>= 8 s), spinewise {steps_sw}{_truth_steps(path, hours)}")
    except Exception as exc:   # a third-party pipeline: report, do not crash the benchmark
        print(f"scikit-digital-health {skdh.__version__}: failed on this file: "
              f"{type(exc).__name__}: {exc}")


def _per_call(chunk: int, rate: float, seed: int, profile: bool) -> None:
    from spinewise.sim import simulate
    rec = simulate("mixed", seed=seed, rate_hz=rate, duration_s=1200).recording()
    print(f"Analyzer(exercise=False).update on 'mixed' 20 min, {rate:g} Hz, {len(rec)} samples")
    for size in dict.fromkeys([chunk, 4096]):
        parts = list(rec.split(size))
        best = np.inf
        for _ in range(3):
            an = Analyzer(SignalConfig(), posture_rate_hz=0.0, exercise=False)
            t = time.perf_counter()
            for c in parts:
                an.update(c)
            best = min(best, time.perf_counter() - t)
        print(f"  chunk {size:>5}: {len(parts):>6} calls  {1e6 * best / len(parts):9.1f} us/call  "
              f"{1e6 * best / len(rec):6.2f} us/sample  (best of 3)")
    if profile:
        import cProfile
        import pstats
        an = Analyzer(SignalConfig(), posture_rate_hz=0.0, exercise=False)
        prof = cProfile.Profile()
        prof.enable()
        for c in rec.split(chunk):
            an.update(c)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--cache", default="/tmp/spinewise-bench")
    ap.add_argument("--fusion", action="store_true")
    ap.add_argument("--no-full", action="store_true", help="skip the full Analyzer run")
    ap.add_argument("--skdh-hours", type=float, default=2.0,
                    help="hours of the file for the scikit-digital-health comparison (0: skip)")
    ap.add_argument("--per-call", action="store_true",
                    help="only the per-call cost of Analyzer.update at --chunk (e.g. 25)")
    ap.add_argument("--profile", action="store_true", help="with --per-call: cProfile it")
    args = ap.parse_args()
    if args.per_call:
        _per_call(args.chunk, args.rate, args.seed, args.profile)
        return
    path = _recording(Path(args.cache), args.hours, args.rate, args.seed)
    dur = args.hours * 3600
    t_parse, n = _parse_only(path, args.chunk)
    print(f"recording {path.name}: {n} samples, {dur / 3600:g} h")
    print(f"CSV parse only           {t_parse:7.2f} s   ({dur / t_parse:9.0f}x real time)")
    runs = [("body + day (no exercise)", False)] + ([] if args.no_full else [("full Analyzer", True)])
    for name, ex in runs:
        r = _analyse(path, args.chunk, ex, dur)
        kb = ", ".join(f"{b / 1024:.0f}" for b in r["state_bytes"])
        print(f"{name:<25}{r['seconds']:7.2f} s   ({dur / r['seconds']:9.0f}x real time, "
              f"{1e6 * r['seconds'] / r['samples']:.2f} us/sample; excludes parse)  "
              f"state after 1/4, 1/2, all: {kb} KiB")
        a = r["summary"]["activity"]
        print(f"{'':25}sedentary {a['sedentary_s'] / 60:.0f} min, walking {a['walking_s'] / 60:.0f} min, "
              f"steps {a['steps']}, sleep {a['sleep_s'] / 3600:.1f} h")
    truth = path.with_suffix(".truth.json")
    if truth.exists():
        import json
        ta = json.loads(truth.read_text())["activity"]
        print(f"{'truth':<25}sedentary {ta['sedentary_s'] / 60:.0f} min, walking {ta['walking_s'] / 60:.0f} "
              f"min, steps {ta['steps']}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    _skdh(path, args.chunk, args.skdh_hours)
    if args.fusion:
        _fusion(args.rate, args.seed)


if __name__ == "__main__":
    main()
