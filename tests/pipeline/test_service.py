"""The service's routing and bookkeeping without a broker (fake MQTT clients, fake Analyzer)."""
import threading

import numpy as np
import pytest

from spinewise.config import ConfigError, from_dict
from spinewise.events import Event
from spinewise.ingest.payload import encode_json
from spinewise.pipeline import Pipeline
from spinewise.stream import ImuChunk
from tests.pipeline.conftest import wait_until


class FakeClient:
    def __init__(self, cfg, client_id, clean_session=False, will=None):
        self.client_id, self.clean_session, self.will = client_id, clean_session, will
        self.handlers = {}
        self.published = []
        self.connected = threading.Event()

    def subscribe(self, topic_filter, handler, qos=1):
        self.handlers[topic_filter] = handler

    def connect(self, timeout_s=10.0, wait=True):
        self.connected.set()
        return True

    def publish_nowait(self, topic, payload, qos=1, retain=False):
        self.published.append((topic, payload, retain))

    def publish(self, topic, payload, qos=1, retain=False, timeout_s=10.0):
        self.published.append((topic, payload, retain))
        return True

    def close(self):
        self.connected.clear()


class FakeAnalyzer:
    """Emits one 'minute' per 50 samples; explodes on a chunk whose first acc x is 99."""

    def __init__(self, device_id, rate_hz):
        self.device_id, self.n = device_id, 0

    def update(self, chunk):
        if chunk.acc_g[0, 0] == 99:
            raise RuntimeError("analyzer bug")
        out = []
        for t in chunk.t_s:
            self.n += 1
            if self.n % 50 == 0:
                out.append(Event("minute", float(t), {"start_s": float(t) - 1, "sedentary_s": 1.0},
                                 self.device_id))
        return out

    def finish(self):
        return []

    def summary(self):
        return {"n": self.n}

    def announce(self, exercise):
        return []

    def calibrate(self):
        return []

    def get_state(self):
        return {"n": self.n}

    def set_state(self, s):
        self.n = s["n"]


def make(tmp_path, **pipeline):
    cfg = from_dict({"mqtt": {"prefix": "p"},
                     "influx": {"backend": "local", "local_path": str(tmp_path / "l.sqlite")},
                     "coaching": {"state_db": str(tmp_path / "c.sqlite"), "ha_discovery_prefix": ""},
                     "pipeline": {"state_dir": str(tmp_path / "st"), "reorder_wait_s": 0.2, **pipeline},
                     "devices": [{"id": "back1", "user": "ann"}]})
    pl = Pipeline(cfg, analyzer_factory=FakeAnalyzer, client_factory=FakeClient)
    pl.start(connect_timeout_s=0.1)
    return pl


def chunk(device, k, n=50, x=0.0):
    t = 1.7e9 + (k * n + np.arange(n)) / 50.0
    acc = np.tile([x, 0.0, 1.0], (n, 1))
    return encode_json(ImuChunk(t, acc, None, device, 50.0, seq=np.arange(k * n, (k + 1) * n)))


def send(pl, kind, key, payload):
    pl.sub.handlers[f"p/+/{kind}"](f"p/{key}/{kind}", payload)


def test_unknown_devices_accepted_with_user_equal_to_device(tmp_path):
    pl = make(tmp_path)
    try:
        for k in range(3):
            send(pl, "imu", "visitor", chunk("visitor", k))
        send(pl, "imu", "$sys", chunk("x", 0))
        send(pl, "status", "back1", b"not json")
        assert wait_until(lambda: pl.counters.get("samples_processed") == 150, 5)
    finally:
        pl.stop()
    st = pl.stats()
    assert pl.sessions["visitor"].user == "visitor"
    assert st["unknown_device_messages"] == 3
    assert st["rejected.bad_topic"] == 1 and st["rejected.bad_status"] == 1
    # the retained state and per-event messages went out through the publishing client
    topics = {t for t, _, _ in pl.pub.published}
    assert "p/visitor/state" in topics and "p/visitor/events" in topics and "p/$sys/pipeline/stats" in topics


def test_unknown_devices_rejected_when_configured(tmp_path):
    pl = make(tmp_path, unknown_devices="reject")
    try:
        send(pl, "imu", "visitor", chunk("visitor", 0))
        send(pl, "imu", "back1", chunk("back1", 0))
        assert wait_until(lambda: pl.counters.get("samples_in") == 50, 5)
    finally:
        pl.stop()
    assert pl.counters.get("rejected.unknown_device") == 1 and "visitor" not in pl.sessions


def test_a_failing_device_does_not_stop_the_others(tmp_path):
    pl = make(tmp_path)
    try:
        send(pl, "imu", "back1", chunk("back1", 0))
        assert wait_until(lambda: pl.counters.get("samples_processed") == 50, 5)
        send(pl, "imu", "back1", chunk("back1", 1, x=99.0))      # the Analyzer raises
        assert wait_until(lambda: pl.counters.get("worker_errors") == 1, 5)
        for k in range(3):
            send(pl, "imu", "other", chunk("other", k))
        assert wait_until(lambda: pl.counters.get("samples_processed") >= 200, 5)
    finally:
        pl.stop()


def test_state_survives_a_restart(tmp_path):
    pl = make(tmp_path)
    try:
        for k in range(4):
            send(pl, "imu", "back1", chunk("back1", k))
        assert wait_until(lambda: pl.counters.get("samples_processed") == 200, 5)
    finally:
        pl.stop()
    again = make(tmp_path)
    try:
        s = again.sessions["back1"]
        assert s.analyzer.n == 200 and s.stats.samples == 200
        send(again, "imu", "back1", chunk("back1", 3))            # redelivered after restart
        send(again, "imu", "back1", chunk("back1", 4))
        assert wait_until(lambda: again.counters.get("samples_processed") == 50, 5)
    finally:
        again.stop()
    assert again.counters.get("samples_duplicates") == 50 and s.analyzer.n == 250


def test_bad_pipeline_config_is_a_clear_error(tmp_path):
    cfg = from_dict({"pipeline": {"unknown_devices": "maybe", "state_dir": str(tmp_path)}})
    with pytest.raises(ConfigError, match="unknown_devices"):
        Pipeline(cfg, client_factory=FakeClient, storage=object(), coach=object())


def test_shards_split_users_between_processes(tmp_path):
    shards = [make(tmp_path / f"s{i}", shard=f"{i}/2") for i in range(2)]
    try:
        assert {p.sub.client_id for p in shards} == {"spinewise-pipeline-shard0of2", "spinewise-pipeline-shard1of2"}
        for dev in ("back1", "u1", "u2", "u3", "u4"):
            for p in shards:          # the broker gives every process every message
                send(p, "imu", dev, chunk(dev, 0))
        assert wait_until(lambda: sum(p.counters.get("samples_in") for p in shards) == 5 * 50, 5)
    finally:
        for p in shards:
            p.stop()
    owned = [set(p.sessions) for p in shards]
    assert owned[0] | owned[1] == {"back1", "u1", "u2", "u3", "u4"} and not owned[0] & owned[1]
    assert all(p.counters.get("messages_other_shard") for p in shards)
    with pytest.raises(ConfigError, match="shard"):
        make(tmp_path / "bad", shard="2/2")


def test_garbage_on_any_topic_is_counted_never_fatal(tmp_path):
    from hypothesis import HealthCheck, given, settings, strategies as st

    from spinewise.pipeline.service import _Item

    pl = Pipeline(from_dict({"mqtt": {"prefix": "p"},
                             "influx": {"backend": "local", "local_path": str(tmp_path / "l.sqlite")},
                             "coaching": {"state_db": str(tmp_path / "c.sqlite"), "ha_discovery_prefix": ""},
                             "pipeline": {"state_dir": str(tmp_path / "st")},
                             "devices": [{"id": "back1", "user": "ann"}]}),
                  analyzer_factory=FakeAnalyzer, client_factory=FakeClient)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(["imu", "status", "cmd"]), st.sampled_from(["back1", "ann", "x"]),
           st.one_of(st.binary(max_size=200), st.just(b'{"v":1}'), st.just(b'{"state":"end","end_t_s":"x"}'),
                     st.just(b'{"v":1,"cmd":"snooze","minutes":1e9}'), st.just(b"\xb1\x03\x01\x00")))
    def run(kind, key, payload):
        pl._process([_Item(kind, key, payload, 0.0)])
        pl._write_points()

    run()
    assert pl.counters.get("worker_errors") == 0 and pl.counters.get("coach_errors") == 0
    assert pl.counters.get("rejected") > 0
