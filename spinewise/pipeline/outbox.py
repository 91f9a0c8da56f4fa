"""Bounded outgoing MQTT messages: what the pipeline publishes while the broker is away.

paho queues every publish made while disconnected in memory without a limit (and
``max_queued_messages_set(0)`` keeps it that way for the clients that need it), so a pipeline
cut off from its broker for a day would grow until the kernel kills it. The worker therefore
publishes through an :class:`Outbox`: a message goes to paho only while the client is
connected and paho holds fewer than ``inflight_max`` unacknowledged messages; everything else
waits here, bounded, by class:

- ``retained`` (device state, coach state, plan, pipeline stats and status, discovery): only the
  latest payload per topic matters, so a newer one replaces the waiting one (latest wins, never
  dropped, bounded by the number of topics);
- ``keep`` (nudges, command replies, other coaching messages): the user must see them; kept
  in order up to ``keep_max``, beyond which the oldest go (counted ``outbox_dropped.keep``);
- ``event`` (``<prefix>/<device>/events``): a live view that storage already has; up to
  ``events_max``, then the oldest are dropped and counted (``outbox_dropped.event``).

Order within a class is kept. When the link is back, ``pump()`` sends keep first, then
retained, then events. Single-threaded use by the worker, but a lock makes the calls from
``start()``/``stop()`` safe too.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque

log = logging.getLogger(__name__)

CLASSES = ("keep", "retained", "event")


class Outbox:
    def __init__(self, client, counters, *, events_max: int = 10000, keep_max: int = 10000,
                 inflight_max: int = 1000) -> None:
        self.client = client
        self.counters = counters
        self.inflight_max = int(inflight_max)
        self._keep: deque = deque()
        self._keep_max = int(keep_max)
        self._events: deque = deque()
        self._events_max = int(events_max)
        self._retained: OrderedDict[str, tuple] = OrderedDict()
        self._inflight: list = []           # paho MQTTMessageInfo not yet acknowledged
        self._lock = threading.Lock()
        self._warned = False

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
             cls: str | None = None) -> None:
        """Publish now if the link allows, else hold (bounded). ``cls`` defaults to
        ``retained`` for retained messages and ``keep`` for the rest."""
        cls = cls or ("retained" if retain else "keep")
        msg = (topic, payload, qos, retain)
        with self._lock:
            if not self._waiting() and self._can_send():
                self._publish(msg)
                return
            self._hold(cls, msg)

    def pump(self) -> int:
        """Send what waits, as far as the link allows; returns the number sent."""
        sent = 0
        with self._lock:
            while self._waiting() and self._can_send():
                if self._keep:
                    msg = self._keep.popleft()
                elif self._retained:
                    _, msg = self._retained.popitem(last=False)
                else:
                    msg = self._events.popleft()
                self._publish(msg)
                sent += 1
            if sent and not self._waiting() and self._warned:
                self._warned = False
                log.info("outbox drained: publishing directly again")
            self.counters.set("outbox_depth", self._depth())
        return sent

    def depth(self) -> int:
        with self._lock:
            return self._depth()

    # -- internals (lock held) -----------------------------------------------------------------
    def _depth(self) -> int:
        return len(self._keep) + len(self._retained) + len(self._events)

    def _waiting(self) -> bool:
        return bool(self._keep or self._retained or self._events)

    def _can_send(self) -> bool:
        if not self.client.connected.is_set():
            return False
        if len(self._inflight) >= self.inflight_max:
            self._inflight = [i for i in self._inflight if not _done(i)]
        return len(self._inflight) < self.inflight_max

    def _publish(self, msg: tuple) -> None:
        topic, payload, qos, retain = msg
        info = self.client.publish_nowait(topic, payload, qos=qos, retain=retain)
        if qos > 0 and info is not None:
            self._inflight.append(info)

    def _hold(self, cls: str, msg: tuple) -> None:
        if not self._warned:
            self._warned = True
            log.warning("mqtt publisher not connected or saturated: holding outgoing messages "
                        "(events bounded at %d, dropped oldest first)", self._events_max)
        if cls == "retained":
            self._retained.pop(msg[0], None)      # latest wins, and goes to the back
            self._retained[msg[0]] = msg
        elif cls == "event":
            if len(self._events) >= self._events_max:
                self._events.popleft()
                self.counters.inc("outbox_dropped", reason="event")
            self._events.append(msg)
        else:
            if len(self._keep) >= self._keep_max:
                self._keep.popleft()
                self.counters.inc("outbox_dropped", reason="keep")
                log.error("outbox full: dropped the oldest kept message (nudge/reply)")
            self._keep.append(msg)
        self.counters.set("outbox_depth", self._depth())


def _done(info) -> bool:
    try:
        return info.is_published()
    except Exception:      # paho raises for a message it gave up on: not ours to wait for
        return True
