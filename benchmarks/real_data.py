"""Real lower-back recordings with reference steps: rebuild them, then score spinewise on them.

Everything else in benchmarks/ is simulated; these are recordings of real people with an IMU
at the lower back (L5 / pelvis) and a reference for every step. Two public sources:

* ``mobgap`` - github.com/mobilise-d/mobgap, ``example_data/data/lab/{HA,MS}/00N/data.mat``
  (Apache-2.0): Mobilise-D Technical Validation Study lab sessions (2 healthy older adults,
  1 person with multiple sclerosis), McRoberts MM+ at the lower back, 100 Hz, acc in g, gyro
  in deg/s. Reference: the INDIP system (foot-worn IMUs and pressure insoles): every initial
  contact (IC) and walking bout. Test 5 = a straight 5 m walk from standing; Test 11 =
  simulated daily activities (2.3-3.8 min of walking, turning, sitting, standing; only the
  walking is labelled).
* ``voisard`` - github.com/CyrilVoisard/ipol_dataset_1, ``GaitData/S-T_{lb,lf,rf}.txt`` +
  ``S-T.json`` (AGPL-3.0; Voisard et al., IPOL 2023, https://www.ipol.im/pub/art/2023/497/):
  19 healthy adults, 110 trials, Xsens MTw Awinda at L5, 100 Hz, acc m/s^2, gyro rad/s
  (converted to g and deg/s). Protocol: stand, walk 10 m, U-turn, walk back, stop.
  Reference: start/end of every footstep from the two foot IMUs (two validated detectors,
  manually checked), trial and U-turn boundaries.

Usage (sources are a checkout or a bare git dir such as fetched mirrors; nothing is
downloaded; without arguments the mirrors under $SPINEWISE_MIRRORS or /work/.mirror are used;
with internet, ``git clone https://github.com/mobilise-d/mobgap`` gives the same files):

    .venv/bin/python benchmarks/real_data.py build --out DIR [--mobgap SRC] [--voisard SRC]
    .venv/bin/python benchmarks/real_data.py score --data DIR [--per-bout] [--json-out F]
    .venv/bin/python benchmarks/real_data.py score --data DIR \\
        --cmd '.venv/bin/spinewise analyze {csv} --json'
    .venv/bin/python benchmarks/real_data.py fixtures --out DIR [--mobgap SRC]

``build`` writes ``NAME.csv`` (spinewise format, native 100 Hz, t from 0) and
``NAME.truth.json`` per recording. ``score`` streams each recording through the Analyzer
exactly as ``spinewise analyze`` does (or runs ``--cmd``) and prints steps and walking time
against the reference, per file and, with ``--per-bout``, per reference walking bout: the
step candidates of gait.StepDetector inside each bout (all, and those spinewise counted
because their epoch was classified walking) and the candidates counted outside every bout.

Truth conventions: ``steps`` = initial contacts listed by the reference inside its walking
bouts (mobgap: INDIP micro walking bouts, IC entries without a resolved time included;
voisard: left + right footsteps inside the trial boundaries; the foot movements some trials
list after the stop are ``steps_outside_walk``); ``walking_s`` = sum of bout durations
(mobgap: first to last IC; voisard: first foot off to last foot on, U-turn included). Steps
outside the reference bouts are not in the truth, and the Test 11 reference misses some
walking: mobgap Test 11 totals are lower bounds, judge it per bout. Targets (README): steps
within 5 %, walking time within 10 %.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MIRRORS = Path(os.environ.get("SPINEWISE_MIRRORS", "/work/.mirror"))
G = 9.80665

MOBGAP = {"repo": "mobilise-d/mobgap", "mirror": "mobilise-d+mobgap",
          "licence": "Apache-2.0 (mobgap repository licence; the example data carries no "
                     "separate notice)",
          "attribution": "Mobilise-D consortium / mobgap (FAU MaD Lab), example data from the "
                         "Mobilise-D Technical Validation Study (Mazza et al. 2021, "
                         "doi:10.1136/bmjopen-2021-050785; Mico-Amigo et al. 2023, "
                         "doi:10.1186/s12984-023-01198-5)"}
VOISARD = {"repo": "CyrilVoisard/ipol_dataset_1", "mirror": "CyrilVoisard+ipol_dataset_1",
           "licence": "AGPL-3.0 (repository licence, covers GaitData/)",
           "attribution": "Voisard C. et al., 'A reference data set for the study of healthy "
                          "subject gait with inertial measurements units', Image Processing On "
                          "Line (IPOL) 2023, https://www.ipol.im/pub/art/2023/497/"}
MOBGAP_SUBJECTS = ("HA/001", "HA/002", "MS/001")


# -- sources ---------------------------------------------------------------------------------
class Source:
    """Files of a repository, from a checkout or a bare git directory (a fetched mirror)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.bare = (self.path / "objects").is_dir() and (self.path / "HEAD").is_file()
        if not self.bare and not self.path.is_dir():
            raise SystemExit(f"real_data: no such source directory: {self.path}")

    def _git(self, *args: str) -> bytes:
        opt = ["--git-dir", str(self.path)] if self.bare else ["-C", str(self.path)]
        return subprocess.run(["git", *opt, *args], check=True, capture_output=True).stdout

    def read(self, rel: str) -> bytes:
        if self.bare:
            return self._git("show", f"HEAD:{rel}")
        return (self.path / rel).read_bytes()

    def listdir(self, rel: str) -> list[str]:
        if self.bare:
            out = self._git("ls-tree", "--name-only", f"HEAD:{rel}").decode()
            return sorted(out.split())
        return sorted(p.name for p in (self.path / rel).iterdir())

    def commit(self) -> str | None:
        try:
            return self._git("rev-parse", "HEAD").decode().strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            return None


def find_source(arg: str | None, meta: dict) -> Source | None:
    if arg:
        return Source(Path(arg))
    cand = MIRRORS / meta["mirror"] / "repo"
    return Source(cand) if cand.exists() else None


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# -- writing -----------------------------------------------------------------------------------
def write_recording(out: Path, name: str, t_s: np.ndarray, acc_g: np.ndarray,
                    gyro_dps: np.ndarray, rate_hz: float, truth: dict, decimals: int = 5) -> None:
    from spinewise.recording.write import write_csv
    from spinewise.stream import ImuChunk
    chunk = ImuChunk(t_s=t_s, acc_g=acc_g, gyro_dps=gyro_dps, rate_hz=rate_hz)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / f"{name}.csv", chunk, decimals=decimals)
    truth = {"duration_s": round(float(t_s[-1]) + 1.0 / rate_hz, 3), "sample_rate_hz": rate_hz,
             **truth}
    (out / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")


def bout(start_s: float, end_s: float, steps: int, **extra) -> dict:
    return {"start_s": round(float(start_s), 3), "end_s": round(float(end_s), 3),
            "steps": int(steps), **extra}


# -- mobgap ------------------------------------------------------------------------------------
def _mat_struct(b: bytes):
    import scipy.io as sio
    return sio.loadmat(io.BytesIO(b), squeeze_me=True, struct_as_record=False)["data"]


def _registry(src: Source) -> dict[str, str]:
    try:
        text = src.read("src/mobgap/data/_example_data_registry.txt").decode()
    except (subprocess.CalledProcessError, OSError):
        return {}
    return dict(line.split()[:2] for line in text.splitlines() if line.strip())


def mobgap_recordings(src: Source):
    """Yield (name, acc_g, gyro_dps, rate_hz, truth) for every lower-back trial with an
    INDIP reference."""
    registry = _registry(src)
    commit = src.commit()
    for subj in MOBGAP_SUBJECTS:
        rel = f"example_data/data/lab/{subj}/data.mat"
        raw = src.read(rel)
        digest = sha256(raw)
        want = registry.get(rel.removeprefix("example_data/"))
        if want and want != digest:
            raise SystemExit(f"real_data: {rel}: sha256 {digest} != registry {want}")
        tm = _mat_struct(raw).TimeMeasure1
        for test in tm._fieldnames:
            for trial in getattr(tm, test)._fieldnames:
                rec = getattr(getattr(tm, test), trial)
                lb = rec.SU.LowerBack
                fs = float(lb.Fs.Acc)
                if float(lb.Fs.Gyr) != fs:
                    raise SystemExit(f"real_data: {rel} {test}/{trial}: acc and gyro rates differ")
                acc = np.asarray(lb.Acc, dtype=np.float64)      # g (|acc| ~ 0.98 at rest)
                gyro = np.asarray(lb.Gyr, dtype=np.float64)     # deg/s
                wbs = np.atleast_1d(rec.Standards.INDIP.MicroWB)
                if wbs.size == 0:
                    yield None, f"{subj} {test}/{trial}: no INDIP walking bout (reference missing)"
                    continue
                bouts, ics_all = [], []
                for w in wbs:
                    ic = np.atleast_1d(w.InitialContact_Event).astype(np.float64)
                    side = [str(s) for s in np.atleast_1d(w.InitialContact_LeftRight)]
                    bouts.append(bout(w.Start, w.End, ic.size,
                                      steps_timed=int(np.isfinite(ic).sum()),
                                      cadence_spm=round(float(w.Cadence), 1),
                                      speed_mps=round(float(w.WalkingSpeed), 3),
                                      turning=bool(int(w.Turning_Flag))))
                    ics_all += [[None if not np.isfinite(x) else round(float(x), 3), s]
                                for x, s in zip(ic, side)]
                name = f"mobgap_{subj.replace('/', '')}_{test.lower()}_{trial.lower()}"
                if test == "Test11":
                    scenario, what = "real_daily_living", "simulated daily activities (Test 11)"
                else:
                    scenario, what = "real_walk", "straight 5 m walk (Test 5)"
                walking_s = sum(b["end_s"] - b["start_s"] for b in bouts)
                truth = {
                    "scenario": scenario,
                    "dataset": "mobgap example data (Mobilise-D TVS lab)",
                    "recording": f"{subj} TimeMeasure1/{test}/{trial}: {what}",
                    "subject": {"cohort": subj.split("/")[0], "id": subj},
                    "placement": "lower back (McRoberts MM+, body-worn; Mobilise-D TVS protocol)",
                    "steps": int(sum(b["steps"] for b in bouts)),
                    "steps_timed": int(sum(b["steps_timed"] for b in bouts)),
                    "walking_bouts": bouts,
                    "activity": {"walking_s": round(walking_s, 2)},
                    "initial_contacts": ics_all,
                    "reference": "INDIP MicroWB: walking bouts and initial contacts (s from "
                                 "the first sample); IC entries without a time are steps "
                                 "whose contact time INDIP did not resolve",
                    "notes": ("only walking is labelled; sitting/standing/turning in place "
                              "are not; steps outside INDIP walking bouts are not in the "
                              "truth") if test == "Test11" else
                             "standing still before and after the walk",
                    "source": {"repo": MOBGAP["repo"], "path": rel, "commit": commit,
                               "sha256": digest},
                    "licence": MOBGAP["licence"], "attribution": MOBGAP["attribution"],
                }
                yield (name, np.arange(len(acc)) / fs, acc, gyro, fs, truth), None


# -- voisard -----------------------------------------------------------------------------------
def _xsens_txt(b: bytes) -> tuple[float, np.ndarray]:
    lines = b.decode("latin-1").splitlines()
    rate = float(lines[0].split(":")[1].split()[0])
    head = lines[1].split("\t")
    data = np.loadtxt(lines[2:], delimiter="\t")
    cols = {name: data[:, i] for i, name in enumerate(head)}
    return rate, cols


def voisard_recordings(src: Source):
    commit = src.commit()
    names = [f[:-5] for f in src.listdir("GaitData") if f.endswith(".json")]
    names.sort(key=lambda s: tuple(int(x) for x in s.split("-")))
    for code in names:
        meta = json.loads(src.read(f"GaitData/{code}.json"))
        raw = src.read(f"GaitData/{code}_lb.txt")
        rate, c = _xsens_txt(raw)
        pc = c["PacketCounter"] - c["PacketCounter"][0]
        if np.any(np.diff(pc) <= 0):
            yield None, f"{code}: packet counter not increasing"
            continue
        # Awinda drops packets (1-5 in a row, in 2/3 of the trials): the samples keep their
        # true times, gaps and all. All three sensors count the same packets (common time
        # base). The reference indexes *rows*: footsteps rows of that foot's file, the U-turn
        # rows of the lower-back file; each maps to its file's packet counter.
        t_lb = pc / rate
        t_feet = {}
        for side, part in (("Left", "lf"), ("Right", "rf")):
            _r, cf = _xsens_txt(src.read(f"GaitData/{code}_{part}.txt"))
            t_feet[side] = (cf["PacketCounter"] - c["PacketCounter"][0]) / rate

        def t_of(rows_t: np.ndarray, row: int) -> float:
            row = int(row)
            if row < len(rows_t):
                return float(rows_t[row])
            return float(rows_t[-1] + (row - len(rows_t) + 1) / rate)

        acc = np.column_stack([c["Acc_X"], c["Acc_Y"], c["Acc_Z"]]) / G
        gyro = np.degrees(np.column_stack([c["Gyr_X"], c["Gyr_Y"], c["Gyr_Z"]]))
        a, b = meta["TrialBoundaries"]
        u0, u1 = meta["UTurnBoundaries"]
        # footsteps [foot off, foot on] (rows); some trials also list the shuffling after
        # the stop, outside the trial boundaries: those are not part of the checked walk
        events = [(side, t_of(t_feet[side], e[0]), t_of(t_feet[side], e[1]),
                   a <= e[0] and e[1] <= b)
                  for side, evs in (("Left", meta["LeftFootEvents"]),
                                    ("Right", meta["RightFootEvents"])) for e in evs]
        walk = [e for e in events if e[3]]
        steps = len(walk)
        contacts = sorted([round(e[2], 3), e[0]] for e in walk)
        start_s, end_s = min(e[1] for e in walk), max(e[2] for e in walk)
        tu0, tu1 = t_of(t_lb, u0), t_of(t_lb, u1)
        in_turn = sum(1 for e in walk if tu0 <= 0.5 * (e[1] + e[2]) <= tu1)
        dur = float(t_lb[-1]) + 1.0 / rate
        walking_s = end_s - start_s
        lost = int(pc[-1] + 1 - len(pc))
        gaps = np.nonzero(np.diff(pc) > 1)[0]
        first_loss_s = float(t_lb[gaps[0]]) if gaps.size else None
        # "clean": no packet lost in the lower-back file before the walk ended (+1 s)
        clean = first_loss_s is None or first_loss_s > end_s + 1.0
        s, trial = (int(x) for x in code.split("-"))
        truth = {
            "scenario": "real_walk",
            "dataset": "Voisard et al. IPOL 2023 healthy gait (L5 Xsens)",
            "recording": f"subject {s} trial {trial}: stand, walk 10 m, U-turn, walk back, stop",
            "subject": {k.lower(): meta[k] for k in ("Subject", "Age", "Gender", "Height", "Weight")
                        if k in meta},
            "placement": "lower back at L5 (Xsens MTw Awinda)",
            "steps": steps,
            "steps_outside_walk": len(events) - steps,
            "walking_bouts": [bout(start_s, end_s, steps, u_turn_s=[round(tu0, 3), round(tu1, 3)],
                                   steps_in_u_turn=in_turn)],
            "activity": {"walking_s": round(walking_s, 2),
                         "standing_s": round(dur - walking_s, 2)},
            "initial_contacts": contacts,
            "packet_loss": {"lost_samples": lost, "first_loss_s": first_loss_s,
                            "clean_walk": bool(clean)},
            "reference": "footsteps (foot off -> foot on) from the foot IMUs, two validated "
                         "detectors, manually checked; trial boundaries from the first foot "
                         "off to the last foot on",
            "notes": "standing still before and after the walk (protocol; standing_s is "
                     "the time outside the trial boundaries); steps_outside_walk = foot "
                     "movements the reference lists after the stop (not in steps)",
            "source": {"repo": VOISARD["repo"], "path": f"GaitData/{code}_lb.txt",
                       "commit": commit, "sha256": sha256(raw)},
            "licence": VOISARD["licence"], "attribution": VOISARD["attribution"],
        }
        yield (f"voisard_{s:02d}-{trial}", t_lb, acc, gyro, rate, truth), None


# -- commands ----------------------------------------------------------------------------------
def cmd_build(args) -> int:
    out = Path(args.out)
    todo = [("mobgap", MOBGAP, mobgap_recordings, args.mobgap),
            ("voisard", VOISARD, voisard_recordings, args.voisard)]
    total = 0
    for key, meta, gen, arg in todo:
        if args.only and key not in args.only:
            continue
        src = find_source(arg, meta)
        if src is None:
            print(f"{key}: no source (pass --{key} DIR: a checkout or bare git dir of "
                  f"github.com/{meta['repo']})", file=sys.stderr)
            continue
        n = 0
        t0 = time.time()
        for item, skipped in gen(src):
            if item is None:
                print(f"{key}: skipped {skipped}")
                continue
            name, t, acc, gyro, rate, truth = item
            write_recording(out, name, t, acc, gyro, rate, truth)
            n += 1
        print(f"{key}: {n} recordings from {src.path} (commit {src.commit()}) -> {out} "
              f"in {time.time() - t0:.1f} s")
        total += n
    return 0 if total else 1


def analyze_inprocess(csv: Path, candidates: bool = False, acc_only: bool = False) -> dict:
    """What ``spinewise analyze --json`` computes, plus the activity timeline and (optionally)
    every step candidate of gait.StepDetector with the same gravity tracking. ``acc_only``
    drops the gyro (as an accelerometer-only sensor would stream it)."""
    import dataclasses

    from spinewise.config import load
    from spinewise.recording import read_chunks
    from spinewise.signal.analyzer import Analyzer
    from spinewise.signal.gait import StepDetector
    from spinewise.signal.orientation import GravityEstimator

    an = Analyzer(load(None).signal, posture_rate_hz=0.0)
    timeline = []
    cand_t, bp_all, t_all = [], [], []
    grav = steps = None
    for chunk in read_chunks(csv):
        if acc_only:
            chunk = dataclasses.replace(chunk, gyro_dps=None)
        for e in an.update(chunk):
            if e.kind == "activity":
                timeline.append((e.data["start_s"], e.data["activity"]))
        if candidates:
            if grav is None:
                grav = GravityEstimator(chunk.rate_hz, chunk.has_gyro)
                steps = StepDetector(chunk.rate_hz)
            up = grav.update(chunk.acc_g, chunk.gyro_dps)
            bp, flag = steps.update(chunk.acc_g, up, chunk.t_s)
            cand_t.append(chunk.t_s[flag])
            bp_all.append(bp)
            t_all.append(chunk.t_s)
    for e in an.finish():
        if e.kind == "activity":
            timeline.append((e.data["start_s"], e.data["activity"]))
    out = an.summary()
    out["timeline"] = timeline
    out["end_s"] = an.last_t
    if candidates:
        out["candidates_s"] = np.concatenate(cand_t) if cand_t else np.zeros(0)
        out["bp_g"] = np.concatenate(bp_all) if bp_all else np.zeros(0)
        out["t_s"] = np.concatenate(t_all) if t_all else np.zeros(0)
    return out


def walking_spans(timeline, end_s) -> list[tuple[float, float]]:
    spans = []
    for i, (t0, cls) in enumerate(timeline):
        if cls == "walking":
            t1 = timeline[i + 1][0] if i + 1 < len(timeline) else end_s + 1.0
            spans.append((t0, t1))
    return spans


def rel(det, ref) -> float | None:
    return None if not ref else (det - ref) / ref


def fmt_pct(x) -> str:
    return "-" if x is None else f"{100 * x:+.1f} %"


PRE_S, POST_S = 0.6, 0.8   # a candidate falls after its contact (band-pass phase, mid-stance rise)


def cmd_score(args) -> int:
    data = Path(args.data)
    truths = sorted(data.glob("*.truth.json"))
    if args.match:
        truths = [p for p in truths if any(m in p.name for m in args.match)]
    if not truths:
        print(f"real_data: no *.truth.json in {data}", file=sys.stderr)
        return 2
    rows, per_bout = [], []
    t_start = time.process_time()
    for tp in truths:
        truth = json.loads(tp.read_text())
        csv = tp.with_name(tp.name.replace(".truth.json", ".csv"))
        if args.cmd:
            cmd = args.cmd.format(csv=shlex.quote(str(csv)))
            res = json.loads(subprocess.run(cmd, shell=True, check=True, capture_output=True,
                                            text=True).stdout)
        else:
            res = analyze_inprocess(csv, candidates=args.per_bout, acc_only=args.acc_only)
        act = res["activity"]
        ref_steps, ref_walk = truth["steps"], truth["activity"]["walking_s"]
        row = {"file": csv.stem, "scenario": truth["scenario"], "duration_s": truth["duration_s"],
               "steps_ref": ref_steps, "steps": act["steps"],
               "steps_err": rel(act["steps"], ref_steps),
               "walking_s_ref": ref_walk, "walking_s": act["walking_s"],
               "walking_err": rel(act["walking_s"], ref_walk),
               "standing_s": act["standing_s"], "sitting_s": act["sitting_s"],
               "lying_s": act["lying_s"], "exercise_s": act["exercise_s"],
               "clean": truth.get("packet_loss", {}).get("clean_walk", True)}
        if args.per_bout and not args.cmd:
            cands = res["candidates_s"]
            spans = walking_spans(res["timeline"], res["end_s"])
            counted = np.zeros(len(cands), dtype=bool)
            for a, b in spans:
                counted |= (cands >= a) & (cands < b)
            inside_any = np.zeros(len(cands), dtype=bool)
            for k, bt in enumerate(truth["walking_bouts"]):
                lo, hi = bt["start_s"] - PRE_S, bt["end_s"] + POST_S
                m = (cands >= lo) & (cands < hi)
                inside_any |= m
                det_walk = sum(max(0.0, min(b, bt["end_s"]) - max(a, bt["start_s"]))
                               for a, b in spans)
                per_bout.append({"file": csv.stem, "bout": k, "start_s": bt["start_s"],
                                 "end_s": bt["end_s"], "steps_ref": bt["steps"],
                                 "candidates": int(m.sum()), "counted": int((m & counted).sum()),
                                 "walking_s_ref": round(bt["end_s"] - bt["start_s"], 2),
                                 "walking_s_overlap": round(det_walk, 2)})
            row["candidates"] = int(len(cands))
            row["counted_outside_bouts"] = int((counted & ~inside_any).sum())
            row["calibrated"] = res.get("calibration", {})
        rows.append(row)
    cpu = time.process_time() - t_start
    print_table(rows, per_bout, args)
    print(f"\n{len(rows)} recordings, {sum(r['duration_s'] for r in rows) / 60:.1f} min, "
          f"{cpu:.1f} s CPU")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"files": rows, "bouts": per_bout},
                                                  indent=1, default=str) + "\n")
    return 0


def _group(name: str) -> str:
    if name.startswith("mobgap") and "test11" in name:
        return "mobgap Test 11 (daily activities)"
    if name.startswith("mobgap"):
        return "mobgap Test 5 (5 m walk)"
    return "voisard (2 x 10 m + U-turn)"


def print_table(rows, per_bout, args) -> None:
    print("| file | s | steps ref | steps | error | walking s ref | walking s | error | "
          "standing s | sitting s |" + (" outside bouts |" if per_bout else ""))
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if per_bout else ""))
    for r in rows:
        print(f"| {r['file']} | {r['duration_s']:.0f} | {r['steps_ref']} | {r['steps']} | "
              f"{fmt_pct(r['steps_err'])} | {r['walking_s_ref']:.1f} | {r['walking_s']:.1f} | "
              f"{fmt_pct(r['walking_err'])} | {r['standing_s']:.0f} | {r['sitting_s']:.0f} |"
              + (f" {r.get('counted_outside_bouts', '-')} |" if per_bout else ""))
    print("\n| group | files | steps ref | steps | total error | mean abs error | "
          "within 5 % | walking s ref | walking s | total error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(_group(r["file"]), []).append(r)
    clean = [r for r in rows if r["file"].startswith("voisard") and r["clean"]]
    if clean:
        groups["voisard, no packet lost before the walk ends"] = clean
    for g, rs in groups.items():
        sr, sd = sum(r["steps_ref"] for r in rs), sum(r["steps"] for r in rs)
        wr, wd = sum(r["walking_s_ref"] for r in rs), sum(r["walking_s"] for r in rs)
        errs = [abs(r["steps_err"]) for r in rs if r["steps_err"] is not None]
        ok = sum(1 for e in errs if e <= 0.05)
        print(f"| {g} | {len(rs)} | {sr} | {sd} | {fmt_pct(rel(sd, sr))} | "
              f"{100 * np.mean(errs):.1f} % | {ok}/{len(errs)} | {wr:.0f} | {wd:.0f} | "
              f"{fmt_pct(rel(wd, wr))} |")
    if per_bout:
        print("\nPer reference walking bout (candidates = every gait.StepDetector candidate from "
              f"{PRE_S} s before the bout to {POST_S} s after it; counted = those in epochs "
              "classified walking):\n")
        print("| file | bout | s | steps ref | candidates | counted | walking s ref | "
              "walking s detected |")
        print("|---|---|---|---|---|---|---|---|")
        for b in per_bout:
            if args.bouts_all or not b["file"].startswith("voisard"):
                print(f"| {b['file']} | {b['bout']} | {b['start_s']:.1f}-{b['end_s']:.1f} | "
                      f"{b['steps_ref']} | {b['candidates']} | {b['counted']} | "
                      f"{b['walking_s_ref']:.1f} | {b['walking_s_overlap']:.1f} |")
        for g in sorted({_group(b["file"]) for b in per_bout}):
            bs = [b for b in per_bout if _group(b["file"]) == g]
            sr = sum(b["steps_ref"] for b in bs)
            sc, sk = sum(b["candidates"] for b in bs), sum(b["counted"] for b in bs)
            print(f"\n{g}: {len(bs)} bouts, reference {sr} steps, candidates {sc} "
                  f"({fmt_pct(rel(sc, sr))}), counted {sk} ({fmt_pct(rel(sk, sr))})")


# -- fixtures ----------------------------------------------------------------------------------
# (fixture name, recording, start_s, end_s): small extracts of the Apache-2.0 set (the voisard
# data is AGPL-3.0). None = the whole recording.
FIXTURES = [
    ("mobgap_HA001_test5_trial1", "mobgap_HA001_test5_trial1", None, None),
    # 52 s of daily activities: walk (18 steps), sit down, stand up, walk (16 steps); the
    # 22 s of walking calibrate the mounting
    ("mobgap_HA001_test11_36-88s", "mobgap_HA001_test11_trial1", 36.0, 88.0),
]


def crop(t, acc, gyro, truth: dict, a: float | None, b: float | None):
    """The samples in [a, b) with t from 0 and the truth of the bouts wholly inside."""
    if a is None:
        return t, acc, gyro, truth
    m = (t >= a) & (t < b)
    if any(bt["start_s"] < b and bt["end_s"] > a and not (bt["start_s"] >= a and bt["end_s"] < b)
           for bt in truth["walking_bouts"]):
        raise SystemExit(f"real_data: crop {a}-{b} s cuts a walking bout")
    bouts = [{**bt, "start_s": round(bt["start_s"] - a, 3), "end_s": round(bt["end_s"] - a, 3)}
             for bt in truth["walking_bouts"] if a <= bt["start_s"] and bt["end_s"] < b]
    ics = [[None if x is None else round(x - a, 3), side] for x, side in truth["initial_contacts"]
           if x is not None and a <= x < b]
    out = {**truth, "walking_bouts": bouts, "initial_contacts": ics,
           "steps": sum(bt["steps"] for bt in bouts),
           "steps_timed": sum(bt["steps_timed"] for bt in bouts),
           "activity": {"walking_s": round(sum(bt["end_s"] - bt["start_s"] for bt in bouts), 2)},
           "extract_s": [a, b]}
    out["recording"] += f", extract {a:g}-{b:g} s (t from 0 at {a:g} s)"
    return t[m] - t[m][0], acc[m], gyro[m], out


FIXTURE_README = """# Real lower-back recordings (extracts)

Extracts of real recordings (an IMU at the lower back of a real person, a reference system for
every step), written by `benchmarks/real_data.py fixtures`. CSV as every spinewise recording
(`t,ax,ay,az,gx,gy,gz`: s, g, deg/s, sensor frame; 100 Hz as recorded; 4 decimals) with a
`NAME.truth.json` each (conventions: the docstring of `benchmarks/real_data.py`).

{table}
Reference: the INDIP system (foot-worn IMUs and pressure insoles) of the Mobilise-D Technical
Validation Study: walking bouts and every initial contact (`initial_contacts`, s from the first
sample). Only walking is labelled.

- Source: github.com/mobilise-d/mobgap, commit `{commit}`, `{path}` (sha256 `{sha}`, as in
  mobgap's `src/mobgap/data/_example_data_registry.txt`).
- Licence: Apache License 2.0, the licence of the mobgap repository, which holds this example
  data with no separate notice; copies of its LICENSE and NOTICE are alongside.
- Attribution: {attribution}.
- Changes (Apache-2.0 section 4b): converted from the MATLAB struct to spinewise CSV (lower-back acc
  and gyro only, 4 decimals, time from 0), cut where the table says, the INDIP reference
  rewritten as `truth.json` (times shifted with the cut).
"""


def cmd_fixtures(args) -> int:
    src = find_source(args.mobgap, MOBGAP)
    if src is None:
        print("real_data: no mobgap source (--mobgap DIR)", file=sys.stderr)
        return 2
    out = Path(args.out)
    recs = {item[0]: item for item, _skipped in mobgap_recordings(src) if item is not None}
    rows = ["| file | what | s | steps | walking s |", "|---|---|---|---|---|"]
    for name, rec, a, b in FIXTURES:
        _n, t, acc, gyro, rate, truth = recs[rec]
        t, acc, gyro, truth = crop(t, acc, gyro, truth, a, b)
        # 4 decimals: 0.1 mg and 0.0001 deg/s, finer than the MM+ resolution
        write_recording(out, name, t, acc, gyro, rate, truth, decimals=4)
        size = (out / f"{name}.csv").stat().st_size
        rows.append(f"| `{name}` | {truth['recording']} | {len(t) / rate:.1f} | "
                    f"{truth['steps']} | {truth['activity']['walking_s']} |")
        print(f"{name}: {len(t)} samples, {truth['steps']} steps, {size / 1024:.0f} KiB")
    (out / "LICENSE-mobgap-Apache-2.0.txt").write_bytes(src.read("LICENSE"))
    (out / "NOTICE-mobgap.txt").write_bytes(src.read("NOTICE"))
    s = truth["source"]
    (out / "README.md").write_text(FIXTURE_README.format(
        table="\n".join(rows) + "\n", commit=s["commit"], path=s["path"], sha=s["sha256"],
        attribution=MOBGAP["attribution"]))
    print(f"-> {out} (with README.md, mobgap's LICENSE and NOTICE)")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd_name", required=True)
    b = sub.add_parser("build", help="convert the sources to spinewise CSV + truth")
    b.add_argument("--out", required=True)
    b.add_argument("--mobgap", help="mobgap checkout or bare git dir")
    b.add_argument("--voisard", help="ipol_dataset_1 checkout or bare git dir")
    b.add_argument("--only", nargs="*", choices=["mobgap", "voisard"])
    s = sub.add_parser("score", help="spinewise against the reference")
    s.add_argument("--data", required=True)
    s.add_argument("--cmd", help="score this command's JSON instead ('{csv}' is replaced)")
    s.add_argument("--match", nargs="*", help="only files whose name contains one of these")
    s.add_argument("--per-bout", action="store_true", help="per reference walking bout")
    s.add_argument("--acc-only", action="store_true", help="drop the gyro (in-process only)")
    s.add_argument("--bouts-all", action="store_true", help="print voisard bouts too")
    s.add_argument("--json-out")
    f = sub.add_parser("fixtures", help="small Apache-2.0 extracts (mobgap) with README, "
                                        "licence and notice")
    f.add_argument("--out", required=True)
    f.add_argument("--mobgap")
    args = p.parse_args(argv)
    return {"build": cmd_build, "score": cmd_score, "fixtures": cmd_fixtures}[args.cmd_name](args)


if __name__ == "__main__":
    sys.exit(main())
