"""The one entry point: ``spinewise <command> ...``.

Each command lives in ``spinewise/commands/<name>.py`` with ``register(subparsers)`` that
adds its parser and sets ``func(args) -> int``. Heavy imports stay inside ``func`` so
``spinewise --help`` is instant.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from spinewise import __version__
from spinewise.config import LOG_LEVELS, ConfigError

COMMANDS = ["simulate", "analyze", "demo", "pipeline", "replay", "gateway", "scan",
            "coach", "daily", "calibrate", "dashboards", "acl"]


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinewise",
        description="Posture, activity and back-exercise monitoring from a lower-back IMU.")
    parser.add_argument("--version", action="version", version=f"spinewise {__version__}")
    parser.add_argument("--log-level", default=None, type=str.upper, choices=LOG_LEVELS,
                        metavar="LEVEL", help=", ".join(LOG_LEVELS))
    parser.add_argument("--config", default=None, help="TOML config file (or $SPINEWISE_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"spinewise.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"spinewise.commands.{name}":
                raise
            continue
        module.register(sub)
    _plain_descriptions(sub)
    return parser


def _plain_descriptions(sub) -> None:
    """Every command's --help opens with a sentence in plain text: docstring first lines
    lose their reST literals (``x``), and a command without a description gets its help."""
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, p in sub.choices.items():
        text = p.description or (helps.get(name) or "")
        if text and not p.description:
            text = text[0].upper() + text[1:] + "."
        p.description = text.replace("``", "")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level or "WARNING")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"spinewise: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a file or socket the user pointed at: say which, no traceback
        logging.getLogger(__name__).debug("%s failed", args.command, exc_info=True)
        print(f"spinewise {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
