"""``spinewise pipeline``: the live service (MQTT -> analysis -> events, coaching, storage)."""
from __future__ import annotations

import argparse
import logging
import time


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... <message>``: messages are already key=value where it matters."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"
        line = f"ts={ts} level={record.levelname} logger={record.name} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_service_logging(level: str) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter())
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def register(sub) -> None:
    p = sub.add_parser("pipeline", help="run the live service: MQTT in, events/state/nudges out, storage",
                       description=__doc__.splitlines()[0])
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    p.add_argument("--state-dir", default=None, help="override pipeline.state_dir")
    p.add_argument("--unknown-devices", choices=["accept", "reject"], default=None,
                   help="override pipeline.unknown_devices")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run shard I of N (users split by hash; start N processes to scale out)")
    p.add_argument("--transport", choices=["mqtt", "nats"], default=None,
                   help="override pipeline.transport (nats: a worker of the clustered engine)")
    p.add_argument("--worker-id", default=None, help="override pipeline.worker_id (engine mode)")
    p.set_defaults(func=run)


def run(args) -> int:
    import signal
    import threading

    from spinewise import config as config_mod
    from spinewise.pipeline import Pipeline

    cfg = config_mod.load(getattr(args, "config", None))
    setup_service_logging(args.log_level or cfg.log_level)
    if args.state_dir:
        cfg.pipeline.state_dir = args.state_dir
    if args.unknown_devices:
        cfg.pipeline.unknown_devices = args.unknown_devices
    if args.shard:
        cfg.pipeline.shard = args.shard
    if args.transport:
        cfg.pipeline.transport = args.transport
    if args.worker_id:
        cfg.pipeline.worker_id = args.worker_id
    log = logging.getLogger("spinewise.pipeline")
    log.info("config %s", cfg.redacted()["pipeline"])
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal=%s shutting down", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    service = Pipeline(cfg)
    service.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        service.stop()
    return 0
