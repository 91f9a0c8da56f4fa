"""Progression: the next session and the next weeks, from logged sets, holds and pain.

A pure function of the history (no stored programme state): the programme starts on the
local date of the first logged entry; weeks are 7-day blocks from there; the phase is found
by replaying completed weeks. Each plan item carries the reason it was chosen.

Rules (sources in spinewise/coaching/guide.py):
- weekly volume per exercise <= (1 + weekly_increase_max) x the reference week, where the
  reference is the last completed non-deload week (after a deload the user returns to the
  loading before it, never above +10 % of it);
- every ``deload_every_weeks``-th programme week is a deload: <= deload_factor x reference;
- an exercise with no reference volume is introduced at the guide's starting dose;
- pain worse 24 h after a session than before it -> volume x pain_reduction_factor and
  reduced range; leg pain / numbness / weakness -> no exercise, see a clinician;
- acute episode -> walking and positions of comfort (+ press-ups if extension eases);
- plank: knees until a clean 45 s hold, then full plank from 20 s up to 60 s, then side planks;
- at least one rest day a week (the week pattern has one, and 6 training days in a row
  force a rest day).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta

from spinewise.config import CoachingConfig
from spinewise.coaching import guide
from spinewise.coaching.guide import Dose, ExerciseSpec
from spinewise.coaching.localtime import local_date
from spinewise.coaching.log import LogEntry, PainReport

DAY_S = 86400.0


@dataclass(frozen=True)
class Flags:
    acute: bool = False
    extension_eases: bool = False
    red_flag: bool = False


# -- weeks and volumes ---------------------------------------------------------------------
def programme_start(history: list[LogEntry], tz: str) -> date | None:
    return min((local_date(e.t_s, tz) for e in history), default=None)


def week_of(d: date, start: date) -> int:
    return (d - start).days // 7 + 1


def is_deload(week: int, cfg: CoachingConfig) -> bool:
    return week >= 1 and week % cfg.deload_every_weeks == 0


def weekly_volumes(history: list[LogEntry], tz: str, start: date) -> dict[int, dict[str, float]]:
    vols: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in history:
        vols[week_of(local_date(e.t_s, tz), start)][e.exercise] += e.volume
    return vols


def reference_week(week: int, cfg: CoachingConfig) -> int | None:
    """The last completed non-deload week before ``week``."""
    for w in range(week - 1, 0, -1):
        if not is_deload(w, cfg):
            return w
    return None


# -- phases --------------------------------------------------------------------------------
def _best_hold(history: list[LogEntry], exercise: str, variant: str | None = None) -> float:
    return max((e.duration_s for e in history if e.kind == "hold" and e.exercise == exercise
                and e.plank_clean and (variant is None or _plank_variant(e) == variant)), default=0.0)


def _plank_variant(e: LogEntry) -> str:
    return "full" if e.variant in ("full", "toes") else "knee"


def _clean_reps_per_side(history: list[LogEntry], exercise: str) -> int:
    best = 0
    for e in history:
        if e.kind == "set" and e.exercise == exercise and e.clean:
            per_side = min(e.reps_left, e.reps_right) if (e.reps_left or e.reps_right) else e.reps // 2
            best = max(best, per_side)
    return best


def phase_criteria(phase: str, history: list[LogEntry], last_week: list[LogEntry]) -> tuple[bool, str]:
    """Whether ``phase`` may end after a week: (ready, what is still missing or done).

    Phases are time-boxed (guide: Advanced Progressions - "Each phase typically lasts 4-6
    weeks") but gated on form, since the strength phase adds load (guide: Common Mistakes -
    "Always master bodyweight versions with perfect form before adding resistance").
    """
    flagged = sorted({e.exercise for e in last_week if not e.clean})
    form = ("no sets logged last week" if not last_week else
            f"form flags last week on {', '.join(flagged)}" if flagged else "clean form last week")
    form_ok = bool(last_week) and not flagged
    if phase == "stability":
        # guide: Core Stabilization - Bird Dog "10-12 repetitions per side" before resistance
        bird = _clean_reps_per_side(history, "bird_dog")
        return form_ok and bird >= 10, f"{form}, bird dog best clean set {bird}/10 per side"
    if phase == "strength":
        # guide: Advanced Progressions - power is "appropriate for advanced exercisers": ours,
        # a clean full plank (on the toes) marks advanced
        full = _best_hold(history, "plank", "full")
        return form_ok and full > 0, f"{form}, clean full plank {'done' if full else 'not yet'}"
    return False, "power is the last phase"


def phase_for_week(week: int, history: list[LogEntry], tz: str, start: date,
                   cfg: CoachingConfig) -> tuple[str, int, str]:
    """(phase, week number inside the phase, reason) for programme ``week``."""
    phase_i, in_phase, note = 0, 0, "programme starts in the stability/endurance phase"
    for w in range(1, week):
        in_phase += 1
        end = start + timedelta(days=7 * w)
        done = [e for e in history if local_date(e.t_s, tz) < end]
        last = [e for e in done if local_date(e.t_s, tz) >= end - timedelta(days=7)]
        ok, detail = phase_criteria(guide.PHASES[phase_i], done, last)
        if phase_i + 1 < len(guide.PHASES) and in_phase >= cfg.phase_min_weeks and ok:
            phase_i, in_phase = phase_i + 1, 0
            note = (f"moved to the {guide.PHASES[phase_i]} phase after week {w}: {detail} "
                    f"({guide.ADVANCED} - periodization, 4-6 week phases)")
        elif in_phase >= cfg.phase_max_weeks and not ok:
            note = (f"{in_phase} weeks in the {guide.PHASES[phase_i]} phase but not ready to move on "
                    f"({detail}): staying, plateaus are normal ({guide.SAFETY} - progression)")
        elif in_phase < cfg.phase_min_weeks:
            note = (f"week {in_phase + 1} of the {guide.PHASES[phase_i]} phase; phases last "
                    f"{cfg.phase_min_weeks}-{cfg.phase_max_weeks} weeks ({guide.ADVANCED})")
        else:
            note = f"{guide.PHASES[phase_i]} phase continues: {detail}"
    return guide.PHASES[phase_i], in_phase + 1, note


# -- the 24-hour rule ----------------------------------------------------------------------
def pain_after_sessions(history: list[LogEntry], pain: list[PainReport], tz: str,
                        before_t_s: float) -> dict | None:
    """The latest session (a local day of logged exercise) with pain reported before it and
    about 24 h after it, as ``{date, before, after, worse}``; None if none can be judged.
    guide: FAQ - "24-hour rule": worse 24 h after exercise means you likely overdid it."""
    sessions: dict[date, list[LogEntry]] = defaultdict(list)
    for e in history:
        if e.t_s < before_t_s:
            sessions[local_date(e.t_s, tz)].append(e)
    for day in sorted(sessions, reverse=True):
        entries = sessions[day]
        start = min((e.start_s if e.start_s is not None else e.t_s) for e in entries)
        end = max(e.t_s for e in entries)
        before = [p for p in pain if start - 0.5 * DAY_S <= p.t_s <= start]
        after = [p for p in pain if end + 0.75 * DAY_S <= p.t_s <= end + 1.5 * DAY_S
                 and p.t_s < before_t_s]
        if before and after:
            b = max(before, key=lambda p: p.t_s)
            a = min(after, key=lambda p: abs(p.t_s - (end + DAY_S)))
            return {"date": day.isoformat(), "before": b.score, "after": a.score,
                    "worse": a.score > b.score}
    return None


# -- doses ---------------------------------------------------------------------------------
def dose_volume(spec: ExerciseSpec, dose: Dose) -> float:
    sides = 2 if dose.per_side else 1
    if spec.kind == "hold":
        return dose.sets * dose.hold_s * sides
    return sum(dose.set_reps()) * sides * dose.resistance


def dose_for(spec: ExerciseSpec, volume: float, goal: Dose, start: Dose | None = None) -> Dose | None:
    """The largest dose shaped like ``goal`` whose volume is <= ``volume`` (None if none).

    Holds progress by duration at the goal's number of sets; rep exercises fill sets of up
    to the goal's reps and spread the total evenly (10 % steps need uneven sets: 6 + 5).
    """
    sides = 2 if goal.per_side else 1
    if spec.kind == "hold":
        total = volume / sides
        sets = goal.sets
        hold = min(goal.hold_s, math.floor(total / sets + 1e-9))
        if hold < spec.min_hold_s:
            sets = max(1, math.floor(total / spec.min_hold_s + 1e-9))
            hold = min(goal.hold_s, math.floor(total / sets + 1e-9))
        # a hold shorter than min_hold_s is not worth a set: fewer sessions instead
        return Dose(sets, 0, float(hold), goal.per_side, goal.resistance) if hold >= spec.min_hold_s else None
    reps_total = min(math.floor(volume / (sides * goal.resistance) + 1e-9), goal.sets * goal.reps)
    if reps_total < spec.min_reps:     # too few reps to be worth a session: fewer sessions
        return None
    sets = max(1, math.ceil(reps_total / goal.reps))
    base, extra = divmod(reps_total, sets)
    per_set = tuple(base + (1 if i < extra else 0) for i in range(sets))
    hold = goal.hold_s
    if start is not None and goal.hold_s > start.hold_s:
        # rep holds grow with volume from the start hold to the goal (bird dog 5 -> 10 s)
        first, last = start.sets * start.reps, goal.sets * goal.reps
        frac = min(1.0, max(0.0, (reps_total - first) / max(1, last - first)))
        hold = float(round(start.hold_s + (goal.hold_s - start.hold_s) * frac))
    return Dose(sets, per_set[0], hold, goal.per_side, goal.resistance,
                per_set if len(set(per_set)) > 1 else ())


# -- the plan ------------------------------------------------------------------------------
def _exercise_choices(phase: str, history: list[LogEntry]) -> list[tuple[ExerciseSpec, Dose, Dose, str, str]]:
    """(spec, start dose, goal dose, variant, why) for each exercise of the phase."""
    out = []
    full_best = _best_hold(history, "plank", "full")
    knee_best = _best_hold(history, "plank", "knee")
    specs = list(guide.PHASE_EXERCISES[phase])
    if full_best >= guide.FULL_PLANK_GOAL_S:
        specs.append(guide.SIDE_PLANK)       # guide: Plank - 60 s holds, "then side planks"
    for spec in specs:
        start, goal, variant, why = spec.start, spec.goal, "", spec.source
        if spec.name == "plank":
            if full_best > 0 or knee_best >= guide.KNEE_PLANK_TO_FULL_S:
                variant = "full"
                start = Dose(3, hold_s=guide.FULL_PLANK_START_S)
                why = (f"full plank: knee plank held {knee_best:.0f} s with clean form "
                       f"(>= {guide.KNEE_PLANK_TO_FULL_S:.0f} s); build to "
                       f"{guide.FULL_PLANK_GOAL_S:.0f} s ({spec.source})")
            else:
                variant = "knee"
                goal = Dose(3, hold_s=guide.KNEE_PLANK_TO_FULL_S)
                why = (f"knee plank until a clean {guide.KNEE_PLANK_TO_FULL_S:.0f} s hold "
                       f"(best so far {knee_best:.0f} s) ({spec.source})")
        elif spec.name == "side_plank":
            why = f"full plank held {full_best:.0f} s cleanly: add side planks ({spec.source})"
        elif spec.name == "bird_dog" and phase != "stability":
            # guide: Core Stabilization - Bird Dog: resistance once form is perfect
            start = Dose(1, 8, 5.0, True, guide.BAND_RESISTANCE)
            goal = Dose(3, 12, 10.0, True, guide.BAND_RESISTANCE)
            variant = "band"
            why = f"bird dog with a light band now that form is clean ({spec.source})"
        out.append((spec, start, goal, variant, why))
    return out


def _week_targets(week: int, vols: dict, history: list[LogEntry], phase: str,
                  cfg: CoachingConfig, reduce: dict | None, sessions: int) -> list[dict]:
    deload = is_deload(week, cfg)
    ref_w = reference_week(week, cfg)
    items = []
    for spec, start, goal, variant, why in _exercise_choices(phase, history):
        ref = vols.get(ref_w, {}).get(spec.name, 0.0) if ref_w else 0.0
        goal_week = dose_volume(spec, goal) * sessions
        reasons = [why]
        if ref <= 0:
            target = dose_volume(spec, start) * sessions
            cap = target
            reasons.append("no volume in the reference week: start at the guide's dose")
        else:
            cap = ref * (1.0 + cfg.weekly_increase_max)
            target = min(cap, goal_week)
            reasons.append(f"reference week {ref_w}: {ref:.0f}; at most +{cfg.weekly_increase_max:.0%} "
                           f"= {cap:.0f} ({guide.SAFETY} - the 10% rule)")
            if variant == "full" and not any(
                    e.exercise == "plank" and _plank_variant(e) == "full" for e in history):
                target = min(target, dose_volume(spec, start) * sessions)
                reasons.append("first week on the toes: restart at shorter holds")
        if deload:
            base = min(ref, goal_week) if ref > 0 else target
            target = base * cfg.deload_factor
            cap = min(cap, target)
            reasons.append(f"deload week {week}: volume x {cfg.deload_factor:g} "
                           f"({guide.ADVANCED} - deload every 4th week)")
        if reduce:
            target *= cfg.pain_reduction_factor
            reasons.append(f"pain {reduce['before']}/10 before the session on {reduce['date']} and "
                           f"{reduce['after']}/10 about 24 h later: volume x "
                           f"{cfg.pain_reduction_factor:g} and a smaller range ({guide.FAQ} - 24-hour rule)")
        dose, n = _fit(spec, target, goal, start, sessions)
        if dose is None and goal.resistance != 1.0:
            goal, start = replace(goal, resistance=1.0), replace(start, resistance=1.0)
            dose, n = _fit(spec, target, goal, start, sessions)
            reasons.append("too little volume to add resistance yet: bodyweight this week")
        if dose is None:
            dose, n = replace(goal, sets=0, reps=0, hold_s=0.0, reps_per_set=()), 0
            reasons.append("too little reference volume for even one rep within the 10% rule")
        elif n < sessions:
            reasons.append(f"volume fits {n} of {sessions} strength sessions")
        planned = dose_volume(spec, dose) * n
        unit = "s" if spec.kind == "hold" else "reps x resistance"
        items.append({"exercise": spec.name, "variant": variant, "unit": unit,
                      "reference_week": ref_w, "reference_volume": round(ref, 3),
                      "cap_volume": round(cap, 3), "planned_volume": round(planned, 3),
                      "sessions": n, "dose": _dose_dict(dose), "reduced_range": bool(reduce),
                      "reason": "; ".join(reasons)})
    return items


def _fit(spec: ExerciseSpec, target: float, goal: Dose, start: Dose,
         sessions: int) -> tuple[Dose | None, int]:
    """The dose and number of sessions that carry ``target`` best without exceeding it."""
    for n in range(sessions, 0, -1):
        dose = dose_for(spec, target / n, goal, start)
        if dose is not None:
            return dose, n
    # less than one worthwhile set: the one small set that fits, rather than nothing
    dose = dose_for(replace(spec, min_reps=1, min_hold_s=1.0), target, goal, start)
    return (dose, 1) if dose is not None else (None, 0)


def _dose_dict(d: Dose) -> dict:
    out = {"sets": d.sets, "reps": d.reps, "hold_s": d.hold_s, "per_side": d.per_side,
           "resistance": d.resistance}
    if d.reps_per_set:
        out["reps_per_set"] = list(d.reps_per_set)
    return out


def build_plan(history: list[LogEntry], pain: list[PainReport], flags: Flags,
               cfg: CoachingConfig, t_s: float) -> dict:
    """The plan at epoch time ``t_s``: this programme week, the next one, the next session."""
    tz = cfg.timezone
    history = sorted((e for e in history if e.t_s <= t_s), key=lambda e: e.t_s)
    today = local_date(t_s, tz)
    if flags.red_flag:
        return _stop_plan(t_s, today)
    if flags.acute:
        return _acute_plan(t_s, today, flags)
    start = programme_start(history, tz) or today
    week = week_of(today, start)
    vols = weekly_volumes(history, tz, start)
    phase, week_in_phase, phase_note = phase_for_week(week, history, tz, start, cfg)
    judged = pain_after_sessions(history, pain, tz, t_s)
    reduce = judged if judged and judged["worse"] else None
    sessions = guide.STRENGTH_SESSIONS_PER_WEEK
    this_week = _week_targets(week, vols, history, phase, cfg, reduce, sessions)
    # next week, projected as if this week's targets are met
    projected = dict(vols)
    projected[week] = {i["exercise"]: i["planned_volume"] for i in this_week}
    next_phase, _, _ = phase_for_week(week + 1, history, tz, start, cfg)
    next_week = _week_targets(week + 1, projected, history, next_phase, cfg, None, sessions)
    reasons = [phase_note, guide.PHASE_TEXT[phase]]
    if judged and not judged["worse"]:
        reasons.append(f"24-hour rule passed after {judged['date']} "
                       f"({judged['before']} -> {judged['after']}/10)")
    return {
        "t_s": t_s, "status": "train", "programme_start": start.isoformat(),
        "programme_week": week, "phase": phase, "phase_week": week_in_phase,
        "deload": is_deload(week, cfg), "reasons": reasons,
        "week": {"week": week, "deload": is_deload(week, cfg), "targets": this_week,
                 "schedule": _schedule(start, week)},
        "next_week": {"week": week + 1, "phase": next_phase, "deload": is_deload(week + 1, cfg),
                      "targets": next_week, "schedule": _schedule(start, week + 1)},
        "next_session": _next_session(history, this_week, vols.get(week, {}), start, today, tz),
    }


def planned_sets(plan: dict) -> int:
    """Sets (holds count as sets) the plan asks for in its programme week, all exercises."""
    targets = (plan.get("week") or {}).get("targets") or []
    return sum(t["dose"]["sets"] * t["sessions"] for t in targets)


def _schedule(start: date, week: int) -> list[dict]:
    first = start + timedelta(days=7 * (week - 1))
    return [{"date": (first + timedelta(days=i)).isoformat(), "type": t}
            for i, t in enumerate(guide.WEEK_PATTERN)]


def _next_session(history, targets, done_this_week, start: date, today: date, tz: str) -> dict:
    trained = {local_date(e.t_s, tz) for e in history}
    day = today + timedelta(days=1) if today in trained else today
    kind = guide.WEEK_PATTERN[(day - start).days % 7]
    reason = f"day {(day - start).days % 7 + 1} of the week pattern ({guide.FAQ} - how often)"
    if all(day - timedelta(days=i) in trained for i in range(1, 7)):
        kind = "rest"
        reason = f"six training days in a row: full rest day ({guide.SAFETY} - rest days)"
    items: list[dict] = []
    if kind == "strength":
        for t in targets:
            left = max(0.0, t["planned_volume"] - done_this_week.get(t["exercise"], 0.0))
            dose = t["dose"]
            if left <= 0:
                continue
            items.append({"exercise": t["exercise"], "variant": t["variant"], **dose,
                          "reason": t["reason"]})
        if not items:
            kind, reason = "active_recovery", "this week's strength volume is done"
    if kind == "mobility":
        k = guide.KNEE_TO_CHEST
        items = [{"exercise": "knee_to_chest", "sets": k.sets, "hold_s": k.hold_s, "per_side": True,
                  "reason": guide.WHEN + " - mobility"},
                 {"exercise": "spinal_rotation", "reps": guide.SPINAL_ROTATION.reps, "per_side": True,
                  "reason": guide.WHEN + " - gentle spinal rotations"}]
    if kind == "active_recovery":
        items = [{"activity": "walking", "minutes": [20, 30],
                  "reason": guide.SAFETY + " - gentle walking or swimming for active recovery; minutes: "
                  + guide.OURS}]
    if kind == "strength":
        items.insert(0, {"activity": "warm-up walk", "minutes": [5, 10],
                         "reason": guide.WHEN + " - 5-10 minutes of aerobic warm-up"})
    return {"date": day.isoformat(), "type": kind, "items": items, "reason": reason}


def _stop_plan(t_s: float, today: date) -> dict:
    text = ("You reported pain spreading down the leg, numbness or weakness. spinewise has "
            "stopped suggesting exercises: please see a clinician before continuing exercise. "
            "Send {\"v\": 1, \"cmd\": \"clinician_cleared\"} once a clinician has cleared you.")
    return {"t_s": t_s, "status": "stop", "programme_week": None, "phase": None,
            "deload": False, "reasons": [guide.FAQ + " - leg pain, numbness or weakness",
                                         guide.SAFETY + " - red flag symptoms need medical clearance"],
            "advice": text, "week": None, "next_week": None,
            "next_session": {"date": today.isoformat(), "type": "none", "items": [],
                             "reason": "exercise paused pending medical evaluation"}}


def _acute_plan(t_s: float, today: date, flags: Flags) -> dict:
    lo, hi = guide.ACUTE_WALK_MIN
    items = [{"activity": "walking", "minutes": [lo, hi], "times_per_day": "several",
              "reason": guide.WHEN + " - acute episodes: walk at a comfortable pace"},
             {"activity": "positions of comfort", "reason": guide.WHEN + " - first 48-72 hours"}]
    if flags.extension_eases:
        items.append({"exercise": "prone_press_up", "reps": guide.PRESS_UP.reps,
                      "every_min": 120, "range": "partial, progressing to full over sessions",
                      "reason": guide.WHEN + " - disc-related: extension eases your pain; stop if "
                      "it spreads or worsens"})
    return {"t_s": t_s, "status": "acute", "programme_week": None, "phase": None, "deload": False,
            "reasons": ["acute episode flag is set: no strengthening progression; as pain subsides "
                        "clear the flag to reintroduce gentle stretching and basic stabilization",
                        guide.WHEN + " - acute episodes"],
            "week": None, "next_week": None,
            "next_session": {"date": today.isoformat(), "type": "acute", "items": items,
                             "reason": "acute episode"}}
