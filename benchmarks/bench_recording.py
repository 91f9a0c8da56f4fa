"""Speed and memory of the CSV recording reader/writer on a long recording.

    .venv/bin/python benchmarks/bench_recording.py [--hours 24] [--rate 50] [--decimals 6]

Writes a synthetic recording (gyro and accelerometer-only) to a temporary directory, reads
it back with ``read_chunks`` and prints rows/s for writing and reading, the file size and
the peak Python heap (tracemalloc, measured in a separate pass because tracing slows
numpy down) and the process's peak resident set size. Rates are given per wall-clock
second and per CPU second of this process: on a shared, busy machine the second is the
one that compares between runs. ``--bad-every N`` also reads a copy
of the gyro file with a garbage line after every N lines (the split-and-retry slow path).
"""
from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from spinewise.recording import ReadReport, probe, read_chunks, write_csv
from spinewise.stream import ImuChunk


def synthetic(hours: float, rate_hz: float, gyro: bool, block: int = 65536):
    """Chunks of a plausible 16-bit sensor stream (quantised like a real IMU's counts)."""
    rng = np.random.default_rng(0)
    n = int(hours * 3600 * rate_hz)
    acc_lsb, gyro_lsb = 16 / 32768, 2000 / 32768          # +-16 g, +-2000 dps
    for i in range(0, n, block):
        m = min(block, n - i)
        t = (i + np.arange(m)) / rate_hz
        acc = np.round((np.array([0, 0, 1.0]) + rng.normal(0, 0.05, (m, 3))) / acc_lsb) * acc_lsb
        gyr = np.round(rng.normal(0, 5, (m, 3)) / gyro_lsb) * gyro_lsb if gyro else None
        yield ImuChunk(t, acc, gyr, rate_hz=rate_hz)


def corrupt(path: Path, every: int) -> Path:
    out = path.with_name("bad-" + path.name)
    with open(path, "rb") as src, open(out, "wb") as dst:
        for i, line in enumerate(src):
            dst.write(line)
            if i and i % every == 0:
                dst.write(b"1.0,garbage\n")
    return out


def read_all(path: Path, chunk_size: int) -> tuple[int, ReadReport]:
    report = ReadReport()
    n = 0
    for chunk in read_chunks(path, chunk_size, report=report):
        n += len(chunk)
    return n, report


class Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def rate(self, n: int) -> str:
        return (f"{self.wall:6.2f} s  {n / self.wall / 1e6:5.2f} M rows/s wall, "
                f"{n / self.cpu / 1e6:5.2f} M rows/CPU-s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--decimals", type=int, default=None,
                    help="write with this many decimals (default: exact repr)")
    ap.add_argument("--chunk-size", type=int, default=4096)
    ap.add_argument("--bad-every", type=int, default=0,
                    help="also read a copy with a garbage line after every N lines")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for gyro in (True, False):
            path = Path(tmp) / f"rec-{'gyro' if gyro else 'acc'}.csv"
            chunks = synthetic(args.hours, args.rate, gyro)
            with Timer() as t_write:
                n = write_csv(path, chunks, decimals=args.decimals)
            size_mb = path.stat().st_size / 1e6

            with Timer() as t_read:
                n_read, report = read_all(path, args.chunk_size)
            assert n_read == n, (n_read, n)

            with Timer() as t_probe:
                info = probe(path)

            tracemalloc.start()
            read_all(path, args.chunk_size)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            kind = "gyro" if gyro else "acc-only"
            print(f"{kind:8s} {args.hours:g} h @ {args.rate:g} Hz: {n} rows, {size_mb:.0f} MB "
                  f"(decimals={args.decimals})")
            print(f"  write  {t_write.rate(n)}  (includes generating the samples)")
            print(f"  read   {t_read.rate(n)}  (chunk_size={args.chunk_size})")
            print(f"         gyro rule: {report.gyro_rule}")
            print(f"  probe  {t_probe.rate(n)}  rate={info.rate_hz} Hz has_gyro={info.has_gyro}")
            print(f"  read peak Python heap {peak / 1e6:.1f} MB (tracemalloc)")
            if gyro and args.bad_every:
                bad = corrupt(path, args.bad_every)
                logging.getLogger("spinewise.recording").setLevel(logging.ERROR)
                with Timer() as t_bad:
                    n_read, report = read_all(bad, args.chunk_size)
                print(f"  read with a bad line every {args.bad_every} lines: "
                      f"{t_bad.rate(n_read)}  ({report.dropped} dropped)")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss_mb:.0f} MB (includes the writer's generator)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
