"""Throughput of the whole BLE path on the emulator: emulated sensors (bluezoo) -> bleak ->
gateway (decode, timestamps, spool) -> Mosquitto -> subscriber. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/ble_gateway_bench.py [--sensors 2] [--speed 10] [--seconds 10]

Starts its own dbus-daemon + bluezoo and Mosquitto in a temporary directory.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spinewise.config import Config, DeviceConfig, GatewayConfig, MqttConfig  # noqa: E402
from spinewise.ingest.gateway import Gateway                                 # noqa: E402
from spinewise.ingest.payload import decode                                  # noqa: E402
from spinewise.mqtt import MqttClient                                        # noqa: E402
from spinewise.topics import ANY, Topics                                     # noqa: E402
from tests.ble.emulator import GATEWAY_ADAPTER, BleEmulator                  # noqa: E402
from tests.ble.peripheral import EmulatedSensor, add_adapter                 # noqa: E402
from tests.servers import Mosquitto                                          # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=2)
    ap.add_argument("--speed", type=float, default=10.0, help="sensor time / wall time (50 Hz sensors)")
    ap.add_argument("--seconds", type=float, default=10.0, help="wall seconds of streaming")
    ap.add_argument("--per-packet", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="swble-bench-"))
    emu = BleEmulator(tmp / "ble").start()
    broker = Mosquitto(None, tmp / "broker", extra_conf="user root\n").start()
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = emu.address
    got: dict[str, list] = {}
    lock = threading.Lock()

    def on(topic, payload):
        with lock:
            got.setdefault(Topics("swbench").parse(topic).id, []).append(decode(payload))
    col = MqttClient(MqttConfig(host="127.0.0.1", port=broker.port), "bench-collector")
    col.subscribe(Topics("swbench").device(ANY, "imu"), on)
    col.connect(10)
    n = int(50 * args.speed * (args.seconds + 30))
    acc = np.c_[np.zeros(n), np.zeros(n), np.ones(n)]
    devices, sensors = [], []
    cfg_devices = []
    try:
        async def run():
            for i in range(args.sensors):
                idx = 2 + i                    # hci0 is free, hci1 is the gateway
                addr = f"00:AA:02:00:00:{i + 1:02X}"
                await add_adapter(emu.address, idx, addr)
                s = EmulatedSensor(emu.address, f"hci{idx}", "spinewise", f"spinewise-bench{i}", acc,
                                   np.zeros((n, 3)), speed=args.speed, samples_per_packet=args.per_packet)
                await s.start()
                sensors.append(s)
                cfg_devices.append(DeviceConfig(id=f"s{i}", profile="spinewise", address=addr))
            cfg = Config(mqtt=MqttConfig(host="127.0.0.1", port=broker.port, prefix="swbench"),
                         gateway=GatewayConfig(adapter=GATEWAY_ADAPTER[0], scan_timeout_s=3,
                                               spool_dir=str(tmp / "spool"), silence_timeout_s=3),
                         devices=cfg_devices)
            gw = Gateway(cfg)
            devices.extend(gw.links)
            stop = asyncio.Event()
            task = asyncio.create_task(gw.run(stop))
            while not all(link.stats["notifications"] for link in gw.links):
                await asyncio.sleep(0.1)
            c0 = resource.getrusage(resource.RUSAGE_SELF)
            sent0 = [len(s.sent.seq) for s in sensors]
            t0 = time.monotonic()
            await asyncio.sleep(args.seconds)
            dt = time.monotonic() - t0
            c1 = resource.getrusage(resource.RUSAGE_SELF)
            sent1 = [len(s.sent.seq) for s in sensors]
            stop.set()
            await task
            for s in sensors:
                await s.stop()
            return dt, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime), sent0, sent1

        dt, cpu, sent0, sent1 = asyncio.run(run())
        time.sleep(1.0)
        rate = sum(b - a for a, b in zip(sent0, sent1)) / dt
        print(f"{args.sensors} sensor(s), {args.per_packet} samples/notification, {args.speed:g}x of 50 Hz:")
        print(f"  sensors notified {rate:,.0f} samples/s ({rate / args.per_packet:,.0f} notifications/s)")
        print(f"  test process CPU (emulated sensors + gateway + collector) {100 * cpu / dt:.0f}% of one core")
        for s, link, a, b in zip(sensors, devices, sent0, sent1):
            with lock:
                chunks = got.get(link.device.id, [])
            seq = np.unique(np.concatenate([c.seq for c in chunks])) if chunks else np.zeros(0)
            # judge what was notified while the gateway was surely listening (the last 0.2 s of
            # the window may still be in flight when it is told to stop)
            window = np.asarray(s.sent.seq[a:max(a, b - int(0.2 * rate / len(sensors)))])
            missing = len(np.setdiff1d(window, seq))
            print(f"  {link.device.id}: notified {len(window)} in the window, missing at MQTT {missing}, "
                  f"decode errors {link.stats['decode_errors']}, watchdog trips {link.stats['watchdog_trips']}")
    finally:
        col.close()
        broker.cleanup()
        emu.stop()


if __name__ == "__main__":
    main()
