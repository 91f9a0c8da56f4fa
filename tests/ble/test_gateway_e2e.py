"""End to end through the real bleak code path: two emulated sensors on bluezoo adapters ->
`spinewise gateway` (bleak on its own adapter) -> a real Mosquitto -> a subscriber.

75 s of simulated 50 Hz recording per sensor, streamed 4x faster than real time. Sensor "back"
(spinewise profile, acc+gyro, counter + us clock) goes out of range mid-stream without any
disconnect event (bluezoo, like a dying real link, gives none) and comes back; the broker is
stopped and restarted while both stream. Everything the sensors notified must reach MQTT, in
order, identical, with the outage marked by exactly one gap event of the right size.
"""
from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

from spinewise.config import Config, DeviceConfig, GatewayConfig, MqttConfig
from spinewise.ingest.payload import decode
from spinewise.sim import simulate
from spinewise.stream import ImuChunk
from spinewise.topics import Topics
from tests.ble.emulator import SENSOR_ADAPTER
from tests.ble.helpers import Collector, gateway_running, until
from tests.ble.peripheral import EmulatedSensor, add_adapter
from tests.servers import Mosquitto

pytestmark = [pytest.mark.ble, pytest.mark.servers]

SPEED = 4.0
DURATION_S = 75.0
RATE_HZ = 50.0
POLAR_ADAPTER = ("hci2", "00:AA:01:00:00:03")


def _received(col: Collector, device: str) -> ImuChunk:
    chunks = [decode(p) for p in col.of(Topics("swe2e").device(device, "imu"))]
    assert chunks, f"nothing received from {device}"
    c = ImuChunk.concat(chunks)
    # at-least-once: a message re-sent after a broker outage may arrive twice; drop repeats,
    # which must be exact copies of the first arrival
    _, first = np.unique(c.seq, return_index=True)
    keep = np.sort(first)
    for i in np.setdiff1d(np.arange(len(c)), keep):
        j = np.flatnonzero(c.seq == c.seq[i])[0]
        np.testing.assert_array_equal(c.acc_g[i], c.acc_g[j])
    return ImuChunk(t_s=c.t_s[keep], acc_g=c.acc_g[keep],
                    gyro_dps=None if c.gyro_dps is None else c.gyro_dps[keep],
                    device_id=device, rate_hz=c.rate_hz, seq=c.seq[keep])


def test_two_sensors_survive_dropout_and_broker_restart(ble_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_emulator.address)
    # persistence on (tests/servers.py): the subscriber's session survives the broker restart
    broker = Mosquitto(None, tmp_path / "broker").start()
    col = Collector(broker.port, "swe2e", "spinewise-e2e-collector")
    sim_a = ImuChunk.concat(list(simulate("exercise_session", seed=11, rate_hz=RATE_HZ,
                                          duration_s=DURATION_S).chunks(4096)))
    sim_b = ImuChunk.concat(list(simulate("office_snippet", seed=12, rate_hz=RATE_HZ, gyro=False,
                                          duration_s=DURATION_S).chunks(4096)))
    cfg = Config(
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port, prefix="swe2e"),
        gateway=GatewayConfig(adapter="hci1", scan_timeout_s=3.0, batch_s=0.5,
                              spool_dir=str(tmp_path / "spool"), silence_timeout_s=2.0,
                              reconnect_max_s=2.0),
        devices=[DeviceConfig(id="back", profile="spinewise", address=SENSOR_ADAPTER[1], rate_hz=RATE_HZ),
                 DeviceConfig(id="chest", profile="polar_h10", name="Polar H10 *", rate_hz=RATE_HZ)])
    started = time.monotonic()

    async def scenario():
        await add_adapter(ble_emulator.address, 2, POLAR_ADAPTER[1])
        back = EmulatedSensor(ble_emulator.address, SENSOR_ADAPTER[0], "spinewise", "spinewise-back",
                              sim_a.acc_g, sim_a.gyro_dps, rate_hz=RATE_HZ, speed=SPEED, samples_per_packet=5)
        chest = EmulatedSensor(ble_emulator.address, POLAR_ADAPTER[0], "polar_h10", "Polar H10 E2E00001",
                               sim_b.acc_g, None, rate_hz=RATE_HZ, speed=SPEED, samples_per_packet=10)
        async with gateway_running(cfg, back, chest) as gw:
            link_back, link_chest = gw.links
            await until(lambda: len(back.sent.seq) > 400 and len(chest.sent.seq) > 400, 30, "both streaming")
            await back.vanish()                                  # out of range, no disconnect event
            await until(lambda: link_back.stats["watchdog_trips"] == 1, 10, "the silence watchdog")
            await asyncio.sleep(0.5)
            await back.reappear()
            n_before = len(back.sent.seq)
            await until(lambda: len(back.sent.seq) > n_before + 200, 30, "back streaming again")
            await asyncio.to_thread(broker.stop)                 # broker restart while streaming
            await asyncio.sleep(1.5)
            await asyncio.to_thread(broker.start)
            await until(lambda: back.done and chest.done, 60, "the recordings to finish")
            await asyncio.sleep(0.3)
        return back, chest, link_back, link_chest

    back, chest, link_back, link_chest = asyncio.run(scenario())
    try:
        # everything was flushed by the gateway's close; wait for the subscriber to have it all
        def n_received(device: str) -> int:
            chunks = [decode(p) for p in col.of(Topics("swe2e").device(device, "imu"))]
            return len(np.unique(np.concatenate([c.seq for c in chunks]))) if chunks else 0

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (n_received("back") < len(back.sent.seq)
                                               or n_received("chest") < len(chest.sent.seq)):
            time.sleep(0.1)

        # sensor "back": counter-based seq == the sensor's sample index, values identical
        rb = _received(col, "back")
        np.testing.assert_array_equal(rb.seq, np.asarray(back.sent.seq))
        np.testing.assert_array_equal(rb.acc_g, np.concatenate(back.sent.acc_g))
        np.testing.assert_array_equal(rb.gyro_dps, np.concatenate(back.sent.gyro_dps))
        assert np.all(np.diff(rb.t_s) > 0)
        sent = np.asarray(back.sent.seq)
        jumps = np.flatnonzero(np.diff(sent) > 1)
        assert len(jumps) == 1, "the dropout is the only hole in what the sensor sent"
        gaps = [json.loads(p) for p in col.of(Topics("swe2e").device("back", "link"))]
        gaps = [g for g in gaps if g["kind"] == "gap"]
        assert len(gaps) == 1
        assert gaps[0]["data"]["samples_lost"] == int(sent[jumps[0] + 1] - sent[jumps[0]] - 1)
        assert link_back.stats["watchdog_trips"] == 1 and link_back.stats["connects"] == 2

        # sensor "chest": Polar H10, no gyro, seq rebuilt from the ns clock
        rc = _received(col, "chest")
        assert rc.gyro_dps is None
        sent_c = np.asarray(chest.sent.seq)
        np.testing.assert_array_equal(rc.seq - rc.seq[0], sent_c - sent_c[0])
        np.testing.assert_array_equal(rc.acc_g, np.concatenate(chest.sent.acc_g))
        assert not [p for p in col.of(Topics("swe2e").device("chest", "link")) if json.loads(p)["kind"] == "gap"]

        # both were streamed for >= 60 s of sensor time
        assert (sent[-1] - sent[0]) / RATE_HZ >= 60 and (sent_c[-1] - sent_c[0]) / RATE_HZ >= 60

        # status: retained, online with battery while running, offline after the gateway stopped
        statuses = [json.loads(p) for p in col.of(Topics("swe2e").device("back", "status"))]
        online = [s for s in statuses if s["state"] == "online"]
        assert online and online[0]["battery_pct"] == 87 and online[0]["profile"] == "spinewise"
        assert statuses[-1]["state"] == "offline"
        print(f"e2e: back {len(rb)} samples, gap {gaps[0]['data']['samples_lost']}, chest {len(rc)} "
              f"samples; {time.monotonic() - started:.1f} s")
    finally:
        col.client.close()
        broker.cleanup()
