"""Every MQTT topic spinewise uses: the one place that builds and parses them.

Two separate namespaces, so a sensor's stream and a person's messages can never be confused
(a login named like a device cannot publish a sensor stream, and the reverse)::

    <prefix>/dev/<device>/imu        sensor -> pipeline   samples, QoS 1 (spinewise.ingest.payload)
    <prefix>/dev/<device>/status     sensor -> pipeline   retained gateway status, last will;
                                                          {"state": "end", "end_t_s"} = end of stream
    <prefix>/dev/<device>/link       sensor -> pipeline   the gateway's own events (gaps, button taps), QoS 1
    <prefix>/dev/<device>/events     pipeline -> person   one analysis event per message
    <prefix>/dev/<device>/state      pipeline -> person   retained live figures
    <prefix>/dev/<device>/haptic     pipeline -> sensor   buzz the sensor's motor (a nudge), QoS 1;
                                                          the gateway writes it (spinewise.notify.haptic)
    <prefix>/user/<user>/cmd         person -> pipeline   commands (spinewise.coaching.commands)
    <prefix>/user/<user>/cmd/reply   pipeline -> person   replies, echoing the command's id
    <prefix>/user/<user>/nudge       pipeline -> person   nudges, advice, plans, day summaries
    <prefix>/user/<user>/coach       pipeline -> person   retained coaching state
    <prefix>/user/<user>/plan        pipeline -> person   retained plan
    <prefix>/user/<user>/notify      pipeline -> person   each nudge once as a Home Assistant event
                                                          (spinewise.notify.homeassistant)
    <prefix>/$sys/pipeline[/shard<i>of<n>]/stats|status   pipeline -> monitoring
    <ha>/<component>/spinewise_<user>/<object>/config     Home Assistant discovery (retained)

Who may publish and read which of these is spinewise.access (the generated Mosquitto ACL).

Identifiers (device, user and carer ids) are one topic level and one broker login name each,
so they are restricted to ``ID_PATTERN``: no ``/ + #``, no ``$`` start, no spaces, quotes,
``,`` or ``=`` (which InfluxDB tags and ACL files would have to escape), at most 64 characters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_ID = re.compile(ID_PATTERN)
ANY = "+"                       # one-level wildcard, for subscriptions and ACL patterns

DEVICE_SCOPE, USER_SCOPE, SYS_SCOPE = "dev", "user", "$sys"
# per device: what the sensor's login publishes, and what the pipeline publishes
SENSOR_KINDS = ("imu", "status", "link")
DEVICE_OUT_KINDS = ("events", "state")
SENSOR_IN_KINDS = ("haptic",)    # pipeline -> the sensor's gateway
# per user: what the person's login publishes, and what the pipeline publishes
USER_IN_KINDS = ("cmd",)
USER_OUT_KINDS = ("cmd/reply", "nudge", "coach", "plan", "notify")
HA_NODE_PREFIX = "spinewise_"


def valid_id(text: object) -> bool:
    """Whether ``text`` can be a device, user or carer id (one topic level, one login name)."""
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def check_id(text: object, where: str) -> str:
    """``text`` if it is a valid id, else ValueError naming ``where`` and the rule."""
    if not valid_id(text):
        raise ValueError(f"{where}: {text!r} is not a valid id (1-64 characters of A-Z a-z 0-9 "
                         "_ -, starting with a letter or digit)")
    return text


def check_prefix(prefix: str, where: str = "mqtt.prefix") -> str:
    """A topic prefix: one or more levels, no wildcards, no empty level, not starting with $."""
    levels = prefix.split("/")
    if not prefix or any(not lv or any(c in lv for c in "+#\0") for lv in levels) or prefix[0] == "$":
        raise ValueError(f"{where}: {prefix!r} is not a usable topic prefix (levels without "
                         "+ # or empty parts, not starting with $)")
    return prefix


@dataclass(frozen=True)
class Address:
    """A parsed spinewise topic: scope ``dev`` / ``user`` / ``$sys``, the id, and the kind."""
    scope: str
    id: str
    kind: str


class Topics:
    """Topic names under one prefix. ``device(ANY, "imu")`` is the filter for every sensor."""

    def __init__(self, prefix: str, ha_prefix: str = "homeassistant") -> None:
        self.prefix = prefix.rstrip("/")
        self.ha_prefix = ha_prefix

    # -- per device ---------------------------------------------------------------------
    def device(self, device_id: str, kind: str) -> str:
        assert kind in SENSOR_KINDS or kind in DEVICE_OUT_KINDS or kind in SENSOR_IN_KINDS, kind
        return f"{self.prefix}/{DEVICE_SCOPE}/{device_id}/{kind}"

    def device_all(self, device_id: str) -> str:
        return f"{self.prefix}/{DEVICE_SCOPE}/{device_id}/#"

    # -- per user -----------------------------------------------------------------------
    def user(self, user: str, kind: str) -> str:
        assert kind in USER_IN_KINDS or kind in USER_OUT_KINDS, kind
        return f"{self.prefix}/{USER_SCOPE}/{user}/{kind}"

    def user_all(self, user: str) -> str:
        return f"{self.prefix}/{USER_SCOPE}/{user}/#"

    # -- the pipeline's own ---------------------------------------------------------------
    def pipeline(self, kind: str, instance: str = "") -> str:
        """``stats`` / ``status`` of one pipeline process (``instance`` = ``shard<i>of<n>``)."""
        assert kind in ("stats", "status"), kind
        middle = f"pipeline/{instance}" if instance else "pipeline"
        return f"{self.prefix}/{SYS_SCOPE}/{middle}/{kind}"

    def sys_all(self) -> str:
        return f"{self.prefix}/{SYS_SCOPE}/#"

    # -- Home Assistant discovery ---------------------------------------------------------
    @staticmethod
    def ha_node(user: str) -> str:
        return HA_NODE_PREFIX + user     # ids are already in HA's [a-zA-Z0-9_-]

    def discovery(self, component: str, user: str, obj: str) -> str:
        return f"{self.ha_prefix}/{component}/{self.ha_node(user)}/{obj}/config"

    def discovery_of(self, user: str) -> str:
        """Every discovery config of one user (an ACL pattern / subscription filter)."""
        return f"{self.ha_prefix}/{ANY}/{self.ha_node(user)}/#"

    def discovery_all(self) -> str:
        return f"{self.ha_prefix}/#"

    # -- parsing ----------------------------------------------------------------------------
    def parse(self, topic: str) -> Address | None:
        """The address of a spinewise topic, or None for anything else. The id is returned as
        it appears (it may be invalid: callers reject those with :func:`valid_id`)."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) < 3:
            return None
        scope, ident, kind = parts[0], parts[1], "/".join(parts[2:])
        if scope == DEVICE_SCOPE and (kind in SENSOR_KINDS or kind in DEVICE_OUT_KINDS
                                      or kind in SENSOR_IN_KINDS):
            return Address(scope, ident, kind)
        if scope == USER_SCOPE and (kind in USER_IN_KINDS or kind in USER_OUT_KINDS):
            return Address(scope, ident, kind)
        return None
