"""The running pipeline delivers its nudges: replayed sitting over the real Mosquitto, a
nudge on the MQTT topic and the same nudge once at a webhook (a local HTTP server)."""
from __future__ import annotations

import json
import time

import pytest

from spinewise.config import NotifyChannelConfig
from spinewise.ingest.publisher import Publisher
from spinewise.pipeline import Pipeline
from spinewise.pipeline.replay import map_times
from spinewise.topics import Topics
from tests.pipeline.conftest import START_EPOCH_S, Collector, make_config

pytestmark = pytest.mark.servers


def test_pipeline_nudge_reaches_the_webhook_once(mqtt_server, http_recorder, tmp_path):
    from spinewise.sim import simulate
    sitting = list(map_times(simulate("office_day", seed=4242, duration_s=600, calibration=True)
                             .chunks(25), "back1", START_EPOCH_S))
    cfg = make_config(tmp_path, mqtt_server.port)
    cfg.coaching.window_min, cfg.coaching.sedentary_trigger_min = 8.0, 4.0
    cfg.notify.backoff_s = 0.05
    cfg.notify.channels = [NotifyChannelConfig(user="ann", kind="webhook", url=http_recorder.url + "/n")]
    pipeline = Pipeline(cfg)
    pipeline.start()
    msgs = Collector(cfg, Topics(cfg.mqtt.prefix).user("ann", "nudge"))
    pub = Publisher(cfg.mqtt, cfg.gateway, "back1", spool_dir=tmp_path / "gw")
    try:
        for c in sitting:
            pub.publish_chunk(c)
        assert pub.flush(30)
        nudge = msgs.wait_for(lambda t, d: d.get("type") == "nudge", 30)
        assert nudge is not None, "no movement nudge after 10 min of sitting"
        deadline = time.monotonic() + 10
        while not http_recorder.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pub.close()
        pipeline.stop()
        msgs.client.close()
    sent = [d["id"] for t, d in msgs.messages if d.get("type") == "nudge"]
    got = [json.loads(r.body)["id"] for r in http_recorder.requests]
    assert got == sent and len(got) >= 1
    stats = pipeline.stats()                    # the channel's counts are in the pipeline's stats
    assert stats["notify_delivered"] == len(got) and stats["notify_failed"] == 0
    assert json.loads(http_recorder.requests[0].body)["device"] == "back1"


def test_done_and_snooze_clicked_on_the_desktop_reach_the_coach(mqtt_server, tmp_path):
    from tests.notify.dbus_notifications import SessionBus
    from tests.servers import missing

    if not SessionBus.available():
        missing("dbus-daemon is not installed")
    from spinewise.sim import simulate
    sitting = list(map_times(simulate("office_day", seed=4242, duration_s=600, calibration=True)
                             .chunks(25), "back1", START_EPOCH_S))
    bus = SessionBus(tmp_path).start()
    desktop = bus.serve()
    cfg = make_config(tmp_path, mqtt_server.port)
    cfg.coaching.window_min, cfg.coaching.sedentary_trigger_min = 8.0, 4.0
    cfg.notify.channels = [NotifyChannelConfig(user="ann", kind="desktop", bus_address=bus.address)]
    pipeline = Pipeline(cfg)
    pipeline.start()
    msgs = Collector(cfg, Topics(cfg.mqtt.prefix).user_all("ann"))
    pub = Publisher(cfg.mqtt, cfg.gateway, "back1", spool_dir=tmp_path / "gw")
    try:
        for c in sitting:
            pub.publish_chunk(c)
        assert pub.flush(30)
        nudge = msgs.wait_for(lambda t, d: t.endswith("/nudge") and d.get("type") == "nudge", 30)
        assert nudge is not None
        deadline = time.monotonic() + 10
        while not desktop.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert desktop.calls[0]["actions"] == ["done", "Done", "snooze", "Snooze"]
        nudge_id = nudge[1]["id"]
        bus.click(101, "done")
        reply = msgs.wait_for(lambda t, d: t.endswith("/cmd/reply") and d.get("id") == f"desktop:done:{nudge_id}", 10)
        assert reply is not None and reply[1]["ok"] and reply[1]["answered"] == nudge_id
        bus.click(101, "snooze")
        reply = msgs.wait_for(lambda t, d: t.endswith("/cmd/reply") and d.get("id") == f"desktop:snooze:{nudge_id}", 10)
        assert reply is not None and reply[1]["ok"] and reply[1]["cmd"] == "snooze"
        assert reply[1]["snoozed_until_s"] > sitting[-1].t_s[-1]
        state = msgs.wait_for(lambda t, d: t.endswith("/coach") and d.get("nudges_answered_today") == 1, 10)
        assert state is not None
    finally:
        pub.close()
        pipeline.stop()
        msgs.client.close()
        bus.stop()
