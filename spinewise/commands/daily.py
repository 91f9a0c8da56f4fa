"""The daily CLI without Grafana: ``today``, ``pain``, ``snooze``, ``done``, ``patients``.

They talk to the running service over MQTT with the coach's command protocol
(``<prefix>/user/<user>/cmd``, reply on ``.../cmd/reply``; spinewise.coaching.commands), as a
phone app or Home Assistant would, using the config's MQTT login (the person's, or a carer's
for ``patients``). ``today`` and ``patients`` also read the coaching store directly (``--db``,
or ``coaching.state_db`` when the broker cannot be reached), e.g. the one the demo leaves.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def register(sub) -> None:
    def common(p, user: bool = True) -> None:
        if user:
            p.add_argument("--user", default=None,
                           help="whose (default: the first configured device's user)")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
        p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
        p.add_argument("--json", action="store_true", help="print the reply as JSON")

    p = sub.add_parser("today", aliases=["status"],     # issue 14 names it status
                       help="today's sitting, walking, exercise and nudges (MQTT or store)",
                       description="Today's status from the running service over MQTT, or from "
                                   "the coaching store (--db; coaching.state_db when the broker "
                                   "cannot be reached).")
    common(p)
    p.add_argument("--db", default=None, help="read this coaching store instead of asking over MQTT")
    p.add_argument("--at", default=None, help="with --db: ISO time to report for (default: now)")
    p.set_defaults(func=run_today)

    p = sub.add_parser("pain", help="log a pain score 0-10 (--leg, --numbness, --weakness)",
                       description="Log a pain score with the coach over MQTT; pain down the leg, "
                                   "numbness or weakness pauses exercise suggestions.")
    p.add_argument("score", type=int, choices=range(11), metavar="SCORE", help="0 (none) - 10")
    p.add_argument("--leg", action="store_true", help="the pain spreads down the leg")
    p.add_argument("--numbness", action="store_true")
    p.add_argument("--weakness", action="store_true")
    p.add_argument("--note", default=None, help="a short note")
    common(p)
    p.set_defaults(func=run_pain)

    p = sub.add_parser("snooze", help="no movement nudges for MINUTES (default: coaching.snooze_min)",
                       description="Snooze movement-break nudges over MQTT.")
    p.add_argument("minutes", type=float, nargs="?", default=None, metavar="MINUTES")
    common(p)
    p.set_defaults(func=run_snooze)

    p = sub.add_parser("done", help="answer the latest movement nudge: break taken",
                       description="Tell the coach you took the break a nudge asked for (it "
                                   "counts as answered).")
    p.add_argument("--nudge", default=None, help="the nudge id (default: the latest open one)")
    common(p)
    p.set_defaults(func=run_done)

    p = sub.add_parser("patients", help="a carer's people and their day (MQTT or store)",
                       description="The people a carer login may follow ([[carers]] in the "
                                   "config) with today's status of each.")
    p.add_argument("--carer", default=None,
                   help="carer id (default: the config's MQTT login, else the only carer)")
    p.add_argument("--db", default=None, help="read this coaching store instead of asking over MQTT")
    common(p, user=False)
    p.set_defaults(func=run_patients)


# --------------------------------------------------------------------------------- helpers
def _fail(cmd: str, message: str, code: int = 1) -> int:
    print(f"spinewise {cmd}: {message}", file=sys.stderr)
    return code


def _default_user(cfg, args) -> str | None:
    return args.user or (cfg.devices[0].user if cfg.devices else None)


def _ask(cfg, user: str, command: dict, timeout_s: float) -> dict:
    """The service's reply to a command; raises ConnectionError / TimeoutError / ValueError."""
    from spinewise.commands.calibrate import send_command
    command = {"v": 1, **command, "t_s": time.time()}   # the CLI is an edge: wall clock allowed
    reply = send_command(cfg, user, command, timeout_s)
    if reply is None:
        raise TimeoutError(f"no reply for user {user} within {timeout_s:g} s "
                           "(is `spinewise pipeline` running?)")
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise ValueError(f"refused: {err.get('field')}: {err.get('message')}")
    return reply


def _store_status(cfg, db: str, users: list[str] | None, at: str | None) -> dict[str, dict]:
    """{user: status} read from a coaching store; raises ValueError naming the problem."""
    from datetime import datetime

    from spinewise.coaching import CoachService
    from spinewise.commands.coach import open_store

    t_s = time.time() if at is None else datetime.fromisoformat(at).timestamp()
    store = open_store(db)
    try:
        known = store.users()
        users = users if users is not None else known
        unknown = [u for u in users if u not in known]
        if unknown:
            raise ValueError(f"{db}: no coaching history for {', '.join(unknown)} "
                             f"(users in it: {', '.join(known) or 'none'})")
        svc = CoachService(cfg, store)
        return {u: svc.status(u, t_s) for u in users}
    finally:
        store.close()


def format_status(user: str, s: dict) -> str:
    from spinewise.commands.coach import format_status as fmt
    return fmt(user, s)


# -------------------------------------------------------------------------------- commands
def run_today(args) -> int:
    from spinewise import config as config_mod

    cfg = config_mod.load(getattr(args, "config", None))
    user = _default_user(cfg, args)
    if user is None:
        return _fail("today", "no user: pass --user or configure a device", 2)
    source = ""
    try:
        if args.db:
            status = _store_status(cfg, args.db, [user], args.at)[user]
        else:
            try:
                status = _ask(cfg, user, {"cmd": "status"}, args.timeout)["status"]
            except (ConnectionError, TimeoutError) as exc:
                status = _store_status(cfg, cfg.coaching.state_db, [user], None)[user]
                source = f" (from {cfg.coaching.state_db}: {exc})"
    except (ValueError, ConnectionError, TimeoutError, OSError) as exc:
        return _fail("today", str(exc))
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(format_status(user, status) + (f"\n  source{' ' * 15}{source.strip()}" if source else ""))
    return 0


def _run_command(args, name: str, cmd: dict, say) -> int:
    """Send ``cmd`` for the user of ``args`` and print the reply (``say(user, reply)`` the
    human sentence): the skeleton of pain, snooze and done."""
    from spinewise import config as config_mod

    cfg = config_mod.load(getattr(args, "config", None))
    user = _default_user(cfg, args)
    if user is None:
        return _fail(name, "no user: pass --user or configure a device", 2)
    try:
        reply = _ask(cfg, user, cmd, args.timeout)
    except (ValueError, ConnectionError, TimeoutError) as exc:
        return _fail(name, str(exc))
    if args.json:
        print(json.dumps(reply, indent=2))
    else:
        print(say(user, reply))
    return 0


def run_pain(args) -> int:
    cmd = {"cmd": "pain", "score": args.score, "leg": args.leg, "numbness": args.numbness,
           "weakness": args.weakness}
    if args.note:
        cmd["note"] = args.note

    def say(user, reply):
        return f"pain {args.score}/10 logged for {user}" + (
            f"\n{reply['advice']}" if reply.get("advice") else "")
    return _run_command(args, "pain", cmd, say)


def run_snooze(args) -> int:
    cmd = {"cmd": "snooze"}
    if args.minutes is not None:
        cmd["minutes"] = args.minutes
    return _run_command(args, "snooze", cmd, lambda user, reply:
                        f"nudges for {user} snoozed until {reply.get('snoozed_until_iso')}")


def run_done(args) -> int:
    cmd = {"cmd": "done"}
    if args.nudge:
        cmd["nudge"] = args.nudge

    def say(user, reply):
        if reply.get("answered"):
            return f"nudge {reply['answered']} answered: break taken ({user})"
        return f"no open nudge for {user} to answer"
    return _run_command(args, "done", cmd, say)


def run_patients(args) -> int:
    from spinewise import config as config_mod

    cfg = config_mod.load(getattr(args, "config", None))
    carers = {c.id: c for c in cfg.carers}
    carer_id = args.carer or (cfg.mqtt.username if cfg.mqtt.username in carers else None) \
        or (next(iter(carers)) if len(carers) == 1 else None)
    if carer_id not in carers:
        return _fail("patients", f"no carer {carer_id!r} in the config ([[carers]]: "
                                 f"{', '.join(carers) or 'none'}); pass --carer", 2)
    users = list(carers[carer_id].users)
    out: dict[str, dict | str] = {}
    for user in users:
        try:
            if args.db:
                out[user] = _store_status(cfg, args.db, [user], None)[user]
            else:
                out[user] = _ask(cfg, user, {"cmd": "status"}, args.timeout)["status"]
        except (ValueError, ConnectionError, TimeoutError, OSError) as exc:
            out[user] = f"unavailable: {exc}"
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"carer {carer_id}: {len(users)} people")
    for user, s in out.items():
        print()
        print(format_status(user, s) if isinstance(s, dict) else f"{user}: {s}")
    return 0 if all(isinstance(s, dict) for s in out.values()) else 1
