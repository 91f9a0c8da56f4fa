"""``spinewise acl``: the broker's ACL and password file for the configured people and sensors.

    spinewise --config deploy/spinewise.toml acl --out deploy/mosquitto --secrets deploy/secrets
    spinewise --config deploy/spinewise.toml acl --print        # the ACL only, on stdout
    spinewise --config deploy/spinewise.toml acl --influxql | influx -username admin -password ...
                                  # InfluxDB 1.x: each carer's database and read-only login
    python3 -m spinewise.commands.acl --config deploy/spinewise.toml   # stdlib only, from a checkout

Every login of spinewise.access gets a line in ``<out>/passwd`` (Mosquitto 2's hash format) and
its rules in ``<out>/acl``. Passwords are random, kept in ``<secrets>/mqtt/<login>`` (0600) and
re-used on the next run, so running it again after adding a sensor or a carer changes only what
is new. Reload Mosquitto afterwards (``docker compose kill -s HUP mosquitto``).
"""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("acl", help="write the Mosquitto ACL and password file from the config",
                       description=__doc__.splitlines()[0])
    _add_arguments(p)
    p.set_defaults(func=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    p.add_argument("--out", default="deploy/mosquitto", help="directory for acl and passwd")
    p.add_argument("--secrets", default="deploy/secrets",
                   help="directory whose mqtt/ folder keeps one password file per login")
    p.add_argument("--pipeline-password-file", default=None,
                   help="use this file's password for spinewise-pipeline (e.g. a compose secret)")
    p.add_argument("--print", action="store_true", help="print the ACL and write nothing")
    p.add_argument("--influxql", action="store_true",
                   help="print the InfluxQL that makes each carer's database and read-only login "
                        "(influx.carer_copies; passwords kept in <secrets>/influxdb/)")


def run(args) -> int:
    from pathlib import Path

    from spinewise import config as config_mod
    from spinewise.access import PIPELINE_LOGIN, acl_text, logins, write_broker_files

    cfg = config_mod.load(getattr(args, "config", None))
    if args.influxql:
        from spinewise.access import carer_influx_passwords, carer_influxql
        if not cfg.carers:
            print("no [[carers]] in the config: nothing to make", file=sys.stderr)
            return 1
        sys.stdout.write("\n".join(carer_influxql(cfg, carer_influx_passwords(cfg, args.secrets))) + "\n")
        return 0
    if args.print:
        sys.stdout.write(acl_text(cfg))
        return 0
    extra = {}
    if args.pipeline_password_file:
        extra[PIPELINE_LOGIN] = Path(args.pipeline_password_file)
    files = write_broker_files(cfg, args.out, args.secrets, extra_passwords=extra)
    roles = logins(cfg)
    print(f"wrote {files.acl} and {files.passwd} ({len(roles)} logins)")
    for name in sorted(roles, key=lambda n: (roles[n].role, n)):
        state = "new password" if name in files.created else "password kept"
        print(f"  {roles[name].role:8s} {name:24s} {state}: {files.secrets[name]}")
    return 0


if __name__ == "__main__":
    # deploy/setup-secrets.sh runs this with the system Python, before any install: the access
    # model and the config loader need nothing outside the standard library.
    parser = argparse.ArgumentParser(prog="python3 -m spinewise.commands.acl",
                                     description=__doc__.splitlines()[0])
    _add_arguments(parser)
    from spinewise.config import ConfigError
    try:
        sys.exit(run(parser.parse_args()))
    except ConfigError as exc:
        sys.exit(f"spinewise acl: {exc}")
