"""How much one ``spinewise pipeline`` process sustains, and its event latency under load.

    .venv/bin/python benchmarks/bench_pipeline.py [--sensors 100,1000] [--seconds 20]

Starts its own Mosquitto (port 58883 unless --port) and one pipeline process (the real CLI,
local SQLite storage, coaching on), then:

1. throughput: ``--tp-sensors`` sensors x ``--tp-seconds`` of 50 Hz data published as fast as
   the broker takes it; samples/s = samples / wall time until the pipeline processed them all;
2. live load: N simulated sensors at 50 Hz in real time (one 25-sample message per sensor every
   0.5 s, like the gateway), for each N in ``--sensors``. Reported: what the pipeline processed
   vs what was sent (kept up or fell behind), its internal latency (message arrival -> events
   published, p50/p99 from its own counters) and the end-to-end delay of posture events seen by
   an MQTT subscriber (receive time - sample time: includes the 0.5 s batching and the 5 Hz
   posture decimation).

The signal data is a simulated office snippet (sitting, slump, walk), cycled per sensor with
different phases, so the Analyzer does real work (orientation, steps, epochs, exercise search).
"""
from __future__ import annotations

import argparse
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
from spinewise.ingest.payload import encode_binary  # noqa: E402
from spinewise.mqtt import MqttClient  # noqa: E402
from spinewise.stream import ImuChunk  # noqa: E402
from spinewise.topics import ANY, Topics  # noqa: E402
from tests.servers import Mosquitto  # noqa: E402

RATE_HZ = 50.0
CHUNK = 25                 # samples per message (the gateway's 0.5 s batch at 50 Hz)
PREFIX = "bench"


def source_data() -> tuple[np.ndarray, np.ndarray]:
    from spinewise.sim import simulate
    sim = simulate("office_snippet", seed=99, rate_hz=RATE_HZ)
    rec = ImuChunk.concat(list(sim.chunks(8192)))
    return rec.acc_g, rec.gyro_dps


class Stats:
    """The pipeline's retained counters, and posture event delays seen over MQTT."""

    def __init__(self, cfg: MqttConfig) -> None:
        self.per_process: dict[str, dict] = {}
        self.delays: list[float] = []
        self._lock = threading.Lock()
        self.client = MqttClient(cfg, f"bench-stats-{os.getpid()}", clean_session=True)
        topics = Topics(PREFIX)
        self.client.subscribe(topics.pipeline("stats"), self._on_stats, qos=0)
        self.client.subscribe(topics.pipeline("stats", ANY), self._on_stats, qos=0)
        self.client.subscribe(topics.device(ANY, "events"), self._on_event, qos=0)
        self.client.connect(10)

    def _on_stats(self, topic, payload) -> None:
        self.per_process[topic] = json.loads(payload)

    @property
    def latest(self) -> dict:
        """Counters summed over the pipeline processes (latencies: the worst process)."""
        out: dict = {}
        for doc in list(self.per_process.values()):
            for k, v in doc.items():
                if not isinstance(v, (int, float)):
                    continue
                out[k] = max(out.get(k, v), v) if "latency" in k else out.get(k, 0) + v
        return out

    def _on_event(self, _t, payload) -> None:
        now = time.time()
        ev = json.loads(payload)
        if ev.get("kind") == "posture":
            with self._lock:
                self.delays.append(now - ev["t_s"])

    def take_delays(self) -> np.ndarray:
        with self._lock:
            out, self.delays = np.asarray(self.delays), []
        return out

    def wait_stat(self, key: str, target: float, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.latest.get(key, 0) >= target:
                return time.monotonic()
            time.sleep(0.05)
        return None


def publish_block(client: MqttClient, acc, gyro, sensors: range, t0: float, k: int, prefix_dev: str):
    n = acc.shape[0]
    t = t0 + (k * CHUNK + np.arange(CHUNK)) / RATE_HZ
    infos = []
    for s in sensors:
        i = (s * 997 + k * CHUNK) % (n - CHUNK)
        chunk = ImuChunk(t, acc[i:i + CHUNK], gyro[i:i + CHUNK], f"{prefix_dev}{s}", RATE_HZ,
                         seq=np.arange(k * CHUNK, (k + 1) * CHUNK))
        infos.append(client.publish_nowait(Topics(PREFIX).device(f"{prefix_dev}{s}", "imu"),
                                           encode_binary(chunk), qos=1))
    return infos


def run_throughput(client, stats, acc, gyro, sensors: int, seconds: float) -> None:
    base = stats.latest.get("samples_processed", 0)
    blocks = int(seconds * RATE_HZ / CHUNK)
    total = sensors * blocks * CHUNK
    t0 = 1.7e9
    wall0 = time.monotonic()
    for k in range(blocks):
        infos = publish_block(client, acc, gyro, range(sensors), t0, k, "tp")
        if k % 20 == 19:
            for info in infos:
                info.wait_for_publish(30)
    done = stats.wait_stat("samples_processed", base + total, 600)
    if done is None:
        print(f"throughput: did not finish ({stats.latest.get('samples_processed', 0) - base} of {total})")
        return
    wall = done - wall0
    print(f"throughput: {sensors} sensors x {seconds:.0f} s at 50 Hz = {total} samples in {wall:.1f} s "
          f"-> {total / wall:,.0f} samples/s sustained by {len(stats.per_process)} pipeline process(es) "
          f"({total / wall / RATE_HZ:,.0f} sensors at 50 Hz)")


def run_live(client, stats, acc, gyro, sensors: int, seconds: float, tag: str) -> None:
    base = stats.latest.get("samples_processed", 0)
    t0 = time.time()
    blocks = int(seconds * RATE_HZ / CHUNK)
    stats.take_delays()
    late_ticks = 0
    for k in range(blocks):
        due = t0 + (k + 1) * CHUNK / RATE_HZ        # a batch is sent when its last sample is taken
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        else:
            late_ticks += 1
        publish_block(client, acc, gyro, range(sensors), t0, k, tag)
        if k == int(5 * RATE_HZ / CHUNK):
            stats.take_delays()       # skip the start: the reorder buffer holds a new stream 2 s
    sent = sensors * blocks * CHUNK
    time.sleep(2.0)
    st = stats.latest
    processed = st.get("samples_processed", 0) - base
    d = stats.take_delays()
    d = d[d > -1]
    behind = sent - processed
    print(f"live {sensors:>5} sensors x 50 Hz for {seconds:.0f} s: sent {sent} samples "
          f"({sensors * RATE_HZ:,.0f}/s), processed {processed} "
          f"({'kept up' if behind <= sensors * 2 * RATE_HZ else f'FELL BEHIND by {behind} samples'}); "
          f"publisher late ticks {late_ticks}/{blocks}")
    print(f"      pipeline latency arrival->events p50 {st.get('latency_p50_ms')} ms, "
          f"p99 {st.get('latency_p99_ms')} ms, queue depth {st.get('queue_depth')}")
    if d.size:
        print(f"      posture events over MQTT: {d.size}, delay after sample time p50 "
              f"{np.percentile(d, 50) * 1000:.0f} ms, p99 {np.percentile(d, 99) * 1000:.0f} ms "
              f"(steady state after 5 s; includes 0.5 s batching)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=58883)
    ap.add_argument("--sensors", default="100,1000")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--tp-sensors", type=int, default=50)
    ap.add_argument("--tp-seconds", type=float, default=120.0)
    ap.add_argument("--shards", type=int, default=1, help="pipeline processes (pipeline --shard i/N)")
    ap.add_argument("--ack", default="checkpoint", choices=("checkpoint", "arrival"),
                    help="pipeline.ack: acknowledge after the checkpoint (default) or on arrival")
    args = ap.parse_args()
    acc, gyro = source_data()
    with tempfile.TemporaryDirectory(prefix="spinewise-bench-") as tmp, \
            Mosquitto(args.port, Path(tmp) / "mqtt") as broker:
        conf = Path(tmp) / "bench.toml"
        conf.write_text(
            f'[mqtt]\nport = {broker.port}\nprefix = "{PREFIX}"\n'
            f'[influx]\nbackend = "local"\nlocal_path = "{tmp}/bench.sqlite"\n'
            f'[coaching]\nstate_db = "{tmp}/coach.sqlite"\nha_discovery_prefix = ""\n'
            f'[pipeline]\nstate_dir = "{tmp}/state"\nstats_interval_s = 1.0\nsnapshot_interval_s = 600.0\n'
            f'client_id = "bench-pipeline"\nack = "{args.ack}"\n')
        env = dict(os.environ, SPINEWISE_LOG_LEVEL="WARNING")
        procs = [subprocess.Popen([sys.executable, "-m", "spinewise.cli", "--config", str(conf), "pipeline",
                                   *(["--shard", f"{i}/{args.shards}"] if args.shards > 1 else [])],
                                  env=dict(env, SPINEWISE_INFLUX__LOCAL_PATH=f"{tmp}/bench{i}.sqlite"),
                                  cwd=ROOT) for i in range(args.shards)]
        try:
            cfg = MqttConfig(port=broker.port, prefix=PREFIX)
            stats = Stats(cfg)
            client = MqttClient(cfg, f"bench-pub-{os.getpid()}", clean_session=True)
            client._client.max_inflight_messages_set(1000)
            assert client.connect(10)
            deadline = time.monotonic() + 20
            while len(stats.per_process) < args.shards and time.monotonic() < deadline:
                time.sleep(0.1)
            if len(stats.per_process) < args.shards:
                print("pipeline did not publish stats")
                return 1
            print(f"machine: {os.cpu_count()} cores; {args.shards} pipeline process(es); "
                  f"broker 127.0.0.1:{broker.port}; pipeline.ack = {args.ack}")
            run_throughput(client, stats, acc, gyro, args.tp_sensors, args.tp_seconds)
            for n in (int(x) for x in args.sensors.split(",")):
                run_live(client, stats, acc, gyro, n, args.seconds, f"live{n}-")
            client.close()
            stats.client.close()
            log = Path(tmp) / "mqtt" / "mosquitto.log"
            if log.exists():
                tail = [ln for ln in log.read_text(errors="replace").splitlines() if "rror" in ln or "xceed" in ln]
                if tail:
                    print("mosquitto log (errors):", *tail[-5:], sep="\n  ")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(90)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
