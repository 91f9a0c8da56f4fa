"""Robustness: fresh simulator seeds, the field cases and real recordings, one scorer, one table.

The simulator agreeing with the detectors built on it proves little; this benchmark scores three
families side by side with the field cases' own scorer (`../shared/field-cases/score.py`):

* ``sim``: fresh seeds of the wide-prior simulator (`bodies="wide"`: tempo, holds, pauses,
  amplitudes, shifts around sets, blocked sets; wide gait and sitting priors are the default),
  each drawn with its own rate (25-104 Hz), a random clip rotation, gyro noise 0.03-0.8 deg/s
  and, one seed in four, no gyro (Polar H10 style); exercise sessions, office days and mixed days. `--bodies classic` scores
  the narrower model the detectors were first built on. The simulator's truth is exported in the field-case format
  (`spinewise.sim.field_truth`).
* ``field``: the field cases, unpacked from `--field` (never tuned on: examples of a family).
* ``real``: real lower-back walking recordings built by `benchmarks/real_data.py build`
  (`--real DIR`): steps and walking time, per data set.

    .venv/bin/python benchmarks/accuracy_robust.py                        # ~4 min on 2 cores
    .venv/bin/python benchmarks/accuracy_robust.py --seeds 9000-9011 --office-hours 8 \\
        --real /tmp/realdata --keep /tmp/robust

Development seeds are 0-8999; report on 9000 and above. Targets (issue 12): sets found >= 95 %,
label >= 95 %, reps exact >= 90 %, within +-1 >= 97 %, holds found >= 95 % with median error
<= 1 s, spurious reps <= 0.5 / h, form flag precision and recall >= 90 %, sedentary within 5 % on
every office day, steps within 5 % on every real walking recording, forward axis within 30 deg
whenever calibration confidence is high (the truth's mounting against `analyze --json`'s
`calibration`, kept beside each recording as `<csv>.analysis.json`).
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import parse_seeds  # noqa: E402
from real_data import _group as real_group  # noqa: E402

from spinewise.sim import simulate  # noqa: E402
from spinewise.signal.forward_cues import HIGH_CONFIDENCE  # noqa: E402
from spinewise.sim.field_truth import forward_axis_error_deg, to_field_truth  # noqa: E402

DEFAULT_FIELD = ROOT.parent / "shared" / "field-cases"
DEFAULT_CMD = f"{ROOT / '.venv/bin/spinewise'} analyze {{csv}} --json"
RATES_HZ = (25.0, 50.0, 52.0, 104.0)
GYRO_NOISE_DPS = (0.03, 0.8)             # white gyro noise per sample, drawn per seed

# (row label, key in score.py's aggregate, format, target text)
ROWS = (
    ("rep sets found", "sets_found_pct", "{:.1f} %", ">= 95 %"),
    ("label right", "label_acc_pct", "{:.1f} %", ">= 95 %"),
    ("reps exact", "reps_exact_pct", "{:.1f} %", ">= 90 %"),
    ("reps within +-1", "reps_pm1_pct", "{:.1f} %", ">= 97 %"),
    ("spurious reps / h", "spurious_reps_per_h", "{:.2f}", "<= 0.5"),
    ("holds found", "holds_found_pct", "{:.1f} %", ">= 95 %"),
    ("hold duration error, median", "hold_med_err_s", "{:.1f} s", "<= 1 s"),
    ("form flag precision", "flag_precision_pct", "{:.1f} %", ">= 90 %"),
    ("form flag recall", "flag_recall_pct", "{:.1f} %", ">= 90 %"),
    ("sedentary error, worst day", "sed_max_err_pct", "{:.1f} %", "<= 5 %"),
    ("walking time error, mean", "walk_err_pct", "{:.1f} %", ""),
    ("steps error, mean", "steps_err_pct", "{:.1f} %", "<= 5 %"),
    ("mounting committed with high confidence", "fwd_high_pct", "{:.0f} %", ""),
    ("forward axis error, high confidence, worst", "fwd_high_worst_deg", "{:.0f} deg", "<= 30 deg"),
    ("forward axis error, any committed, worst", "fwd_any_worst_deg", "{:.0f} deg", ""),
    ("hours scored", "hours", "{:.1f}", ""),
)
ANALYSIS_SUFFIX = ".analysis.json"


def keeping_output(cmd: str) -> str:
    """The analysis command, also leaving its JSON beside the recording (exit status kept)."""
    return f"{cmd} > {{csv}}{ANALYSIS_SUFFIX} && cat {{csv}}{ANALYSIS_SUFFIX}"


def mounting_figures(suite: Path) -> dict:
    """Forward-axis error of the committed mounting against the truth's, per confidence."""
    high, every, n = [], [], 0
    for truth_path in sorted(suite.glob("*.truth.json")):
        out = truth_path.with_name(truth_path.name.replace(".truth.json", ".csv") + ANALYSIS_SUFFIX)
        if not out.exists():
            continue
        n += 1
        try:
            calib = json.loads(out.read_text()).get("calibration") or {}
        except ValueError:
            continue
        err = forward_axis_error_deg(json.loads(truth_path.read_text()).get("mount"), calib)
        if err is None:
            continue
        every.append(err)
        if (calib.get("confidence") or 0.0) >= HIGH_CONFIDENCE:
            high.append(err)
    return {"fwd_high_pct": 100.0 * len(high) / n if n else float("nan"),
            "fwd_high_worst_deg": max(high, default=float("nan")),
            "fwd_any_worst_deg": max(every, default=float("nan"))}


def seed_plan(seed: int, office_hours: float) -> dict:
    """Scenario and sensor variant of one seed, drawn from the seed alone (reproducible)."""
    rng = np.random.default_rng(seed)
    kind = seed % 6
    scenario = "office_day" if kind == 4 else "mixed" if kind == 5 else "exercise_session"
    return dict(scenario=scenario, rate_hz=float(rng.choice(RATES_HZ)), mount="random",
                gyro=bool(rng.random() >= 0.25),
                # the simulator's own draw stops at 0.3 deg/s (the committed fixtures'); real
                # clips show 0.3-0.5 (field cases), so the benchmark draws past that
                gyro_noise_dps=float(rng.uniform(*GYRO_NOISE_DPS)),
                duration_s=office_hours * 3600 if scenario == "office_day" else None)


def build_sim(seeds: list[int], out: Path, office_hours: float, bodies: str,
              exercises: list[str] | None = None, acc_bias_g: float | None = None) -> None:
    """One recording per seed; with ``exercises``, one exercise session per seed and exercise,
    that exercise alone (done straight after getting down: no other set before it).
    ``acc_bias_g``: each sensor's accelerometer bias drawn within +-this per axis (None: the
    simulator's own draw)."""
    out.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        plan = seed_plan(seed, office_hours)
        for only in exercises or [None]:
            scenario = "exercise_session" if only else plan["scenario"]
            sim = simulate(scenario, seed=seed, rate_hz=plan["rate_hz"], mount=plan["mount"],
                           gyro=plan["gyro"], gyro_noise_dps=plan["gyro_noise_dps"],
                           duration_s=None if only else plan["duration_s"], bodies=bodies,
                           exercises=[only] if only else None, acc_bias_g=acc_bias_g)
            name = f"sim_{only or scenario}_{seed}_{plan['rate_hz']:g}hz{'' if plan['gyro'] else '_acc'}"
            csv, truth_path = sim.save(out / f"{name}.csv")
            Path(truth_path).write_text(json.dumps(to_field_truth(sim.truth)) + "\n")


def unpack_field(src: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for gz in sorted(src.glob("*.csv.gz")):
        truth = gz.with_name(gz.name.replace(".csv.gz", ".truth.json"))
        if not truth.exists():
            continue
        with gzip.open(gz, "rb") as fin, open(out / gz.name[:-3], "wb") as fout:
            shutil.copyfileobj(fin, fout)
        shutil.copy(truth, out / truth.name)
        n += 1
    for csv in sorted(src.glob("*.csv")):
        truth = csv.with_name(csv.name.replace(".csv", ".truth.json"))
        if truth.exists():
            shutil.copy(csv, out / csv.name)
            shutil.copy(truth, out / truth.name)
            n += 1
    return n


def run_scorer(scorer: Path, suite: Path, cmd: str, json_out: Path) -> dict:
    """score.py on one suite; its per-file table goes to our stdout, its aggregate is returned
    with the mounting figures added."""
    print(f"\n## {suite.name}\n", flush=True)
    subprocess.run([sys.executable, str(scorer), "--suite", str(suite), "--cmd", keeping_output(cmd),
                    "--json-out", str(json_out)], check=True)
    result = json.loads(json_out.read_text())
    result["aggregate"].update(mounting_figures(suite))
    return result


def run_real(data: Path, cmd: str | None, json_out: Path) -> list[dict]:
    print(f"\n## real ({data})\n", flush=True)
    argv = [sys.executable, str(ROOT / "benchmarks" / "real_data.py"), "score", "--data", str(data),
            "--json-out", str(json_out)] + (["--cmd", cmd] if cmd else [])
    subprocess.run(argv, check=True)
    return json.loads(json_out.read_text())["files"]


def real_summary(files: list[dict]) -> dict[str, dict]:
    """Per data set: files, files within 5 % of the reference steps, total and worst step error."""
    groups: dict[str, list[dict]] = {}
    for r in files:
        groups.setdefault(real_group(r["file"]), []).append(r)
    out = {}
    for name, rows in groups.items():
        errs = [r["steps_err"] for r in rows if r["steps_err"] is not None]
        ref = sum(r["steps_ref"] for r in rows)
        out[name] = dict(files=len(rows), within5=sum(abs(e) <= 0.05 for e in errs),
                         total_err_pct=100.0 * (sum(r["steps"] for r in rows) - ref) / max(ref, 1),
                         worst_err_pct=100.0 * max(errs, key=abs) if errs else float("nan"))
    return out


def table(results: dict[str, dict]) -> str:
    names = list(results)
    lines = ["| figure | " + " | ".join(names) + " | target |",
             "|---|" + "---|" * len(names) + "---|"]
    for label, key, fmt, target in ROWS:
        cells = []
        for n in names:
            v = results[n]["aggregate"].get(key)
            cells.append("n/a" if v is None or not np.isfinite(v) else fmt.format(v))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="9000-9011", help="fresh simulator seeds (default 9000-9011)")
    ap.add_argument("--bodies", default="wide", choices=("wide", "classic"),
                    help="simulated bodies (default wide)")
    ap.add_argument("--office-hours", type=float, default=4.0, help="length of simulated office days")
    ap.add_argument("--exercises", help="comma-separated: each seed becomes one session per exercise, "
                    "that exercise alone (e.g. bird_dog,dead_bug)")
    ap.add_argument("--field", default=str(DEFAULT_FIELD), help="field-case directory (score.py inside)")
    ap.add_argument("--scorer", help="score.py (default: the one in --field)")
    ap.add_argument("--real", help="real recordings built by benchmarks/real_data.py build")
    ap.add_argument("--cmd", default=DEFAULT_CMD, help="analysis command, {csv} = the recording")
    ap.add_argument("--acc-bias-g", type=float,
                    help="draw each sensor's accelerometer bias within +-this per axis, g (default: "
                    "the simulator's +-0.015; consumer parts are specified to +-0.04-0.08, the "
                    "field cases' fits show |b| 0.012-0.038)")
    ap.add_argument("--keep", help="write the suites here and keep them (default: a temp dir)")
    ap.add_argument("--json-out", help="all aggregates as JSON")
    args = ap.parse_args(argv)

    field = Path(args.field)
    scorer = Path(args.scorer) if args.scorer else field / "score.py"
    if not scorer.exists():
        print(f"accuracy_robust: no scorer at {scorer} (give --field or --scorer)", file=sys.stderr)
        return 2
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="spinewise-robust-"))
    t0 = time.time()
    try:
        seeds = parse_seeds(args.seeds)
        build_sim(seeds, work / "sim", args.office_hours, args.bodies,
                  args.exercises.split(",") if args.exercises else None, args.acc_bias_g)
        print(f"simulated {len(seeds)} seeds in {time.time() - t0:.0f} s -> {work / 'sim'}")
        results = {f"sim, {args.bodies} bodies (fresh seeds)": run_scorer(scorer, work / "sim", args.cmd, work / "sim.json")}
        if unpack_field(field, work / "field"):
            results["field cases"] = run_scorer(scorer, work / "field", args.cmd, work / "field.json")
        real = None
        if args.real:
            real = real_summary(run_real(Path(args.real), args.cmd, work / "real.json"))
        bias = f", acc bias +-{args.acc_bias_g:g} g" if args.acc_bias_g is not None else ""
        print(f"\n## robustness (seeds {args.seeds}, office days {args.office_hours:g} h{bias}, "
              f"{time.time() - t0:.0f} s)\n")
        print(table(results))
        if real:
            print("\n| real data set | files | within 5 % (steps) | total steps error | worst file |")
            print("|---|---|---|---|---|")
            for name, s in real.items():
                print(f"| {name} | {s['files']} | {s['within5']} | {s['total_err_pct']:+.1f} % | "
                      f"{s['worst_err_pct']:+.1f} % |")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(
                {"suites": {k: v["aggregate"] for k, v in results.items()}, "real": real},
                indent=1, default=float) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
