"""``spinewise coach --all``: every person in one table for the terminal (the carer's view).

One row per person for the ISO week holding ``today`` (their own time zone): last seen, sets
and holds done against the sets the plan asks for, sedentary hours today and per recorded
day, the week's pain (first -> last report), and red flags. Numbers from figures.gather, so
they agree with ``spinewise report``.
"""
from __future__ import annotations

from datetime import date, timedelta

from spinewise.weekly.figures import gather


def roster_rows(source, today: date) -> list[dict]:
    rows = []
    monday = today - timedelta(days=today.weekday())
    for user in source.users():
        wk = gather(source, user, monday)
        planned = [e["planned_sets"] for e in wk.exercises if e["planned_sets"] is not None]
        recorded = [d for d in wk.days if d["recorded"]]
        today_row = next((d for d in wk.days if d["date"] == today.isoformat()), None)
        scores = [p["score"] for p in wk.pain]
        rows.append({"user": user, "week": wk.week, "last_seen": wk.last_seen,
                     "sets": wk.totals["sets"], "planned_sets": sum(planned) if planned else None,
                     "sedentary_h_today": today_row["sedentary_h"] if today_row else 0.0,
                     "sedentary_h_per_day": (round(sum(d["sedentary_h"] for d in recorded)
                                                   / len(recorded), 1) if recorded else None),
                     "pain_first": scores[0] if scores else None,
                     "pain_last": scores[-1] if scores else None,
                     "red_flags": wk.red_flags, "plan": wk.plan_note})
    return rows


def format_roster(rows: list[dict], today: date) -> str:
    if not rows:
        return "spinewise coach --all: the coaching store holds nobody yet"
    head = (f"{'person':<14}{'last seen':<18}{'sets/plan':>10}{'sed. today':>12}"
            f"{'sed./day':>10}  {'pain':<8}  red flags")
    lines = [f"spinewise coach --all - {today.isoformat()} (week {rows[0]['week']})", "", head,
             "-" * len(head)]
    for r in rows:
        plan = "-" if r["planned_sets"] is None else str(r["planned_sets"])
        pain = ("-" if r["pain_first"] is None else
                f"{r['pain_first']}->{r['pain_last']}" if r["pain_first"] != r["pain_last"]
                else str(r["pain_last"]))
        per_day = "-" if r["sedentary_h_per_day"] is None else f"{r['sedentary_h_per_day']:.1f} h"
        # the latest entry says most (the report behind an active flag); the page lists them all
        red = f"YES - {r['red_flags'][-1].splitlines()[0]}" if r["red_flags"] else "none"
        lines.append(f"{r['user']:<14}{r['last_seen'] or 'never':<18}{r['sets']:>4}/{plan:<5}"
                     f"{r['sedentary_h_today']:>10.1f} h{per_day:>10}  {pain:<8}  {red}")
    return "\n".join(lines)
