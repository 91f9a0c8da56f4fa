"""Home Assistant MQTT discovery: a user's coach appears as one device without configuration.

Single-component discovery: ``<discovery_prefix>/<component>/spinewise_<user>/<object_id>/config``,
retained (spinewise.topics). Entities read the retained ``<prefix>/user/<user>/coach`` state with
value templates; the done and snooze buttons publish a done / snooze command to
``<prefix>/user/<user>/cmd``.
The person's own broker login may read exactly these (spinewise.access), so Home Assistant
works with that login and sees nobody else's entities. Keys follow
home-assistant.io/integrations/sensor.mqtt and button.mqtt (``state_topic``,
``value_template``, ``unique_id``, ``device``, ``origin``, ``command_topic``, ``payload_press``).
A template that renders ``None`` makes Home Assistant show the state as unknown.
"""
from __future__ import annotations

import json

from spinewise import __version__
from spinewise.coaching.commands import PROTOCOL_VERSION
from spinewise.coaching.outgoing import Outgoing
from spinewise.topics import Topics


def node_id(user: str) -> str:
    # discovery topic levels allow [a-zA-Z0-9_-]: so do spinewise ids (spinewise.topics)
    return Topics.ha_node(user)


def discovery_messages(user: str, topics: Topics, device_ids: list[str] | None = None) -> list[Outgoing]:
    node = node_id(user)
    state = topics.user(user, "coach")
    device = {"identifiers": [node], "name": f"spinewise {user}", "manufacturer": "spinewise",
              "model": "back-care coach" + (f" ({', '.join(device_ids)})" if device_ids else ""),
              "sw_version": __version__}
    origin = {"name": "spinewise", "sw_version": __version__}

    def sensor(obj: str, name: str, key: str, **extra) -> tuple[str, str, dict]:
        return "sensor", obj, {"name": name, "state_topic": state,
                               "value_template": f"{{{{ value_json.{key} }}}}", **extra}

    entities = [
        sensor("sedentary_today", "Sedentary time today", "sedentary_min_today",
               unit_of_measurement="min", device_class="duration", state_class="total_increasing",
               icon="mdi:seat-recline-normal"),
        sensor("sedentary_last_hour", "Sedentary minutes in window", "sedentary_min_window",
               unit_of_measurement="min", device_class="duration", state_class="measurement",
               icon="mdi:timer-sand"),
        sensor("reps_today", "Reps today", "reps_today", unit_of_measurement="reps",
               state_class="total_increasing", icon="mdi:counter"),
        # the nudge topic also carries plans and summaries, so attributes come from the state
        sensor("last_nudge", "Last nudge", "last_nudge_iso", device_class="timestamp",
               json_attributes_topic=state,
               json_attributes_template="{{ {'text': value_json.last_nudge_text, "
                                        "'snoozed_until': value_json.snoozed_until_iso} | tojson }}",
               icon="mdi:bell-ring"),
        sensor("nudges_today", "Nudges today", "nudges_today", state_class="total_increasing",
               icon="mdi:bell-badge"),
        ("button", "done", {"name": "Done (break taken)", "command_topic": topics.user(user, "cmd"),
                            "payload_press": json.dumps({"v": PROTOCOL_VERSION, "cmd": "done"}),
                            "icon": "mdi:check"}),
        ("button", "snooze", {"name": "Snooze nudges", "command_topic": topics.user(user, "cmd"),
                              "payload_press": json.dumps({"v": PROTOCOL_VERSION, "cmd": "snooze"}),
                              "icon": "mdi:sleep"}),
    ]
    out = []
    for component, obj, config in entities:
        payload = {**config, "unique_id": f"{node}_{obj}", "device": device, "origin": origin,
                   "qos": 1}
        out.append(Outgoing(topics.discovery(component, user, obj), payload, retain=True, suffix=""))
    return out
