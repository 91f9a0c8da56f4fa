"""Names in the engine and the server configuration: what the subject mapping, the stream and
the workers must agree on (no server needed)."""
from __future__ import annotations

import pytest

from spinewise.config import ConfigError, from_dict
from spinewise.engine import subjects
from spinewise.engine.serverconf import server_conf


def test_mapping_sends_every_sensor_kind_of_a_device_to_its_partition():
    maps = subjects.mappings("a/b", 8)
    assert maps == {
        "a.b.dev.*.imu": "a.b.part.{{partition(8,1)}}.{{wildcard(1)}}.imu",
        "a.b.dev.*.status": "a.b.part.{{partition(8,1)}}.{{wildcard(1)}}.status",
        "a.b.dev.*.link": "a.b.part.{{partition(8,1)}}.{{wildcard(1)}}.link",
        "a.b.cmdroute.*": "a.b.cmdpart.{{partition(8,1)}}.{{wildcard(1)}}",
    }
    assert subjects.stream_subjects("a/b") == ["a.b.part.>"]
    assert subjects.command_subjects("a/b") == ["a.b.cmdpart.>"]
    assert subjects.partition_filters("a/b", 3) == ["a.b.part.3.>", "a.b.cmdpart.3.*"]
    assert subjects.routed_command("a/b", "back1") == "a.b.cmdroute.back1"


def test_parse_takes_partition_subjects_and_refuses_anything_else():
    assert subjects.parse("sw", "sw.part.3.back-1.imu") == (3, "back-1", "imu")
    assert subjects.parse("sw", "sw.part.0.back1.status") == (0, "back1", "status")
    for bad in ("sw.part.x.back1.imu", "sw.part.1.back1.events", "other.part.1.back1.imu",
                "sw.part.1.$bad.imu", "sw.part.1.back1", "sw.cmdpart.x.back1", "sw.cmdpart.1.a.b"):
        assert subjects.parse("sw", bad) is None, bad
    assert subjects.parse("sw", "sw.cmdpart.5.back-1") == (5, "back-1", "cmd")


def test_a_user_command_subject_names_its_user():
    assert subjects.user_commands("sw") == "sw.user.*.cmd"
    assert subjects.user_of_command("sw", "sw.user.ann.cmd") == "ann"
    for bad in ("sw.user.ann.cmd.reply", "sw.user..cmd", "other.user.ann.cmd", "sw.user.$x.cmd"):
        assert subjects.user_of_command("sw", bad) is None, bad


def test_a_prefix_with_a_dot_cannot_be_carried():
    with pytest.raises(ValueError):
        subjects.base("spine.wise")
    with pytest.raises(ConfigError, match="mqtt.prefix"):
        from_dict({"mqtt": {"prefix": "spine.wise"}, "pipeline": {"transport": "nats"}})


def test_server_conf_has_jetstream_mqtt_mapping_and_cluster_routes():
    text = server_conf(name="n2", port=4222, mqtt_port=1883, store_dir="/var/lib/nats",
                       partitions=16, cluster_port=6222,
                       routes=("nats-route://n1:6222", "nats-route://n3:6222"))
    assert 'server_name: "n2"' in text and 'store_dir: "/var/lib/nats"' in text
    assert 'mqtt {\n  listen: "127.0.0.1:1883"' in text
    assert '"spinewise.dev.*.imu": "spinewise.part.{{partition(16,1)}}.{{wildcard(1)}}.imu"' in text
    assert '"nats-route://n1:6222"' in text and 'listen: "127.0.0.1:6222"' in text


def test_transport_is_mqtt_unless_chosen_and_checked_when_nats():
    assert from_dict({}).pipeline.transport == "mqtt"
    with pytest.raises(ConfigError, match="pipeline.transport"):
        from_dict({"pipeline": {"transport": "kafka"}})
    with pytest.raises(ConfigError, match="pipeline.shard"):
        from_dict({"pipeline": {"transport": "nats", "shard": "0/2"}})
    with pytest.raises(ConfigError, match="pipeline.lease_ttl_s"):
        from_dict({"pipeline": {"transport": "nats", "lease_ttl_s": 0.2}})
    with pytest.raises(ConfigError, match="pipeline.worker_id"):
        from_dict({"pipeline": {"transport": "nats", "worker_id": "a b"}})
    cfg = from_dict({"pipeline": {"transport": "nats", "partitions": 8, "engine_replicas": 3}})
    assert (cfg.pipeline.partitions, cfg.pipeline.engine_replicas) == (8, 3)


def test_input_stream_sources_the_mqtt_store_from_2_10_and_captures_before():
    from types import SimpleNamespace

    from spinewise.engine import inputstream
    assert inputstream.sourced(SimpleNamespace(major=2, minor=10))
    assert inputstream.sourced(SimpleNamespace(major=3, minor=0))
    assert not inputstream.sourced(SimpleNamespace(major=2, minor=9))
    src = inputstream.config("sw", replicas=3, retention_s=60.0, source=True)
    assert src.subjects == ["sw.cmdpart.>"] and src.num_replicas == 3
    (s,) = src.sources
    assert s.name == "$MQTT_msgs"
    assert [(t.src, t.dest) for t in s.subject_transforms] == [("$MQTT.msgs.sw.part.>", "sw.part.>")]
    assert s.consumer is None
    flow = inputstream.config("sw", replicas=3, retention_s=60.0, source=True, durable_source=True)
    assert flow.sources[0].consumer.name == inputstream.SOURCE_CONSUMER
    assert inputstream.durable(SimpleNamespace(major=2, minor=14))
    assert not inputstream.durable(SimpleNamespace(major=2, minor=13))
    cons = inputstream.source_consumer("sw", 3)
    assert cons.ack_policy == "flow_control" and cons.filter_subject == "$MQTT.msgs.sw.part.>"
    assert cons.deliver_subject == flow.sources[0].consumer.deliver_subject
    cap = inputstream.config("sw", replicas=1, retention_s=60.0, source=False)
    assert cap.subjects == ["sw.part.>", "sw.cmdpart.>"] and not cap.sources
