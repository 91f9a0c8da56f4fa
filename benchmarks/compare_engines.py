"""NATS JetStream vs RabbitMQ as spinewise's clustered engine, side by side, single node each:
cold start, MQTT QoS 1 publish throughput with the gateway's payloads into durable storage,
and the server's memory after the run.

    .venv/bin/python benchmarks/compare_engines.py [--messages 4000] [--inflight 1000]

Both run privately on loopback with temporary data directories (Debian's ``nats-server`` and
``rabbitmq-server``; the latter is not a project dependency: install it to run this):

- NATS: the engine-mode configuration (spinewise.engine.serverconf), the stream of engine mode
  (file storage, 1 replica) capturing the partition subjects;
- RabbitMQ 3.10: the MQTT plugin (QoS 1 publishes go to ``amq.topic``), one durable quorum
  queue bound to the sensors' routing key, declared through the management API.

The payloads are the gateway's: 25 samples of 50 Hz binary IMU (833 bytes), one device per
50 messages. Publish throughput = messages / time until every PUBACK is in. What this does not
measure: failover (see benchmarks/bench_scale.py for NATS; RabbitMQ's would need a 3-node
quorum-queue cluster and an AMQP client, not set up here).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinewise.config import MqttConfig  # noqa: E402
from spinewise.ingest.payload import encode_binary  # noqa: E402
from spinewise.mqtt import MqttClient  # noqa: E402
from spinewise.stream import ImuChunk  # noqa: E402
from tests.servers import NatsServer, free_port, port_open  # noqa: E402

PREFIX = "bench"
RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def payloads(n: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(1)
    out = []
    for k in range(n):
        dev = f"d{k // 50}"
        t = 1.7e9 + (k * 25 + np.arange(25)) / 50.0
        chunk = ImuChunk(t, rng.normal(size=(25, 3)), rng.normal(size=(25, 3)), dev, 50.0,
                         seq=np.arange(k * 25, (k + 1) * 25))
        out.append((f"{PREFIX}/dev/{dev}/imu", encode_binary(chunk)))
    return out


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except FileNotFoundError:
            pass
    return out


def publish_rate(port: int, msgs, inflight: int) -> float:
    cfg = MqttConfig(port=port, prefix=PREFIX)
    c = MqttClient(cfg, f"cmp-{os.getpid()}", clean_session=True)
    c._client.max_inflight_messages_set(inflight)
    assert c.connect(30), "MQTT connect failed"
    t0 = time.monotonic()
    infos = [c.publish_nowait(topic, payload, qos=1) for topic, payload in msgs]
    for info in infos:
        info.wait_for_publish(120)
    dt = time.monotonic() - t0
    ok = all(i.is_published() for i in infos)
    c.close()
    return len(msgs) / dt if ok else float("nan")


def run_nats(tmp: Path, msgs, inflight: int) -> dict:
    import asyncio

    import nats
    from nats.js.api import StorageType, StreamConfig

    from spinewise.engine import subjects
    t0 = time.monotonic()
    srv = NatsServer(None, tmp / "nats", prefix=PREFIX, partitions=12).start(60)
    start_s = time.monotonic() - t0

    async def stream(op):
        nc = await nats.connect(srv.nats_url)
        js = nc.jetstream()
        if op == "add":
            await js.add_stream(StreamConfig(name=subjects.STREAM, storage=StorageType.FILE,
                                             subjects=subjects.stream_subjects(PREFIX)))
            n = 0
        else:
            n = (await js.stream_info(subjects.STREAM)).state.messages
        await nc.close()
        return n
    try:
        asyncio.run(stream("add"))
        rate = publish_rate(srv.mqtt_port, msgs, inflight)
        stored = asyncio.run(stream("count"))
        return {"start_s": start_s, "msgs_s": rate, "stored": stored, "rss_mb": rss_mb(tree(srv.proc.pid))}
    finally:
        srv.cleanup()


def run_rabbit(tmp: Path, msgs, inflight: int) -> dict:
    d = tmp / "rabbit"
    d.mkdir()
    amqp, mqtt, http, dist, epmd = (free_port() for _ in range(5))
    (d / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {amqp}\nmqtt.listeners.tcp.default = {mqtt}\n"
        "mqtt.allow_anonymous = true\nloopback_users = none\n"
        f"management.tcp.port = {http}\nmanagement.tcp.ip = 127.0.0.1\n")
    (d / "enabled_plugins").write_text("[rabbitmq_mqtt,rabbitmq_management].\n")
    env = dict(os.environ, HOME=str(d), RABBITMQ_NODENAME=f"cmp{mqtt}@localhost",
               RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_DIST_PORT=str(dist),
               ERL_EPMD_PORT=str(epmd), RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
               RABBITMQ_LOG_BASE=str(d / "log"), RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
               RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
               RABBITMQ_PID_FILE=str(d / "pid"))
    t0 = time.monotonic()
    proc = subprocess.Popen([RABBIT], env=env, stdout=open(d / "out.log", "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not (port_open(mqtt) and port_open(http)):
            if proc.poll() is not None or time.monotonic() - t0 > 180:
                raise RuntimeError(f"rabbitmq did not start; see {d}/out.log")
            time.sleep(0.1)
        start_s = time.monotonic() - t0
        auth = "Basic " + base64.b64encode(b"guest:guest").decode()

        def api(method, path, body=None):
            req = urllib.request.Request(f"http://127.0.0.1:{http}/api/{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": auth,
                                                  "content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"null")
        api("PUT", "queues/%2F/sensors", {"durable": True, "arguments": {"x-queue-type": "quorum"}})
        api("POST", "bindings/%2F/e/amq.topic/q/sensors", {"routing_key": f"{PREFIX}.dev.*.imu"})
        rate = publish_rate(mqtt, msgs, inflight)
        time.sleep(6.0)              # the management API's counts lag by a few seconds
        stored = api("GET", "queues/%2F/sensors").get("messages")
        return {"start_s": start_s, "msgs_s": rate, "stored": stored, "rss_mb": rss_mb(tree(proc.pid))}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        out = subprocess.run(["ss", "-ltnpH", f"sport = :{epmd}"], capture_output=True, text=True).stdout
        for part in out.split("pid=")[1:]:             # the epmd this node started on its port
            try:
                os.kill(int(part.split(",")[0]), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--inflight", type=int, default=1000)
    args = ap.parse_args()
    msgs = payloads(args.messages)
    print(f"machine: {os.cpu_count()} cores; {args.messages} MQTT QoS 1 messages of {len(msgs[0][1])} B "
          f"({args.messages * 25:,} samples), {args.inflight} in flight")
    print("engine | cold start s | publish msgs/s | samples/s | stored | server RSS MiB")
    with tempfile.TemporaryDirectory(prefix="spinewise-cmp-") as tmp:
        for name, fn, available in (("nats", run_nats, NatsServer.available()),
                                    ("rabbitmq", run_rabbit, Path(RABBIT).exists())):
            if not available:
                print(f"{name}: not installed")
                continue
            r = fn(Path(tmp), msgs, args.inflight)
            print(f"{name:>8} | {r['start_s']:>12.1f} | {r['msgs_s']:>14,.0f} | {r['msgs_s'] * 25:>9,.0f} | "
                  f"{r['stored']:>6} | {r['rss_mb']:>14.0f}", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
