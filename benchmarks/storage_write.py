"""Storage throughput: schema mapping, line protocol, real writes, spool drain after an outage.

    .venv/bin/python benchmarks/storage_write.py [--points 100000]

Starts private InfluxDB 1.x and VictoriaMetrics instances (tests/servers.py) on free ports
and prints figures; asserts nothing. A day of one person is ~440,000 points (posture at
5 Hz), i.e. ~5 points/s on average.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spinewise.config import InfluxConfig  # noqa: E402
from spinewise.events import Event  # noqa: E402
from spinewise.storage import open_storage, points_from_event  # noqa: E402
from spinewise.storage.backends import InfluxV1Backend  # noqa: E402
from spinewise.storage.buffered import BufferedStorage  # noqa: E402
from spinewise.storage.local import LocalStore  # noqa: E402
from spinewise.storage.spool import Spool  # noqa: E402
from tests.servers import InfluxD, Victoria, free_port  # noqa: E402

T0 = 1_767_225_600.0


def posture_events(n: int) -> list[Event]:
    return [Event("posture", T0 + i * 0.2, {"flexion_deg": 10.0 + (i % 7), "lateral_deg": 1.5,
                                             "incl_deg": 12.0}) for i in range(n)]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s ({seconds * 1000:.0f} ms for {n:,})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    args = ap.parse_args()
    n = args.points
    events = posture_events(n)

    t = time.perf_counter()
    points = [p for e in events for p in points_from_event(e, "ann", "h10")]
    print(f"points_from_event (posture)      {rate(n, time.perf_counter() - t)}")
    t = time.perf_counter()
    for p in points:
        p.to_line()
    print(f"line protocol                    {rate(n, time.perf_counter() - t)}")

    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(str(Path(tmp) / "local.sqlite"))
        t = time.perf_counter()
        for i in range(0, n, 500):
            store.write(points[i:i + 500])
        print(f"local SQLite store               {rate(n, time.perf_counter() - t)}")
        store.close()

        influx = InfluxD(free_port(), Path(tmp) / "influx").start()
        try:
            influx.create_database("bench")
            cfg = InfluxConfig(backend="v1", url=influx.url, database="bench",
                               spool_dir=str(Path(tmp) / "spool1"))
            st = open_storage(cfg, background=False)
            t = time.perf_counter()
            st.write(points)
            st.close()
            print(f"InfluxDB 1.x /write, batch 500   {rate(n, time.perf_counter() - t)}")

            # outage: everything goes to the spool, then drains when the server is back
            influx.create_database("outage")
            st = BufferedStorage(InfluxV1Backend(influx.url, "outage", timeout_s=2),
                                 Spool(Path(tmp) / "spool2"), batch_size=500, background=False)
            influx.stop()
            t = time.perf_counter()
            st.write(points)
            st.flush()
            spool_s = time.perf_counter() - t
            depth = st.stats()["spool_depth"]
            influx.start()
            t = time.perf_counter()
            st.flush(force=True)
            drain_s = time.perf_counter() - t
            st.close()
            res = influx.query('SELECT count("flexion_deg") FROM "posture"', db="outage")
            stored = res["results"][0]["series"][0]["values"][0][1]
            print(f"spool while down                 {rate(depth, spool_s)}")
            print(f"spool drain after restart        {rate(depth, drain_s)}; stored {stored:,} of {n:,}")
        finally:
            influx.cleanup()

        vm = Victoria(free_port(), Path(tmp) / "vm").start()
        try:
            cfg = InfluxConfig(backend="v2", url=vm.url, token="x", org="o", bucket="b",
                               spool_dir=str(Path(tmp) / "spool3"))
            st = open_storage(cfg, background=False)
            t = time.perf_counter()
            st.write(points)
            st.close()
            print(f"influxdb-client v2 -> VictoriaMetrics  {rate(n, time.perf_counter() - t)}")
        finally:
            vm.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
