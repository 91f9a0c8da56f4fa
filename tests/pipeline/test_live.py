"""Acceptance tests of the live service against real Mosquitto and InfluxDB (tests/servers.py).

- a recording replayed at >= 50x gives in InfluxDB the sets, reps, holds and sedentary total
  that the offline analysis gives, and an InfluxDB outage mid-replay loses no point;
- a restarted pipeline continues from its snapshot and receives what was published while it
  was down (persistent MQTT session);
- bad payloads are counted by reason while good data keeps flowing.
"""
from __future__ import annotations

import threading
import time

import pytest

from spinewise.ingest.publisher import Publisher
from spinewise.pipeline import Pipeline
from spinewise.pipeline.replay import map_times, replay
from spinewise.recording import read_chunks
from spinewise.storage import open_storage
from spinewise.topics import Topics
from tests.pipeline.conftest import START_EPOCH_S, Collector, explain_mismatch, make_config, wait_until
from tests.servers import InfluxD, missing

pytestmark = pytest.mark.servers


class KeyRecorder:
    """Storage wrapper that remembers every point key the pipeline wrote."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.keys: dict[str, set] = {}
        self._lock = threading.Lock()

    def write(self, points) -> None:
        points = list(points)
        with self._lock:
            for p in points:
                self.keys.setdefault(p.measurement, set()).add(p.key)
        self.inner.write(points)

    def flush(self, force: bool = False) -> bool:
        return self.inner.flush(force)

    def close(self) -> None:
        self.inner.close()

    def stats(self) -> dict:
        return self.inner.stats()


def influx_rows(influx: InfluxD, measurement: str) -> list[dict]:
    res = influx.query(f'SELECT * FROM "{measurement}"', db="spinewise")["results"][0]
    rows = []
    for series in res.get("series", []):
        cols = series["columns"]
        rows += [dict(zip(cols, v)) for v in series["values"]]
    return rows


def publisher(cfg, device: str, tmp_path) -> Publisher:
    pub = Publisher(cfg.mqtt, cfg.gateway, device, spool_dir=tmp_path / f"spool-{device}",
                    client_id=f"gw-{cfg.mqtt.prefix}-{device}")
    assert pub.client.connected.wait(10)
    return pub


@pytest.fixture
def private_influx(tmp_path):
    """An InfluxDB of this test's own, so it can be stopped and started mid-replay."""
    if not InfluxD.available():
        missing("influxd not installed")
    server = InfluxD(None, tmp_path / "influxdb")
    server.start()
    server.create_database("spinewise")
    yield server
    server.cleanup()


def test_replay_at_50x_equals_analyze_and_influx_outage_loses_no_point(
        recording, mqtt_server, private_influx, tmp_path):
    influx = private_influx
    cfg = make_config(tmp_path, mqtt_server.port, influx={
        "backend": "v1", "url": influx.url, "database": "spinewise",
        "spool_dir": str(tmp_path / "influx-spool"), "flush_interval_s": 0.2, "batch_size": 200,
        "timeout_s": 2.0})
    p = cfg.mqtt.prefix
    storage = KeyRecorder(open_storage(cfg.influx))
    pipeline = Pipeline(cfg, storage=storage)
    pipeline.start()
    events = Collector(cfg, Topics(p).device("back1", "events"))
    pub = publisher(cfg, "back1", tmp_path)
    speed = 60.0
    result = {}

    def run():
        chunks = map_times(read_chunks(recording.path, 25), "back1", START_EPOCH_S)
        result["r"] = replay(chunks, pub, speed=speed)

    t = threading.Thread(target=run)
    t.start()
    try:
        # Outage: InfluxDB away for ~3 s of wall time (~3 min of event time) mid-replay.
        assert wait_until(lambda: pipeline.counters.get("samples_processed") > recording.n_samples // 3, 60)
        influx.stop()
        assert wait_until(lambda: storage.stats()["spool_depth"] > 0, 15), "nothing spooled during outage"
        time.sleep(1.0)
        influx.start()
        t.join(120)
        assert not t.is_alive()
        res = result["r"]
        assert res.acknowledged and res.samples == recording.n_samples
        assert (res.end_t_s - res.first_t_s) / res.wall_s >= 50.0, "replay ran slower than 50x"
        session = pipeline.sessions["back1"]
        assert wait_until(lambda: session.last_summary is not None, 30), "end of stream not handled"
    finally:
        pub.close()
        pipeline.stop()
        events.close()
    ref = recording.reference

    # No point lost across the outage: every key the pipeline wrote is in InfluxDB.
    st = storage.stats()
    assert st["spool_depth"] == 0 and st["points_spooled"] > 0
    for measurement, keys in storage.keys.items():
        assert len(influx_rows(influx, measurement)) == len(keys), measurement

    # The same sets, reps and holds as the offline analysis (times within rounding).
    sets = sorted(influx_rows(influx, "set"), key=lambda r: r["time"])
    got_sets = [(r["exercise"], r["reps"]) for r in sets]
    assert got_sets == [(s["exercise"], s["reps"]) for s in ref["sets"]], explain_mismatch(recording, got_sets)
    for r, s in zip(sets, ref["sets"]):
        assert abs(r["time"] / 1e9 - START_EPOCH_S - s["start_s"]) < 0.1
    holds = sorted(influx_rows(influx, "hold"), key=lambda r: r["time"])
    assert [r["exercise"] for r in holds] == [h["exercise"] for h in ref["holds"]]
    for r, h in zip(holds, ref["holds"]):
        assert abs(r["duration_s"] - h["duration_s"]) < 0.1
    reps = influx_rows(influx, "rep")
    assert len(reps) == sum(s["reps"] for s in ref["sets"])
    minutes = influx_rows(influx, "activity_minute")
    assert sum(r["sedentary_s"] for r in minutes) == pytest.approx(ref["activity"]["sedentary_s"], abs=1e-6)
    assert len(ref["sets"]) >= 1 and len(ref["holds"]) >= 1 and ref["activity"]["sedentary_s"] > 0

    # Live events went out on MQTT as they happened.
    kinds = {doc["kind"] for _, doc in events.messages if isinstance(doc, dict)}
    assert {"rep", "set_started", "set_finished", "hold_finished", "posture", "minute"} <= kinds


def test_restart_resumes_from_snapshot_and_gets_messages_sent_while_down(recording, mqtt_server, tmp_path):
    cfg = make_config(tmp_path, mqtt_server.port)
    chunks = list(map_times(read_chunks(recording.path, 25), "back1", START_EPOCH_S))
    half = len(chunks) // 2
    pub = publisher(cfg, "back1", tmp_path)
    try:
        first = Pipeline(cfg)
        first.start()
        for c in chunks[:half]:
            pub.publish_chunk(c)
        assert pub.flush(30)
        assert wait_until(lambda: first.counters.get("samples_in") == sum(map(len, chunks[:half])), 30)
        first.stop()                  # snapshot; the broker keeps our session
        for c in chunks[half:]:       # published while the pipeline is down
            pub.publish_chunk(c)
        assert pub.flush(30)
        second = Pipeline(cfg)
        second.start()
        assert "back1" in second.sessions and second.sessions["back1"].stats.samples > 0
        pub.publish_status("end", end_t_s=float(chunks[-1].t_s[-1]))
        session = second.sessions["back1"]
        assert wait_until(lambda: session.last_summary is not None, 30)
        got = session.last_summary
        second.stop()
    finally:
        pub.close()
    assert second.counters.get("gaps") == 0 and second.counters.get("samples_late") == 0
    assert session.stats.samples == recording.n_samples          # every sample, exactly once
    ref = recording.reference
    got_sets = [(s["exercise"], s["reps"]) for s in got["sets"]]
    assert got_sets == [(s["exercise"], s["reps"]) for s in ref["sets"]], explain_mismatch(recording, got_sets)
    assert [h["exercise"] for h in got["holds"]] == [h["exercise"] for h in ref["holds"]]
    assert got["activity"]["sedentary_s"] == pytest.approx(ref["activity"]["sedentary_s"], abs=1e-6)


def test_bad_payloads_are_counted_by_reason_and_the_service_keeps_running(recording, mqtt_server, tmp_path):
    from spinewise.ingest.payload import encode_binary, encode_json
    from spinewise.mqtt import MqttClient

    cfg = make_config(tmp_path, mqtt_server.port, unknown_devices="reject")
    p = cfg.mqtt.prefix
    chunks = list(map_times(read_chunks(recording.path, 25), "back1", START_EPOCH_S))[:200]
    pipeline = Pipeline(cfg)
    pipeline.start()
    raw = MqttClient(cfg.mqtt, f"raw-{p}", clean_session=True)
    assert raw.connect(10)
    imu = Topics(p).device("back1", "imu")
    try:
        good = encode_json(chunks[0])
        bad = {
            "empty": b"",
            "malformed_json": b"{not json",
            "unknown_encoding": b"\x00\x01garbage",
            "truncated": encode_binary(chunks[1])[:30],
            "nan": b'{"v":1,"device":"back1","t_s":[1,2],"acc_g":[[NaN,0,1],[0,0,1]]}',
            "bad_version": b'{"v": 9, "t_s": [1], "acc_g": [[0,0,1]]}',
        }
        for c in chunks[:100]:
            assert raw.publish(imu, encode_json(c))
        for payload in bad.values():
            assert raw.publish(imu, payload)
        assert raw.publish(Topics(p).device("stranger", "imu"), good)   # not in config: rejected
        assert raw.publish(imu, encode_json(chunks[50]))   # duplicate: dropped
        for c in chunks[100:]:
            assert raw.publish(imu, encode_binary(c))
        n = sum(map(len, chunks))
        assert wait_until(lambda: pipeline.counters.get("samples_in") == n + len(chunks[50]), 20)
        pipeline.wait_idle(5)
        stats = pipeline.stats()
    finally:
        raw.close()
        pipeline.stop()
    for reason in bad:
        assert stats.get(f"rejected.{reason}") == 1, (reason, stats)
    assert stats["rejected.unknown_device"] == 1
    assert stats.get("samples_duplicates") == len(chunks[50]), (pipeline.sessions["back1"].buffer.counts, {k: v for k, v in stats.items() if "sampl" in k or "rej" in k})
    # everything good still reached the Analyzer (the tail waits only for the reorder horizon)
    assert pipeline.sessions["back1"].stats.samples == n
    assert "stranger" not in pipeline.sessions


def test_broker_outage_keeps_outgoing_messages_bounded_and_the_latest_state(tmp_path):
    """Mosquitto goes away while samples keep coming (from the pipeline's queue): paho gets
    nothing, events wait up to outbox_max (the oldest are dropped and counted), and when the
    broker is back the latest retained state and the nudge-class messages go out."""
    import json

    from tests.pipeline.fakes import FakeAnalyzer, chunk
    from tests.servers import Mosquitto

    if not Mosquitto.available():
        missing("mosquitto not installed")
    broker = Mosquitto(None, tmp_path / "broker").start()
    cfg = make_config(tmp_path, broker.port, outbox_max=20)
    p = cfg.mqtt.prefix
    pl = Pipeline(cfg, analyzer_factory=FakeAnalyzer)
    pl.start()
    feed = pl._handler("imu")                 # as paho would call it: the broker is not needed
    try:
        broker.stop()
        assert wait_until(lambda: not pl.pub.connected.is_set(), 10)
        for k in range(100):
            feed(Topics(p).device("back1", "imu"), chunk("back1", k))
        assert wait_until(lambda: pl.counters.get("samples_processed") == 5000, 20)
        time.sleep(0.5)                         # state and stats timers fire while away
        assert pl.outbox.depth() <= 20 + 5     # 20 events + one retained message per topic
        assert pl.counters.get("outbox_dropped.event") >= 80 - 2   # a few may have left before the cut
        broker.start()
        states = Collector(cfg, Topics(p).device("back1", "state"))
        assert wait_until(lambda: pl.outbox.depth() == 0, 40), "outbox not drained after reconnect"
        last_t = 1.7e9 + 4999 / 50.0
        got = states.wait_for(lambda t, d: isinstance(d, dict) and d.get("t_s") == last_t, 10)
        states.close()
        assert got is not None, "the latest retained state did not reach the broker"
        assert json.loads(json.dumps(pl.stats()))["outbox_dropped"] >= 78
    finally:
        pl.stop()
        broker.cleanup()
