"""Acceptance (issue 14, item 1): the nudges a replayed office day fires arrive on every
configured channel exactly once - ntfy, Gotify and a webhook on a local HTTP server, the
desktop on a private D-Bus, Home Assistant and the sensor's buzz request on the real Mosquitto
(tests/ble/test_haptic.py takes the buzz on to the emulated sensor) - also when a channel fails
transiently, the day's events are delivered twice, and the service restarts and replays it."""
from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime

import pytest

from spinewise.coaching import CoachService, CoachStore
from spinewise.config import from_dict
from spinewise.notify import open_notifier
from spinewise.topics import Topics
from tests.coaching.test_office_day import minute_table, truth_events
from tests.notify.dbus_notifications import SessionBus
from tests.pipeline.conftest import Collector
from tests.servers import missing

sim = pytest.importorskip("spinewise.sim")
pytestmark = pytest.mark.servers


def test_replayed_office_day_nudges_arrive_once_on_every_channel(http_recorder, mqtt_server, tmp_path):
    if not SessionBus.available():
        missing("dbus-daemon is not installed")
    bus = SessionBus(tmp_path).start()
    desktop = bus.serve()
    prefix = f"od{int(time.time() * 1000) % 10**8}"
    url = http_recorder.url
    cfg = from_dict({
        "mqtt": {"host": "127.0.0.1", "port": mqtt_server.port, "prefix": prefix},
        "pipeline": {"client_id": f"pl-{prefix}"},
        "coaching": {"timezone": "Europe/Berlin"},
        "devices": [{"id": "belt", "user": "sim", "profile": "spinewise"}],
        "notify": {"attempts": 4, "backoff_s": 0.05, "channels": [
            {"user": "sim", "kind": "ntfy", "url": f"{url}/ntfy/sim-back"},
            {"user": "sim", "kind": "gotify", "url": f"{url}/gotify", "token": "app-token"},
            {"user": "sim", "kind": "webhook", "url": f"{url}/hook"},
            {"user": "sim", "kind": "desktop", "bus_address": bus.address},
            {"user": "sim", "kind": "homeassistant"},
            {"user": "sim", "kind": "haptic"},
            {"user": "other", "kind": "webhook", "url": f"{url}/other"}]}})
    ha = Collector(cfg, Topics(prefix).user("sim", "notify"))
    buzz = Collector(cfg, Topics(prefix).device("belt", "haptic"))
    http_recorder.statuses = [503]          # the first HTTP delivery fails: retried, still once

    s = sim.simulate("office_day", seed=2)
    truth = s.truth
    t0 = datetime.fromisoformat(truth["start_utc"].replace("Z", "+00:00")).timestamp()
    events = truth_events(truth, minute_table(truth))
    store = CoachStore(str(tmp_path / "coach.sqlite"))
    fired = []
    try:
        svc = CoachService(cfg, store, t0_epoch_s=t0, notifier=open_notifier(cfg))
        for _ in range(2):                  # the same day delivered twice (at-least-once MQTT)
            for i in range(0, len(events), 97):
                fired += [o.payload["id"] for o in svc.on_events("sim", events[i:i + 97])
                          if o.payload.get("type") == "nudge"]
        assert svc.notifier.wait_idle(30)
        svc.close()
        # a restart replays the day again: the stored policy state fires nothing new
        again = CoachService(cfg, store, t0_epoch_s=t0, notifier=open_notifier(cfg))
        for i in range(0, len(events), 500):
            fired += [o.payload["id"] for o in again.on_events("sim", events[i:i + 500])
                      if o.payload.get("type") == "nudge"]
        again.close()
        assert len(fired) >= 3 and len(set(fired)) == len(fired), fired
        assert ha.wait_for(lambda t, d: d.get("id") == fired[-1], 10)
        time.sleep(0.5)                     # anything extra would arrive now
    finally:
        ha.client.close()
        buzz.client.close()
        bus.stop()
        store.close()

    by_path = Counter()
    ids = {"ntfy": [], "gotify": [], "hook": []}
    for req in http_recorder.requests[1:]:  # [0] got the scripted 503
        by_path[req.path] += 1
        if req.path.startswith("/ntfy"):
            ids["ntfy"].append(req.body.decode())
        elif req.path == "/gotify/message":
            ids["gotify"].append(json.loads(req.body)["extras"]["spinewise::nudge"]["id"])
        elif req.path == "/hook":
            ids["hook"].append(json.loads(req.body)["id"])
    assert "/other" not in by_path                       # another person's channel gets nothing
    assert sorted(ids["gotify"]) == sorted(fired) and sorted(ids["hook"]) == sorted(fired)
    assert len(ids["ntfy"]) == len(fired)
    assert [c["summary"] for c in desktop.calls] and len(desktop.calls) == len(fired)
    # the two MQTT channels (Home Assistant, haptic) share one connection: exactly once there too
    assert sorted(d["id"] for _, d in ha.messages) == sorted(fired)
    assert sorted(d["id"] for _, d in buzz.messages) == sorted(fired)
