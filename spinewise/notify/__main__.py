"""``python -m spinewise.notify --user U [--config F]``: send a test nudge on U's channels.

For setting up: each of the person's ``[[notify.channels]]`` gets one notice titled
"spinewise test" (delivered with the configured retries) and the outcome per channel is printed;
the exit status is 0 when every channel delivered it, 1 otherwise, 2 for a config problem.
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from spinewise import config as config_mod
    from spinewise.notify import Notice, open_notifier

    p = argparse.ArgumentParser(prog="python -m spinewise.notify", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=None, help="TOML config file (or $SPINEWISE_CONFIG)")
    p.add_argument("--user", required=True, help="whose channels to test")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for all channels")
    args = p.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        print(f"spinewise notify: configuration error: {exc}", file=sys.stderr)
        return 2
    cfg.notify.channels = [c for c in cfg.notify.channels if c.user == args.user]
    if not cfg.notify.channels:
        print(f"spinewise notify: no [[notify.channels]] for user {args.user!r}", file=sys.stderr)
        return 2
    notifier = open_notifier(cfg)
    now = time.time()
    notifier.submit(Notice(user=args.user, id=f"test-{int(now)}", t_s=now, title="spinewise test",
                           message="If you can read this, spinewise nudges reach you here.",
                           kind="test", data={"type": "nudge", "test": True}))
    notifier.wait_idle(args.timeout)
    notifier.close(1.0)
    ok = True
    for name, counts in notifier.stats().items():
        good = counts["delivered"] == 1
        ok &= good
        why = "delivered" if good else ", ".join(f"{k} {v}" for k, v in counts.items()
                                                  if v and k not in ("queued",)) or "still pending"
        print(f"  {name:40s} {why}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
