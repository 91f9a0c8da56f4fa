"""Hostile input against the live pipeline on a real Mosquitto (issue 17).

    nice -n 10 .venv/bin/python benchmarks/fuzz_pipeline.py [--messages 1000000] [--seed 1]
        [--duration-s 1200] [--own-share 0.15] [--unknown-devices reject|accept] [--max-devices N]

Starts its own Mosquitto (tests/servers.py, a free port) and one in-process Pipeline (local
SQLite storage, coaching on, the shipped ``unknown_devices = "reject"`` unless told otherwise),
then publishes ``--messages`` malformed, mutated and random payloads to the imu, status, link
and cmd topics, interleaved with one good recording (a fresh simulator recording, 50 Hz,
25-sample messages, JSON or binary at random) on device ``back1`` of user ``ann``. A share
(``--own-share``) of the garbage goes to ``back1``'s and ``ann``'s own topics: undecodable
bytes, copies of chunks already sent with times years or a day off, sequence numbers 10^9 on,
NaN/inf, absurd rates, forged end-of-stream markers, refused commands.

What the garbage is made of (label -> what): see ``KINDS``. Topic names include ids with
``, = "`` and spaces, extra levels and non-ASCII; names with ``+`` or ``#`` cannot be published
(paho refuses them) or control characters (Mosquitto disconnects the client: malformed
packet) cannot be published: those are counted as ``refused_by_client`` and not sent.

Printed: messages sent and delivered to the pipeline's subscriptions, the pipeline's
``messages_in`` and its accounting (accepted + rejected + other outcomes = messages_in: every
message counted exactly once), rejections by reason, crashes (worker thread dead, exceptions
escaping into paho's thread or any thread), ``worker_errors`` by stage, RSS at start, after
warm-up and at the end, log lines by level, and whether the good stream's summary (sets with
reps and start times, holds with durations, the activity totals) and the stored set/rep/hold
points equal ``spinewise analyze`` of the same file.

Not a test of authorisation: a self-consistent fake stream published on a device's own topic
is beyond what data can tell; the broker ACL (spinewise.access) keeps others off that topic.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinewise.ingest.payload import encode_binary, encode_json  # noqa: E402
from spinewise.stream import ImuChunk  # noqa: E402
from spinewise.topics import ANY, Topics  # noqa: E402

PREFIX = "fz"
GOOD_DEVICE, GOOD_USER = "back1", "ann"
OTHER_DEVICE, OTHER_USER = "back2", "bob"
START_EPOCH_S = 1772445600.0            # 2026-03-02T10:00:00Z, a whole minute (replay == analyze)
CHUNK = 25                              # samples per message (the gateway's 0.5 s at 50 Hz)
SAFE_COMMANDS = ("snooze", "pain", "acute", "extension_eases", "clinician_cleared", "settings",
                 "status", "plan")     # no calibrate / set_start / set_stop: those act on the stream
WEIRD_IDS = ("a b", "a,b", "a=b", 'a"b', " ", "x" * 65, "ünï", "-lead", "é" * 10, "",
             "a'b", "a;b", "a%b", "$sys")
EXTRA_LEVEL_IDS = ("a/b", "/", "back1/x")
# not publishable: paho refuses wildcards in a topic name; Mosquitto disconnects a client that
# sends control characters ("malformed packet") and paho then resends it on every reconnect
WILDCARD_IDS = ("+", "#", "a+b", "a#", "dev\tid", "a\x01b")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# -- the good recording ------------------------------------------------------------------------
@dataclass
class GoodRecording:
    path: Path
    chunks: list[ImuChunk]          # mapped to START_EPOCH_S, numbered from 0, device back1
    reference: dict                 # spinewise analyze --json of the file


def make_recording(directory: Path, duration_s: float, seed: int) -> GoodRecording:
    from spinewise.pipeline.replay import map_times
    from spinewise.recording import read_chunks, write_csv
    from spinewise.sim import simulate

    sim = simulate("mixed", seed=seed, duration_s=duration_s,
                   exercises=["plank", "bridge", "dead_bug", "squat"], dose_scale=0.4)
    path = directory / "good.csv"
    write_csv(path, sim.chunks(4096))
    return recording_from_file(path)


def recording_from_file(path: Path, reference: dict | None = None) -> GoodRecording:
    from spinewise.pipeline.replay import map_times
    from spinewise.recording import read_chunks

    chunks = list(map_times(read_chunks(path, CHUNK), GOOD_DEVICE, START_EPOCH_S))
    return GoodRecording(path, chunks, reference if reference is not None else analyze_json(path))


def analyze_json(path: Path) -> dict:
    import contextlib
    import io

    from spinewise import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if cli.main(["analyze", "--json", str(path)]) != 0:
            raise RuntimeError(f"spinewise analyze {path} failed")
    return json.loads(out.getvalue())


def comparable(summary: dict, offset_s: float) -> dict:
    """What must be equal between live and analyze: sets (exercise, reps, start), holds
    (exercise, duration), the activity totals."""
    act = summary.get("activity") or {}
    return {
        "sets": [(s["exercise"], s["reps"], round(s["start_s"] - offset_s, 2))
                 for s in summary.get("sets", [])],
        "holds": [(h["exercise"], round(h["duration_s"], 2)) for h in summary.get("holds", [])],
        "activity": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in act.items()
                     if isinstance(v, (int, float)) and not k.endswith("start_s")},
    }


# -- garbage -----------------------------------------------------------------------------------
class Garbage:
    """Deterministic generator of hostile (topic, payload, label) triples."""

    def __init__(self, rng: random.Random, topics: Topics, own_share: float) -> None:
        self.rng = rng
        self.t = topics
        self.own_share = own_share
        self.sent: list[ImuChunk] = []        # good chunks already published (copies mutate these)
        self._json_cache: dict[int, bytes] = {}
        self._bin_cache: dict[int, bytes] = {}
        self.np_rng = np.random.default_rng(rng.randrange(2**32))

    # ids and topics
    def _device(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < self.own_share:
            return GOOD_DEVICE, "own"
        r = self.rng.random()
        if r < 0.12:
            return OTHER_DEVICE, "configured"
        if r < 0.80:
            return f"u{self.rng.randrange(10**6)}", "unknown"
        if r < 0.95:
            return self.rng.choice(WEIRD_IDS), "weird_id"
        if r < 0.98:
            return self.rng.choice(EXTRA_LEVEL_IDS), "extra_level"
        return self.rng.choice(WILDCARD_IDS), "wildcard"

    def _user(self) -> tuple[str, str]:
        if self.rng.random() < self.own_share:
            return GOOD_USER, "own"
        r = self.rng.random()
        if r < 0.15:
            return OTHER_USER, "configured"
        if r < 0.80:
            return f"p{self.rng.randrange(10**6)}", "unknown"
        if r < 0.95:
            return self.rng.choice(WEIRD_IDS), "weird_id"
        if r < 0.98:
            return self.rng.choice(EXTRA_LEVEL_IDS), "extra_level"
        return self.rng.choice(WILDCARD_IDS), "wildcard"

    def _topic(self, scope: str, key: str, kind: str) -> str:
        # ids are put in as they are: Topics would refuse the invalid ones
        return f"{self.t.prefix}/{scope}/{key}/{kind}"

    def next(self) -> tuple[str, bytes, str, str]:
        """(topic, payload, label, who)."""
        r = self.rng.random()
        if r < 0.55:
            key, who = self._device()
            payload, label = self._imu(own=who == "own")
            return self._topic("dev", key, "imu"), payload, label, who
        if r < 0.72:
            key, who = self._device()
            payload, label = self._status()
            return self._topic("dev", key, "status"), payload, label, who
        if r < 0.80:
            key, who = self._device()
            payload, label = self._link()
            return self._topic("dev", key, "link"), payload, label, who
        key, who = self._user()
        payload, label = self._cmd()
        return self._topic("user", key, "cmd"), payload, label, who

    # payload makers
    def _copy(self) -> ImuChunk:
        """A chunk already sent on the good stream (or a synthetic one before the first)."""
        if self.sent:
            # mostly recent ones: they are what the reorder buffer and the jump guard still hold
            i = len(self.sent) - 1 - min(int(self.rng.expovariate(0.2)), len(self.sent) - 1)
            return self.sent[i]
        n = CHUNK
        return ImuChunk(t_s=START_EPOCH_S - 3600 + np.arange(n) / 50.0,
                        acc_g=np.tile([0.0, 0.0, 1.0], (n, 1)), gyro_dps=np.zeros((n, 3)),
                        device_id=GOOD_DEVICE, rate_hz=50.0, seq=np.arange(n, dtype=np.int64))

    def _enc(self, c: ImuChunk) -> bytes:
        return encode_binary(c) if self.rng.random() < 0.5 else encode_json(c)

    def _imu(self, own: bool) -> tuple[bytes, str]:
        rng = self.rng
        r = rng.random()
        c = self._copy()
        if r < 0.08:
            return rng.randbytes(rng.randrange(0, 300)), "random_bytes"
        if r < 0.16:
            b = encode_binary(c)
            return b[:rng.randrange(0, len(b))], "truncated_binary"
        if r < 0.22:
            b = bytearray(encode_binary(c))
            b[0] = rng.choice([0xB0, 0xB2, 0xB7, 0xBF, 0xA1])
            return bytes(b), "wrong_version"
        if r < 0.26:
            doc = json.loads(encode_json(c))
            doc["v"] = rng.choice([0, 2, "1", None, 1.5, [1]])
            return json.dumps(doc).encode(), "wrong_version"
        if r < 0.36:
            b = bytearray(encode_binary(c))
            for _ in range(rng.randrange(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            return bytes(b), "bitflip_binary"
        if r < 0.46:
            b = bytearray(encode_json(c))
            for _ in range(rng.randrange(1, 6)):
                b[rng.randrange(len(b))] = rng.choice(b'0123456789.,-e[]{}":nNaIf \xff')
            return bytes(b), "mutated_json"
        if r < 0.52:
            doc = json.loads(encode_json(c))
            bad = rng.choice(["NaN", "Infinity", "-Infinity", "1e999"])
            field_, i = rng.choice(["t_s", "acc_g", "gyro_dps", "rate_hz"]), rng.randrange(len(c))
            text = json.dumps(doc)
            if field_ == "rate_hz":
                text = text.replace('"rate_hz": 50.0', f'"rate_hz": {bad}')
            elif field_ == "t_s":
                vals = doc["t_s"]
                vals[i] = "X"
                text = json.dumps(doc).replace('"X"', bad)
            else:
                doc[field_] = doc[field_] or [[0, 0, 1]] * len(c)
                doc[field_][i] = ["X", 0, 0]
                text = json.dumps(doc).replace('"X"', bad)
            return text.encode(), "nan_inf"
        if r < 0.56:
            depth = rng.choice([100, 1000, 5000, 50000, 200000])
            inner = rng.choice(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth])
            where = rng.random()
            if where < 0.5:
                return inner.encode(), "nested_json"
            return ('{"v":1,"device":"x","t_s":[1],"acc_g":' + inner + "}").encode(), "nested_json"
        if r < 0.59:
            n = rng.choice([70000, 20000])
            return (b'{"v":1,"t_s":[' + b",".join([b"1"] * n) + b'],"acc_g":[]}'), "huge_json"
        if r < 0.5905:
            return b"{" + b" " * (1024 * 1024 + rng.randrange(1, 1000)) + b"}", "oversized"
        if r < 0.70:
            off = rng.choice([rng.uniform(-30, 30) * 365 * 86400, rng.uniform(0.5, 2) * 86400,
                              -rng.uniform(0.5, 2) * 86400, rng.uniform(1e9, 1e12),
                              -rng.uniform(1e9, 2e9), rng.uniform(10, 3600)])
            return self._enc(replace(c, t_s=c.t_s + off)), "time_off"
        if r < 0.76:
            seq = c.seq if c.seq is not None else np.arange(len(c), dtype=np.int64)
            jump = rng.choice([10**9, -10**6, 10**4, 2**31, -int(seq[0])])
            return self._enc(replace(c, seq=seq + jump)), "seq_jump"
        if r < 0.80:
            return self._enc(replace(c, rate_hz=rng.choice([1e4, 0.001, 500.0, 5.0, 49.0]))), "rate_absurd"
        if r < 0.84:
            return b'{"v":1,"device":"\xff\xfe","t_s":[1.0],"acc_g":[[0,0,1]]}' + rng.randbytes(8), "non_utf8"
        if r < 0.88:
            acc = self.np_rng.normal(0, rng.choice([1.0, 100.0, 1e30]), (len(c), 3))
            return self._enc(replace(c, acc_g=acc)), "absurd_values"
        if r < 0.92:
            return self._enc(replace(c, t_s=c.t_s[::-1].copy())), "not_increasing"
        return self._enc(c), "replayed_copy"

    def _status(self) -> tuple[bytes, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.25:
            return rng.randbytes(rng.randrange(0, 200)), "random_bytes"
        if r < 0.35:
            depth = rng.choice([1000, 100000])
            return ("[" * depth + "]" * depth).encode(), "nested_json"
        if r < 0.60:
            t = rng.choice([rng.uniform(0, 4.2e9), START_EPOCH_S + rng.uniform(-1e5, 1e5),
                            float("nan"), "x", None, 1e308])
            return json.dumps({"state": "end", "end_t_s": t}).encode(), "end_marker_forged"
        if r < 0.75:
            return json.dumps({"v": 1, "state": rng.choice(["online", "offline", "x" * 1000]),
                               "battery_pct": rng.choice([50, -1, 1e308, "full", None]),
                               "t_s": rng.choice([1e12, -5, START_EPOCH_S])}).encode(), "status_odd"
        if r < 0.85:
            return b"\xff\xfe{\"state\":1}", "non_utf8"
        return b'{"state":"online","pad":"' + b"x" * rng.choice([70000, 2000]) + b'"}', "huge_json"

    def _link(self) -> tuple[bytes, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return rng.randbytes(rng.randrange(0, 200)), "random_bytes"
        if r < 0.4:
            return ('{"kind":' * 5000 + "1" + "}" * 5000).encode(), "nested_json"
        start = START_EPOCH_S + rng.uniform(-1e6, 1e6)
        data = {"start_s": start, "end_s": start + rng.choice([1.0, -5.0, 1e9]),
                "samples_lost": rng.choice([10, 999940000, -1, 1.46e17, "x"])}
        return json.dumps({"kind": rng.choice(["gap", "connected", "x"]), "t_s": start,
                           "data": data, "device_id": "x"}).encode(), "gap_forged"

    def _cmd(self) -> tuple[bytes, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.2:
            return rng.randbytes(rng.randrange(0, 200)), "random_bytes"
        if r < 0.35:
            depth = rng.choice([100, 1000, 10000, 60000])
            inner = rng.choice(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth])
            return inner.encode(), "nested_json"
        if r < 0.45:
            return b'{"v":1,"cmd":"pain","score":\xff}', "non_utf8"
        if r < 0.55:
            return json.dumps({"v": 1, "cmd": "snooze", "minutes": rng.choice(
                [1e308, -1, float("nan"), "x", 10**30])}).encode().replace(b"NaN", b"NaN"), "cmd_bad_value"
        if r < 0.65:
            return json.dumps({"v": rng.choice([0, 2, None]), "cmd": rng.choice(["x", "", None, 5]),
                               "id": "q" * rng.choice([5, 5000])}).encode(), "cmd_unknown"
        if r < 0.75:
            return b'{"v":1,"cmd":"settings","values":{"a":' + b"[" * 3000 + b"]" * 3000 + b"}}", "nested_json"
        cmd = rng.choice(SAFE_COMMANDS)
        doc = {"v": 1, "cmd": cmd, "id": rng.randrange(10**6)}
        if cmd == "pain":
            doc["score"] = rng.choice([3, 11, -1, "x"])
        elif cmd == "snooze":
            doc["minutes"] = rng.choice([5, 0, 2000])
        elif cmd in ("acute", "extension_eases"):
            doc["on"] = rng.choice([True, False, "yes"])
        elif cmd == "settings":
            doc["values"] = {rng.choice(["tz", "nudge_after_min", "x"]): rng.choice([1, "Mars/Base", None])}
        b = json.dumps(doc).encode()
        if rng.random() < 0.3:
            b = bytearray(b)
            b[rng.randrange(len(b))] = rng.randrange(256)
            b = bytes(b)
        return b, "cmd_plausible"


# -- the run -----------------------------------------------------------------------------------
@dataclass
class Report:
    sent: int = 0
    sent_garbage: int = 0
    sent_good: int = 0
    delivered_expected: int = 0
    refused_by_client: int = 0
    labels: Counter = field(default_factory=Counter)
    who: Counter = field(default_factory=Counter)
    stats: dict = field(default_factory=dict)
    crashes: list = field(default_factory=list)
    rss_mb: dict = field(default_factory=dict)
    log_lines: Counter = field(default_factory=Counter)
    log_bytes: int = 0
    equal: bool = False
    stored_equal: bool = False
    mismatch: str = ""
    wall_s: float = 0.0
    accounted: int = 0
    not_settled: str = ""             # why the run stopped waiting for the pipeline, if it did

    @property
    def worker_errors(self) -> int:
        return int(self.stats.get("worker_errors", 0))


class _LogCount(logging.Handler):
    def __init__(self, crashes: list) -> None:
        super().__init__(logging.DEBUG)
        self.lines: Counter = Counter()
        self.bytes = 0
        self.crashes = crashes

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO:
            return
        self.lines[record.levelname] += 1
        try:
            self.bytes += len(self.format(record)) + 1
        except Exception:
            pass
        if record.name == "spinewise.mqtt" and "handler for" in record.getMessage():
            self.crashes.append(f"exception in paho's thread: {record.getMessage()}")


OUTCOMES = ("accepted", "rejected", "messages_other_shard", "dropped_at_shutdown")


def run_fuzz(rec: GoodRecording, mqtt_port: int, workdir: Path, *, messages: int, seed: int = 1,
             own_share: float = 0.15, unknown_devices: str = "reject", max_devices: int = 10000,
             prefix: str = PREFIX, progress: bool = False, settle_s: float = 600.0) -> Report:
    import paho.mqtt.client as paho

    from spinewise.config import from_dict
    from spinewise.mqtt import MqttClient
    from spinewise.pipeline import Pipeline

    report = Report()
    crashes = report.crashes
    old_hook = threading.excepthook
    threading.excepthook = lambda a: crashes.append(f"thread {a.thread.name}: {a.exc_type.__name__}: {a.exc_value}")
    counter = _LogCount(crashes)
    root = logging.getLogger()
    root.addHandler(counter)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)

    cfg = from_dict({
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": prefix, "keepalive_s": 30},
        "influx": {"backend": "local", "local_path": str(workdir / "local.sqlite")},
        "coaching": {"state_db": str(workdir / "coach.sqlite")},
        "pipeline": {"state_dir": str(workdir / "state"), "client_id": f"pl-{prefix}",
                     "stats_interval_s": 5.0, "reorder_wait_s": 2.0,
                     "unknown_devices": unknown_devices, "max_devices": max_devices},
        "devices": [{"id": GOOD_DEVICE, "user": GOOD_USER}, {"id": OTHER_DEVICE, "user": OTHER_USER}],
    })
    topics = Topics(prefix)
    filters = [topics.device(ANY, k) for k in ("imu", "status", "link")] + [topics.user(ANY, "cmd")]
    pipeline = Pipeline(cfg)
    pipeline.start()
    fuzzer = MqttClient(cfg.mqtt, f"fuzzer-{prefix}", clean_session=True)
    assert fuzzer.connect(10), "fuzzer could not connect"
    report.rss_mb["start"] = rss_mb()
    rng = random.Random(seed)
    gen = Garbage(rng, topics, own_share)
    good = rec.chunks
    per_good = max(1, messages // max(len(good), 1))
    window: list = []
    t0 = time.monotonic()
    g = 0                                 # good chunks sent
    next_report = max(messages // 10, 1)

    def send(topic: str, payload: bytes) -> None:
        info = fuzzer.publish_nowait(topic, payload, qos=1)
        window.append(info)
        if len(window) >= 400:
            for i in window[:200]:
                try:
                    i.wait_for_publish(60)
                except (ValueError, RuntimeError):
                    pass
            del window[:200]
        report.sent += 1
        if any(paho.topic_matches_sub(f, topic) for f in filters):
            report.delivered_expected += 1

    try:
        for k in range(messages):
            if g < len(good) and k % per_good == 0:
                c = good[g]
                send(topics.device(GOOD_DEVICE, "imu"), gen._enc(c))
                gen.sent.append(c)
                if len(gen.sent) > 200:
                    del gen.sent[:100]
                g += 1
                report.sent_good += 1
            topic, payload, label, who = gen.next()
            report.labels[label] += 1
            report.who[who] += 1
            if who == "wildcard" or "+" in topic or "#" in topic:
                report.refused_by_client += 1          # not a publishable topic name
                continue
            send(topic, payload)
            report.sent_garbage += 1
            if k + 1 == max(messages // 20, 1):
                report.rss_mb["warm"] = rss_mb()
            if progress and (k + 1) % next_report == 0:
                print(f"  {k + 1:>9} garbage  {time.monotonic() - t0:7.0f} s  rss {rss_mb():6.1f} MB  "
                      f"pipeline messages_in {int(pipeline.counters.get('messages_in'))}", flush=True)
        while g < len(good):
            c = good[g]
            send(topics.device(GOOD_DEVICE, "imu"), gen._enc(c))
            g += 1
            report.sent_good += 1
        for i in window:
            i.wait_for_publish(60)
        end_t = float(good[-1].t_s[-1])
        fuzzer.publish(topics.device(GOOD_DEVICE, "status"),
                       json.dumps({"state": "end", "end_t_s": end_t, "samples": sum(map(len, good))}))
        report.sent += 1
        report.delivered_expected += 1
        deadline = time.monotonic() + settle_s
        session = None
        while True:
            session = pipeline.sessions.get(GOOD_DEVICE)
            waiting = []
            if pipeline.counters.get("messages_in") < report.delivered_expected:
                waiting.append(f"messages_in {int(pipeline.counters.get('messages_in'))} < "
                               f"{report.delivered_expected} delivered")
            if session is None or session.last_summary is None:
                waiting.append("the good stream not finished" + (
                    "" if session is None else f" (end_t_s={session.end_t_s}, last sample "
                    f"{session.buffer.last_t_s}, newest {session.buffer.newest_t_s}, pending "
                    f"{session.pending_samples}, end markers ignored {session.stats.end_markers_ignored})"))
            if not waiting and pipeline.wait_idle(1.0):
                break
            if time.monotonic() > deadline:
                report.not_settled = "; ".join(waiting) or "samples still held back"
                break
            time.sleep(0.2)
        worker_alive = pipeline._worker.is_alive()
    finally:
        fuzzer.close()
        pipeline.stop()
        threading.excepthook = old_hook
        root.removeHandler(counter)
    report.wall_s = time.monotonic() - t0
    report.rss_mb["end"] = rss_mb()
    if not worker_alive:
        crashes.append("the pipeline's worker thread died")
    st = pipeline.stats()
    report.stats = st
    report.accounted = int(sum(st.get(k, 0) for k in OUTCOMES))
    report.log_lines = counter.lines
    report.log_bytes = counter.bytes

    # the good stream against analyze
    ref = comparable(rec.reference, 0.0)
    session = pipeline.sessions.get(GOOD_DEVICE)
    got = comparable(session.last_summary, START_EPOCH_S) if session and session.last_summary else None
    report.equal = got == ref
    if not report.equal:
        report.mismatch = _diff(got, ref)
    report.stored_equal = _stored_matches(cfg.influx.local_path, rec.reference)
    return report


def _diff(got, ref) -> str:
    if got is None:
        return "the good stream was never finished"
    out = []
    for k in ref:
        if got.get(k) != ref[k]:
            if isinstance(ref[k], dict):
                keys = sorted(set(ref[k]) | set(got.get(k, {})))
                out.append(f"{k}: " + ", ".join(f"{x} live={got[k].get(x)} analyze={ref[k].get(x)}"
                                                 for x in keys if got[k].get(x) != ref[k].get(x)))
            else:
                out.append(f"{k}: live={got.get(k)} analyze={ref[k]}")
    return "; ".join(out)


def _stored_matches(local_path: str, reference: dict) -> bool:
    """The set, rep and hold points stored for the good device are what analyze found."""
    from spinewise.storage.local import LocalStore

    store = LocalStore(local_path)
    try:
        sets = [r for r in store.rows("set") if r.get("device") == GOOD_DEVICE]
        reps = [r for r in store.rows("rep") if r.get("device") == GOOD_DEVICE]
        holds = [r for r in store.rows("hold") if r.get("device") == GOOD_DEVICE]
    finally:
        close = getattr(store, "close", None)
        if close:
            close()
    ref_sets = reference.get("sets", [])
    return (sorted((r.get("exercise"), r.get("reps")) for r in sets)
            == sorted((s["exercise"], s["reps"]) for s in ref_sets)
            and len(reps) == sum(s["reps"] for s in ref_sets)
            and len(holds) == len(reference.get("holds", [])))


def print_report(r: Report, messages: int) -> None:
    st = r.stats
    print(f"messages: {r.sent} published ({r.sent_garbage} garbage, {r.sent_good} good chunks, "
          f"1 end marker), {r.refused_by_client} garbage refused by the client library "
          f"(+, # or control characters in the topic name), wall {r.wall_s:.0f} s")
    print(f"delivered to the pipeline's subscriptions (expected): {r.delivered_expected}; "
          f"pipeline messages_in: {int(st.get('messages_in', 0))}; "
          f"accepted + rejected + other outcomes: {r.accounted} -> every message counted: "
          f"{r.accounted == st.get('messages_in') == r.delivered_expected}")
    print(f"crashes: {len(r.crashes)}" + "".join(f"\n  {c}" for c in r.crashes[:10]))
    print(f"worker_errors: {r.worker_errors} " + " ".join(
        f"{k}={int(v)}" for k, v in st.items() if k.startswith("worker_errors.")))
    print("rss MB: " + "  ".join(f"{k} {v:.1f}" for k, v in r.rss_mb.items())
          + (f"  (growth after warm-up {r.rss_mb['end'] - r.rss_mb['warm']:+.1f} MB)"
             if "warm" in r.rss_mb else ""))
    print("rejected by reason:")
    for k, v in sorted(((k, v) for k, v in st.items() if k.startswith("rejected.")), key=lambda kv: -kv[1]):
        print(f"  {k[len('rejected.'):]:<22} {int(v)}")
    print("accepted: " + " ".join(f"{k[len('accepted.'):]}={int(v)}" for k, v in st.items()
                                  if k.startswith("accepted.")))
    keys = ("samples_in", "samples_processed", "samples_duplicates", "samples_late", "gaps",
            "samples_lost", "jumps_confirmed", "candidates_refuted", "samples_unconfirmed",
            "end_markers_ignored", "devices", "commands", "commands_rejected", "coach_errors")
    print("stream: " + " ".join(f"{k}={int(st.get(k, 0))}" for k in keys))
    print("garbage sent by label: " + " ".join(f"{k}={v}" for k, v in r.labels.most_common()))
    print("garbage by target: " + " ".join(f"{k}={v}" for k, v in r.who.most_common()))
    print(f"log lines (INFO and above): {dict(r.log_lines)}, {r.log_bytes} bytes")
    if r.not_settled:
        print(f"NOT SETTLED: {r.not_settled}")
    print(f"good stream equals analyze: {r.equal}" + (f"  ({r.mismatch})" if r.mismatch else ""))
    print(f"stored sets/reps/holds equal analyze: {r.stored_equal}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration-s", type=float, default=1200.0, help="length of the good recording")
    ap.add_argument("--own-share", type=float, default=0.15,
                    help="share of garbage on the good device's and user's own topics")
    ap.add_argument("--unknown-devices", choices=("reject", "accept"), default="reject")
    ap.add_argument("--max-devices", type=int, default=10000)
    ap.add_argument("--log-file", default="", help="pipeline log (default: a temporary file)")
    args = ap.parse_args(argv)

    from tests.servers import Mosquitto

    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        tmp = Path(tmp)
        logging.basicConfig(level=logging.INFO, filename=args.log_file or str(tmp / "pipeline.log"),
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        print(f"good recording: {args.duration_s:.0f} s simulated (seed {args.seed + 20261200}) ...", flush=True)
        rec = make_recording(tmp, args.duration_s, args.seed + 20261200)
        print(f"  {len(rec.chunks)} chunks, analyze: {len(rec.reference['sets'])} sets, "
              f"{sum(s['reps'] for s in rec.reference['sets'])} reps, {len(rec.reference['holds'])} holds",
              flush=True)
        broker = Mosquitto(None, tmp / "mosquitto")
        broker.start()
        try:
            r = run_fuzz(rec, broker.port, tmp, messages=args.messages, seed=args.seed,
                         own_share=args.own_share, unknown_devices=args.unknown_devices,
                         max_devices=args.max_devices, progress=True)
        finally:
            broker.cleanup()
        print_report(r, args.messages)
        log_path = Path(args.log_file or tmp / "pipeline.log")
        if log_path.exists():
            print(f"log file: {log_path.stat().st_size} bytes")
    ok = (not r.crashes and r.worker_errors == 0 and r.equal
          and r.accounted == r.stats.get("messages_in") == r.delivered_expected)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
