"""Soak: many sensors for a long time, RSS over time (issue 17: flat memory under steady load).

    nice -n 10 .venv/bin/python benchmarks/soak_pipeline.py [--devices 50] [--minutes 60]
        [--speed 1] [--every-s 60]

Starts its own Mosquitto (tests/servers.py, a free port) and one in-process Pipeline (local
SQLite storage, coaching on, every device configured), then publishes ``--devices`` simulated
50 Hz sensors (an office snippet cycled with a different phase per sensor, 25-sample binary
messages like the gateway's 0.5 s batches) at ``--speed`` x real time for ``--minutes`` of wall
time. Every ``--every-s`` it prints the process RSS, the samples the pipeline processed, its
queue depth and its p99 latency; at the end the RSS growth over the second half (the first
minutes include imports, Analyzer warm-up and SQLite caches) and the snapshot size per device.
The issue asks for flat RSS over one hour with 50 devices.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinewise.ingest.payload import encode_binary  # noqa: E402
from spinewise.stream import ImuChunk  # noqa: E402
from spinewise.topics import Topics  # noqa: E402

from fuzz_pipeline import rss_mb  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

RATE_HZ = 50.0
CHUNK = 25
PREFIX = "soak"
START_EPOCH_S = 1772445600.0


def source() -> tuple[np.ndarray, np.ndarray]:
    from spinewise.sim import simulate
    sim = simulate("office_snippet", seed=99, rate_hz=RATE_HZ)
    rec = ImuChunk.concat(list(sim.chunks(8192)))
    return rec.acc_g, rec.gyro_dps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=1.0, help="event time / wall time")
    ap.add_argument("--every-s", type=float, default=60.0)
    args = ap.parse_args(argv)

    from spinewise.config import from_dict
    from spinewise.mqtt import MqttClient
    from spinewise.pipeline import Pipeline
    from tests.servers import Mosquitto

    acc, gyro = source()
    n_src = len(acc)
    ids = [f"s{i:03d}" for i in range(args.devices)]
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        tmp = Path(tmp)
        broker = Mosquitto(None, tmp / "mosquitto")
        broker.start()
        try:
            cfg = from_dict({
                "mqtt": {"host": "127.0.0.1", "port": broker.port, "prefix": PREFIX},
                "influx": {"backend": "local", "local_path": str(tmp / "local.sqlite")},
                "coaching": {"state_db": str(tmp / "coach.sqlite")},
                "pipeline": {"state_dir": str(tmp / "state"), "client_id": "pl-soak",
                             "unknown_devices": "reject"},
                "devices": [{"id": d, "user": f"u{d}"} for d in ids]})
            pipeline = Pipeline(cfg)
            pipeline.start()
            pub = MqttClient(cfg.mqtt, "soak-pub", clean_session=True)
            assert pub.connect(10)
            topics = Topics(PREFIX)
            phase = {d: (i * 7919) % n_src for i, d in enumerate(ids)}
            seq = {d: 0 for d in ids}
            t0 = time.monotonic()
            end = t0 + args.minutes * 60.0
            step_wall = CHUNK / RATE_HZ / args.speed
            next_send, next_print = t0, t0
            rows = []
            print(f"{'wall_s':>7} {'rss_mb':>7} {'samples':>10} {'queue':>6} {'p99_ms':>7}", flush=True)
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_print:
                    st = pipeline.stats()
                    rows.append((now - t0, rss_mb()))
                    print(f"{now - t0:7.0f} {rows[-1][1]:7.1f} {int(st.get('samples_processed', 0)):>10} "
                          f"{int(st.get('queue_depth', 0)):>6} {st.get('latency_p99_ms', 0):>7}", flush=True)
                    next_print += args.every_s
                if now < next_send:
                    time.sleep(min(next_send, next_print) - now)
                    continue
                for d in ids:
                    k = seq[d]
                    idx = (phase[d] + np.arange(k, k + CHUNK)) % n_src
                    c = ImuChunk(START_EPOCH_S + np.arange(k, k + CHUNK) / RATE_HZ, acc[idx], gyro[idx],
                                 d, RATE_HZ, seq=np.arange(k, k + CHUNK, dtype=np.int64))
                    pub.publish_nowait(topics.device(d, "imu"), encode_binary(c), qos=1)
                    seq[d] = k + CHUNK
                next_send += step_wall
            pub.close()
            pipeline.stop()
            snaps = list((tmp / "state").glob("*"))
            half = rows[(len(rows) - 1) // 2:]
            growth = half[-1][1] - half[0][1] if len(half) > 1 else float("nan")
            print(f"devices {args.devices}, {args.minutes:.0f} min at {args.speed:g}x: RSS "
                  f"{rows[0][1]:.1f} -> {rows[-1][1]:.1f} MB, second half {growth:+.1f} MB; "
                  f"snapshots {np.mean([p.stat().st_size for p in snaps]) / 1024:.0f} KiB per device"
                  if rows and snaps else "no data")
        finally:
            broker.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
