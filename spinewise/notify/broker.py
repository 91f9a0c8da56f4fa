"""Publishing a notice on the MQTT broker exactly once per success (the HA and haptic channels).

paho keeps a QoS 1 message it could not get acknowledged and sends it again after a reconnect,
so re-publishing on our retry would deliver it twice. A retry therefore waits for the message
already in flight instead; only a message never handed to paho is published again.
"""
from __future__ import annotations

from collections import OrderedDict

from spinewise.notify.channel import DeliveryError

_PENDING_MAX = 256


class BrokerPublisher:
    def __init__(self, mqtt_factory, timeout_s: float) -> None:
        self._factory = mqtt_factory
        self.timeout_s = timeout_s
        self._pending: OrderedDict[object, object] = OrderedDict()

    def client(self):
        client = self._factory()
        if not client.connected.is_set() and not client.connect(self.timeout_s):
            why = client.failure() or "not reachable"
            raise DeliveryError(f"MQTT broker {client.cfg.host}:{client.cfg.port}: {why}")
        return client

    def publish(self, key, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1, waiting for the broker's PUBACK; raises DeliveryError when it did not come."""
        import paho.mqtt.client as paho

        info = self._pending.get(key)
        if info is None:
            info = self.client().publish_nowait(topic, payload, qos=1, retain=retain)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                raise DeliveryError(f"publish to {topic} failed (rc={info.rc})")
            self._pending[key] = info          # queued in paho: it will go out, don't repeat it
            while len(self._pending) > _PENDING_MAX:
                self._pending.popitem(last=False)
        try:
            info.wait_for_publish(self.timeout_s)
        except (ValueError, RuntimeError):
            pass
        if not info.is_published():
            raise DeliveryError(f"no PUBACK for {topic} within {self.timeout_s:g} s")
        self._pending.pop(key, None)
