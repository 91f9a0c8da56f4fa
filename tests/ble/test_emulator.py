"""The emulator behaves like BlueZ where the gateway depends on it (tests/ble/bluezoo_patched.py):
repeated scans re-announce a known sensor, a second connection in one run works, notifications
stop on disconnect, and manufacturer data in advertisements works."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from spinewise.ingest.profiles import PolarH10
from tests.ble.emulator import GATEWAY_ADAPTER, SENSOR_ADAPTER
from tests.ble.peripheral import EmulatedSensor

pytestmark = pytest.mark.ble


def test_rescan_reconnect_and_manufacturer_data(ble_emulator, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_emulator.address)
    from bleak import BleakClient, BleakScanner

    async def scenario():
        n = 5000
        sensor = EmulatedSensor(ble_emulator.address, SENSOR_ADAPTER[0], "polar_h10", "Polar H10 EMU0001",
                                np.tile([0.0, 0.0, 1.0], (n, 1)), None, speed=2.0, samples_per_packet=10)
        await sensor.start()
        bluez = {"bluez": {"adapter": GATEWAY_ADAPTER[0]}}
        try:
            seen = []
            for _ in range(2):      # fault 2: the second scan must report the known device again
                found = await BleakScanner.discover(timeout=2.0, return_adv=True, **bluez)
                seen.append(found.get(SENSOR_ADAPTER[1]))
            assert all(s is not None for s in seen)
            dev, adv = seen[1]
            assert adv.manufacturer_data == {0x006B: bytes([0x33, 0x1E, 0x33])}   # fault 4
            assert PolarH10.service_uuid in adv.service_uuids
            counts = []
            for _ in range(2):      # fault 1: a second connection in the same run
                got = []
                async with BleakClient(dev, **bluez) as client:
                    await client.start_notify(PolarH10.notify_uuid, lambda _c, d: got.append(bytes(d)))
                    await client.write_gatt_char(PolarH10.control_uuid, PolarH10().start_request())
                    await asyncio.sleep(1.0)
                counts.append(len(got))
                await asyncio.sleep(0.3)
                assert not sensor._data.notifying      # fault 3: the sensor was told to stop
            assert all(c > 5 for c in counts)
        finally:
            await sensor.stop()

    asyncio.run(scenario())
