"""`spinewise scan` and `spinewise gateway` as a user runs them, against the BlueZ emulator."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from spinewise import cli
from spinewise.ingest.payload import decode
from spinewise.topics import Topics
from tests.ble.emulator import GATEWAY_ADAPTER, SENSOR_ADAPTER
from tests.ble.peripheral import EmulatedSensor

pytestmark = pytest.mark.ble
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def sensor_in_background(address: str, profile: str = "spinewise", name: str = "spinewise-cli",
                         seconds: float = 600.0):
    """An emulated sensor on hci0, served by its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    n = int(seconds * 50)
    acc = np.c_[np.zeros(n), np.zeros(n), np.ones(n)]
    sensor = EmulatedSensor(address, SENSOR_ADAPTER[0], profile, name, acc, np.zeros((n, 3)))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sensor.start(), loop).result(10)
    try:
        yield sensor
    finally:
        asyncio.run_coroutine_threadsafe(sensor.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_scan_lists_the_sensor_with_its_profile(ble_emulator, monkeypatch, capsys):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_emulator.address)
    with sensor_in_background(ble_emulator.address, name="spinewise-scan"):
        rc = cli.main(["scan", "--adapter", GATEWAY_ADAPTER[0], "--timeout", "2", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    found = {f["address"]: f for f in json.loads(out)}
    assert found[SENSOR_ADAPTER[1]]["profile"] == "spinewise"
    assert found[SENSOR_ADAPTER[1]]["name"] == "spinewise-scan"


def test_scan_without_bluetooth_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/nothing.sock")
    rc = cli.main(["scan", "--timeout", "0.5"])
    assert rc == 1
    assert "Bluetooth is not available" in capsys.readouterr().out


@pytest.mark.servers
def test_gateway_command_streams_and_stops_cleanly(ble_emulator, mqtt_server, tmp_path):
    from spinewise.config import MqttConfig
    from spinewise.mqtt import MqttClient

    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f"""
[mqtt]
host = "127.0.0.1"
port = {mqtt_server.port}
prefix = "swcli"

[gateway]
adapter = "{GATEWAY_ADAPTER[0]}"
scan_timeout_s = 3.0
spool_dir = "{tmp_path / 'spool'}"
encoding = "binary"

[[devices]]
id = "back"
profile = "spinewise"
name = "spinewise-cli*"
""")
    got: list[tuple[str, bytes]] = []
    col = MqttClient(MqttConfig(host="127.0.0.1", port=mqtt_server.port), "swcli-collector")
    col.subscribe("swcli/#", lambda t, p: got.append((t, bytes(p))))
    assert col.connect(10)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=ble_emulator.address)
    with sensor_in_background(ble_emulator.address, name="spinewise-cli-1"):
        proc = subprocess.Popen([sys.executable, "-m", "spinewise.cli", "--log-level", "INFO",
                                 "gateway", "--config", str(cfg)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and sum(t.endswith("/imu") for t, _ in got) < 4:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
    time.sleep(0.5)
    col.close()
    assert proc.returncode == 0, out
    imu = [decode(p) for t, p in got if t == Topics("swcli").device("back", "imu")]
    assert len(imu) >= 4 and imu[0].device_id == "back"
    seq = np.concatenate([c.seq for c in imu])
    assert np.all(np.diff(seq) == 1)
    states = [json.loads(p)["state"] for t, p in got if t == Topics("swcli").device("back", "status")]
    assert "online" in states and states[-1] == "offline"
    assert "connected to" in out
