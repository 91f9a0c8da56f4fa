"""Broker outage: how long after Mosquitto is back the pipeline and a gateway are connected
again and the pipeline has caught up, and whether any sample is lost (issue 17: a 15 s outage
took 31 s to recover with a 30 s reconnect backoff).

    nice -n 10 .venv/bin/python benchmarks/broker_outage.py [--outage-s 15] [--seconds 75]

Starts its own Mosquitto (tests/servers.py, persistence on, a free port), one in-process
Pipeline (local SQLite storage, the shipped reconnect backoff `mqtt.reconnect_max_s`) and a
gateway Publisher (spooling QoS 1, 0.5 s batches) replaying a simulated 50 Hz office snippet at
real time. ``--outage-at-s`` into the replay the broker is stopped for ``--outage-s``. Prints,
from the moment the broker is back: when the pipeline's subscriber and publisher and the
gateway are connected, when the pipeline has processed every sample sent before the broker
came back, and at the end samples sent vs processed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START_EPOCH_S = 1772445600.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outage-s", type=float, default=15.0)
    ap.add_argument("--outage-at-s", type=float, default=15.0)
    ap.add_argument("--seconds", type=float, default=75.0, help="recording length replayed at 1x")
    args = ap.parse_args(argv)

    from spinewise.config import from_dict
    from spinewise.ingest.publisher import Publisher
    from spinewise.pipeline import Pipeline
    from spinewise.pipeline.replay import map_times, replay
    from spinewise.sim import simulate
    from tests.servers import Mosquitto

    sim = simulate("office_snippet", seed=99, rate_hz=50.0)
    chunks = []
    for c in sim.chunks(25):
        if c.t_s[0] >= args.seconds:
            break
        chunks.append(c)
    with tempfile.TemporaryDirectory(prefix="outage-") as tmp:
        tmp = Path(tmp)
        broker = Mosquitto(None, tmp / "mosquitto").start()
        try:
            cfg = from_dict({
                "mqtt": {"host": "127.0.0.1", "port": broker.port, "prefix": "outage"},
                "influx": {"backend": "local", "local_path": str(tmp / "local.sqlite")},
                "gateway": {"spool_dir": str(tmp / "gw"), "batch_s": 0.5},
                "coaching": {"state_db": str(tmp / "coach.sqlite")},
                "pipeline": {"state_dir": str(tmp / "state"), "client_id": "pl-outage",
                             "unknown_devices": "reject"},
                "devices": [{"id": "back1", "user": "ann"}]})
            pipeline = Pipeline(cfg)
            pipeline.start()
            pub = Publisher(cfg.mqtt, cfg.gateway, "back1", spool_dir=tmp / "gw",
                            encoding="binary", client_id="gw-outage")
            assert pub.client.connect(10)
            sent = [0]

            def count(chunk):
                sent[0] += len(chunk)
            result = {}
            feeder = threading.Thread(target=lambda: result.update(res=replay(
                map_times(chunks, "back1", START_EPOCH_S), pub, speed=1.0, on_chunk=count,
                ack_timeout_s=120)), daemon=True)
            t0 = time.monotonic()
            feeder.start()
            time.sleep(args.outage_at_s)
            broker.stop()
            t_down = time.monotonic()
            time.sleep(max(0.0, args.outage_s - (time.monotonic() - t_down)))
            broker.start()
            t_back = time.monotonic()
            sent_before_back = sent[0]
            marks: dict[str, float] = {}
            probes = {"pipeline subscriber": lambda: pipeline.sub.connected.is_set(),
                      "pipeline publisher": lambda: pipeline.pub.connected.is_set(),
                      "gateway": lambda: pub.client.connected.is_set(),
                      "caught up": lambda: pipeline.counters.get("samples_processed") >= sent_before_back}
            while len(marks) < len(probes) and time.monotonic() - t_back < 120:
                for name, probe in probes.items():
                    if name not in marks and probe():
                        marks[name] = time.monotonic() - t_back
                time.sleep(0.05)
            feeder.join(180)
            deadline = time.monotonic() + 60
            while pipeline.counters.get("samples_processed") < sent[0] and time.monotonic() < deadline:
                time.sleep(0.1)
            processed = pipeline.counters.get("samples_processed")
            stats = pipeline.stats()
            pub.close(10)
            pipeline.stop()
        finally:
            broker.cleanup()
    print(f"outage {t_back - t_down:.1f} s at {t_down - t0:.1f} s into a {args.seconds:.0f} s replay "
          f"(mqtt.reconnect_max_s = {cfg.mqtt.reconnect_max_s:g} s)")
    for name in probes:
        print(f"  {name:<20} {marks.get(name, float('nan')):6.1f} s after the broker was back")
    res = result.get("res")
    print(f"samples sent {sent[0]}, processed {processed}, lost {sent[0] - processed}; "
          f"duplicates {int(stats.get('samples_duplicates', 0))}; gateway "
          f"{'all acknowledged' if res and res.acknowledged else 'NOT all acknowledged'}")
    return 0 if processed == sent[0] else 1


if __name__ == "__main__":
    sys.exit(main())
