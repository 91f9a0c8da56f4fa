"""The numbers of one person's week (pure: a WeekSource in, a WeekFigures out, no drawing).

Weeks are ISO weeks (Monday..Sunday) in the person's local time zone. Volume is the
coaching definition (spinewise/coaching/log.py: reps x resistance, hold seconds for holds).
The plan and the 10 % line come from the coaching progression (build_plan at the week's
Monday): the line is the plan's cap, (1 + weekly_increase_max) x the reference week (guide:
Safety Precautions - increase volume by no more than 10 % weekly); an exercise the plan does
not hold falls back to 1.1 x the previous ISO week.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from spinewise.coaching.localtime import iso_local, local_date, zone
from spinewise.coaching.progression import Flags, build_plan

PLANK_WEEKS = 6                    # weeks of plank history on the page
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(text: str) -> date:
    """'2026-W48' -> the Monday of that ISO week; ValueError naming the format otherwise."""
    m = _WEEK_RE.match(text.strip())
    if not m:
        raise ValueError(f"--week: expected an ISO week such as 2026-W48, got {text!r}")
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ValueError(f"--week: {text!r} is not a week of that year") from None


def week_label(monday: date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def _midnight(d: date, tz: str) -> float:
    return datetime.combine(d, time(0), tzinfo=zone(tz)).timestamp()


@dataclass
class WeekFigures:
    user: str
    week: str                      # "2026-W48"
    monday: date
    tz: str
    days: list[dict]               # one row per local date (csvout.DAY_COLUMNS)
    exercises: list[dict]          # per exercise: done against plan and the 10 % line
    plank_weeks: list[dict]        # longest / mean hold, sway, tremor per ISO week
    form_flags: list[tuple[str, str, int]]    # (exercise, flag, count), most frequent first
    nudges: dict                   # sent / answered / ignored in the week
    pain: list[dict]               # reports in the week: local time, score, red flag
    red_flags: list[str]           # what a clinician must see first (empty: none)
    plan_note: str
    last_seen: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict:
        keys = ("sets", "reps", "hold_s", "form_flags", "nudges_sent", "nudges_answered")
        out = {k: sum(d[k] for d in self.days) for k in keys}
        out["sedentary_h"] = round(sum(d["sedentary_h"] for d in self.days), 1)
        return out


def gather(source, user: str, monday: date) -> WeekFigures:
    cfg = source.settings(user)
    tz = cfg.timezone
    dates = [monday + timedelta(days=i) for i in range(7)]
    since, until = _midnight(monday, tz), _midnight(monday + timedelta(days=7), tz) - 1e-3
    history = source.entries(user, until_t_s=until)
    week = [e for e in history if e.t_s >= since]
    pain_all = source.pain(user, until_t_s=until)
    pain = [p for p in pain_all if p.t_s >= since]
    nudges = source.nudges(user, since, until)
    totals = source.day_totals(user, dates[0].isoformat(), dates[-1].isoformat())
    flags = source.flags(user)

    days = [_day_row(d, tz, week, pain, nudges, totals.get(d.isoformat())) for d in dates]
    plan = build_plan(history, pain_all, Flags(**{k: bool(flags.get(k)) for k in
                                                  ("acute", "extension_eases", "red_flag")}),
                      cfg, since)
    prev = [e for e in history if since - 7 * 86400.0 <= e.t_s < since]
    counts = Counter(n["outcome"] for n in nudges)
    red = []
    if flags.get("red_flag"):
        red.append("RED FLAG active: leg pain, numbness or weakness reported -\n"
                   "exercise paused until a clinician clears it (guide: FAQ)")
    for p in pain:
        if p.red_flag:
            what = ", ".join(k for k in ("leg", "numbness", "weakness") if getattr(p, k))
            red.append(f"{iso_local(p.t_s, tz)[:16].replace('T', ' ')}: pain {p.score}/10 with {what}")
    if flags.get("acute"):
        red.append("acute episode flag set: walking and positions of comfort only")
    last = source.last_seen_t_s(user)
    return WeekFigures(
        user=user, week=week_label(monday), monday=monday, tz=tz, days=days,
        exercises=_exercises(week, prev, plan, cfg.weekly_increase_max),
        plank_weeks=_plank_weeks(history, monday, tz),
        form_flags=_form_flags(week),
        nudges={"sent": len(nudges), "answered": counts.get("answered", 0),
                "ignored": counts.get("ignored", 0)},
        pain=[{"local": iso_local(p.t_s, tz)[:16].replace("T", " "), "score": p.score,
               "red_flag": p.red_flag} for p in pain],
        red_flags=red, plan_note=_plan_note(plan),
        last_seen=iso_local(last, tz)[:16].replace("T", " ") if last else None)


def _day_row(d: date, tz: str, week, pain, nudges, total: dict | None) -> dict:
    on_day = [e for e in week if local_date(e.t_s, tz) == d]
    scores = [p.score for p in pain if local_date(p.t_s, tz) == d]
    sent = [n for n in nudges if local_date(n["t_s"], tz) == d]
    t = total or {}
    return {"date": d.isoformat(),
            "sets": len(on_day), "reps": sum(e.reps for e in on_day),
            "hold_s": round(sum(e.duration_s for e in on_day if e.kind == "hold"), 1),
            "form_flags": sum(len(e.flags) for e in on_day),
            "sedentary_h": round(t.get("sedentary_s", 0.0) / 3600.0, 2),
            "walking_min": round(t.get("walking_s", 0.0) / 60.0, 1),
            "exercise_min": round(t.get("exercise_s", 0.0) / 60.0, 1),
            "steps": int(t.get("steps", 0)),
            "nudges_sent": len(sent),
            "nudges_answered": sum(1 for n in sent if n["outcome"] == "answered"),
            "pain_max": max(scores) if scores else None,
            "pain_reports": len(scores),
            "recorded": total is not None}


def _exercises(week, prev, plan: dict, increase: float) -> list[dict]:
    targets = {t["exercise"]: t for t in ((plan.get("week") or {}).get("targets") or [])}
    names = sorted({e.exercise for e in week} | set(targets))
    out = []
    for name in names:
        done = [e for e in week if e.exercise == name]
        prev_vol = sum(e.volume for e in prev if e.exercise == name)
        t = targets.get(name)
        if t and t["reference_volume"] > 0:
            line = t["cap_volume"]
        else:
            line = prev_vol * (1.0 + increase) if prev_vol > 0 else None
        volume = sum(e.volume for e in done)
        is_hold = any(e.kind == "hold" for e in done) or (t is not None and t["unit"] == "s")
        out.append({"exercise": name, "kind": "hold" if is_hold else "set", "sets": len(done),
                    "reps": sum(e.reps for e in done),
                    "hold_s": round(sum(e.duration_s for e in done), 1),
                    "volume": round(volume, 1), "previous_volume": round(prev_vol, 1),
                    "planned_volume": None if t is None else t["planned_volume"],
                    "planned_sets": None if t is None else t["dose"]["sets"] * t["sessions"],
                    "line_volume": None if line is None else round(line, 1),
                    "over_line": line is not None and volume > line + 1e-9})
    return out


def _plank_weeks(history, monday: date, tz: str) -> list[dict]:
    out = []
    for k in range(PLANK_WEEKS - 1, -1, -1):
        start = monday - timedelta(days=7 * k)
        holds = [e for e in history if e.exercise == "plank" and e.kind == "hold"
                 and start <= local_date(e.t_s, tz) < start + timedelta(days=7)]
        sway = [e.sway_deg_rms for e in holds if e.sway_deg_rms is not None]
        trem = [e.tremor_mg_rms for e in holds if e.tremor_mg_rms is not None]
        out.append({"week": week_label(start), "holds": len(holds),
                    "longest_s": max((e.duration_s for e in holds), default=None),
                    "mean_s": sum(e.duration_s for e in holds) / len(holds) if holds else None,
                    "sway_deg_rms": sum(sway) / len(sway) if sway else None,
                    "tremor_mg_rms": sum(trem) / len(trem) if trem else None})
    while len(out) > 1 and not out[0]["holds"]:       # from the first week with a plank
        out.pop(0)
    return out


def _form_flags(week) -> list[tuple[str, str, int]]:
    c = Counter((e.exercise, f) for e in week for f in e.flags)
    return [(ex, f, n) for (ex, f), n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]


def _plan_note(plan: dict) -> str:
    if plan["status"] == "stop":
        return "plan: exercise paused (red flag) until a clinician clears it"
    if plan["status"] == "acute":
        return "plan: acute episode - walking and positions of comfort, no progression"
    return (f"plan: programme week {plan['programme_week']}, {plan['phase']} phase"
            + (" (deload)" if plan["deload"] else "")
            + f", started {plan['programme_start']}")
