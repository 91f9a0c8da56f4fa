"""spinewise.mqtt's manual acknowledgement on a real Mosquitto (max_inflight_messages 100 in the
test harness, as shipped): far more unacknowledged messages than the broker's own quota arrive,
in order, and after the client vanishes without acking (kill -9) the broker sends them again."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from spinewise.config import MqttConfig
from spinewise.mqtt import MqttClient
from tests.pipeline.conftest import wait_until

pytestmark = pytest.mark.servers

N = 600          # six times Mosquitto's max_inflight_messages in the harness


class Taker:
    def __init__(self, cfg: MqttConfig, client_id: str, topic: str) -> None:
        self.got: list[int] = []
        self.tokens: list = []
        self.lock = threading.Lock()
        self.client = MqttClient(cfg, client_id, clean_session=False, manual_ack=True)
        self.client.subscribe(topic, self.take, qos=1)
        assert self.client.connect(10)

    def take(self, topic: str, payload: bytes, token) -> bool:
        with self.lock:
            self.got.append(int(payload))
            self.tokens.append(token)
        return True


def publish_all(cfg: MqttConfig, topic: str) -> None:
    pub = MqttClient(cfg, f"pub-{uuid.uuid4().hex[:6]}", clean_session=True)
    assert pub.connect(10)
    infos = [pub.publish_nowait(topic, str(i).encode(), qos=1) for i in range(N)]
    for info in infos:
        info.wait_for_publish(10)
    pub.close()


def test_unacknowledged_messages_keep_coming_in_order_and_come_again_after_a_crash(mqtt_server):
    cfg = MqttConfig(host="127.0.0.1", port=mqtt_server.port, prefix="ack")
    topic = f"ack/{uuid.uuid4().hex[:8]}"
    client_id = f"taker-{uuid.uuid4().hex[:8]}"
    first = Taker(cfg, client_id, topic)
    publish_all(cfg, topic)
    assert wait_until(lambda: len(first.got) == N, 20), len(first.got)
    assert first.got == list(range(N))            # not held back at 100, not reordered
    assert first.client.checkpoint(first.tokens[:200]) == 200
    time.sleep(0.5)                               # the PUBACKs leave paho's network thread
    first.client._client._sock_close()            # gone without a word, as after kill -9
    first.client._client.loop_stop()
    second = Taker(cfg, client_id, topic)         # same session: the unacknowledged 400 again
    try:
        assert wait_until(lambda: len(second.got) >= N - 200, 20), len(second.got)
        assert second.got == list(range(200, N))
        assert second.client.checkpoint(second.tokens) == N - 200
    finally:
        second.client.close()
