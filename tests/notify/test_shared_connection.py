"""The MQTT channels (Home Assistant, the buzz) share one broker connection. Their worker
threads ask for it at the same moment; two connections under one client id would take the
session from each other in turn and resend what was in flight: a nudge arrived twice (issue 14)."""
from __future__ import annotations

import threading
import time

import pytest

from spinewise import mqtt as mqtt_module
from spinewise.config import from_dict
from spinewise.mqtt import MqttClient
from spinewise.notify import _SharedMqtt


def _config(port: int = 1883, prefix: str = "sc"):
    return from_dict({"mqtt": {"host": "127.0.0.1", "port": port, "prefix": prefix},
                      "pipeline": {"client_id": f"pl-{prefix}"}})


def _at_once(fn, n: int = 8) -> list:
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        out[i] = fn()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


def test_threads_asking_at_once_get_one_client(monkeypatch):
    made = []

    class SlowClient:                       # widens the window the race needs
        def __init__(self, *args, **kwargs):
            time.sleep(0.05)
            made.append(self)
            self.closed = False

        def close(self):
            self.closed = True

    monkeypatch.setattr(mqtt_module, "MqttClient", SlowClient)
    shared = _SharedMqtt(_config())
    clients = _at_once(shared)
    assert len(made) == 1 and all(c is made[0] for c in clients)
    shared.close()
    assert made[0].closed


@pytest.mark.servers
def test_connect_from_several_threads_starts_one_network_loop(mqtt_server):
    client = MqttClient(_config(mqtt_server.port).mqtt, f"sc-{time.time_ns() % 10**9}",
                        clean_session=True)
    try:
        assert all(_at_once(lambda: client.connect(10.0)))
        loops = [t for t in threading.enumerate() if t.name.startswith("paho-mqtt-client-")
                 and client.client_id in t.name]
        assert len(loops) == 1, [t.name for t in loops]
    finally:
        client.close()
