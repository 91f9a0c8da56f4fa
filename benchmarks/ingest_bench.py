"""Figures for the ingest layer: payload sizes, codec and decoder speed, spool throughput,
and timestamp-rebuild accuracy over long synthetic BLE links. Prints; asserts nothing.

    .venv/bin/python benchmarks/ingest_bench.py [--minutes 30]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spinewise.ingest import payload                                    # noqa: E402
from spinewise.ingest.profiles import PolarH10, SpinewiseProfile, WitMotion  # noqa: E402
from spinewise.ingest.profiles import polar, spinewise as swp, witmotion  # noqa: E402
from spinewise.ingest.spool import Spool, SpoolRecord                   # noqa: E402
from spinewise.sim import simulate                                      # noqa: E402
from spinewise.stream import ImuChunk                                   # noqa: E402
from spinewise.topics import Topics                                     # noqa: E402
from tests.ingest.test_timestamps import run, simulate as link_sim      # noqa: E402


def rate(n, dt):
    return f"{n / dt:,.0f}/s"


def payload_figures():
    sim = ImuChunk.concat(list(simulate("exercise_session", seed=1, rate_hz=50, duration_s=120).chunks(4096)))
    t0 = 1_767_600_000.0
    chunk = ImuChunk(sim.t_s + t0, sim.acc_g, sim.gyro_dps, "back", 50.0, seq=np.arange(len(sim)) + 10_000)
    parts = list(chunk.split(25))                    # 0.5 s batches
    print("payload (50 Hz, acc+gyro, 0.5 s per message):")
    for enc in ("json", "binary"):
        blobs = [payload.encode(p, enc) for p in parts]
        per_sample = sum(map(len, blobs)) / len(chunk)
        t = time.perf_counter()
        for b in blobs:
            payload.decode(b)
        dt = time.perf_counter() - t
        t = time.perf_counter()
        for p in parts:
            payload.encode(p, enc)
        dte = time.perf_counter() - t
        day_mb = per_sample * 50 * 86400 / 2**20
        print(f"  {enc:6s} {per_sample:6.1f} B/sample, {day_mb:6.0f} MB/day/device, "
              f"encode {rate(len(chunk), dte)} samples, decode {rate(len(chunk), dt)} samples")


def decoder_figures():
    n = 20_000
    acc = np.random.default_rng(0).normal(0, 0.5, (n, 3))
    gyro = np.random.default_rng(1).normal(0, 50, (n, 3))
    cases = {
        "spinewise (7/packet)": (SpinewiseProfile(), [swp.encode_packet(acc[i:i + 7], gyro[i:i + 7], i, i * 20000)
                                                      for i in range(0, n - 7, 7)], 7),
        "witmotion (1/frame)": (WitMotion(), [witmotion.encode_frame(acc[i], gyro[i]) for i in range(n)], 1),
        "polar raw (36/frame)": (PolarH10(), [polar.encode_raw_frame(acc[i:i + 36], i) for i in range(0, n - 36, 36)], 36),
        "polar delta (36/frame)": (PolarH10(), [polar.encode_delta_frame(acc[i:i + 36] * 0.05, i) for i in range(0, n - 36, 36)], 36),
    }
    print("decoders:")
    for name, (prof, frames, per) in cases.items():
        t = time.perf_counter()
        for f in frames:
            prof.decode(f)
        dt = time.perf_counter() - t
        print(f"  {name:24s} {rate(len(frames), dt)} notifications = {rate(len(frames) * per, dt)} samples")


def spool_figures():
    with tempfile.TemporaryDirectory() as d:
        sp = Spool(d, 64 * 2**20)
        body = b"x" * 3000
        n = 5000
        t = time.perf_counter()
        for i in range(n):
            sp.append(SpoolRecord(Topics("spinewise").device("back", "imu"), body))
        dta = time.perf_counter() - t
        t = time.perf_counter()
        while sp.peek() is not None:
            sp.pop()
        dtd = time.perf_counter() - t
        print(f"spool: append {rate(n, dta)} msgs of 3 kB, drain (peek+pop) {rate(n, dtd)} msgs")


def _delay_proxy(target_port: int, one_way_s: float) -> int:
    """A TCP proxy on loopback that delays every byte by ``one_way_s`` each way (a WAN link)."""
    import asyncio
    import socket
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    async def pipe(reader, writer):
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(65536):
                loop.call_later(one_way_s, writer.write, data)
        finally:
            await asyncio.sleep(one_way_s)
            writer.close()

    async def handle(reader, writer):
        r2, w2 = await asyncio.open_connection("127.0.0.1", target_port)
        for w in (writer, w2):   # no Nagle: the delay should be the only thing the proxy adds
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pipe(reader, w2), pipe(r2, writer), return_exceptions=True)

    async def serve():
        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    return port


def drain_figures():
    from spinewise.config import GatewayConfig, MqttConfig
    from spinewise.ingest.publisher import Publisher
    from tests.servers import Mosquitto

    with tempfile.TemporaryDirectory() as d:
        broker = Mosquitto(None, Path(d) / "broker").start()
        try:
            print("publisher backlog drain (1000 messages of 0.5 s JSON):")
            for rtt_ms in (0, 20):
                port = broker.port if rtt_ms == 0 else _delay_proxy(broker.port, rtt_ms / 2000)
                for window in (1, 16):
                    pub = Publisher(MqttConfig(host="127.0.0.1", port=port, prefix="bench"),
                                    GatewayConfig(spool_dir=f"{d}/spool-{rtt_ms}-{window}"), "dev",
                                    connect=False, max_inflight=window)
                    for i in range(1000):
                        k = np.arange(i * 25, (i + 1) * 25)
                        pub.publish_chunk(ImuChunk(1e9 + k / 50, np.zeros((25, 3)), np.zeros((25, 3)),
                                                   "dev", 50.0, seq=k))
                    pub.push_batch()
                    pub.client.connect(10)
                    t = time.perf_counter()
                    ok = pub.flush(300)
                    dt = time.perf_counter() - t
                    print(f"  RTT {rtt_ms:3d} ms, window {window:2d}: {1000 / dt:8,.0f} messages/s"
                          f"{'' if ok else ' (not finished)'}")
                    pub.close(5)
        finally:
            broker.cleanup()


def timestamp_figures(minutes: float):
    print(f"timestamp rebuild over {minutes:g} min of synthetic bursty BLE (30 ms connection events, "
          "10% retries up to 60 ms):")
    for kind, drift, per in [("counter", 300e-6, 5), ("clock", 50e-6, 5), ("none", -0.008, 1), ("none", 40e-6, 1)]:
        t_start = time.perf_counter()
        t, seq, truth, tseq, events, rb = run(link_sim(minutes * 60, kind=kind, drift=drift, per_packet=per, seed=3))
        dt = time.perf_counter() - t_start
        err = (t - truth)[truth > truth[0] + 20]
        bias = np.median(err)
        dev = np.abs(err - bias)
        print(f"  {kind:7s} drift {drift * 1e6:+8.0f} ppm: lag {bias * 1e3:5.1f} ms, |err-lag| p50 "
              f"{np.percentile(dev, 50) * 1e3:4.2f} p99 {np.percentile(dev, 99) * 1e3:4.2f} max {dev.max() * 1e3:4.2f} ms, "
              f"drift est {rb.stats['drift_ppm']:+8.1f} ppm, {rate(len(t), dt)} samples")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    payload_figures()
    decoder_figures()
    spool_figures()
    drain_figures()
    timestamp_figures(args.minutes)


if __name__ == "__main__":
    main()
