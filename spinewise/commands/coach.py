"""``spinewise coach``: today's status and the plan, from the coaching store."""
from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser("coach", help="print today's status and the exercise plan from the coaching store")
    p.add_argument("--user", default=None, help="user (default: the first configured device's user, "
                   "else the only user in the store)")
    # SUPPRESS keeps a global `spinewise --config F coach` value when not repeated here
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    p.add_argument("--db", default=None, help="coaching SQLite file (default: coaching.state_db; "
                   "in engine mode the rows the workers keep in the engine)")
    p.add_argument("--at", default=None, help="ISO time to report for (default: now)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--all", action="store_true",
                   help="list every person in the store: last seen, sets this week vs plan, "
                        "sedentary hours, pain, red flags")
    p.set_defaults(func=run)


def run(args) -> int:
    import time
    from datetime import datetime
    from pathlib import Path

    from spinewise import config as config_mod
    from spinewise.coaching import CoachService, CoachStore

    cfg = config_mod.load(getattr(args, "config", None))
    db = args.db or ("the engine" if cfg.pipeline.transport == "nats" else cfg.coaching.state_db)
    try:
        store = store_of(cfg, args.db)
    except ValueError as exc:
        print(f"spinewise coach: {exc}")
        return 1
    if args.all:
        return _run_all(args, cfg, store)
    users = store.users()
    user = args.user or (cfg.devices[0].user if cfg.devices else None)
    if user is None:
        if len(users) != 1:
            print(f"spinewise coach: choose a user with --user ({', '.join(users) or 'store is empty'})")
            return 2
        user = users[0]
    if user not in users:      # never a full plan for someone the coach never saw
        print(f"spinewise coach: no coaching history for {user!r} in {db} "
              f"(users in it: {', '.join(users) or 'none'}); choose one with --user")
        return 1
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            print(f"spinewise coach: --at: expected an ISO time, got {args.at!r}")
            return 2
        t_s = at.timestamp()
    else:
        t_s = time.time()   # the CLI is an edge: the wall clock is allowed here, not in coaching/
    svc = CoachService(cfg, store)
    status = svc.status(user, t_s)
    plan = svc.plan(user, t_s)
    if args.json:
        print(json.dumps({"status": status, "plan": plan}, indent=2))
        return 0
    print(format_report(user, status, plan))
    return 0


def _run_all(args, cfg, store) -> int:
    import time
    from datetime import datetime

    from spinewise.coaching.localtime import local_date
    from spinewise.weekly import CoachStoreSource
    from spinewise.weekly.roster import format_roster, roster_rows

    try:
        t_s = datetime.fromisoformat(args.at).timestamp() if args.at else time.time()
    except ValueError:
        print(f"spinewise coach: --at: expected an ISO time, got {args.at!r}")
        return 2
    today = local_date(t_s, cfg.coaching.timezone)
    rows = roster_rows(CoachStoreSource(store, cfg.coaching), today)
    print(json.dumps(rows, indent=2) if args.json else format_roster(rows, today))
    return 0


_TABLES = {"meta", "user_kv", "exercise_log", "pain_log", "nudge_log"}


def store_of(cfg, db: str | None):
    """The coaching store to read: ``db`` if given; in engine mode (pipeline.transport =
    "nats") the rows the workers keep in the engine; else coaching.state_db."""
    if db is None and cfg.pipeline.transport == "nats":
        from spinewise.engine.coachstore import read_everyone
        from spinewise.engine.link import server_urls
        return read_everyone(server_urls(cfg.pipeline.nats_servers))
    return open_store(db or cfg.coaching.state_db)


def open_store(db: str):
    """A CoachStore on an existing coaching store; ValueError (saying what the file is) for a
    missing file, one that is not SQLite, or an SQLite file of something else, which is never
    written to."""
    import sqlite3
    from pathlib import Path

    from spinewise.coaching import CoachStore

    if db == ":memory:":
        return CoachStore(db)
    path = Path(db).expanduser()
    if not path.exists():
        raise ValueError(f"no coaching store at {path} yet (the pipeline creates it when it "
                         "first sees a user; the demo leaves one in ~/.local/state/spinewise/demo)")
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise ValueError(f"{path} is not a coaching store (not an SQLite file)")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is not a coaching store ({exc})") from None
    finally:
        con.close()
    if not _TABLES <= tables:
        raise ValueError(f"{path} is an SQLite file without the coaching tables "
                         f"({', '.join(sorted(tables)) or 'no tables'}): not a coaching store")
    return CoachStore(str(path))


def format_status(user: str, status: dict) -> str:
    return "\n".join(_status_lines(user, status))


def format_report(user: str, status: dict, plan: dict) -> str:
    lines = _status_lines(user, status)
    lines.append("")
    return _plan_lines(lines, plan)


def _status_lines(user: str, status: dict) -> list[str]:
    lines = [f"spinewise coach - {user} - {status['date']}", ""]
    lines.append(f"  sedentary today      {status['sedentary_min_today']:.0f} min "
                 f"({status['sedentary_min_window']:.0f} min in the nudge window)")
    lines.append(f"  walking / exercise   {status['walking_min_today']:.0f} / "
                 f"{status['exercise_min_today']:.0f} min, {status['steps_today']} steps")
    lines.append(f"  reps today           {status['reps_today']}")
    lines.append(f"  nudges today         {status['nudges_today']} sent, "
                 f"{status['nudges_answered_today']} answered, {status['nudges_ignored_today']} ignored")
    if status.get("last_nudge_iso"):
        lines.append(f"  last nudge           {status['last_nudge_iso']}: {status.get('last_nudge_text') or ''}")
    if status.get("snoozed_until_iso"):
        lines.append(f"  snoozed until        {status['snoozed_until_iso']}")
    flags = [k for k, v in status["flags"].items() if v]
    lines.append(f"  flags                {', '.join(flags) or 'none'}")
    return lines


def _plan_lines(lines: list[str], plan: dict) -> str:
    if plan["status"] == "stop":
        lines.append("PLAN: exercise paused - " + plan["advice"])
        return "\n".join(lines)
    if plan["status"] == "train":
        lines.append(f"PLAN: programme week {plan['programme_week']}, {plan['phase']} phase"
                     + (" (deload week)" if plan["deload"] else ""))
        for r in plan["reasons"]:
            lines.append(f"  - {r}")
        lines.append("  this week:")
        for t in plan["week"]["targets"]:
            lines.append(f"    {_item(t['exercise'], t['variant'], t['dose'])}  x{t['sessions']} sessions")
            lines.append(f"      why: {t['reason']}")
    else:
        lines.append("PLAN: acute episode")
        for r in plan["reasons"]:
            lines.append(f"  - {r}")
    ns = plan["next_session"]
    lines.append(f"  next session {ns['date']} ({ns['type']}): {ns['reason']}")
    for it in ns["items"]:
        if "exercise" in it:
            extra = f" every {it['every_min']} min" if it.get("every_min") else ""
            lines.append(f"    {_item(it['exercise'], it.get('variant', ''), it)}{extra}")
        elif it.get("minutes"):
            lines.append(f"    {it['activity']} {'-'.join(map(str, it['minutes']))} min"
                         + (f", {it['times_per_day']} times a day" if it.get("times_per_day") else ""))
        else:
            lines.append(f"    {it['activity']}")
    return "\n".join(lines)


def _item(exercise: str, variant: str, d: dict) -> str:
    name = f"{exercise}{f' ({variant})' if variant else ''}"
    side = " per side" if d.get("per_side") else ""
    if d.get("reps"):
        reps = "+".join(map(str, d["reps_per_set"])) if d.get("reps_per_set") else f"{d.get('sets', 1)}x{d['reps']}"
        hold = f", hold {d['hold_s']:.0f} s" if d.get("hold_s") else ""
        load = f", resistance x{d['resistance']:g}" if d.get("resistance", 1.0) != 1.0 else ""
        return f"{name}: {reps} reps{side}{hold}{load}"
    return f"{name}: {d.get('sets', 1)}x{d.get('hold_s', 0):.0f} s{side}"
