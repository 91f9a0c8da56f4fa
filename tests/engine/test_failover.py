"""Engine mode on a real nats-server: the results in InfluxDB equal `spinewise analyze` of each
file with one worker, and when a worker is killed (kill -9) mid-stream while another one joins
and takes its partitions over: no set, rep, hold or activity minute missing, none doubled.

Three devices replay three recordings (an exercise session with sets, an office stretch,
a supine session with holds) through the NATS server's MQTT listener, as a gateway does.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from spinewise.recording import read_chunks
from tests.engine.conftest import (PARTITIONS, WorkerProcess, all_streams_led, engine_config, lease_owners,
                                   snapshot_of, stream_leaders, write_toml)
from tests.pipeline.conftest import wait_until
from tests.stored_results import FIXTURES, RECORDINGS, same, start_replays, wait_all_stored
from tests.stored_results import references as all_references

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def references():
    return all_references()


def setup(tmp_path, nats_urls: str, mqtt_port: int, influx) -> tuple[Path, dict, str]:
    db = f"engine{uuid.uuid4().hex[:8]}"
    influx.create_database(db)
    data = engine_config(tmp_path, mqtt_port, nats_urls, devices=[(d, f"u{d}") for d in RECORDINGS],
                         influx={"backend": "v1", "url": influx.url, "database": db,
                                 "spool_dir": str(tmp_path / "influx-spool"),
                                 "flush_interval_s": 0.2, "batch_size": 500})
    return write_toml(tmp_path / "worker.toml", data), data, db


def test_one_worker_gives_the_results_of_analyze(nats_server, influxdb_v1, tmp_path, references):
    cfg_path, data, db = setup(tmp_path, nats_server.nats_url, nats_server.mqtt_port, influxdb_v1)
    worker = WorkerProcess(cfg_path, "solo", tmp_path)
    try:
        assert wait_until(lambda: len(lease_owners(nats_server.nats_url)) == PARTITIONS, 30), worker.log()
        threads, results = start_replays(data, tmp_path, speed=0)
        for t in threads:
            t.join(120)
        assert all(r.acknowledged for r in results.values())
        got = wait_all_stored(influxdb_v1, db, references, 120)
    finally:
        worker.stop()
    for d in references:
        assert same(got[d], references[d]), (d, got[d], references[d])
    assert any(references[d]["sets"] for d in references) and any(references[d]["holds"] for d in references)


def test_kill9_mid_stream_moves_partitions_and_loses_nothing(nats_server, influxdb_v1, tmp_path, references):
    """Worker A alone; B joins mid-stream (A gives half back at a checkpoint); then A is
    killed with SIGKILL: B takes A's partitions over from their checkpoints, restores the
    devices' snapshots and the results equal analyze, nothing missing, nothing doubled."""
    url = nats_server.nats_url
    cfg_path, data, db = setup(tmp_path, url, nats_server.mqtt_port, influxdb_v1)
    a = WorkerProcess(cfg_path, "wa", tmp_path)
    b = None
    try:
        assert wait_until(lambda: set(lease_owners(url).values()) == {"wa"}
                          and len(lease_owners(url)) == PARTITIONS, 30), a.log()
        threads, results = start_replays(data, tmp_path, speed=60)    # ~8 s of wall time
        time.sleep(2.5)
        b = WorkerProcess(cfg_path, "wb", tmp_path)
        assert wait_until(lambda: set(lease_owners(url).values()) == {"wa", "wb"}, 20), b.log()
        time.sleep(1.0)
        a_had = {p for p, w in lease_owners(url).items() if w == "wa"}
        a.kill9()
        killed = time.time()
        assert wait_until(lambda: lease_owners(url) == {p: "wb" for p in range(PARTITIONS)}, 20), b.log()
        assert wait_until(lambda: a_had <= set(b.acquired_at()), 10), b.log()
        failover_s = max(b.acquired_at()[p] for p in a_had) - killed    # to the last one served
        for t in threads:
            t.join(120)
        assert all(r.acknowledged for r in results.values())
        got = wait_all_stored(influxdb_v1, db, references, 120)
    finally:
        a.stop()
        if b is not None:
            b.stop()
    print(f"failover after kill -9: {failover_s:.1f} s")
    for d in references:
        assert same(got[d], references[d]), (d, got[d], references[d], b.log()[-3000:])
    assert "restored" in b.log()         # B continued A's devices from their snapshots
    for d, name in RECORDINGS.items():   # every sample reached an Analyzer exactly once
        state = snapshot_of(url, d)
        n = sum(len(c) for c in read_chunks(FIXTURES / name, 4096))
        assert state is not None and state["stats"]["samples"] == n, (d, state and state["stats"], n)
        assert state["buffer"]["counts"]["gaps"] == 0


def test_three_node_cluster_survives_a_node_and_a_worker_killed(nats_cluster, influxdb_v1, tmp_path,
                                                                 references):
    """Stream and buckets replicated on 3 nodes (RAFT), three workers. Mid-stream, the engine
    node that leads the input stream is killed with SIGKILL (the cluster goes on with 2 of 3
    while it elects new leaders), then one worker: the other two (connected to the cluster,
    not to one node) take its partitions over and the results equal analyze, so not one message the
    MQTT listener acknowledged to the gateway was lost (the input stream sources the
    listener's own store: spinewise.engine.inputstream)."""
    from spinewise.engine.subjects import STREAM
    urls = nats_cluster.nats_urls
    gateway_node = nats_cluster.nodes[0]
    live = gateway_node.nats_url           # where the test itself looks
    cfg_path, data, db = setup(tmp_path, urls, gateway_node.mqtt_port, influxdb_v1)
    data["pipeline"]["engine_replicas"] = 3
    data["pipeline"]["lease_ttl_s"] = 4.0        # the default
    write_toml(cfg_path, data)
    a = WorkerProcess(cfg_path, "wa", tmp_path)
    b = WorkerProcess(cfg_path, "wb", tmp_path)
    c = WorkerProcess(cfg_path, "wc", tmp_path)
    everyone = {"wa", "wb", "wc"}
    try:
        assert wait_until(lambda: set(lease_owners(live).values()) == everyone
                          and len(lease_owners(live)) == PARTITIONS, 60), a.log() + b.log() + c.log()
        assert wait_until(lambda: STREAM in stream_leaders(live), 30)
        threads, results = start_replays(data, tmp_path, speed=60)
        time.sleep(1.5)
        # the input stream's leader, unless it is the node the gateway publishes to (a
        # gateway talks to one node; losing that one is its reconnect's business)
        leader = stream_leaders(live).get(STREAM)
        doomed = next((n for n in nats_cluster.nodes[1:] if n.server_name == leader),
                      nats_cluster.nodes[2])
        doomed.kill()
        node_killed_as_leader = doomed.server_name == leader
        # leases may lapse while RAFT elects leaders (the workers then stop and take the
        # partitions again from their checkpoints): kill the worker once the elections are
        # over (nats-server waits 4-9 s before it elects: see README) and all own some again
        assert wait_until(lambda: all_streams_led(live, doomed.server_name), 60, interval_s=0.5)
        assert wait_until(lambda: set(lease_owners(live).values()) == everyone
                          and len(lease_owners(live)) == PARTITIONS, 60, interval_s=0.5), \
            a.log() + b.log() + c.log()
        a_had = {p for p, w in lease_owners(live).items() if w == "wa"}
        a.kill9()
        killed = time.time()
        assert wait_until(lambda: set(lease_owners(live).values()) == {"wb", "wc"}
                          and len(lease_owners(live)) == PARTITIONS, 60), b.log() + c.log()

        def taken_at() -> dict[int, float]:      # partition -> when b or c last acquired it
            out: dict[int, float] = {}
            for w in (b, c):
                for p, at in w.acquired_at().items():
                    out[p] = max(out.get(p, 0.0), at)
            return out
        assert wait_until(lambda: all(taken_at().get(p, 0.0) > killed for p in a_had), 10), b.log() + c.log()
        failover_s = max(taken_at()[p] for p in a_had) - killed
        for t in threads:
            t.join(120)
        assert all(r.acknowledged for r in results.values())
        got = wait_all_stored(influxdb_v1, db, references, 150)
    finally:
        for w in (a, b, c):
            w.stop()
    print(f"cluster: node {doomed.server_name} killed mid-stream (input stream leader: "
          f"{node_killed_as_leader}), then a worker: failover {failover_s:.1f} s")
    for d in references:
        assert same(got[d], references[d]), (d, got[d], references[d], b.log()[-3000:] + c.log()[-3000:])
    for d, name in RECORDINGS.items():   # every sample reached an Analyzer exactly once
        state = snapshot_of(live, d)
        n = sum(len(c) for c in read_chunks(FIXTURES / name, 4096))
        assert state is not None and state["stats"]["samples"] == n, (d, state and state["stats"], n)
        assert state["buffer"]["counts"]["gaps"] == 0
