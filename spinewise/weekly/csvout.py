"""The weekly figures as CSV: one row per local date (the same numbers the page prints)."""
from __future__ import annotations

import csv
from pathlib import Path

DAY_COLUMNS = ("date", "sets", "reps", "hold_s", "form_flags", "sedentary_h", "walking_min",
               "exercise_min", "steps", "nudges_sent", "nudges_answered", "pain_max",
               "pain_reports", "recorded")      # recorded 0: no minutes stored that day (not worn)


def write_csv(week, path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("user", "week", *DAY_COLUMNS))
        for d in week.days:
            w.writerow((week.user, week.week,
                        *("" if d[k] is None else int(d[k]) if isinstance(d[k], bool) else d[k]
                          for k in DAY_COLUMNS)))
    return path
