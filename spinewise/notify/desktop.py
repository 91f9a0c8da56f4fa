"""Desktop: a freedesktop notification (D-Bus ``org.freedesktop.Notifications.Notify``).

The Desktop Notifications Specification's call: ``Notify(app_name s, replaces_id u,
app_icon s, summary s, body s, actions as, hints a{sv}, expire_timeout i) -> id u``. Urgency
hint from the priority (1-2 low, 3-4 normal, 5 critical), category ``x-spinewise.nudge``;
each nudge replaces the previous one still on screen (``replaces_id``), so a desk that was
away for an hour shows one nudge, not a stack. "Done" and "Snooze" action buttons: when the
person clicks one the server emits ``ActionInvoked(id, key)`` and the channel hands a ``done``
(that nudge answered) or ``snooze`` command for that user to its reply sink (the pipeline takes it like one from
``<prefix>/user/<user>/cmd``). The bus connection stays open in a thread of its own, since
servers forget the actions of a client that left. Uses dbus-fast (installed with bleak on
Linux). The pipeline must reach the person's session bus: run it in their session, or point
``bus_address`` at it (``unix:path=/run/user/<uid>/bus``).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections import OrderedDict

from spinewise.config import NotifyChannelConfig
from spinewise.notify.channel import DeliveryError, RejectedError
from spinewise.notify.notice import Notice

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
APP_NAME = "spinewise"
URGENCY = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
EXPIRE_MS = 60_000
ACTIONS = ["done", "Done", "snooze", "Snooze"]     # key, label (the spec's flat list)
_SHOWN_MAX = 64
# errors that a retry cannot fix (no notification server is not one: it may start later)
_REFUSALS = ("org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InvalidArgs",
             "org.freedesktop.DBus.Error.UnknownMethod")


class DesktopChannel:
    def __init__(self, cfg: NotifyChannelConfig, replies=None) -> None:
        self.cfg = cfg
        self.name = f"desktop:{cfg.user}"
        self.replies = replies                  # callable(user, command payload bytes) or None
        self._last_id = 0
        self._shown: OrderedDict[int, str] = OrderedDict()   # notification id -> nudge id
        # clicks on a notification whose Notify reply this channel has not taken in yet: the
        # server's reply and its ActionInvoked signal arrive in order, but the message handler
        # runs before the coroutine waiting for the reply resumes (a quick click, under load)
        self._early: list[tuple[int, str]] = []
        self._bus = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- the channel's own event loop (the bus connection lives there) -------------------
    def _run(self, coro, timeout_s: float):
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever,
                                            name=f"notify-{self.name}-dbus", daemon=True)
            self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout_s)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise DeliveryError(f"D-Bus: no answer within {timeout_s:g} s") from None

    def send(self, notice: Notice) -> None:
        self._last_id = self._run(self._notify(notice), self.cfg.timeout_s)

    async def _connect(self):
        from dbus_fast import BusType, Message
        from dbus_fast.aio import MessageBus

        if self._bus is not None and self._bus.connected:
            return self._bus
        try:
            bus = await (MessageBus(bus_address=self.cfg.bus_address) if self.cfg.bus_address
                         else MessageBus(bus_type=BusType.SESSION)).connect()
        except Exception as exc:            # no bus, refused, bad address
            raise DeliveryError(f"D-Bus {self.cfg.bus_address or 'session bus'}: {exc}") from None
        bus.add_message_handler(self._on_message)
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=[f"type='signal',interface='{BUS_NAME}',member='ActionInvoked'"]))
        self._bus = bus
        return bus

    async def _notify(self, n: Notice) -> int:
        from dbus_fast import Message, MessageType, Variant

        bus = await self._connect()
        hints = {"urgency": Variant("y", URGENCY[self.cfg.priority]),
                 "category": Variant("s", "x-spinewise.nudge"),
                 "desktop-entry": Variant("s", APP_NAME)}
        reply = await bus.call(Message(
            destination=BUS_NAME, path=OBJECT_PATH, interface=BUS_NAME, member="Notify",
            signature="susssasa{sv}i",
            body=[APP_NAME, self._last_id, "", n.title, n.message,
                  ACTIONS if self.replies else [], hints, EXPIRE_MS]))
        if reply.message_type == MessageType.ERROR:
            why = f"{reply.error_name}: {' '.join(map(str, reply.body))}"
            raise (RejectedError if reply.error_name in _REFUSALS else DeliveryError)(why)
        shown = int(reply.body[0])
        self._shown[shown] = n.id
        while len(self._shown) > _SHOWN_MAX:
            self._shown.popitem(last=False)
        early, self._early = self._early, []
        for clicked, key in early:
            self._answer(clicked, key)
        return shown

    def _on_message(self, msg) -> None:
        """ActionInvoked(id, key) for one of our notifications -> a command for the coach."""
        if msg.member != "ActionInvoked" or msg.interface != BUS_NAME or msg.signature != "us":
            return None
        shown, key = msg.body
        if shown not in self._shown and key in ("done", "snooze"):
            self._early = (self._early + [(int(shown), key)])[-_SHOWN_MAX:]
            return None
        self._answer(shown, key)
        return None

    def _answer(self, shown: int, key: str) -> None:
        nudge_id = self._shown.get(shown)
        if nudge_id is None or key not in ("done", "snooze") or self.replies is None:
            return None
        cmd = {"v": 1, "cmd": key, "id": f"desktop:{key}:{nudge_id}"}
        if key == "done":
            cmd["nudge"] = nudge_id
        log.info("notify %s: %s chosen on nudge %s", self.name, key, nudge_id)
        # off the bus loop: the sink may wait for room in the pipeline's queue
        self._loop.run_in_executor(None, self._pass_on, json.dumps(cmd).encode())
        return None

    def _pass_on(self, payload: bytes) -> None:
        try:
            self.replies(self.cfg.user, payload)
        except Exception:
            log.exception("notify %s: could not pass the answer on", self.name)

    def close(self) -> None:
        if self._loop is None:
            return
        if self._bus is not None:
            self._loop.call_soon_threadsafe(self._bus.disconnect)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
