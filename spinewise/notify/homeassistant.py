"""Home Assistant: each nudge as an MQTT ``event`` entity's event, so an automation can forward
it (to a phone with the companion app's notify service, a smart speaker, a lamp).

Discovery (retained, once per process): ``<ha>/event/spinewise_<user>/nudge/config`` with
``event_types: ["nudge"]`` and ``state_topic: <prefix>/user/<user>/notify``; the entity joins
the user's spinewise device (same ``identifiers`` as spinewise.coaching.discovery). Each
nudge is one message (QoS 1, not retained: an event is momentary) on that topic::

    {"event_type": "nudge", "id", "title", "message", "kind", "t_s", "device"}

Home Assistant fires the event with the other keys as its attributes (keys as documented at
home-assistant.io/integrations/event.mqtt). The nudge topic itself also carries plans and
summaries, hence a topic of its own.
"""
from __future__ import annotations

from spinewise import __version__
from spinewise.config import Config, NotifyChannelConfig
from spinewise.jsonwire import dumps
from spinewise.notify.broker import BrokerPublisher
from spinewise.notify.notice import Notice
from spinewise.topics import Topics

EVENT_TYPE = "nudge"
OBJECT_ID = "nudge"


def event_discovery(user: str, topics: Topics) -> tuple[str, dict]:
    node = Topics.ha_node(user)
    config = {"name": "Nudge", "state_topic": topics.user(user, "notify"),
              "event_types": [EVENT_TYPE], "unique_id": f"{node}_{OBJECT_ID}",
              "device": {"identifiers": [node]},
              "origin": {"name": "spinewise", "sw_version": __version__},
              "qos": 1, "icon": "mdi:human-handsup"}
    return topics.discovery("event", user, OBJECT_ID), config


def event_payload(n: Notice) -> dict:
    return {"event_type": EVENT_TYPE, "id": n.id, "title": n.title, "message": n.message,
            "kind": n.kind, "t_s": n.t_s, "device": n.device_id}


class HomeAssistantChannel:
    def __init__(self, ch: NotifyChannelConfig, cfg: Config, mqtt_factory) -> None:
        self.ch = ch
        self.name = f"homeassistant:{ch.user}"
        self.topics = Topics(cfg.mqtt.prefix, cfg.coaching.ha_discovery_prefix)
        self._broker = BrokerPublisher(mqtt_factory, ch.timeout_s)
        self._announced = False

    def send(self, notice: Notice) -> None:
        if not self._announced:            # the entity must exist before its first event
            topic, config = event_discovery(self.ch.user, self.topics)
            self._broker.publish(("discovery",), topic, dumps(config), retain=True)
            self._announced = True
        self._broker.publish(notice.key, self.topics.user(self.ch.user, "notify"),
                             dumps(event_payload(notice)))

    def close(self) -> None:
        pass
