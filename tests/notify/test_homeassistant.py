"""The Home Assistant channel on a real Mosquitto: discovery of an `event` entity, then each
nudge once as an event with `event_type` among the entity's `event_types`."""
from __future__ import annotations

import time

import pytest

from spinewise.config import from_dict
from spinewise.notify import open_notifier
from spinewise.topics import Topics
from tests.notify.conftest import notice
from tests.pipeline.conftest import Collector

pytestmark = pytest.mark.servers


def config(port: int, prefix: str):
    return from_dict({"mqtt": {"host": "127.0.0.1", "port": port, "prefix": prefix},
                      "pipeline": {"client_id": f"pl-{prefix}"},
                      "notify": {"attempts": 3, "backoff_s": 0.05,
                                 "channels": [{"user": "ann", "kind": "homeassistant"}]}})


def test_nudge_arrives_as_a_home_assistant_event_once(mqtt_server):
    prefix = f"ha{int(time.time() * 1000) % 10**8}"
    cfg = config(mqtt_server.port, prefix)
    t = Topics(prefix, "homeassistant")
    seen = Collector(cfg, t.user("ann", "notify"))
    discovery = Collector(cfg, "homeassistant/event/spinewise_ann/#")
    notifier = open_notifier(cfg)
    try:
        for x in (notice(1), notice(1), notice(2)):
            notifier.submit(x)
        assert notifier.wait_idle(20)
        conf = discovery.wait_for(lambda topic, d: True, 10)
        assert conf is not None, "no discovery config"
        topic, doc = conf
        assert topic == "homeassistant/event/spinewise_ann/nudge/config"
        assert doc["state_topic"] == t.user("ann", "notify") and doc["event_types"] == ["nudge"]
        assert doc["unique_id"] == "spinewise_ann_nudge"
        assert doc["device"]["identifiers"] == ["spinewise_ann"]     # joins the coach's HA device
        assert seen.wait_for(lambda topic, d: d.get("id") == "ann-2", 10)
        time.sleep(0.3)
        events = [d for _, d in seen.messages]
        assert [e["id"] for e in events] == ["ann-1", "ann-2"]
        assert all(e["event_type"] in doc["event_types"] for e in events)
        assert events[0]["title"] == "Time for a movement break" and events[0]["device"] == "belt1"
        assert notifier.stats()["homeassistant:ann"]["delivered"] == 2
    finally:
        notifier.close()
        seen.client.close()
        discovery.client.close()


def test_broker_down_is_retried_then_counted(tmp_path):
    import socket
    with socket.socket() as s:                 # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = config(port, "down")
    for ch in cfg.notify.channels:
        ch.timeout_s = 0.5
    notifier = open_notifier(cfg)
    notifier.submit(notice(1))
    assert notifier.wait_idle(20)
    notifier.close()
    s = notifier.stats()["homeassistant:ann"]
    assert s["failed"] == 1 and s["delivered"] == 0


def test_haptic_channel_publishes_a_buzz_for_each_sensor_with_a_motor(mqtt_server):
    prefix = f"hp{int(time.time() * 1000) % 10**8}"
    cfg = from_dict({"mqtt": {"host": "127.0.0.1", "port": mqtt_server.port, "prefix": prefix},
                     "pipeline": {"client_id": f"pl-{prefix}"},
                     "devices": [{"id": "clip", "user": "ann", "profile": "spinewise"},
                                 {"id": "chest", "user": "ann", "profile": "polar_h10"},
                                 {"id": "bobclip", "user": "bob", "profile": "spinewise"}],
                     "notify": {"channels": [{"user": "ann", "kind": "haptic"}]}})
    t = Topics(prefix)
    got = Collector(cfg, t.device("+", "haptic"))
    notifier = open_notifier(cfg)
    try:
        notifier.submit(notice(1))
        notifier.submit(notice(1))
        assert notifier.wait_idle(20)
        assert got.wait_for(lambda topic, d: True, 10)
        time.sleep(0.3)
    finally:
        notifier.close()
        got.client.close()
    assert [topic for topic, _ in got.messages] == [t.device("clip", "haptic")]   # not the H10
    doc = got.messages[0][1]
    assert (doc["v"], doc["id"], doc["pulses"], doc["on_ms"], doc["off_ms"]) == (1, "ann-1", 2, 200, 150)
