"""``spinewise dashboards``: regenerate the Grafana dashboards (JSON) from code."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboards", help="write the Grafana dashboards as JSON files",
                       description="Build the Today, Exercise, Trends, Devices and Patients dashboards "
                                   "(InfluxQL, Grafana Foundation SDK) and write them to a folder "
                                   "that Grafana provisions.")
    p.add_argument("--out", default="deploy/grafana/dashboards",
                   help="output folder (default: %(default)s)")
    p.add_argument("--tz", default=None,
                   help="default time zone for daily/weekly totals, IANA name (default: the "
                        "config's coaching.timezone, UTC without a config)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the files in --out are not up to date")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from spinewise.config import ConfigError
    from spinewise.storage.grafana import DASHBOARDS, render, write_dashboards

    if args.tz is None:      # the time zone the coaching uses for "today" (issue 16)
        from spinewise import config as config_mod
        args.tz = config_mod.load(getattr(args, "config", None)).coaching.timezone
    try:
        ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--tz: unknown time zone {args.tz!r} (use an IANA name such as Europe/London)") from None

    out = Path(args.out)
    if args.check:
        stale = []
        for name, build in DASHBOARDS.items():
            path = out / f"spinewise-{name}.json"
            if not path.exists() or path.read_text() != render(build, args.tz):
                stale.append(str(path))
        if stale:
            print("stale dashboards: " + ", ".join(stale), file=sys.stderr)
            return 1
        print(f"{len(DASHBOARDS)} dashboards in {out} are up to date")
        return 0
    for path in write_dashboards(out, args.tz):
        print(path)
    return 0
