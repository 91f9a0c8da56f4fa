"""Coaching over real Mosquitto: a movement nudge from replayed sitting, then snooze, pain,
calibrate (also through the ``spinewise calibrate`` CLI) and a bad command."""
from __future__ import annotations

import pytest

from spinewise import cli
from spinewise.commands.calibrate import send_command
from spinewise.config import from_dict
from spinewise.ingest.publisher import Publisher
from spinewise.pipeline import Pipeline
from spinewise.pipeline.replay import map_times
from spinewise.topics import Topics
from tests.pipeline.conftest import START_EPOCH_S, Collector, make_config, wait_until

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def sitting():
    """Ten minutes of office sitting (one long bout), in 25-sample chunks."""
    from spinewise.sim import simulate
    sim = simulate("office_day", seed=4242, duration_s=600, calibration=True)
    return list(map_times(sim.chunks(25), "back1", START_EPOCH_S))


def test_nudge_snooze_pain_calibrate_over_mosquitto(sitting, mqtt_server, tmp_path):
    cfg = make_config(tmp_path, mqtt_server.port)
    # a short policy window so the first sitting bout (~4.5 min) earns a nudge (defaults: 50 of 60 min)
    cfg.coaching.window_min, cfg.coaching.sedentary_trigger_min = 8.0, 4.0
    p = cfg.mqtt.prefix
    pipeline = Pipeline(cfg)
    pipeline.start()
    user_msgs = Collector(cfg, Topics(p).user_all("ann"))
    device_msgs = Collector(cfg, Topics(p).device_all("back1"))
    pub = Publisher(cfg.mqtt, cfg.gateway, "back1", spool_dir=tmp_path / "gw")
    try:
        for c in sitting:
            pub.publish_chunk(c)
        assert pub.flush(30)
        nudge = user_msgs.wait_for(lambda t, d: t == Topics(p).user("ann", "nudge") and d.get("type") == "nudge", 30)
        assert nudge is not None, "no movement nudge after 10 min of sitting"
        assert nudge[1]["reason"] == "sedentary" and nudge[1]["suggestion"]["text"]

        reply = send_command(cfg, "ann", {"v": 1, "cmd": "snooze", "minutes": 20})
        assert reply["ok"] and reply["snoozed_until_s"] > sitting[-1].t_s[-1]
        assert user_msgs.wait_for(lambda t, d: t == Topics(p).user("ann", "coach") and d.get("snoozed_until_iso"), 10)

        reply = send_command(cfg, "ann", {"v": 1, "cmd": "pain", "score": 6, "leg": True})
        assert reply["ok"] and reply["recorded"]["score"] == 6 and reply["advice"]

        reply = send_command(cfg, "ann", {"v": 1, "cmd": "calibrate"})
        assert reply["ok"]
        assert device_msgs.wait_for(lambda t, d: t == Topics(p).device("back1", "events") and d.get("kind") == "calibrated"
                                    and d["data"].get("reason") == "user", 10)

        reply = send_command(cfg, "ann", {"v": 1, "cmd": "fly", "id": "bad-1"})
        assert reply["ok"] is False and reply["error"]["field"] == "cmd" and reply["id"] == "bad-1"

        state = device_msgs.wait_for(lambda t, d: t == Topics(p).device("back1", "state")
                                     and d.get("sedentary_min_today", 0) > 4, 10)
        assert state[1]["user"] == "ann" and state[1]["activity"] and state[1]["trunk_angle_deg"] is not None
    finally:
        pub.close()
        user_msgs.close()
        device_msgs.close()
        pipeline.stop()
    stats = pipeline.stats()
    assert stats["nudges"] >= 1 and stats["commands"] == 4 and stats["commands_rejected"] == 1
    from spinewise.storage.local import LocalStore
    store = LocalStore(cfg.influx.local_path)      # what the pipeline wrote, after it closed
    assert store.rows("pain", user="ann")[0]["score"] == 6
    assert store.rows("nudge", user="ann")


def test_calibrate_cli_reaches_the_pipeline(mqtt_server, tmp_path, capsys):
    cfg = make_config(tmp_path, mqtt_server.port)
    toml = tmp_path / "spinewise.toml"
    toml.write_text(f'[mqtt]\nport = {mqtt_server.port}\nprefix = "{cfg.mqtt.prefix}"\n\n'
                    '[[devices]]\nid = "back1"\nuser = "ann"\n')
    assert from_dict({"mqtt": {"port": mqtt_server.port}}).mqtt.port == mqtt_server.port
    pipeline = Pipeline(cfg)
    pipeline.start()
    try:
        rc = cli.main(["--config", str(toml), "calibrate", "--device", "back1", "--timeout", "10"])
    finally:
        pipeline.stop()
    out = capsys.readouterr().out
    assert rc == 0 and "calibration requested for back1 (user ann)" in out
    assert wait_until(lambda: pipeline.counters.get("commands") == 1, 1)


@pytest.mark.parametrize("source", ["file", "stdin-gzip"])
def test_replay_cli_drives_the_pipeline_to_the_analyze_result(mqtt_server, tmp_path, capsys, fixtures_dir,
                                                              monkeypatch, source):
    """``replay FILE`` and ``replay -`` (standard input, here gzip: read twice, so buffered
    once) give the pipeline what ``analyze`` gives."""
    import gzip
    import io
    import json

    from tests.pipeline.conftest import START_ISO

    rec = fixtures_dir / "sim" / "office_snippet_25hz_random.csv"
    assert cli.main(["analyze", "--json", str(rec)]) == 0
    ref = json.loads(capsys.readouterr().out)
    cfg = make_config(tmp_path, mqtt_server.port)
    toml = tmp_path / "spinewise.toml"
    toml.write_text(f'[mqtt]\nport = {mqtt_server.port}\nprefix = "{cfg.mqtt.prefix}"\n'
                    f'[gateway]\nspool_dir = "{tmp_path}/gw"\n')
    pipeline = Pipeline(cfg)
    pipeline.start()
    arg = str(rec)
    if source == "stdin-gzip":
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(rec.read_bytes()))))
        arg = "-"
    try:
        rc = cli.main(["--config", str(toml), "replay", arg, "--device", "back1", "--speed", "0",
                       "--start", START_ISO, "--encoding", "binary"])
        out = capsys.readouterr().out
        assert rc == 0, out
        assert "all acknowledged" in out
        session = pipeline.sessions["back1"]
        assert wait_until(lambda: session.last_summary is not None, 20)
    finally:
        pipeline.stop()
    got = session.last_summary
    for key in ("sedentary_s", "sitting_s", "standing_s", "walking_s", "steps", "breaks"):
        assert got["activity"][key] == ref["activity"][key], key
    assert got["posture"]["slouch_s"] == ref["posture"]["slouch_s"]
    assert len(got["activity"]["sedentary_bouts"]) == len(ref["activity"]["sedentary_bouts"])
