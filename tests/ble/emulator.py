"""Start/stop a private dbus-daemon + patched bluezoo with two virtual adapters.

Used by scripts/ble-emulator (CLI below) and by the tests/ble fixtures when no emulator runs.
The dbus-daemon plays the *system* bus (BlueZ lives there; bleak and bluezoo find it through
DBUS_SYSTEM_BUS_ADDRESS) but listens on a socket in the run dir with an allow-all policy, so no
root and no interference with the host's bus.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SENSOR_ADAPTER = ("hci0", "00:AA:01:00:00:01")
GATEWAY_ADAPTER = ("hci1", "00:AA:01:00:00:02")
ENV_BUS = "DBUS_SYSTEM_BUS_ADDRESS"

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">100000000</limit>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class BleEmulator:
    def __init__(self, run_dir: str | os.PathLike, scan_interval_s: int = 1) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.socket = self.run_dir / "system_bus.sock"
        self.address = f"unix:path={self.socket}"
        self.scan_interval_s = scan_interval_s
        self.procs: dict[str, subprocess.Popen] = {}

    @staticmethod
    def available() -> bool:
        if importlib.util.find_spec("bluezoo") is None:
            return False
        return shutil.which("dbus-daemon") is not None

    def env(self) -> dict[str, str]:
        return {ENV_BUS: self.address,
                "SPINEWISE_TEST_BLE_SENSOR_ADAPTER": "=".join(SENSOR_ADAPTER),
                "SPINEWISE_TEST_BLE_GATEWAY_ADAPTER": "=".join(GATEWAY_ADAPTER)}

    def start(self, timeout_s: float = 20.0) -> "BleEmulator":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        conf = self.run_dir / "dbus.conf"
        conf.write_text(_BUS_CONF.format(socket=self.socket))
        log = open(self.run_dir / "emulator.log", "ab")
        self.procs["dbus"] = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: self.socket.exists(), timeout_s, "dbus-daemon socket")
        env = dict(os.environ, **{ENV_BUS: self.address})
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.procs["bluezoo"] = subprocess.Popen(
            [sys.executable, "-m", "tests.ble.bluezoo_patched", "--auto-enable",
             "--scan-interval", str(self.scan_interval_s),
             "-a", SENSOR_ADAPTER[1], "-a", GATEWAY_ADAPTER[1]],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        self._wait(self.ready, timeout_s, "bluezoo adapters")
        (self.run_dir / "pids.json").write_text(json.dumps({k: p.pid for k, p in self.procs.items()}))
        return self

    def _wait(self, pred, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{name} exited with {p.returncode}; see {self.run_dir / 'emulator.log'}")
            if pred():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{what} not ready after {timeout_s} s; see {self.run_dir / 'emulator.log'}")

    def ready(self) -> bool:
        return asyncio.run(_adapters_present(self.address))

    def _is_ours(self, pid: int, name: str) -> bool:
        """A pid from pids.json is only signalled if it is still our process."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if name == "dbus":
            return "dbus-daemon" in cmdline and str(self.run_dir / "dbus.conf") in cmdline
        return "tests.ble.bluezoo_patched" in cmdline

    def stop(self) -> None:
        pids = {k: p.pid for k, p in self.procs.items()}
        pid_file = self.run_dir / "pids.json"
        if not pids and pid_file.exists():
            pids = json.loads(pid_file.read_text())
        for name in ("bluezoo", "dbus"):
            pid = pids.get(name)
            if pid is None or (name not in self.procs and not self._is_ours(pid, name)):
                continue   # gone, or the pid now belongs to someone else: never kill that
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            proc = self.procs.get(name)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if proc is not None:
                    if proc.poll() is not None:
                        break
                else:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                time.sleep(0.05)
            else:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.procs.clear()
        pid_file.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)


async def _adapters_present(address: str) -> bool:
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus
    try:
        bus = await asyncio.wait_for(MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect(), 2)
    except (OSError, asyncio.TimeoutError, Exception):
        return False
    try:
        reply = await asyncio.wait_for(bus.call(Message(
            destination="org.bluez", path="/", interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects")), 2)
        if reply.message_type != MessageType.METHOD_RETURN:
            return False
        paths = set(reply.body[0])
        return {f"/org/bluez/{SENSOR_ADAPTER[0]}", f"/org/bluez/{GATEWAY_ADAPTER[0]}"} <= paths
    except (asyncio.TimeoutError, Exception):
        return False
    finally:
        bus.disconnect()


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--run-dir", default=".run/ble")
    parser.add_argument("--env-file", default=".run/ble.env")
    args = parser.parse_args()
    emu = BleEmulator(args.run_dir)
    env_file = Path(args.env_file)
    if args.action == "start":
        if not BleEmulator.available():
            print("ble-emulator: needs dbus-daemon (apt install dbus) and bluezoo in the venv",
                  file=sys.stderr)
            return 1
        emu.stop()   # a leftover from an earlier run
        emu.start()
        lines = [f"{k}={v}" for k, v in emu.env().items()]
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text("\n".join(lines) + "\n")
        print(f"ble-emulator: dbus-daemon + bluezoo running, bus {emu.address}", file=sys.stderr)
        print("\n".join(lines))
        return 0
    emu.stop()
    env_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
