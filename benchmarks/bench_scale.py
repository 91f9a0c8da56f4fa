"""Engine mode: throughput and latency with 1, 2 and 3 workers, the engine's own ceiling with
the same payloads, and the time from a worker's kill -9 to its partitions being served again.

    .venv/bin/python benchmarks/bench_scale.py [--workers 1,2,3] [--sensors 40] [--seconds 60]
                                              [--partitions 12] [--live-sensors 20]

For each worker count W, on a fresh nats-server (JetStream, MQTT listener, subject mapping:
spinewise.engine.serverconf; loopback, temporary data directory):

1. W worker processes (`spinewise pipeline --transport nats`, local SQLite storage each) start
   and spread the partitions among themselves;
2. engine ceiling: ``--sensors`` x ``--seconds`` of 50 Hz data (binary payloads, 25 samples per
   message, like the gateway) published over MQTT QoS 1 as fast as the engine acknowledges,
   then the same stream read back by a bare JetStream consumer;
3. throughput: wall time from the first publish until the workers have processed every
   sample (their retained stats); per worker CPU seconds (from /proc) over that window, and
   samples per CPU-second (the scaling claim: it stays flat as workers are added; on 2 cores
   the workers, the server and this load generator compete, so samples/s cannot);
4. live latency: ``--live-sensors`` sensors in real time for 10 s; the workers' own
   arrival -> events latency p50 / p99;
5. failover (W >= 2): kill -9 of one worker; seconds until every partition it held is
   acquired by another (lease TTL ``--lease-ttl``).

The signal is a simulated office snippet cycled per sensor with different phases, so the
Analyzer does real work.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinewise.config import MqttConfig  # noqa: E402
from spinewise.engine import subjects  # noqa: E402
from spinewise.ingest.payload import encode_binary  # noqa: E402
from spinewise.mqtt import MqttClient  # noqa: E402
from spinewise.stream import ImuChunk  # noqa: E402
from spinewise.topics import ANY, Topics  # noqa: E402
from tests.servers import NatsServer  # noqa: E402

RATE_HZ = 50.0
CHUNK = 25
PREFIX = "bench"
TICKS = os.sysconf("SC_CLK_TCK")


def source_data():
    from spinewise.sim import simulate
    rec = ImuChunk.concat(list(simulate("office_snippet", seed=99, rate_hz=RATE_HZ).chunks(8192)))
    return rec.acc_g, rec.gyro_dps


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Stats:
    def __init__(self, cfg: MqttConfig) -> None:
        self.per_worker: dict[str, dict] = {}
        self.client = MqttClient(cfg, f"bench-stats-{os.getpid()}", clean_session=True)
        self.client.subscribe(Topics(PREFIX).pipeline("stats", ANY), self._on, qos=0)
        self.client.connect(10)

    def _on(self, topic, payload) -> None:
        self.per_worker[topic] = json.loads(payload)

    def total(self, key: str) -> float:
        return sum(d.get(key, 0) for d in list(self.per_worker.values()))

    def worst(self, key: str):
        vals = [d.get(key) for d in list(self.per_worker.values()) if d.get(key) is not None]
        return max(vals) if vals else None


def messages(acc, gyro, sensors: range, blocks: range, tag: str, t0: float):
    n = acc.shape[0]
    for k in blocks:
        t = t0 + (k * CHUNK + np.arange(CHUNK)) / RATE_HZ
        for s in sensors:
            i = (s * 997 + k * CHUNK) % (n - CHUNK)
            dev = f"{tag}{s}"
            yield Topics(PREFIX).device(dev, "imu"), encode_binary(ImuChunk(
                t, acc[i:i + CHUNK], gyro[i:i + CHUNK], dev, RATE_HZ,
                seq=np.arange(k * CHUNK, (k + 1) * CHUNK)))


def leases(url: str, partitions: int) -> dict[int, str]:
    import nats

    async def read():
        nc = await nats.connect(url, connect_timeout=5)
        try:
            kv = await nc.jetstream().key_value(subjects.LEASES)
            out = {}
            for p in range(partitions):
                try:
                    e = await kv.get(subjects.lease_key(p))
                    if e is not None and e.value:
                        out[p] = e.value.decode()
                except Exception:
                    pass
            return out
        finally:
            await nc.close()
    try:
        return asyncio.run(read())
    except Exception:
        return {}


def read_ceiling(url: str, expected: int) -> float:
    """Seconds for a bare JetStream pull consumer to read the whole stream."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    async def run():
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_consumer(subjects.STREAM, ConsumerConfig(durable_name="bench-read",
                                                              ack_policy=AckPolicy.NONE))
        sub = await js.pull_subscribe_bind("bench-read", subjects.STREAM)
        got, t0 = 0, time.monotonic()
        while got < expected:
            try:
                got += len(await sub.fetch(1000, timeout=1.0))
            except nats.errors.TimeoutError:
                break
        dt = time.monotonic() - t0
        await nc.close()
        return dt if got >= expected else float("nan")
    return asyncio.run(run())


def run(workers: int, args, acc, gyro) -> dict:
    out: dict = {"workers": workers}
    with tempfile.TemporaryDirectory(prefix="spinewise-scale-") as tmp, \
            NatsServer(None, Path(tmp) / "nats", prefix=PREFIX, partitions=args.partitions) as srv:
        conf = Path(tmp) / "worker.toml"
        conf.write_text(
            f'[mqtt]\nport = {srv.mqtt_port}\nprefix = "{PREFIX}"\n'
            f'[influx]\nbackend = "local"\nlocal_path = "{tmp}/bench.sqlite"\n'
            f'[coaching]\nstate_db = "{tmp}/coach.sqlite"\nha_discovery_prefix = ""\n'
            f'[pipeline]\nstats_interval_s = 1.0\nclient_id = "bench"\ntransport = "nats"\n'
            f'nats_servers = "{srv.nats_url}"\npartitions = {args.partitions}\n'
            f'lease_ttl_s = {args.lease_ttl}\n')
        env = dict(os.environ, SPINEWISE_LOG_LEVEL="WARNING")
        procs = {}
        for i in range(workers):
            name = f"w{i + 1}"
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "spinewise.cli", "--config", str(conf), "pipeline",
                 "--worker-id", name],
                env=dict(env, SPINEWISE_INFLUX__LOCAL_PATH=f"{tmp}/{name}.sqlite",
                         SPINEWISE_COACHING__STATE_DB=f"{tmp}/{name}-coach.sqlite"), cwd=ROOT,
                stdout=open(f"{tmp}/{name}.log", "ab"), stderr=subprocess.STDOUT)
        try:
            share = -(-args.partitions // workers)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                owners = leases(srv.nats_url, args.partitions)
                counts = [list(owners.values()).count(w) for w in procs]
                if len(owners) == args.partitions and max(counts) <= share and min(counts) > 0:
                    break
                time.sleep(0.5)
            else:
                out["error"] = f"partitions not spread: {owners}"
                return out
            cfg = MqttConfig(port=srv.mqtt_port, prefix=PREFIX)
            stats = Stats(cfg)
            pub = MqttClient(cfg, f"bench-pub-{os.getpid()}", clean_session=True)
            pub._client.max_inflight_messages_set(1000)
            assert pub.connect(10)
            time.sleep(1.5)
            blocks = int(args.seconds * RATE_HZ / CHUNK)
            total = args.sensors * blocks * CHUNK
            n_msgs = args.sensors * blocks
            payloads = list(messages(acc, gyro, range(args.sensors), range(blocks), "tp", 1.7e9))
            cpu0 = {w: cpu_s(p.pid) for w, p in procs.items()}
            base = stats.total("samples_processed")
            wall0 = time.monotonic()
            infos = []
            for k, (topic, payload) in enumerate(payloads):
                infos.append(pub.publish_nowait(topic, payload, qos=1))
                if k % 500 == 499:
                    infos[-1].wait_for_publish(60)
            for info in infos:
                info.wait_for_publish(60)
            pub_s = time.monotonic() - wall0
            out["engine_in_msgs_s"] = n_msgs / pub_s
            out["engine_in_samples_s"] = total / pub_s
            deadline = time.monotonic() + 900
            while stats.total("samples_processed") - base < total and time.monotonic() < deadline:
                time.sleep(0.1)
            wall = time.monotonic() - wall0
            cpu = {w: cpu_s(p.pid) - cpu0[w] for w, p in procs.items()}
            done = stats.total("samples_processed") - base
            out.update(samples=total, processed=done, wall_s=wall, samples_s=done / wall,
                       cpu_s=cpu, samples_per_cpu_s=done / max(sum(cpu.values()), 1e-9))
            out["engine_read_s"] = read_ceiling(srv.nats_url, n_msgs)
            out["engine_read_samples_s"] = total / out["engine_read_s"]
            # live latency at a rate the workers keep up with
            live_blocks = int(10 * RATE_HZ / CHUNK)
            live0 = time.time()
            for k in range(live_blocks):
                due = live0 + (k + 1) * CHUNK / RATE_HZ
                if due > time.time():
                    time.sleep(due - time.time())
                for topic, payload in messages(acc, gyro, range(args.live_sensors), [k], "live",
                                               time.time() - CHUNK / RATE_HZ):
                    pub.publish_nowait(topic, payload, qos=1)
            time.sleep(2.5)
            out["live_latency_p50_ms"] = stats.worst("latency_p50_ms")
            out["live_latency_p99_ms"] = stats.worst("latency_p99_ms")
            if workers >= 2:
                victim = "w1"
                held = {p for p, w in leases(srv.nats_url, args.partitions).items() if w == victim}
                procs[victim].kill()
                procs[victim].wait()
                killed = time.monotonic()
                while time.monotonic() - killed < 60:
                    owners = leases(srv.nats_url, args.partitions)
                    if all(owners.get(p) not in (None, victim) for p in held):
                        break
                    time.sleep(0.1)
                out["failover_s"] = time.monotonic() - killed
            pub.close()
            stats.client.close()
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.terminate()
            for p in procs.values():
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,3")
    ap.add_argument("--sensors", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=60.0, help="of 50 Hz data per sensor")
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--live-sensors", type=int, default=20)
    ap.add_argument("--lease-ttl", type=float, default=4.0)
    args = ap.parse_args()
    if not NatsServer.available():
        print("nats-server not installed (scripts/bootstrap --test)")
        return 1
    acc, gyro = source_data()
    print(f"machine: {os.cpu_count()} cores; {args.sensors} sensors x {args.seconds:.0f} s at 50 Hz "
          f"({args.sensors * args.seconds * RATE_HZ:,.0f} samples), {args.partitions} partitions, "
          f"lease TTL {args.lease_ttl} s")
    print("workers | samples/s | samples/CPU-s | CPU s per worker | engine in (MQTT QoS1) samples/s"
          " | engine read samples/s | live p50/p99 ms | failover s")
    for w in (int(x) for x in args.workers.split(",")):
        r = run(w, args, acc, gyro)
        if "error" in r:
            print(f"{w} workers: {r['error']}")
            continue
        cpu = " ".join(f"{v:.1f}" for v in r["cpu_s"].values())
        print(f"{w:>7} | {r['samples_s']:>9,.0f} | {r['samples_per_cpu_s']:>13,.0f} | {cpu:>16} | "
              f"{r['engine_in_samples_s']:>31,.0f} | {r['engine_read_samples_s']:>21,.0f} | "
              f"{r['live_latency_p50_ms']}/{r['live_latency_p99_ms']} | "
              f"{r.get('failover_s', float('nan')):.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
