"""``spinewise demo``: a simulated wearer through the whole system, no server needed."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole system on a simulated wearer (embedded MQTT broker)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None,
                   help="directory for demo.sqlite, coaching.sqlite and report.png "
                        "(default ~/.local/state/spinewise/demo, outside any checkout)")
    p.add_argument("--speed", type=float, default=120.0,
                   help="event-time acceleration (default 120x; 0 = as fast as possible)")
    p.add_argument("--seed", type=int, default=None, help="simulated person and day (default: the demo's)")
    p.set_defaults(func=run)


def run(args) -> int:
    import logging

    from spinewise.demo import DEMO_DIR, DEMO_SEED, run_demo

    if args.speed < 0:
        print("spinewise demo: --speed must be >= 0")
        return 2
    if args.log_level is None:      # the console view is the demo's output; keep logs quiet
        logging.getLogger().setLevel(logging.WARNING)
    res = run_demo(args.out or DEMO_DIR, speed=args.speed, seed=DEMO_SEED if args.seed is None else args.seed)
    return 0 if res.ok else 1
