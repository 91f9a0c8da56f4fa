"""``spinewise replay FILE.csv --device ID``: publish a recording as a sensor would, via MQTT."""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("replay", help="publish a recording to MQTT through the gateway publisher",
                       description=__doc__.splitlines()[0])
    p.add_argument("file", help="CSV recording (t,ax,ay,az,gx,gy,gz), .csv.gz, or - for stdin")
    p.add_argument("--device", required=True, help="device id to publish as (<prefix>/dev/<ID>/imu)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="event-time acceleration: 1 = real time, 50 = 50x, 0 = as fast as possible")
    p.add_argument("--start", default=None,
                   help="ISO time of the first sample (e.g. 2026-01-05T08:00:00Z) or 'now'; default: "
                        "keep the file's times if they are epoch seconds, else now")
    p.add_argument("--encoding", choices=["json", "binary"], default=None,
                   help="payload encoding (default: gateway.encoding)")
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    from spinewise.commands.analyze import add_unit_arguments
    add_unit_arguments(p)
    p.set_defaults(func=run)


def parse_start(text: str | None, first_t_s: float | None, now_s: float) -> float | None:
    """Epoch seconds of the first sample, or None to keep the file's own times."""
    from datetime import datetime, timezone

    if text is None:
        return None if first_t_s is not None and first_t_s > 1e9 else now_s
    if text.strip().lower() == "now":
        return now_s
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--start {text!r}: expected an ISO time like 2026-01-05T08:00:00Z or 'now'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def run(args) -> int:
    if args.file != "-":
        return _run(args)
    # The file is read twice (probe for rate and units, then the samples): standard input is
    # copied once to a private temporary file (gzip bytes stay gzip) and replayed from there.
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory(prefix="spinewise-replay-") as tmp:
        path = f"{tmp}/stdin"
        with open(path, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        args.file = path
        return _run(args)


def _run(args) -> int:
    import signal
    import threading
    import time

    from spinewise import config as config_mod
    from spinewise.ingest.publisher import Publisher
    from spinewise.pipeline.replay import TempSpool, map_times, replay
    from spinewise.recording import RecordingError, probe, read_chunks
    from spinewise.recording.units import Units

    cfg = config_mod.load(getattr(args, "config", None))
    if args.speed < 0:
        print("spinewise replay: --speed must be >= 0", file=sys.stderr)
        return 2
    try:
        # units as analyze tells them (m/s^2, rad/s, ms, epoch): the pipeline gets g, deg/s, s
        units = Units.given(args.acc_unit, args.gyro_unit, args.time_unit)
        info = probe(args.file, units=units)
        for notice in units.notices:
            print(f"spinewise replay: {notice}", file=sys.stderr)
        start = parse_start(args.start, units.start_epoch_s, time.time())
        if start is None:        # epoch times: keep the file's clock
            start = units.start_epoch_s
        rate = float(info.rate_hz or 50.0)
        chunk_size = max(1, int(round(rate * cfg.gateway.batch_s)))
        chunks = map_times(read_chunks(args.file, chunk_size, device_id=args.device,
                                       units=Units.given(units.acc, units.gyro, units.time)),
                           args.device, start)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with TempSpool() as spool_dir:
            pub = Publisher(cfg.mqtt, cfg.gateway, args.device, spool_dir=spool_dir,
                            encoding=args.encoding, client_id=f"spinewise-replay-{args.device}")
            try:
                if not pub.client.connect(10.0):
                    print(f"spinewise replay: {pub.client.failure() or f'MQTT broker {cfg.mqtt.host}:{cfg.mqtt.port} not reachable'}",
                          file=sys.stderr)
                    return 1
                pub.publish_status("online", source="replay", file=str(args.file))
                res = replay(chunks, pub, speed=args.speed, stop=stop)
            finally:
                pub.close(10.0)
    except RecordingError as exc:
        print(f"spinewise replay: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"spinewise replay: {exc}", file=sys.stderr)
        return 2
    rate_x = (res.end_t_s - res.first_t_s) / res.wall_s if res.wall_s and res.end_t_s else 0.0
    print(f"replayed {res.samples} samples as {args.device} in {res.wall_s:.1f} s ({rate_x:.0f}x); "
          f"end of stream at t={res.end_t_s}; {'all acknowledged' if res.acknowledged else 'NOT all acknowledged'}")
    return 0 if res.acknowledged and not stop.is_set() else 1
