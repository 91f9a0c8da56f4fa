"""``spinewise gateway``: connect the configured BLE sensors and publish their samples to MQTT."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("gateway", help="stream the configured BLE sensors ([[devices]]) to MQTT")
    p.add_argument("--config", default=argparse.SUPPRESS,
                   help="TOML config file ([mqtt], [gateway], [[devices]])")
    p.add_argument("--adapter", default=None, help="Bluetooth adapter, e.g. hci1 (overrides gateway.adapter)")
    p.set_defaults(func=run)


def run(args) -> int:
    import logging

    from spinewise import config as config_mod
    from spinewise.ingest.gateway import Gateway
    from spinewise.ingest.profiles import PROFILES

    cfg = config_mod.load(getattr(args, "config", None))
    if args.log_level is None:   # a service logs at the configured level, not the CLI's WARNING
        logging.getLogger().setLevel(getattr(logging, cfg.log_level, logging.INFO))
    if args.adapter:
        cfg.gateway.adapter = args.adapter
    if not cfg.devices:
        print("spinewise gateway: no [[devices]] in the configuration; `spinewise scan` lists "
              "nearby sensors and prints a [[devices]] entry to copy")
        return 2
    unknown = [d.profile for d in cfg.devices if d.profile not in PROFILES]
    if unknown:
        print(f"spinewise gateway: unknown profile(s) {', '.join(unknown)} (known: {', '.join(PROFILES)})")
        return 2
    if cfg.gateway.encoding not in ("json", "binary"):
        print(f"spinewise gateway: gateway.encoding must be json or binary, got {cfg.gateway.encoding!r}")
        return 2
    log = logging.getLogger("spinewise.gateway")
    log.info("gateway: %d sensor(s) -> mqtt %s:%s prefix %s (adapter %s)", len(cfg.devices),
             cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.prefix, cfg.gateway.adapter or "default")
    Gateway(cfg).run_forever()
    return 0
