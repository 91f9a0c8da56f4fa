"""A nudge buzzes the sensor: the haptic notify channel (in the pipeline's place) -> a real
Mosquitto -> `spinewise gateway` (bleak) -> the emulated spinewise sensor's vibration
characteristic, written once with the nudge pattern. A sensor without the characteristic, a
repeated id and a stale request are dropped and counted; streaming goes on throughout."""
from __future__ import annotations

import asyncio
import json
import struct
import time

import numpy as np
import pytest

from spinewise.config import from_dict
from spinewise.ingest.profiles.spinewise import HAPTIC_PLAY
from spinewise.mqtt import MqttClient
from spinewise.notify import Notice, open_notifier
from spinewise.topics import Topics
from tests.ble.emulator import GATEWAY_ADAPTER, SENSOR_ADAPTER
from tests.ble.helpers import gateway_running, until
from tests.ble.peripheral import EmulatedSensor, add_adapter

pytestmark = [pytest.mark.ble, pytest.mark.servers]

PLAIN_ADAPTER = ("hci3", "00:AA:01:00:00:04")


def test_nudge_buzzes_the_sensor_once(ble_emulator, mqtt_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_emulator.address)
    prefix = "swhp"
    cfg = from_dict({
        "mqtt": {"host": "127.0.0.1", "port": mqtt_server.port, "prefix": prefix},
        "pipeline": {"client_id": "swhp-pipeline"},
        "gateway": {"adapter": GATEWAY_ADAPTER[0], "scan_timeout_s": 3.0, "batch_s": 0.5,
                    "spool_dir": str(tmp_path / "spool"), "silence_timeout_s": 3.0,
                    "reconnect_max_s": 1.0},
        "devices": [{"id": "clip", "user": "ann", "profile": "spinewise", "address": SENSOR_ADAPTER[1]},
                    {"id": "plain", "user": "ann", "profile": "spinewise", "address": PLAIN_ADAPTER[1]}],
        "notify": {"backoff_s": 0.05, "channels": [{"user": "ann", "kind": "haptic"}]}})
    n = 50 * 60
    acc = np.c_[np.zeros(n), np.zeros(n), np.ones(n)]
    gyro = np.zeros((n, 3))

    def nudge(i: int, t_s: float | None = None) -> Notice:
        return Notice.from_nudge("ann", {"type": "nudge", "id": f"ann-{i}", "t_s": t_s or time.time(),
                                         "suggestion": {"kind": "walk_break", "text": "Walk."}})

    async def scenario():
        await add_adapter(ble_emulator.address, 3, PLAIN_ADAPTER[1])
        clip = EmulatedSensor(ble_emulator.address, SENSOR_ADAPTER[0], "spinewise", "spinewise-clip",
                              acc, gyro)
        plain = EmulatedSensor(ble_emulator.address, PLAIN_ADAPTER[0], "spinewise", "spinewise-plain",
                               acc, gyro, motor=False)
        notifier = open_notifier(cfg)
        async with gateway_running(cfg, clip, plain) as gw:
            link_clip, link_plain = gw.links
            await until(lambda: len(clip.sent.seq) > 100 and len(plain.sent.seq) > 100, 30, "streaming")
            await asyncio.sleep(0.5)            # the gateway's subscription is in place
            notifier.submit(nudge(1))
            notifier.submit(nudge(1))           # deduplicated by the dispatcher
            await until(lambda: clip.haptic_writes, 15, "the buzz")
            # a redelivered request (same id) and a stale one never buzz
            raw = MqttClient(cfg.mqtt, "swhp-raw", clean_session=True)
            assert raw.connect(10)
            topic = Topics(prefix).device("clip", "haptic")
            raw.publish(topic, json.dumps({"v": 1, "id": "ann-1", "t_s": time.time()}))
            raw.publish(topic, json.dumps({"v": 1, "id": "old", "t_s": time.time() - 3600}))
            await until(lambda: link_clip.stats["haptic_dropped"] >= 1, 10, "the stale drop")
            await until(lambda: link_plain.stats["haptic_dropped"] >= 1, 10, "the no-motor drop")
            raw.close()
            streamed = len(clip.sent.seq)
            await until(lambda: len(clip.sent.seq) > streamed + 50, 10, "streaming after the buzz")
        notifier.close()
        return clip, plain, link_clip, link_plain, notifier

    clip, plain, link_clip, link_plain, notifier = asyncio.run(scenario())
    assert clip.haptic_writes == [struct.pack("<BBHH", HAPTIC_PLAY, 2, 200, 150)]
    assert plain.haptic_writes == []
    assert link_clip.stats["haptic_played"] == 1 and link_clip.stats["haptic_dropped"] == 1
    assert link_plain.stats["haptic_played"] == 0 and link_plain.stats["haptic_dropped"] == 1
    assert link_clip.stats["disconnects"] == 0 and link_clip.stats["watchdog_trips"] == 0
    assert notifier.stats()["haptic:ann"]["delivered"] == 1


def test_taps_on_the_sensor_answer_done_and_snooze(ble_emulator, mqtt_server, tmp_path, monkeypatch):
    """The buzz's answers: the emulated sensor's button -> gateway (a `button` event on link) ->
    the running pipeline -> the coach's done (one tap) and snooze (a double tap), replied on
    cmd/reply."""
    from spinewise.pipeline import Pipeline
    from tests.pipeline.conftest import Collector as JsonCollector, make_config

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_emulator.address)
    cfg = make_config(tmp_path, mqtt_server.port, devices=(("clip", "ann"),))
    cfg.devices[0].address = SENSOR_ADAPTER[1]
    g = cfg.gateway
    g.adapter, g.scan_timeout_s, g.silence_timeout_s, g.reconnect_max_s = GATEWAY_ADAPTER[0], 3.0, 3.0, 1.0
    n = 50 * 60
    acc = np.c_[np.zeros(n), np.zeros(n), np.ones(n)]
    pipeline = Pipeline(cfg)
    pipeline.start()
    replies = JsonCollector(cfg, Topics(cfg.mqtt.prefix).user("ann", "cmd/reply"))

    async def scenario():
        clip = EmulatedSensor(ble_emulator.address, SENSOR_ADAPTER[0], "spinewise", "spinewise-clip",
                              acc, np.zeros((n, 3)))
        async with gateway_running(cfg, clip):
            await until(lambda: len(clip.sent.seq) > 100, 30, "streaming")
            await until(lambda: clip.press(1), 10, "the button notifying")   # one tap: done
            await until(lambda: replies.messages, 20, "the done reply")
            assert clip.press(2)
            await until(lambda: len(replies.messages) >= 2, 20, "the snooze reply")
            await asyncio.sleep(0.5)

    try:
        asyncio.run(scenario())
    finally:
        pipeline.stop()
        replies.client.close()
    (_, done), (topic, reply) = replies.messages
    # no nudge was open to answer: accepted, nothing answered
    assert done["ok"] and done["cmd"] == "done" and done["answered"] is None
    assert reply["ok"] and reply["cmd"] == "snooze" and reply["id"].startswith("button:snooze:clip:")
    assert reply["snoozed_until_s"] > time.time() + 25 * 60      # the default 30 minutes
