"""The service's routing and bookkeeping without a broker (fake MQTT clients, fake Analyzer)."""
import time

import pytest

from spinewise.config import ConfigError, from_dict
from spinewise.events import Event
from spinewise.pipeline import Pipeline
from spinewise.topics import ANY, Topics
from tests.pipeline.conftest import wait_until
from tests.pipeline.fakes import FakeAnalyzer, FakeClient, chunk


def make(tmp_path, *, influx=None, devices=(("back1", "ann"),), coach=None, analyzer=FakeAnalyzer,
         **pipeline):
    cfg = from_dict({"mqtt": {"prefix": "p"},
                     "influx": {"backend": "local", "local_path": str(tmp_path / "l.sqlite"), **(influx or {})},
                     "coaching": {"state_db": str(tmp_path / "c.sqlite"), "ha_discovery_prefix": ""},
                     "pipeline": {"state_dir": str(tmp_path / "st"), "reorder_wait_s": 0.2, **pipeline},
                     "devices": [{"id": d, "user": u} for d, u in devices]})
    pl = Pipeline(cfg, analyzer_factory=analyzer, client_factory=FakeClient, coach=coach)
    pl.start(connect_timeout_s=0.1)
    return pl


TOPICS = Topics("p")


def topic_of(kind, key):
    return TOPICS.user(key, kind) if kind == "cmd" else TOPICS.device(key, kind)


def send(pl, kind, key, payload):
    """As paho would call the pipeline's handler for a message on that kind's topic."""
    pl.sub.handlers[topic_of(kind, ANY)](topic_of(kind, key), payload)


def test_unknown_devices_accepted_with_user_equal_to_device(tmp_path):
    pl = make(tmp_path)
    try:
        for k in range(3):
            send(pl, "imu", "visitor", chunk("visitor", k))
        pl.sub.handlers[topic_of("imu", ANY)]("p/dev/$sys/imu", chunk("x", 0))
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
    assert {TOPICS.device("visitor", "state"), TOPICS.device("visitor", "events"),
            TOPICS.pipeline("stats")} <= topics


@pytest.mark.parametrize("policy", ["accept", "reject"])
def test_accepting_unknown_devices_is_warned_at_start(tmp_path, caplog, policy):
    """unknown_devices = accept files a stranger's data under user = its device id: the log
    says so when the pipeline starts, before any such sensor appears (issue 16)."""
    with caplog.at_level("WARNING", logger="spinewise.pipeline.service"):
        make(tmp_path, unknown_devices=policy).stop()
    warned = [r.getMessage() for r in caplog.records if "unknown_devices" in r.getMessage()]
    if policy == "accept":
        assert len(warned) == 1 and "user = its device id" in warned[0], warned
    else:
        assert warned == []


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
    @given(st.sampled_from(["imu", "status", "link", "cmd"]), st.sampled_from(["back1", "ann", "x"]),
           st.one_of(st.binary(max_size=200), st.just(b'{"v":1}'), st.just(b'{"state":"end","end_t_s":"x"}'),
                     st.just(b'{"v":1,"cmd":"snooze","minutes":1e9}'), st.just(b"\xb1\x03\x01\x00"),
                     st.just(b'{"kind":"gap","t_s":1,"data":{"start_s":"x"},"device_id":"back1"}'),
                     st.just(b'{"kind":"gap","t_s":1,"data":[1],"device_id":"back1"}'),
                     st.just(b'{"v":1,"state":"online","battery_pct":"full"}')))
    def run(kind, key, payload):
        pl._process([_Item(kind, key, payload, 0.0)])
        pl._write_points()

    run()
    assert pl.counters.get("worker_errors") == 0 and pl.counters.get("coach_errors") == 0
    assert pl.counters.get("rejected") > 0


def stored(pl, measurement, **tags):
    from spinewise.storage.local import LocalStore
    return LocalStore(pl.cfg.influx.local_path).rows(measurement, **tags)


def test_gateway_status_and_gap_events_are_stored(tmp_path):
    import json
    import time

    from spinewise.ingest.publisher import status_payload

    pl = make(tmp_path)
    t0 = time.time()
    # exactly what the gateway publishes (spinewise.ingest.gateway.Gateway.status_fields)
    online = status_payload("back1", "online", spooled=0, spool_dropped=0, profile="polar_h10",
                            address="AA:BB", rate_hz=130.0, has_gyro=False, battery_pct=87,
                            rssi_dbm=-71, samples=1300, gaps=1, drops=40, drift_ppm=3.1,
                            reconnects=1, watchdog_trips=0, decode_errors=0)
    gap = Event("gap", 1.7e9 + 12.0, {"start_s": 1.7e9 + 10.0, "end_s": 1.7e9 + 12.0,
                                      "samples_lost": 99}, "back1")
    try:
        send(pl, "status", "back1", online)
        send(pl, "status", "back1", online)            # retained, delivered again: stored once
        send(pl, "status", "back1", status_payload("back1", "reconnecting", battery_pct=86))
        send(pl, "status", "back1", b'{"state":"end","end_t_s":1.0}')     # replay marker: not stored
        send(pl, "link", "back1", json.dumps(gap.to_dict()).encode())
        send(pl, "link", "back1", json.dumps(Event("calibrated", 1.7e9, {}, "back1").to_dict()).encode())
        assert wait_until(lambda: pl.counters.get("gateway_events_ignored") == 1, 5)
    finally:
        pl.stop()
    rows = stored(pl, "device_status", user="ann", device="back1")
    assert [(r["battery_pct"], r.get("rssi_dbm"), r.get("rate_hz"), r["connected"]) for r in rows] == \
        [(87.0, -71.0, 130.0, 1), (86.0, None, None, 0)]
    assert rows[0]["drops"] == 40 and rows[0]["reconnects"] == 1
    assert t0 - 1 <= rows[0]["time_ns"] / 1e9 <= time.time()          # stamped on arrival
    gaps = stored(pl, "gap", user="ann", device="back1")
    assert [(g["time_ns"], g["samples_lost"], g["duration_s"]) for g in gaps] == \
        [(int(round((1.7e9 + 10.0) * 1e6)) * 1000, 99, 2.0)]
    assert pl.counters.get("status_in") == 2 and pl.counters.get("gateway_events.gap") == 1


def test_raw_imu_is_stored_only_when_asked(tmp_path):
    for raw in (False, True):
        pl = make(tmp_path / str(raw), influx={"raw_imu": raw})
        try:
            for k in range(3):
                send(pl, "imu", "back1", chunk("back1", k))
            send(pl, "imu", "back1", chunk("back1", 2))               # at-least-once: a repeat
            assert wait_until(lambda: pl.counters.get("samples_in") == 200, 5)
        finally:
            pl.stop()
        rows = stored(pl, "imu", user="ann", device="back1")
        assert len(rows) == (150 if raw else 0)
        if raw:
            assert rows[0]["time_ns"] == int(1.7e9 * 1e9) and rows[0]["az_g"] == 1.0
            assert "gx_dps" not in rows[0]                               # no gyro in these chunks


def test_outgoing_messages_are_bounded_while_the_broker_is_away(tmp_path):
    import json

    pl = make(tmp_path, outbox_max=3, state_interval_s=0.05)
    try:
        pl.pub.connected.clear()                                       # broker gone
        before = len(pl.pub.published)
        for k in range(10):
            send(pl, "imu", "back1", chunk("back1", k))
        send(pl, "cmd", "ann", b'{"v":1,"cmd":"status","id":"s1","t_s":1700000100}')
        assert wait_until(lambda: pl.counters.get("samples_processed") == 500, 5)
        assert wait_until(lambda: pl.counters.get("commands") == 1, 5)
        time.sleep(0.5)                             # state timer runs: the latest state waits
        assert len(pl.pub.published) == before                         # nothing handed to paho
        assert pl.counters.get("outbox_dropped.event") == 10 - 3       # 10 minute events, 3 kept
        depth = pl.outbox.depth()
        assert depth <= 3 + 3 + 3      # events + retained (state, stats, coach...) + reply
        pl.pub.connected.set()                                         # broker back
        assert wait_until(lambda: pl.outbox.depth() == 0, 5)
    finally:
        pl.stop()
    out = [(t, json.loads(p)) for t, p, _ in pl.pub.published[before:]]
    events = [d for t, d in out if t == TOPICS.device("back1", "events")]
    assert [e["t_s"] for e in events] == [1.7e9 + (50 * k + 49) / 50 for k in range(7, 10)]  # newest
    states = [d for t, d in out if t == TOPICS.device("back1", "state")]
    assert states and states[0]["t_s"] == events[-1]["t_s"]           # only the latest state waited
    assert any(t == TOPICS.user("ann", "cmd/reply") and d.get("id") == "s1" for t, d in out)   # replies kept
    assert pl.stats()["outbox_dropped"] == 7


def test_a_refused_command_reply_echoes_its_id(tmp_path):
    import json

    pl = make(tmp_path)
    try:
        for payload in (b'{"v":1,"cmd":"fly","id":"q1"}', b'{"v":1,"cmd":"snooze","minutes":-1,"id":7}',
                        b'{"v":9,"id":"q3"}', b'not json', b'{"v":1,"cmd":"fly","id":[1]}'):
            send(pl, "cmd", "ann", payload)
        assert wait_until(lambda: pl.counters.get("commands_rejected") == 5, 5)
    finally:
        pl.stop()
    replies = [json.loads(p) for t, p, _ in pl.pub.published if t == TOPICS.user("ann", "cmd/reply")]
    assert [r.get("id") for r in replies] == ["q1", 7, "q3", None, None]
    assert [r["error"]["field"] for r in replies] == ["cmd", "minutes", "v", "payload", "cmd"]


def test_several_sensors_day_figures_from_the_first_only_exercise_from_all(tmp_path):
    from tests.pipeline.fakes import RecordingCoach, RepAnalyzer

    coach = RecordingCoach()
    pl = make(tmp_path, devices=(("back1", "ann"), ("hip1", "ann"), ("back2", "bob")), coach=coach,
              analyzer=RepAnalyzer)
    try:
        for k in range(2):
            for dev in ("hip1", "back1", "back2"):       # the second sensor speaks first
                send(pl, "imu", dev, chunk(dev, k))
        assert wait_until(lambda: pl.counters.get("samples_processed") == 300, 5)
    finally:
        pl.stop()
    seen = {(u, d, k) for u, d, k in coach.events}
    assert seen == {("ann", "back1", "minute"), ("ann", "back1", "rep"), ("ann", "hip1", "rep"),
                    ("bob", "back2", "minute"), ("bob", "back2", "rep")}
    assert sum(1 for u, d, k in coach.events if k == "rep" and u == "ann") == 4
    # storage keeps every sensor's own figures
    assert len(stored(pl, "activity_minute", user="ann", device="hip1")) == 2


def test_stored_pipeline_counters_follow_the_documented_measurement(tmp_path):
    from spinewise.storage import MEASUREMENTS

    pl = make(tmp_path)
    try:
        for k in range(2):
            send(pl, "imu", "back1", chunk("back1", k))
        assert wait_until(lambda: pl.counters.get("samples_processed") == 100, 5)
    finally:
        pl.stop()
    rows = stored(pl, "pipeline")
    assert rows and rows[-1]["samples_processed"] == 100 and rows[-1]["messages_in"] == 2
    types = {f.name: {"int": int, "float": float}[f.type] for f in MEASUREMENTS["pipeline"].fields}
    for name, typ in types.items():
        if name in rows[-1]:
            assert type(rows[-1][name]) is typ, name
    assert "outbox_depth" in rows[-1] and "queue_depth" in rows[-1]


def accounted(st: dict) -> int:
    """Every message ends as exactly one outcome."""
    return int(sum(st.get(k, 0) for k in ("accepted", "rejected", "messages_other_shard",
                                           "dropped_at_shutdown")))


def test_every_message_is_counted_once_by_outcome_whatever_it_holds(tmp_path):
    """Deeply nested JSON (RecursionError in json), a far-future or absurd time, forged end
    markers, commands to unknown users: each message is counted exactly once, as accepted or
    rejected by reason, and none costs the worker (once, 6,900 of 24,323 commands vanished
    uncounted and one RecursionError threw away the cycle of every device)."""
    pl = make(tmp_path, devices=(("back1", "ann"), ("back2", "bob")))
    deep = b"[" * 20000 + b"]" * 20000           # under the 64 KiB message limit: json raises
    try:
        sent = 0
        for k in range(2):
            send(pl, "imu", "back1", chunk("back1", k))
            send(pl, "imu", "back2", chunk("back2", k))
            sent += 2
        for kind, key, payload in [
                ("cmd", "ann", deep), ("cmd", "ann", b'{"v":1,"cmd":"settings","values":' + deep + b"}"),
                ("cmd", "ann", b'{"v":1,"cmd":"pain","score":3}'), ("cmd", "stranger", b"{}"),
                ("cmd", "ann", b"\xff\xfe"), ("cmd", "ann", b'{"v":1,"cmd":"snooze","minutes":1e308}'),
                ("imu", "back1", deep), ("imu", "back1", b'{"v":1,"t_s":' + deep + b"}"),
                ("imu", "back1", b'{"v":1,"t_s":[4e9],"acc_g":[[0,0,1]]}'),      # year 2096: plausible
                ("imu", "back1", b'{"v":1,"t_s":[1e15],"acc_g":[[0,0,1]]}'),     # year 31 million
                ("status", "back1", deep), ("status", "back1", b'{"state":"end"}'),
                ("status", "back1", b'{"state":"end","end_t_s":1.0e9}'),
                ("status", "back1", b'{"state":"end","end_t_s":1700000000.5}'),   # already passed
                ("link", "back1", deep)]:
            send(pl, kind, key, payload)
            sent += 1
        for k in range(2, 5):
            send(pl, "imu", "back1", chunk("back1", k))
            send(pl, "imu", "back2", chunk("back2", k))
            sent += 2
        assert wait_until(lambda: pl.counters.get("messages_in") == sent and pl.wait_idle(0.1), 10)
    finally:
        pl.stop()
    st = pl.stats()
    assert st["messages_in"] == sent == accounted(st), st
    assert st.get("worker_errors", 0) == 0 and st.get("coach_errors", 0) == 0, st
    assert st["accepted.cmd"] == 1 and st["rejected.unknown_user"] == 1
    assert st["rejected.bad_end_marker"] == 1 and st["end_markers_ignored"] == 2
    assert st.get("rejected.payload_too_large", 0) == 0
    assert st["rejected.bad_time"] == 1
    # neither device lost a sample; back1's stream was not ended by the forged markers
    assert pl.sessions["back2"].stats.samples == 250
    assert pl.sessions["back1"].stats.samples == 250 and pl.sessions["back1"].stats.sessions == 1
    assert pl.counters.get("samples_unconfirmed") == 1        # the lone 2096 sample, never confirmed


def test_one_devices_failure_costs_only_that_devices_messages_in_the_same_cycle(tmp_path):
    """Messages of several devices in one worker cycle: a bug in one device's handling is
    counted (worker_errors.ingest) and the other devices' samples of that cycle go on."""
    from spinewise.pipeline.service import _Item

    pl = make(tmp_path, devices=(("back1", "ann"), ("back2", "bob")))
    try:
        assert pl.wait_idle(5)
        items = [_Item("imu", "back1", chunk("back1", 0), 0.0), _Item("imu", "back2", chunk("back2", 0), 0.0),
                 _Item("imu", "back1", chunk("back1", 1, x=99.0), 0.0),       # the Analyzer raises
                 _Item("imu", "back2", chunk("back2", 1), 0.0)]
        pl._process(items)
    finally:
        pl.stop()
    assert pl.counters.get("worker_errors.ingest") == 1
    assert pl.sessions["back2"].stats.samples == 100


def test_messages_are_acknowledged_only_after_the_checkpoint_that_stores_them(tmp_path):
    """pipeline.ack = "checkpoint" (default, Mosquitto mode): storage flushed, then the device's
    snapshot, then the ack; a refused message is the client's to settle at once; while stopping
    nothing new is taken (left unacknowledged for the next start)."""
    pl = make(tmp_path, ack_window=1)
    order = []
    save_many, checkpoint = pl.snapshots.save_many, pl.sub.checkpoint
    pl.snapshots.save_many = lambda states: (order.append(("snapshot", sorted(states))),
                                             save_many(states))
    pl.sub.checkpoint = lambda tokens: (order.append(("ack", list(tokens))), checkpoint(tokens))[1]
    handler = pl.sub.handlers[topic_of("imu", ANY)]
    try:
        assert pl.sub.manual_ack
        assert handler(topic_of("imu", "back1"), chunk("back1", 0), "t0") is True
        assert handler("p/dev/$sys/imu", chunk("x", 0), "t-bad") is False     # client settles it
        assert wait_until(lambda: pl.sub.acked == ["t0"], 5)
        first_ack = next(i for i, (what, arg) in enumerate(order) if what == "ack" and arg)
        assert ("snapshot", ["back1"]) in order[:first_ack]
        assert pl.stats()["committed"] == 1
    finally:
        pl.stop()
    assert handler(topic_of("imu", "back1"), chunk("back1", 1), "t1") is None     # stopped: not taken
    assert "t1" not in pl.sub.acked


def test_acks_on_arrival_when_configured(tmp_path):
    pl = make(tmp_path, ack="arrival")
    try:
        assert not pl.sub.manual_ack
    finally:
        pl.stop()
