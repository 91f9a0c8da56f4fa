"""What a live pipeline stored for a few replayed recordings, against `spinewise analyze` of
each file: the check behind the kill -9 tests of both transports (tests/engine, Mosquitto mode
in tests/pipeline/test_kill9.py). Three devices replay three recordings (an exercise session
with sets, an office stretch, a supine session with holds) over MQTT, as a gateway does.
"""
from __future__ import annotations

import threading
from pathlib import Path

from spinewise.config import from_dict
from spinewise.ingest.publisher import Publisher
from spinewise.pipeline.replay import map_times, replay
from spinewise.recording import read_chunks
from tests.pipeline.conftest import START_EPOCH_S, analyze_json, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sim"
RECORDINGS = {"back1": "ex_prone_52hz_random.csv", "back2": "office_snippet_25hz_random.csv",
              "back3": "ex_supine_25hz_upright.csv"}


def references() -> dict:
    return {d: expected(FIXTURES / f) for d, f in RECORDINGS.items()}


def expected(path: Path) -> dict:
    """What analyze says, plus the per-minute figures the pipeline stores."""
    from spinewise.config import SignalConfig
    from spinewise.signal.analyzer import Analyzer

    ref = analyze_json(path)
    an = Analyzer(SignalConfig(), "ref", None)
    events = []
    for chunk in read_chunks(path, 4096):
        events += an.update(chunk)
    events += an.finish()
    minutes = [e for e in events if e.kind == "minute"]
    return {"sets": [(s["exercise"], s["reps"]) for s in ref["sets"]],
            "reps": sum(s["reps"] for s in ref["sets"]),
            "holds": [h["exercise"] for h in ref["holds"]],
            "hold_s": [h["duration_s"] for h in ref["holds"]],
            "minutes": len(minutes),
            "sedentary_s": sum(e.data["sedentary_s"] for e in minutes)}


def stored(influx, db: str, device: str) -> dict:
    def rows(measurement):
        res = influx.query(f"SELECT * FROM \"{measurement}\" WHERE device = '{device}'", db=db)
        out = []
        for series in res["results"][0].get("series", []):
            out += [dict(zip(series["columns"], v)) for v in series["values"]]
        return sorted(out, key=lambda r: r["time"])
    sets, holds, minutes = rows("set"), rows("hold"), rows("activity_minute")
    return {"sets": [(r["exercise"], r["reps"]) for r in sets], "reps": len(rows("rep")),
            "holds": [r["exercise"] for r in holds], "hold_s": [r["duration_s"] for r in holds],
            "minutes": len(minutes), "sedentary_s": sum(r["sedentary_s"] for r in minutes)}


def same(got: dict, want: dict) -> bool:
    return (got["sets"] == want["sets"] and got["reps"] == want["reps"]
            and got["holds"] == want["holds"] and got["minutes"] == want["minutes"]
            and all(abs(a - b) < 0.1 for a, b in zip(got["hold_s"], want["hold_s"]))
            and abs(got["sedentary_s"] - want["sedentary_s"]) < 1e-6)


def start_replays(data: dict, tmp_path: Path, speed: float) -> tuple[list[threading.Thread], dict]:
    cfg = from_dict(data)
    results: dict = {}
    threads = []
    for device, name in RECORDINGS.items():
        pub = Publisher(cfg.mqtt, cfg.gateway, device, spool_dir=tmp_path / f"spool-{device}",
                        client_id=f"gw-{device}")
        assert pub.client.connected.wait(10)

        def run(device=device, name=name, pub=pub):
            try:
                chunks = map_times(read_chunks(FIXTURES / name, 25), device, START_EPOCH_S)
                results[device] = replay(chunks, pub, speed=speed)
            finally:
                pub.close()
        threads.append(threading.Thread(target=run, daemon=True))
    for t in threads:
        t.start()
    return threads, results


def wait_all_stored(influx, db, references, timeout_s: float) -> dict:
    got = {}

    def done():
        got.update({d: stored(influx, db, d) for d in references})
        return all(same(got[d], references[d]) for d in references)
    wait_until(done, timeout_s, interval_s=0.5)
    return got
