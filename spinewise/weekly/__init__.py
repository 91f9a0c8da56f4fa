"""The weekly report per person: one page a physiotherapist reads in a minute.

    source = CoachStoreSource(CoachStore(cfg.coaching.state_db), cfg.coaching)
    week = gather(source, "ann", parse_week("2026-W48"))     # figures.py: numbers only
    write_page(week, "ann-2026-W48.pdf")                      # page.py: PDF or PNG (matplotlib)
    write_csv(week, "ann-2026-W48.csv")                       # csvout.py: one row per day

Data gathering (``source.py``, ``figures.py``) is separate from drawing (``page.py``) so a
second source (InfluxDB) only needs the small ``WeekSource`` interface.
"""
from spinewise.weekly.csvout import write_csv
from spinewise.weekly.figures import WeekFigures, gather, parse_week
from spinewise.weekly.page import write_page
from spinewise.weekly.source import CoachStoreSource, WeekSource

__all__ = ["CoachStoreSource", "WeekFigures", "WeekSource", "gather", "parse_week",
           "write_csv", "write_page"]
