"""``spinewise analyze FILE.csv``: run the whole signal chain over a recording.

Streams the file chunk by chunk through the same Analyzer the live pipeline uses (constant
memory), then prints a readable summary, or with ``--json`` exactly one JSON object on
stdout (the contract in docs/architecture.md). ``--report OUT.png`` draws trunk angle,
activity timeline, sets, holds, sedentary and slouch bouts. Malformed files give a clear
message and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from spinewise.jsonwire import jsonable

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("analyze", help="analyse a recording (activity, sets, holds, posture)",
                       description=__doc__.splitlines()[0])
    p.add_argument("file", help="CSV recording (t,ax,ay,az,gx,gy,gz)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--report", metavar="OUT.png", default=None, help="write a PNG report")
    p.add_argument("--exercise", default=None,
                   help="declare the exercise being done (plank, side_plank, bird_dog, dead_bug, "
                        "bridge, prone_press_up, knee_to_chest, spinal_rotation, squat)")
    p.add_argument("--chunk", type=int, default=4096, help="samples per chunk (default 4096)")
    p.add_argument("--device-id", default="local")
    p.set_defaults(func=run)


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, path: str) -> None:
        self.on = sys.stderr.isatty()
        self.total_rows = None
        if self.on:
            try:
                size = os.path.getsize(path)
                with open(path, "rb") as fh:
                    head = fh.read(1 << 16)
                lines = max(head.count(b"\n") - 1, 1)
                self.total_rows = size / (len(head) / (lines + 1))
            except OSError:
                self.on = False
        self.rows = 0

    def step(self, n: int) -> None:
        if not self.on:
            return
        self.rows += n
        frac = min(self.rows / self.total_rows, 1.0) if self.total_rows else 0.0
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\ranalysing [{bar:<30}] {100 * frac:5.1f}%")
        sys.stderr.flush()

    def done(self) -> None:
        if self.on:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from spinewise.config import load
    from spinewise.recording import ReadReport, RecordingError, read_chunks
    from spinewise.signal.analyzer import Analyzer

    if args.chunk < 1:
        print("spinewise analyze: --chunk must be >= 1", file=sys.stderr)
        return 2
    cfg = load(getattr(args, "config", None)).signal
    analyzer = Analyzer(cfg, device_id=args.device_id, posture_rate_hz=1.0 if args.report else 0.0)
    if args.exercise:
        try:
            analyzer.announce(args.exercise)
        except ValueError as exc:
            print(f"spinewise analyze: {exc}", file=sys.stderr)
            return 2
    report = ReadReport()
    timeline: dict[str, list] = {"posture": [], "activity": [], "sedentary_bout": [],
                                 "slouch": [], "break": []}
    progress = _Progress(args.file)

    def keep(events) -> None:
        if not args.report:
            return
        for e in events:
            if e.kind == "posture":
                timeline["posture"].append((e.t_s, e.data["flexion_deg"], e.data["lateral_deg"],
                                            e.data["incl_deg"]))
            elif e.kind == "activity":
                timeline["activity"].append((e.data["start_s"], e.data["activity"]))
            elif e.kind in ("sedentary_bout", "break"):
                timeline[e.kind].append((e.data["start_s"], e.data["end_s"]))
            elif e.kind == "slouch_ended":
                timeline["slouch"].append((e.data["start_s"], e.data["end_s"]))

    try:
        for chunk in read_chunks(args.file, args.chunk, device_id=args.device_id, report=report):
            keep(analyzer.update(chunk))
            progress.step(len(chunk))
        keep(analyzer.finish())
    except RecordingError as exc:
        progress.done()
        print(f"spinewise analyze: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        progress.done()
        print(f"spinewise analyze: {args.file}: {exc}", file=sys.stderr)
        return 2
    progress.done()
    summary = analyzer.summary()
    summary["read"] = report.to_dict()
    if args.report:
        from spinewise.report import write_report
        try:
            write_report(args.report, summary, timeline)
        except OSError as exc:
            print(f"spinewise analyze: cannot write {args.report}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    try:
        if args.json:
            json.dump(jsonable(summary), sys.stdout, allow_nan=False)
            sys.stdout.write("\n")
        else:
            print(format_text(summary))
        sys.stdout.flush()
    except BrokenPipeError:                  # `spinewise analyze f.csv | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_text(s: dict) -> str:
    a, p = s["activity"], s["posture"]
    cal = s.get("calibration", {})
    lines = [f"recording   {_hms(s['duration_s'])} at {s['sample_rate_hz']:g} Hz, "
             f"{'gyro' if s.get('has_gyro') else 'accelerometer only'}; mounting "
             f"{cal.get('reason') or 'assumed'}"]
    lines.append("activity    " + ", ".join(f"{k} {_hms(a[k + '_s'])}" for k in
                                             ("sitting", "standing", "walking", "lying", "exercise")))
    lines.append(f"sedentary   {_hms(a['sedentary_s'])} in {len(a['sedentary_bouts'])} bouts, "
                 f"{a['breaks']} breaks")
    cad = f", cadence {a['cadence_spm']:.0f}/min" if a.get("cadence_spm") else ""
    lines.append(f"steps       {a['steps']}{cad}")
    lines.append(f"slouch      {_hms(p['slouch_s'])} (neutral sitting "
                 f"{p['neutral_flexion_deg']['sitting']:+.0f} deg, standing "
                 f"{p['neutral_flexion_deg']['standing']:+.0f} deg)")
    for st in s.get("sets", []):
        side = ""
        if st.get("reps_left") or st.get("reps_right"):
            side = f" (L{st.get('reps_left', 0)}/R{st.get('reps_right', 0)})"
        lines.append(f"set         {st['exercise']:<16} {_hms(st['start_s'])}  {st['reps']} reps{side}")
    for h in s.get("holds", []):
        lines.append(f"hold        {h['exercise']:<16} {_hms(h['start_s'])}  {h['duration_s']:.0f} s")
    if s.get("unavailable"):
        lines.append("unavailable " + ", ".join(s["unavailable"]) + " (no gyroscope)"
                     if "axial_rate_dps" in s["unavailable"] else "unavailable " + ", ".join(s["unavailable"]))
    rd = s.get("read", {})
    if rd.get("dropped"):
        lines.append(f"input       {rd['dropped']} bad lines dropped ({rd.get('counts')})")
    return "\n".join(lines)
