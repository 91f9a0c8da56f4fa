"""Desktop: a freedesktop notification (D-Bus ``org.freedesktop.Notifications.Notify``).

The Desktop Notifications Specification's call: ``Notify(app_name s, replaces_id u,
app_icon s, summary s, body s, actions as, hints a{sv}, expire_timeout i) -> id u``. Urgency
hint from the priority (1-2 low, 3-4 normal, 5 critical), category ``x-spinewise.nudge``;
each nudge replaces the previous one still on screen (``replaces_id``), so a desk that was
away for an hour shows one nudge, not a stack. Uses dbus-fast (already installed with bleak
on Linux). The pipeline must reach the person's session bus: run it in their session, or
point ``bus_address`` at it (``unix:path=/run/user/<uid>/bus``).
"""
from __future__ import annotations

import asyncio

from spinewise.config import NotifyChannelConfig
from spinewise.notify.channel import DeliveryError, RejectedError
from spinewise.notify.notice import Notice

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
APP_NAME = "spinewise"
URGENCY = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
EXPIRE_MS = 60_000
# errors that a retry cannot fix (no notification server is not one: it may start later)
_REFUSALS = ("org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InvalidArgs",
             "org.freedesktop.DBus.Error.UnknownMethod")


class DesktopChannel:
    def __init__(self, cfg: NotifyChannelConfig) -> None:
        self.cfg = cfg
        self.name = f"desktop:{cfg.user}"
        self._last_id = 0

    def send(self, notice: Notice) -> None:
        self._last_id = asyncio.run(asyncio.wait_for(self._notify(notice), self.cfg.timeout_s))

    async def _notify(self, n: Notice) -> int:
        from dbus_fast import BusType, Message, MessageType, Variant
        from dbus_fast.aio import MessageBus

        try:
            bus = await (MessageBus(bus_address=self.cfg.bus_address) if self.cfg.bus_address
                         else MessageBus(bus_type=BusType.SESSION)).connect()
        except Exception as exc:            # no bus, refused, bad address
            raise DeliveryError(f"D-Bus {self.cfg.bus_address or 'session bus'}: {exc}") from None
        try:
            hints = {"urgency": Variant("y", URGENCY[self.cfg.priority]),
                     "category": Variant("s", "x-spinewise.nudge"),
                     "desktop-entry": Variant("s", APP_NAME)}
            reply = await bus.call(Message(
                destination=BUS_NAME, path=OBJECT_PATH, interface=BUS_NAME, member="Notify",
                signature="susssasa{sv}i",
                body=[APP_NAME, self._last_id, "", n.title, n.message, [], hints, EXPIRE_MS]))
        finally:
            bus.disconnect()
        if reply.message_type == MessageType.ERROR:
            why = f"{reply.error_name}: {' '.join(map(str, reply.body))}"
            raise (RejectedError if reply.error_name in _REFUSALS else DeliveryError)(why)
        return int(reply.body[0])

    def close(self) -> None:
        pass
