"""The BlueZ emulator fixture: the one scripts/ble-emulator started (.run/ble.env), else a
private dbus-daemon + patched bluezoo for this session. Under CI=true a missing emulator fails."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.ble.emulator import ENV_BUS, BleEmulator
from tests.servers import missing

ROOT = Path(__file__).resolve().parents[2]


class RunningEmulator:
    def __init__(self, address: str) -> None:
        self.address = address


def _from_env_file():
    env_file = ROOT / ".run" / "ble.env"
    values = {}
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            k, _, v = line.partition("=")
            values[k.strip()] = v.strip()
    address = values.get(ENV_BUS)
    if address and address.startswith("unix:path="):
        emu = BleEmulator(Path(address[len("unix:path="):]).parent)
        if emu.socket.exists() and emu.ready():
            return RunningEmulator(address)
    return None


@pytest.fixture(scope="session")
def ble_emulator(tmp_path_factory):
    running = _from_env_file()
    if running is not None:
        yield running
        return
    if not BleEmulator.available():
        missing("BlueZ emulator unavailable (needs dbus-daemon and bluezoo); "
                "run scripts/ble-emulator start")
    emu = BleEmulator(tmp_path_factory.mktemp("ble"))
    try:
        emu.start()
    except RuntimeError as exc:
        missing(f"BlueZ emulator failed to start: {exc}")
    try:
        yield emu
    finally:
        emu.stop()
