"""The sensor itself: a buzz of its vibration motor when a nudge fires (the profile must have one).

The pipeline does not hold the BLE link, the gateway does: this channel publishes
``<prefix>/dev/<device>/haptic`` (QoS 1, not retained) for the user's sensors whose profile
declares ``haptic_uuid`` (or the one ``device`` configured)::

    {"v": 1, "id": "<nudge id>", "t_s": <epoch s>, "pulses": 2, "on_ms": 200, "off_ms": 150}

and the gateway (spinewise.ingest.gateway) writes the profile's haptic command to the sensor.
Delivered here means the broker took it; the gateway drops a buzz older than
``HAPTIC_MAX_AGE_S`` (a nudge is about now) and a repeated id.
"""
from __future__ import annotations

from collections import OrderedDict

from spinewise.config import Config, NotifyChannelConfig
from spinewise.jsonwire import dumps
from spinewise.notify.broker import BrokerPublisher
from spinewise.notify.channel import RejectedError
from spinewise.notify.notice import Notice
from spinewise.topics import Topics

_SENT_MAX = 256


def haptic_devices(cfg: Config, ch: NotifyChannelConfig) -> list[str]:
    """The sensors this channel buzzes: ``device``, else every sensor of the user with a motor."""
    from spinewise.ingest.profiles import get_profile

    if ch.device:
        return [ch.device]
    return [d.id for d in cfg.devices
            if d.user == ch.user and get_profile(d.profile).haptic_uuid]


def haptic_payload(n: Notice) -> dict:
    from spinewise.ingest.profiles import NUDGE_BUZZ

    return {"v": 1, "id": n.id, "t_s": n.t_s, "pulses": NUDGE_BUZZ.pulses,
            "on_ms": NUDGE_BUZZ.on_ms, "off_ms": NUDGE_BUZZ.off_ms}


class HapticChannel:
    def __init__(self, ch: NotifyChannelConfig, cfg: Config, mqtt_factory) -> None:
        self.ch = ch
        self.name = f"haptic:{ch.user}"
        self.devices = haptic_devices(cfg, ch)
        self.topics = Topics(cfg.mqtt.prefix)
        self._broker = BrokerPublisher(mqtt_factory, ch.timeout_s)
        self._sent: OrderedDict[tuple, set[str]] = OrderedDict()   # a retry skips devices done

    def send(self, notice: Notice) -> None:
        if not self.devices:
            raise RejectedError(f"user {self.ch.user!r} has no sensor with a vibration motor")
        done = self._sent.setdefault(notice.key, set())
        while len(self._sent) > _SENT_MAX:
            self._sent.popitem(last=False)
        payload = dumps(haptic_payload(notice))
        for dev in self.devices:
            if dev not in done:
                self._broker.publish((notice.key, dev), self.topics.device(dev, "haptic"), payload)
                done.add(dev)

    def close(self) -> None:
        pass
