"""Outbox: bounded outgoing messages while the broker is away or paho is saturated."""
from spinewise.pipeline.counters import Counters
from spinewise.pipeline.outbox import Outbox
from tests.pipeline.fakes import FakeClient


class Info:
    def __init__(self):
        self.acked = False

    def is_published(self):
        return self.acked


class AckingClient(FakeClient):
    """Returns message infos the test acknowledges by hand (paho's PUBACK)."""

    def publish_nowait(self, topic, payload, qos=1, retain=False):
        super().publish_nowait(topic, payload, qos, retain)
        info = Info()
        self.infos.append(info)
        return info


def make(**kw):
    client = AckingClient(None, "x")
    client.infos = []
    counters = Counters()
    return Outbox(client, counters, **kw), client, counters


def test_direct_while_connected_held_in_order_by_class_while_not():
    box, client, counters = make(events_max=2, keep_max=2)
    client.connected.set()
    box.send("a/events", b"e0", cls="event")
    assert [t for t, _, _ in client.published] == ["a/events"]
    client.connected.clear()
    for i in range(1, 5):
        box.send("a/events", f"e{i}".encode(), cls="event")
        box.send("a/state", f"s{i}".encode(), retain=True)
    for i in range(3):
        box.send("u/nudge", f"n{i}".encode())
    assert box.depth() == 2 + 1 + 2
    assert counters.get("outbox_dropped.event") == 2 and counters.get("outbox_dropped.keep") == 1
    client.connected.set()
    assert box.pump() == 5
    assert [p for _, p, _ in client.published[1:]] == [b"n1", b"n2", b"s4", b"e3", b"e4"]
    assert counters.get("outbox_depth") == 0


def test_paho_never_holds_more_than_the_inflight_limit():
    box, client, counters = make(inflight_max=3)
    client.connected.set()
    for i in range(5):
        box.send("a/events", str(i).encode(), cls="event")
    assert len(client.published) == 3 and box.depth() == 2
    box.send("a/state", b"s", retain=True)       # waits too (no overtaking paho's limit) ...
    assert box.pump() == 0
    client.infos[0].acked = True
    assert box.pump() == 1 and client.published[-1][1] == b"s"     # ... but before events
    for info in client.infos:
        info.acked = True
    assert box.pump() == 2 and box.depth() == 0
    assert [p for _, p, _ in client.published] == [b"0", b"1", b"2", b"s", b"3", b"4"]
