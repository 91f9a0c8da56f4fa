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
    p.add_argument("file", help="CSV recording (t,ax,ay,az,gx,gy,gz), .csv.gz, or - for stdin")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--report", metavar="OUT.png", default=None, help="write a PNG report")
    p.add_argument("--exercise", default=None,
                   help="declare the exercise being done (plank, side_plank, bird_dog, dead_bug, "
                        "bridge, prone_press_up, knee_to_chest, spinal_rotation, squat)")
    p.add_argument("--chunk", type=int, default=4096, help="samples per chunk (default 4096)")
    p.add_argument("--device-id", default="local")
    add_unit_arguments(p)
    p.add_argument("--start", metavar="ISO", default=None,
                   help="clock time of the first sample when the times are relative, e.g. "
                        "2026-12-02T09:10 (coaching.timezone) or 2026-12-02T08:10Z: the "
                        "text and report show clock times, the report marks nudges")
    p.set_defaults(func=run)


def add_unit_arguments(p) -> None:
    """--acc-unit, --gyro-unit, --time-unit (spinewise.recording.units)."""
    units = p.add_argument_group(
        "units", "detected from the data when not given (a notice says what was converted; "
        "a recording whose units cannot be told is refused with the option to pass)")
    units.add_argument("--acc-unit", choices=("g", "m/s2", "mg"), default=None,
                       help="accelerometer columns")
    units.add_argument("--gyro-unit", choices=("dps", "rad/s"), default=None,
                       help="gyroscope columns (deg/s or rad/s)")
    units.add_argument("--time-unit", choices=("s", "ms", "us", "ns"), default=None,
                       help="time column (epoch times are offset to the first sample)")


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, path: str) -> None:
        self.on = sys.stderr.isatty() and path != "-" and not path.endswith(".gz")
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


def analyze_recording(source, *, cfg=None, units=None, chunk: int = 4096,
                      device_id: str = "local", exercise: str | None = None,
                      timeline: dict | None = None, on_start=None, on_chunk=None,
                      coaching=None) -> dict:
    """The analyze summary of a recording (path, ``-`` or binary file object).

    Raises ``RecordingError`` for a file that cannot be read (units included) and
    ``ValueError`` for a bad ``exercise``. With ``timeline`` (a dict of lists) the events
    the report draws are collected into it. ``on_start(units)`` runs once the units are
    decided, before the first chunk is analysed. With ``coaching`` (a CoachingConfig) and a
    timeline, the movement-break nudges the service would have sent are marked in it
    (``timeline["nudge"]``): they need the clock (quiet hours), so only for recordings
    whose start is known (epoch times, or ``units.start_epoch_s`` given).
    """
    from spinewise.config import load
    from spinewise.recording import ReadReport, read_chunks
    from spinewise.recording.units import Units
    from spinewise.results import assemble
    from spinewise.signal.analyzer import Analyzer

    cfg = cfg if cfg is not None else load(None).signal
    units = units if units is not None else Units()
    analyzer = Analyzer(cfg, device_id=device_id,
                        posture_rate_hz=1.0 if timeline is not None else 0.0)
    if exercise:
        analyzer.announce(exercise)
    report = ReadReport()
    nudges = None

    def keep(events) -> None:
        if timeline is None:
            return
        if nudges is not None:
            for n in nudges.update(events):
                if n.kind == "nudge":
                    timeline.setdefault("nudge", []).append((n.t_s, n.data.get("message", "")))
        for e in events:
            if e.kind == "posture":
                timeline.setdefault("posture", []).append(
                    (e.t_s, e.data["flexion_deg"], e.data["lateral_deg"], e.data["incl_deg"]))
            elif e.kind == "activity":
                timeline.setdefault("activity", []).append((e.data["start_s"], e.data["activity"]))
            elif e.kind in ("sedentary_bout", "break"):
                timeline.setdefault(e.kind, []).append((e.data["start_s"], e.data["end_s"]))
            elif e.kind == "slouch_ended":
                timeline.setdefault("slouch", []).append((e.data["start_s"], e.data["end_s"]))

    for i, ch in enumerate(read_chunks(source, chunk, device_id=device_id, report=report,
                                       units=units)):
        if i == 0:
            if on_start is not None:
                on_start(units)
            if coaching is not None and timeline is not None and units.start_epoch_s is not None:
                from spinewise.coaching.nudges import NudgePolicy
                nudges = NudgePolicy(coaching, t0_epoch_s=units.start_epoch_s)
        keep(analyzer.update(ch))
        if on_chunk is not None:
            on_chunk(len(ch))
    keep(analyzer.finish())
    return assemble(analyzer.summary(), report)


def run(args: argparse.Namespace) -> int:
    from spinewise.config import load
    from spinewise.recording import RecordingError
    from spinewise.recording.units import Units

    if args.chunk < 1:
        print("spinewise analyze: --chunk must be >= 1", file=sys.stderr)
        return 2
    cfg = load(getattr(args, "config", None))
    if args.exercise:
        from spinewise.signal.analyzer import Analyzer
        try:
            Analyzer(cfg.signal, device_id=args.device_id).announce(args.exercise)
        except ValueError as exc:
            print(f"spinewise analyze: {exc}", file=sys.stderr)
            return 2
    timeline: dict[str, list] | None = {} if args.report else None
    progress = _Progress(args.file)

    def notices(units) -> None:
        for notice in units.notices:     # one line each, before any result
            print(f"spinewise analyze: {notice}", file=sys.stderr)

    units = Units.given(args.acc_unit, args.gyro_unit, args.time_unit)
    if args.start:
        from spinewise.recording.units import parse_start
        try:
            units.start_epoch_s = parse_start(args.start, cfg.coaching.timezone)
        except ValueError as exc:
            print(f"spinewise analyze: {exc}", file=sys.stderr)
            return 2
    try:
        summary = analyze_recording(
            args.file, cfg=cfg.signal, units=units,
            chunk=args.chunk, device_id=args.device_id, exercise=args.exercise,
            timeline=timeline, on_start=notices, on_chunk=progress.step, coaching=cfg.coaching)
    except RecordingError as exc:
        progress.done()
        print(f"spinewise analyze: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        progress.done()
        print(f"spinewise analyze: {args.file}: {exc}", file=sys.stderr)
        return 2
    progress.done()
    if args.report:
        from spinewise.report import write_report
        try:
            write_report(args.report, summary, timeline, tz=cfg.coaching.timezone)
        except OSError as exc:
            print(f"spinewise analyze: cannot write {args.report}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    try:
        if args.json:
            json.dump(jsonable(summary), sys.stdout, allow_nan=False)
            sys.stdout.write("\n")
        else:
            print(format_text(summary, cfg.coaching.timezone))
        sys.stdout.flush()
    except BrokenPipeError:                  # `spinewise analyze f.csv | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _flag_counts(flags: list[str]) -> str:
    counts: dict[str, int] = {}
    for f in flags:
        counts[f] = counts.get(f, 0) + 1
    return ", ".join(f"{f} x{n}" if n > 1 else f for f, n in counts.items())


def _clock(start_epoch_s: float | None, tz: str | None):
    """A formatter of seconds-from-start as local clock time, or None without an epoch."""
    if start_epoch_s is None:
        return None
    import datetime as dt
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(tz or "UTC")
    return lambda t_s: dt.datetime.fromtimestamp(start_epoch_s + t_s, zone)


def format_text(s: dict, tz: str | None = None) -> str:
    """The readable summary: every figure of the JSON that a person reads, as lines of
    ``label  text`` (no Python structures)."""
    a, p = s["activity"], s["posture"]
    cal = s.get("calibration", {})
    clock = _clock(s.get("start_epoch_s"), tz)

    def at(t_s: float) -> str:
        return clock(t_s).strftime("%H:%M:%S") if clock else _hms(t_s)

    start = f" from {clock(0.0):%Y-%m-%d %H:%M %Z}" if clock else ""
    lines = [f"recording   {_hms(s['duration_s'])}{start} at {s['sample_rate_hz']:g} Hz, "
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
        flags = _flag_counts([f for r in st.get("reps_detail", []) for f in r.get("flags", [])]
                             + list(st.get("flags", [])))
        lines.append(f"set         {st['exercise']:<18} {at(st['start_s'])}  {st['reps']} reps"
                     f"{side}" + (f"; form: {flags}" if flags else ""))
    for h in s.get("holds", []):
        kind = h.get("side") or h.get("variant")     # a side plank is on the forearm
        name = h["exercise"] + (f" ({kind})" if kind else "")
        flags = _flag_counts(list(h.get("flags", [])))
        lines.append(f"hold        {name:<18} {at(h['start_s'])}  {h['duration_s']:.0f} s"
                     + (f"; form: {flags}" if flags else ""))
    if s.get("unavailable"):
        why = " (no gyroscope)" if not s.get("has_gyro") else ""
        lines.append("unavailable " + ", ".join(s["unavailable"]) + why)
    rd = s.get("read", {})
    for notice in (rd.get("units") or {}).get("notices", []):
        lines.append(f"units       {notice}")
    gaps = rd.get("gaps") or []
    if gaps:
        n = rd.get("counts", {}).get("gap", len(gaps))
        longest = max(g["end_s"] - g["start_s"] for g in gaps)
        where = ", ".join(f"{at(g['start_s'])} ({g['end_s'] - g['start_s']:.0f} s)"
                          for g in gaps[:5])
        lines.append(f"gaps        {n} without samples, longest {longest:.0f} s: {where}"
                     + (", ..." if n > 5 else ""))
    if rd.get("dropped"):
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(rd.get("counts", {}).items())
                            if reason != "gap")
        lines.append(f"input       {rd['dropped']} bad lines dropped: {reasons}")
    return "\n".join(lines)
