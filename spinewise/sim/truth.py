"""Ground truth (truth.json) from a plan: activity totals, bouts, breaks, slouch, sets, holds.

Definitions (also written into truth.json under "definitions" so consumers need not guess):
- Every instant belongs to exactly one segment. A "transition" segment (getting down on the mat,
  sit-to-stand, ...) counts, in the activity totals, as the class it ends in (``ends_in``), so
  sitting_s + standing_s + walking_s + lying_s + exercise_s == duration_s.
- exercise: from the start of a set's first movement (or the lift into a hold) to the end of its
  last return (or the lowering). Rests between sets are lying / standing.
- sedentary: sitting, or lying while awake (segments marked ``asleep`` are excluded), and not
  exercising. A sedentary bout is a maximal run of sedentary time in which interruptions
  (anything else) shorter than ``sedentary_tolerance_s`` are bridged; the bridged time is inside
  the bout's span but not in sedentary_s. Bouts shorter than ``min_bout_s`` are not listed.
- break: a maximal continuous run of standing/walking lasting >= ``break_min_s`` that begins
  right after sedentary time (standing up from sitting or from lying awake).
- steps: heel strikes (both feet) while walking.
- slump: every simulated slumped sitting (extra posterior tilt 10-30 deg beyond the person's
  sitting neutral) or slouched standing (forward flexion 15-30 deg beyond the standing neutral),
  from the middle of the shift into it to the middle of the shift out of it. Each bout is listed
  in posture.slouch_bouts with its depth_deg (beyond the neutral of its posture); slump_s is
  their total. segments[].slouch marks the same slumped time.
- slouch (the product's definition, the one the detector implements): a slump deeper than
  ``SignalConfig.slouch_threshold_deg`` beyond neutral lasting at least ``slouch_min_s``; the
  whole bout counts. slouch_s is their total; slouch_bouts[].slouch says which bouts qualify.
"""
from __future__ import annotations

import numpy as np

from spinewise.config import SignalConfig

SEDENTARY_TOLERANCE_S = SignalConfig().sedentary_tolerance_s
BREAK_MIN_S = SignalConfig().break_min_s
SLOUCH_THRESHOLD_DEG = SignalConfig().slouch_threshold_deg
SLOUCH_MIN_S = SignalConfig().slouch_min_s
MIN_BOUT_S = 60.0
CLASSES = ("sitting", "standing", "walking", "lying", "exercise")


def seg_class(seg) -> str:
    return seg.info.get("ends_in", "standing") if seg.activity == "transition" else seg.activity


def _is_sedentary(seg) -> bool:
    cls = seg_class(seg)
    return cls == "sitting" or (cls == "lying" and not seg.info.get("asleep", False))


def _runs(segments, pred) -> list[list[float]]:
    runs: list[list[float]] = []
    for s in segments:
        if not pred(s):
            continue
        if runs and abs(runs[-1][1] - s.start_s) < 1e-9:
            runs[-1][1] = s.end_s
        else:
            runs.append([s.start_s, s.end_s])
    return runs


def _r(x: float) -> float:
    return round(float(x), 3)


def slouch_bouts_truth(slump_bouts, duration_s: float, threshold_deg: float = SLOUCH_THRESHOLD_DEG,
                       min_s: float = SLOUCH_MIN_S) -> list[dict]:
    """[start_s, end_s, depth_deg] slumps -> truth bouts, each flagged with whether it is a
    slouch by the product's definition (deeper than ``threshold_deg``, lasting ``min_s``).
    A bout cut by the end of the recording is judged on the part recorded."""
    out = []
    for a, b, depth in slump_bouts:
        if a >= duration_s:
            continue
        b = min(b, duration_s)
        out.append({"start_s": a, "end_s": b, "depth_deg": round(float(depth), 2),
                    "slouch": bool(depth > threshold_deg and b - a >= min_s)})
    return out


def build_truth(segments, sets, holds, slouch_bouts, duration_s: float,
                slouch_threshold_deg: float = SLOUCH_THRESHOLD_DEG,
                slouch_min_s: float = SLOUCH_MIN_S) -> dict:
    """``slouch_bouts``: the planner's slumps, [start_s, end_s, depth_deg beyond neutral]."""
    totals = {c: 0.0 for c in CLASSES}
    for s in segments:
        totals[seg_class(s)] += s.duration_s
    sed_runs = _runs(segments, _is_sedentary)
    sedentary_s = sum(b - a for a, b in sed_runs)
    bouts: list[list[float]] = []
    for a, b in sed_runs:
        if bouts and a - bouts[-1][1] < SEDENTARY_TOLERANCE_S:
            bouts[-1][1] = b
        else:
            bouts.append([a, b])
    bouts = [b for b in bouts if b[1] - b[0] >= MIN_BOUT_S]

    breaks = []
    upright = _runs(segments, lambda s: seg_class(s) in ("standing", "walking"))
    ends = np.array([s.end_s for s in segments])
    for a, b in upright:
        if b - a < BREAK_MIN_S:
            continue
        k = int(np.searchsorted(ends, a - 1e-9))     # the segment ending where the run starts
        if k < len(segments) and abs(ends[k] - a) < 1e-9 and _is_sedentary(segments[k]):
            breaks.append([a, b])
    steps = sum(int(s.info.get("steps", 0)) for s in segments)
    slumps = slouch_bouts_truth(slouch_bouts, duration_s, slouch_threshold_deg, slouch_min_s)
    return {
        "duration_s": _r(duration_s),
        "segments": [{k: (_r(v) if k in ("start_s", "end_s") else v) for k, v in s.truth().items()}
                     for s in segments],
        "sets": sets,
        "holds": holds,
        "activity": {"sedentary_s": _r(sedentary_s), **{f"{c}_s": _r(totals[c]) for c in CLASSES},
                     "steps": steps, "breaks": len(breaks),
                     "sedentary_bouts": [{"start_s": _r(a), "end_s": _r(b)} for a, b in bouts]},
        "posture": {"slouch_s": _r(sum(b["end_s"] - b["start_s"] for b in slumps if b["slouch"])),
                    "slump_s": _r(sum(b["end_s"] - b["start_s"] for b in slumps)),
                    "slouch_threshold_deg": slouch_threshold_deg, "slouch_min_s": slouch_min_s,
                    "slouch_bouts": [b | {"start_s": _r(b["start_s"]), "end_s": _r(b["end_s"])}
                                     for b in slumps]},
        "breaks": [{"start_s": _r(a), "end_s": _r(b)} for a, b in breaks],
        "definitions": {
            "transition": "segments with activity 'transition' count in the totals as their 'ends_in' class",
            "exercise": "first movement of a set (or lift into a hold) to the end of its last return "
                        "(or lowering); transitions into an exercise's start pose count as exercise",
            "sedentary": "sitting, or lying while awake (segment not 'asleep'), not exercising",
            "sedentary_bout": "maximal sedentary run; interruptions shorter than sedentary_tolerance_s are "
                              "bridged (inside the span, not in sedentary_s); bouts shorter than "
                              "min_bout_s not listed",
            "sedentary_tolerance_s": SEDENTARY_TOLERANCE_S, "min_bout_s": MIN_BOUT_S,
            "break": "maximal continuous standing/walking run >= break_min_s that starts right after "
                     "sedentary time",
            "break_min_s": BREAK_MIN_S,
            "steps": "heel strikes of both feet while walking",
            "slump": "slumped sitting or slouched standing of any depth, from mid shift-in to mid "
                     "shift-out; listed in posture.slouch_bouts with depth_deg beyond the posture's "
                     "neutral; total in posture.slump_s (segments[].slouch marks the same time)",
            "slouch": "a slump with depth_deg > slouch_threshold_deg lasting >= slouch_min_s (whole bout; "
                      "slouch_bouts[].slouch is true); total in posture.slouch_s",
            "slouch_threshold_deg": slouch_threshold_deg, "slouch_min_s": slouch_min_s,
            "rep": "start_s: movement leaves the start pose; end_s: back in the start pose; hold_s: time "
                   "at the peak pose; amplitude_deg: rotation of the sensor's segment from start to peak pose",
            "hold": "plank/side_plank holds are in 'holds' only (not 'sets'): start_s when the lift into "
                    "position ends, end_s when the lowering begins",
        },
    }
