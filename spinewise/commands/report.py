"""``spinewise report``: one person's week on one page (PDF / PNG) or as CSV (one row a day)."""
from __future__ import annotations

import argparse

FORMATS = (".pdf", ".png", ".csv")


def register(sub) -> None:
    p = sub.add_parser("report", help="write a person's weekly report (PDF, PNG or CSV)",
                       description="One page a physiotherapist reads in a minute: sets and reps "
                                   "against the plan and the 10 %% line, plank holds over the weeks, "
                                   "form flags, sedentary hours, nudges, pain, red flags. Read "
                                   "from the coaching store.")
    p.add_argument("--user", required=True, help="the person")
    p.add_argument("--week", default=None, help="ISO week, e.g. 2026-W48 (default: this week)")
    p.add_argument("--out", required=True, help="output file: .pdf, .png or .csv")
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    p.add_argument("--db", default=None, help="coaching SQLite file (default: coaching.state_db; "
                   "in engine mode the rows the workers keep in the engine)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys
    from datetime import timedelta
    from pathlib import Path

    from spinewise import config as config_mod
    from spinewise.commands.coach import store_of
    from spinewise.weekly import CoachStoreSource, gather, parse_week, write_csv, write_page

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        print(f"spinewise report: --out: use a {', '.join(FORMATS)} file, got {args.out!r}",
              file=sys.stderr)
        return 2
    try:
        monday = parse_week(args.week) if args.week else None
    except ValueError as exc:
        print(f"spinewise report: {exc}", file=sys.stderr)
        return 2
    cfg = config_mod.load(getattr(args, "config", None))
    try:
        store = store_of(cfg, args.db)   # refuses a missing file or one that is not a store
    except ValueError as exc:
        print(f"spinewise report: {exc}", file=sys.stderr)
        return 1
    if args.user not in store.users():
        print(f"spinewise report: no data for user {args.user!r} "
              f"(known: {', '.join(store.users()) or 'none'})", file=sys.stderr)
        return 1
    source = CoachStoreSource(store, cfg.coaching)
    if monday is None:     # the CLI is an edge: the wall clock is allowed here
        import time
        from spinewise.coaching.localtime import local_date
        today = local_date(time.time(), source.settings(args.user).timezone)
        monday = today - timedelta(days=today.weekday())
    week = gather(source, args.user, monday)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        write_csv(week, out)
    else:
        write_page(week, out)
    print(out)
    return 0
