"""``spinewise scan``: list nearby BLE sensors and the profile spinewise recognises for each."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("scan", help="list nearby BLE sensors and the profile each one speaks")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to scan (default: gateway.scan_timeout_s)")
    p.add_argument("--adapter", default=None, help="Bluetooth adapter, e.g. hci1 (default: gateway.adapter)")
    p.add_argument("--all", action="store_true", help="also list devices no profile recognises")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    p.set_defaults(func=run)


def run(args) -> int:
    import asyncio
    import json

    from spinewise import config as config_mod
    from spinewise.ingest.scan import scan

    cfg = config_mod.load(getattr(args, "config", None))
    timeout = args.timeout if args.timeout is not None else cfg.gateway.scan_timeout_s
    adapter = args.adapter if args.adapter is not None else cfg.gateway.adapter
    try:
        from bleak.exc import BleakError
    except ImportError:   # pragma: no cover - bleak is a dependency
        print("spinewise scan: bleak is not installed")
        return 1
    try:
        found = asyncio.run(scan(timeout, adapter))
    except (BleakError, OSError, EOFError) as exc:
        print(f"spinewise scan: Bluetooth is not available ({type(exc).__name__}: {exc}). "
              "Is bluetoothd running and the adapter powered (bluetoothctl power on)?")
        return 1
    shown = found if args.all else [f for f in found if f.profile]
    if args.json:
        print(json.dumps([f.to_dict() for f in shown], indent=2))
        return 0
    if not shown:
        print(f"no sensors found in {timeout:g} s"
              + ("" if args.all else f" ({len(found)} other BLE devices; --all lists them)"))
        return 0
    print(f"{'ADDRESS':<18} {'RSSI':>5}  {'PROFILE':<10} NAME")
    for f in shown:
        rssi = "" if f.rssi_dbm is None else str(f.rssi_dbm)
        print(f"{f.address:<18} {rssi:>5}  {f.profile or '-':<10} {f.name}")
    recognised = [f for f in shown if f.profile]
    if recognised:
        f = recognised[0]
        print("\nconfig for the gateway (add one per sensor):\n"
              f'[[devices]]\nid = "back"\nprofile = "{f.profile}"\naddress = "{f.address}"')
    return 0
