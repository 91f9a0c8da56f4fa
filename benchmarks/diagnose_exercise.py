"""Every exercise error in a suite, one line each, with the truth beside it.

Where accuracy_robust.py gives one table, this lists *what* went wrong, so causes can be
found one at a time: rep sets counted wrong (truth vs detected count and span), sets missed
(with the detected sets overlapping them), spurious sets, holds missed, spurious or off
in length by more than HOLD_ERR_SHOWN_S, and every form flag that disagrees with the truth (with the true and measured hold). Matching follows the field
cases' scorer (score.py: sets by IoU >= 0.3, reps inside matched sets by IoU >= 0.2,
ambiguous flags skipped), so the lines add up to its figures.

    .venv/bin/python benchmarks/accuracy_robust.py --seeds 3000-3011 --office-hours 1 \\
        --field /work/shared/field-cases --keep /tmp/dev          # writes /tmp/dev/sim
    .venv/bin/python benchmarks/diagnose_exercise.py /tmp/dev/sim [--tag mybranch]

The analysis output of each recording is cached beside it (``<name>.<tag>.json``): run again
with another ``--tag`` after a change and diff the two listings. Use development seeds
(0-8999); the report seeds and the field cases are for confirmation, not for this.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOLD_ERR_SHOWN_S = 3.0      # a matched hold's duration error listed from this (the target: median <= 1 s)
# the field cases sit beside the main checkout (../shared), or beside a worktree's parent
DEFAULT_SCORER = next((p / "shared" / "field-cases" / "score.py" for p in (ROOT.parent, ROOT.parent.parent)
                       if (p / "shared" / "field-cases" / "score.py").exists()),
                      ROOT.parent / "shared" / "field-cases" / "score.py")


def load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("field_score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def analyse(csv: Path, tag: str, cmd: list[str]) -> dict:
    cache = csv.with_name(csv.name[:-4] + f".{tag}.json")
    if not cache.exists():
        out = subprocess.run(cmd + [str(csv), "--json"], capture_output=True, text=True, check=True).stdout
        cache.write_text(out[out.find("{"):out.rfind("}") + 1])
    return json.loads(cache.read_text())


def flag_lines(S, name: str, t: dict, p: dict, counts: dict) -> list[str]:
    lines = []
    tr, pr = t.get("reps_detail", []), S.intervals(p.get("reps_detail"))
    for a, b in S.match(tr, pr, thr=0.2):
        got = set(pr[b].get("flags", []))
        for f in S.FLAGS:
            if (f in tr[a]["ambiguous"] or f == "hip_rotation" and t["exercise"] != "bird_dog"
                    or f == "short_hold" and t["exercise"] not in ("dead_bug", "bird_dog")):
                continue
            want, has = f in tr[a]["flags"], f in got
            if want == has:
                counts["flag_tp"] += want
                continue
            counts["flag_fp" if has else "flag_fn"] += 1
            lines.append(f"{name} FLAG {f} {'FP' if has else 'FN'} {t['exercise']} rep "
                         f"{tr[a]['start_s']:.1f}-{tr[a]['end_s']:.1f} true hold {tr[a]['hold_s']:.2f} s | "
                         f"got {pr[b]['start_s']:.1f}-{pr[b]['end_s']:.1f} hold {pr[b].get('hold_s')} s")
    return lines


def diagnose(S, csv: Path, out: dict, truth: dict, counts: dict) -> list[str]:
    name = csv.name
    lines = []
    ts = [s for s in truth["sets"] if s["exercise"] not in S.HOLD_EX]
    ps = S.intervals(out.get("sets"))
    pairs = S.match(ts, ps)
    counts["sets"] += len(ts)
    counts["found"] += len(pairs)
    for i, j in pairs:
        t, p = ts[i], ps[j]
        err = int(round(S.num(p.get("reps")))) - t["reps"]
        counts["exact"] += err == 0
        counts["pm1"] += abs(err) <= 1
        if err or p.get("exercise") != t["exercise"]:
            lines.append(f"{name} REPS {t['exercise']} {t['start_s']:.1f}-{t['end_s']:.1f} true {t['reps']} | "
                         f"got {p.get('reps')} as {p.get('exercise')} {p['start_s']:.1f}-{p['end_s']:.1f} "
                         f"({err:+d})")
        lines += flag_lines(S, name, t, p, counts)
    matched = {i for i, _ in pairs}
    for i, t in enumerate(ts):
        if i not in matched:
            near = [f"{p.get('exercise')} {p['start_s']:.0f}-{p['end_s']:.0f} ({p.get('reps')})"
                    for p in ps if S.overlap(p, t) > 0]
            lines.append(f"{name} MISSED {t['exercise']} {t['start_s']:.1f}-{t['end_s']:.1f} true {t['reps']} | "
                         f"overlapping: {', '.join(near) or 'none'}")
    used = {j for _, j in pairs}
    for j, p in enumerate(ps):
        if j not in used and sum(S.overlap(p, s) for s in truth["sets"]) < 0.5 * (p["end_s"] - p["start_s"]):
            counts["spurious_reps"] += int(S.num(p.get("reps")))
            lines.append(f"{name} SPURIOUS {p.get('exercise')} {p['start_s']:.1f}-{p['end_s']:.1f} "
                         f"reps {p.get('reps')}")
    th, ph = truth["holds"], S.intervals(out.get("holds"))
    hp = S.match(th, ph)
    counts["holds"] += len(th)
    counts["holds_found"] += len(hp)
    for i in sorted(set(range(len(th))) - {i for i, _ in hp}):
        h = th[i]
        near = [f"{p.get('exercise')} {p['start_s']:.0f}-{p['end_s']:.0f}" for p in ph if S.overlap(p, h) > 0]
        lines.append(f"{name} HOLD MISSED {h['exercise']} {h['start_s']:.1f}-{h['end_s']:.1f} "
                     f"({h['duration_s']:.0f} s) | overlapping: {', '.join(near) or 'none'}")
    for i, j in hp:
        h, p = th[i], ph[j]
        err = (p["end_s"] - p["start_s"]) - h["duration_s"]
        if abs(err) > HOLD_ERR_SHOWN_S:
            lines.append(f"{name} HOLD LENGTH {h['exercise']} {h['start_s']:.1f}-{h['end_s']:.1f} "
                         f"| got {p['start_s']:.1f}-{p['end_s']:.1f} ({err:+.1f} s)")
    for j in sorted(set(range(len(ph))) - {j for _, j in hp}):
        p = ph[j]
        if sum(S.overlap(p, h) for h in th) < 0.5 * (p["end_s"] - p["start_s"]):
            counts["spurious_holds"] += 1
            lines.append(f"{name} HOLD SPURIOUS {p.get('exercise')} {p['start_s']:.1f}-{p['end_s']:.1f}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", help="directory with *.csv and *.truth.json (field-case format)")
    ap.add_argument("--tag", default="diag", help="cache tag for the analysis output (default diag)")
    ap.add_argument("--only", default="", help="only recordings whose name contains this")
    ap.add_argument("--scorer", default=str(DEFAULT_SCORER), help="the field cases' score.py")
    ap.add_argument("--spinewise", default=str(ROOT / ".venv" / "bin" / "spinewise"),
                    help="the spinewise command to analyse with")
    args = ap.parse_args(argv)
    S = load_scorer(Path(args.scorer))
    counts = dict.fromkeys(("sets", "found", "exact", "pm1", "spurious_reps", "holds", "holds_found",
                            "spurious_holds", "flag_tp", "flag_fp", "flag_fn"), 0)
    for csv in sorted(Path(args.suite).glob("*.csv")):
        if args.only not in csv.name:
            continue
        truth = json.loads(csv.with_name(csv.name[:-4] + ".truth.json").read_text())
        for line in diagnose(S, csv, analyse(csv, args.tag, [args.spinewise, "analyze"]), truth, counts):
            print(line)
    c = counts
    print(f"\nsets {c['found']}/{c['sets']} found, reps exact {c['exact']}, within +-1 {c['pm1']} "
          f"(of {c['found']}), spurious reps {c['spurious_reps']}, holds {c['holds_found']}/{c['holds']} "
          f"(spurious {c['spurious_holds']}), "
          f"flags tp/fp/fn {c['flag_tp']}/{c['flag_fp']}/{c['flag_fn']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
