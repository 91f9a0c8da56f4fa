"""The live service: MQTT in -> per-device sessions -> events, state, coaching, storage out.

Threads and ownership:

- paho's network thread (subscriber client) runs :meth:`Pipeline._on_message`, which only puts
  ``(kind, key, payload, arrival)`` on a bounded queue. When the queue is full it *blocks*: paho
  sends the PUBACK after the handler returns, so a slow worker makes the broker hold messages
  in our persistent session (backpressure) instead of us dropping acknowledged data.
- one worker thread owns every DeviceSession, the coach and storage writes. It drains the
  queue in batches, coalesces consecutive IMU messages per device into one Analyzer call
  (results do not depend on chunking), and runs the housekeeping timers.
- a second MQTT client (clean session) publishes; separating it lets shutdown disconnect the
  subscriber first (unacknowledged messages stay with the broker) while the worker drains
  the queue and still publishes what those messages produce.

Topics (``p`` = MqttConfig.prefix)::

    in   p/<device>/imu      sensor samples (spinewise.ingest.payload, JSON or binary v1)
    in   p/<device>/status   gateway status (stored as device_status); {"state": "end",
                             "end_t_s": ..} = end of stream (not stored)
    in   p/<device>/events   the gateway's own events (Event.to_dict(): kind, t_s, data,
                             device_id); its ``gap`` events are stored. Our own messages on
                             that topic (they carry ``user``) are recognised and ignored.
    in   p/<user>/cmd        user commands (spinewise.coaching.commands)
    out  p/<device>/events   one JSON Event per message (posture at most 1 Hz per device)
    out  p/<device>/state    retained live figures (activity, trunk angle, reps/sedentary today)
    out  p/<user>/...        coaching output (nudge, coach, plan, cmd/reply)
    out  p/$sys/pipeline/stats   retained counters every stats_interval_s (also stored)
    out  p/$sys/pipeline/status  retained online/offline (last will)

Scaling out: one process sustains a few hundred sensors at 50 Hz (the Analyzer is the cost).
``PipelineConfig.shard = "i/N"`` runs process i of N: every process receives every message and
keeps only users with ``crc32(user) % N == i`` (a user's sensors, commands and coaching state
stay together), with its own persistent session, snapshots and stats topic.

Storage: every event of the sessions, coaching events, gateway status and gap events, the
``pipeline`` counters and, with ``InfluxConfig.raw_imu``, every accepted sample
(``points_from_chunk``); one storage write per worker cycle.

Outgoing messages go through a bounded :class:`~spinewise.pipeline.outbox.Outbox`: while the
broker is away, events wait up to ``pipeline.outbox_max`` (oldest dropped, counted
``outbox_dropped.event``), retained state keeps the latest payload per topic and nudges and
command replies are kept; paho itself never holds more than the outbox's in-flight limit.

Session time: a DeviceSession runs its Analyzer on seconds since the start of the minute of the
session's first sample (see spinewise.pipeline.device) and maps events back to epoch seconds.
The Analyzer's epochs fall on whole seconds of *its* time axis, so this puts them on whole
clock seconds and minutes, and it keeps times small: fed raw epoch seconds (float64 resolves
only 0.24 us at 1.7e9 s, and the signal chain rounds and compares times) the same samples
would give results that depend on the day and hour. What remains is the sub-minute phase of
the first sample, as for any epoch grid: a stream starting at 10:00:37.37 is analysed exactly
like the same samples timed from 37.37 s (tests/pipeline/test_device.py), and a replay whose
first sample is on a whole minute equals ``spinewise analyze`` on the file.

Unknown devices (not in Config.devices): PipelineConfig.unknown_devices = "accept" analyses
them with user = device id and counts ``unknown_device_messages``; "reject" drops them and
counts ``rejected.unknown_device``.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spinewise.config import Config, ConfigError
from spinewise.events import Event
from spinewise.jsonwire import dumps
from spinewise.mqtt import MqttClient, Will, topic
from spinewise.pipeline.counters import Counters
from spinewise.pipeline.device import DeviceSession
from spinewise.pipeline.outbox import Outbox
from spinewise.pipeline.snapshot import SnapshotStore
from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

POSTURE_MQTT_PERIOD_S = 1.0     # posture on MQTT: at most one per second per device (all stored)
MAX_BATCH_MESSAGES = 4000       # messages one worker cycle takes off the queue
QUEUE_BLOCK_WARN_S = 5.0
GATEWAY_EVENT_KINDS = frozenset({"gap"})   # gateway events the pipeline stores


@dataclass
class _Item:
    kind: str            # "imu" | "status" | "events" | "cmd"
    key: str             # device or user
    payload: bytes
    arrival: float       # monotonic


def default_analyzer_factory(cfg: Config) -> Callable[[str, float], object]:
    from spinewise.signal.analyzer import Analyzer

    def make(device_id: str, rate_hz: float):
        return Analyzer(cfg.signal, device_id, rate_hz)
    return make


class Pipeline:
    def __init__(self, cfg: Config, *, storage=None, coach=None,
                 analyzer_factory: Callable[[str, float], object] | None = None,
                 client_factory: Callable[..., MqttClient] = MqttClient) -> None:
        pc = cfg.pipeline
        if pc.unknown_devices not in ("accept", "reject"):
            raise ConfigError(f"pipeline.unknown_devices: {pc.unknown_devices!r} is not accept or reject")
        if pc.queue_max < 1 or pc.reorder_wait_s < 0 or pc.outbox_max < 1:
            raise ConfigError("pipeline.queue_max and outbox_max must be >= 1 and reorder_wait_s >= 0")
        self.cfg = cfg
        self.prefix = cfg.mqtt.prefix
        self.counters = Counters()
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=pc.queue_max)
        self.sessions: dict[str, DeviceSession] = {}
        self.shard = parse_shard(pc.shard)
        state_dir = pc.state_dir if self.shard is None else \
            f"{pc.state_dir.rstrip('/')}/shard{self.shard[0]}of{self.shard[1]}"
        self.snapshots = SnapshotStore(state_dir)          # each shard keeps its own
        if storage is None:
            from spinewise.storage import open_storage
            storage = open_storage(cfg.influx)
        self.storage = storage
        self._own_coach_store = None
        if coach is None:
            from spinewise.coaching.service import CoachService
            from spinewise.coaching.store import CoachStore
            self._own_coach_store = CoachStore(str(_expand(cfg.coaching.state_db)))
            coach = CoachService(cfg, self._own_coach_store)
        self.coach = coach
        self.analyzer_factory = analyzer_factory or default_analyzer_factory(cfg)
        self._devices = {d.id: d for d in cfg.devices}
        self._primary: dict[str, str] = {}          # user -> device whose day events coach sees
        for d in cfg.devices:
            self._primary.setdefault(d.user, d.id)
        instance = ("pipeline",) if self.shard is None else ("pipeline", f"shard{self.shard[0]}of{self.shard[1]}")
        self.topic_stats = topic(self.prefix, "$sys", *instance, "stats")
        self.topic_status = topic(self.prefix, "$sys", *instance, "status")
        client_id = pc.client_id if self.shard is None else f"{pc.client_id}-{instance[1]}"
        self.sub = client_factory(cfg.mqtt, client_id, clean_session=False)
        self.pub = client_factory(cfg.mqtt, client_id + "-out", clean_session=True,
                                  will=Will(self.topic_status, dumps({"state": "offline"}), 1, True))
        self.outbox = Outbox(self.pub, self.counters, events_max=pc.outbox_max, keep_max=pc.outbox_max)
        self._status_seen: dict[str, bytes] = {}     # device -> last stored status payload
        self._worker = threading.Thread(target=self._run, name="pipeline-worker", daemon=True)
        self._stopping = threading.Event()
        self._abort = threading.Event()           # stop() gave up waiting for the backlog
        self._started = False
        self._arrival: dict[str, float] = {}        # device -> monotonic time of last message
        self._dirty: set[str] = set()               # devices whose state message is stale
        self._posture_sent: dict[str, float] = {}   # device -> event time of last posture publish
        self._unknown_warned: set[str] = set()
        self._latency_s: list[float] = []           # arrival -> events published, last cycle(s)
        self._points: list = []                     # storage points of this worker cycle
        self._enqueued = 0                          # items put on the queue (MQTT thread)
        self._done = 0                              # items fully processed (worker)
        now = time.monotonic()
        self._next = {"state": now, "stats": now + pc.stats_interval_s,
                      "snapshot": now + pc.snapshot_interval_s}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, connect_timeout_s: float = 10.0) -> None:
        self._restore()
        p = self.prefix
        self.sub.subscribe(topic(p, "+", "imu"), self._handler("imu"), qos=1)
        self.sub.subscribe(topic(p, "+", "status"), self._handler("status"), qos=1)
        self.sub.subscribe(topic(p, "+", "events"), self._handler("events"), qos=1)
        self.sub.subscribe(topic(p, "+", "cmd"), self._handler("cmd"), qos=1)
        self._worker.start()
        self._started = True
        self.pub.connect(connect_timeout_s, wait=False)
        if self.sub.connect(connect_timeout_s):
            self.pub.connected.wait(connect_timeout_s)
        else:   # same broker: waiting a second timeout for the publisher would only delay start
            log.warning("mqtt broker %s:%s not reachable yet; retrying in the background",
                        self.cfg.mqtt.host, self.cfg.mqtt.port)
        self.outbox.send(self.topic_status, dumps({"state": "online"}), qos=1, retain=True)
        self._publish_discovery()
        log.info("pipeline started prefix=%s client_id=%s devices_restored=%d",
                 p, self.cfg.pipeline.client_id, len(self.sessions))

    def stop(self, timeout_s: float = 60.0) -> None:
        """Clean shutdown: stop taking messages, drain, snapshot, flush storage and MQTT."""
        if not self._started:
            return
        self._started = False
        log.info("pipeline stopping queue_depth=%d", self.queue.qsize())
        # Disconnect the subscriber first: what the broker has not had a PUBACK for stays in
        # our persistent session; everything acknowledged is already on the queue.
        self.sub.close()
        self._stopping.set()              # the worker exits once the queue is drained
        self._worker.join(timeout_s)
        if self._worker.is_alive():
            # A backlog longer than the stop timeout: stop at the next cycle boundary (state stays
            # consistent) and say how many acknowledged messages are lost.
            self._abort.set()
            self._worker.join(30.0)
            lost = self.queue.qsize()
            self.counters.inc("dropped_at_shutdown", lost)
            log.error("pipeline backlog not drained in %.0f s: %d messages dropped", timeout_s, lost)
        self._publish_states(force=True)
        self._publish_stats()
        self._write_points()
        self._snapshot_all()
        self._drain_outbox(5.0)
        try:
            self.storage.close()
        except Exception:
            log.exception("storage close failed")
        if self._own_coach_store is not None:
            self._own_coach_store.close()
        self.pub.publish(self.topic_status, dumps({"state": "offline", "reason": "stopped"}),
                         qos=1, retain=True, timeout_s=5.0)   # PUBACK: all queued before it went out
        self.pub.close()
        log.info("pipeline stopped %s", _kv(self.counters.snapshot(), ("messages_in",
                 "samples_processed", "events", "rejected")))

    def __enter__(self) -> "Pipeline":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- MQTT thread -----------------------------------------------------------------------
    def _handler(self, kind: str):
        def handle(topic_name: str, payload: bytes) -> None:
            if kind == "events" and b'"device_id"' not in payload:
                return      # our own event messages (they carry "device", "user"): not input
            parts = topic_name.split("/")
            key = parts[-2] if len(parts) >= 2 else ""
            if self.shard is not None and not self._mine(kind, key):
                self.counters.inc("messages_other_shard")
                return
            self.counters.inc("messages_in", reason=kind)
            item = _Item(kind, key, bytes(payload), time.monotonic())
            waited = 0.0
            while True:
                try:
                    self.queue.put(item, timeout=1.0)
                    self._enqueued += 1         # only this (paho) thread writes it
                    return
                except queue.Full:
                    waited += 1.0
                    if waited == QUEUE_BLOCK_WARN_S:
                        log.warning("pipeline queue full (%d): holding MQTT intake (backpressure)",
                                    self.queue.maxsize)
                    self.counters.inc("queue_full_waits")
        return handle

    def _mine(self, kind: str, key: str) -> bool:
        user = key if kind == "cmd" else self.cfg.user_of(key)
        return zlib.crc32(user.encode()) % self.shard[1] == self.shard[0]

    # -- worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._abort.is_set():
            stop = self._stopping.is_set() and self.queue.empty()   # checked before draining
            items = self._drain()
            try:
                self._process(items)
                self._housekeeping(time.monotonic())
            except Exception:      # the worker must survive a bug in one device's processing
                log.exception("pipeline worker cycle failed")
                self.counters.inc("worker_errors")
            self._write_points()
            self._done += len(items)
            if stop and not items:
                break

    def _drain(self) -> list[_Item]:
        try:
            items = [self.queue.get(timeout=0.05)]
        except queue.Empty:
            return []
        while len(items) < MAX_BATCH_MESSAGES:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _process(self, items: list[_Item]) -> None:
        pending: dict[str, list[ImuChunk]] = {}
        arrivals: list[float] = []
        for item in items:
            if item.kind == "imu":
                chunk = self._decode(item)
                if chunk is not None:
                    pending.setdefault(item.key, []).append(chunk)
                    self._arrival[item.key] = item.arrival
                    arrivals.append(item.arrival)
                continue
            # status / commands act between the samples that came before and after them
            self._ingest(pending)
            pending = {}
            if item.kind == "status":
                self._on_status(item)
            elif item.kind == "events":
                self._on_gateway_event(item)
            elif item.kind == "cmd":
                self._on_command(item)
        self._ingest(pending)
        if arrivals:
            now = time.monotonic()
            self._latency_s.extend(now - a for a in arrivals)
            if len(self._latency_s) > 200_000:      # bounded between two stats intervals
                del self._latency_s[:100_000]
            self.counters.set("latency_last_ms", round(1000 * (now - arrivals[-1]), 1))

    def _decode(self, item: _Item) -> ImuChunk | None:
        from spinewise.ingest.payload import PayloadError, decode

        if not self._device_allowed(item.key):
            return None
        try:
            chunk = decode(item.payload)
        except PayloadError as exc:
            self.counters.inc("rejected", reason=exc.reason)
            log.info("device=%s rejected payload reason=%s detail=%s", item.key, exc.reason,
                     exc.detail[:200])
            return None
        except Exception as exc:     # a decoder bug is a rejection, never a dead worker
            self.counters.inc("rejected", reason="decoder_error")
            log.exception("device=%s payload decoder failed: %s", item.key, exc)
            return None
        if chunk.device_id != item.key:
            # the topic is authoritative (broker ACLs are per topic); count the disagreement
            self.counters.inc("device_id_mismatch")
        self.counters.inc("samples_in", len(chunk))
        return chunk

    def _device_allowed(self, device_id: str) -> bool:
        if not device_id or device_id.startswith("$"):
            self.counters.inc("rejected", reason="bad_topic")
            return False
        if device_id in self._devices:
            return True
        if self.cfg.pipeline.unknown_devices == "reject":
            self.counters.inc("rejected", reason="unknown_device")
            if device_id not in self._unknown_warned:
                self._unknown_warned.add(device_id)
                log.warning("device=%s not in config: rejected (pipeline.unknown_devices=reject)",
                            device_id)
            return False
        self.counters.inc("unknown_device_messages")
        if device_id not in self._unknown_warned:
            self._unknown_warned.add(device_id)
            log.warning("device=%s not in config: accepted with user=%s", device_id, device_id)
        return True

    def _session(self, device_id: str, rate_hz: float) -> DeviceSession:
        s = self.sessions.get(device_id)
        if s is None:
            dev = self._devices.get(device_id)
            s = DeviceSession(device_id, self.cfg.user_of(device_id), self.analyzer_factory,
                              rate_hz=dev.rate_hz if dev else rate_hz,
                              reorder_wait_s=self.cfg.pipeline.reorder_wait_s, day_of=self._day_of)
            self.sessions[device_id] = s
            self._primary.setdefault(s.user, device_id)
            self.counters.set("devices", len(self.sessions))
            log.info("device=%s user=%s new session", device_id, s.user)
        return s

    def _day_of(self, t_s: float) -> str:
        from spinewise.coaching.localtime import local_date
        return local_date(t_s, self.cfg.coaching.timezone).isoformat()

    def _ingest(self, pending: dict[str, list[ImuChunk]]) -> None:
        for device_id, chunks in pending.items():
            s = self._session(device_id, chunks[0].rate_hz)
            before = s.stats.samples
            before_counts = s.buffer.counts.as_dict()
            events = s.ingest(chunks)
            if self.cfg.influx.raw_imu:
                self._store_raw(chunks, s.user, device_id)
            self.counters.inc("samples_processed", s.stats.samples - before)
            self._count_reorder(before_counts, s)
            self._dispatch(s, events)

    def _count_reorder(self, before: dict, s: DeviceSession) -> None:
        after = s.buffer.counts.as_dict()
        for name in ("duplicates", "late", "time_backwards", "gaps", "samples_lost", "seq_resets"):
            self.counters.inc(f"samples_{name}" if name in ("duplicates", "late", "time_backwards")
                              else name, after[name] - before[name])

    # -- outputs ---------------------------------------------------------------------------
    def _dispatch(self, s: DeviceSession, events: list[Event]) -> None:
        if not events:
            return
        self._dirty.add(s.device_id)
        self.counters.inc("events", len(events))
        self._publish_events(s, events)
        self._store(events, s.user, s.device_id)
        coach_events = events
        if self._primary.get(s.user, s.device_id) != s.device_id:
            # A user with several sensors: day figures (minutes, breaks) come from the primary
            # sensor only, or sitting would be counted once per sensor. Exercise counts from all.
            coach_events = [e for e in events if e.kind not in
                            ("minute", "break", "sedentary_bout", "activity")]
        try:
            outs = self.coach.on_events(s.user, coach_events)
        except Exception:
            log.exception("user=%s coaching failed on %d events", s.user, len(coach_events))
            self.counters.inc("coach_errors")
            return
        self._apply_outgoing(s.user, outs)

    def _publish_events(self, s: DeviceSession, events: list[Event]) -> None:
        t_topic = topic(self.prefix, s.device_id, "events")
        for ev in events:
            qos = 1
            if ev.kind == "posture":
                last = self._posture_sent.get(s.device_id)
                if last is not None and ev.t_s - last < POSTURE_MQTT_PERIOD_S:
                    continue
                self._posture_sent[s.device_id] = ev.t_s
                qos = 0
            doc = {"kind": ev.kind, "t_s": ev.t_s, "device": s.device_id, "user": s.user,
                   "data": ev.data}
            self.outbox.send(t_topic, dumps(doc), qos=qos, cls="event")
            self.counters.inc("events_published")

    def _store(self, events: list[Event], user: str, device: str) -> None:
        from spinewise.storage import SchemaError, points_from_event

        points = []
        for ev in events:
            try:
                points += points_from_event(ev, user, device,
                                            angle_rate_hz=self.cfg.influx.angle_rate_hz)
            except SchemaError as exc:
                self.counters.inc("events_unstorable", reason=ev.kind)
                log.warning("device=%s event kind=%s not storable: %s", device, ev.kind, exc)
        self._points += points

    def _store_raw(self, chunks: list[ImuChunk], user: str, device: str) -> None:
        """InfluxConfig.raw_imu: every accepted sample at full rate. Duplicates delivered twice
        (at-least-once MQTT) map to the same key and overwrite, so no dedup is needed here."""
        from spinewise.storage import SchemaError, points_from_chunk

        for chunk in chunks:
            try:
                self._points += points_from_chunk(chunk, user, device)
            except SchemaError as exc:
                self.counters.inc("events_unstorable", reason="imu")
                log.warning("device=%s raw samples not storable: %s", device, exc)

    def _write_points(self) -> None:
        """One storage write per worker cycle: one SQLite transaction / one batch append."""
        points, self._points = self._points, []
        if not points:
            return
        try:
            self.storage.write(points)
        except Exception:
            log.exception("storage write of %d points failed", len(points))
            self.counters.inc("storage_errors", len(points))

    def _apply_outgoing(self, user: str, outs) -> None:
        for out in outs:
            if out.topic:
                self.outbox.send(out.topic, out.payload_bytes(), qos=out.qos, retain=out.retain)
                if out.suffix == "nudge" and out.payload.get("type") == "nudge":
                    self.counters.inc("nudges")
                    log.info("user=%s nudge reason=%s", user, out.payload.get("reason"))
            if out.event is not None:
                dev = out.event.device_id
                self._store([out.event], user, "" if dev in ("", "local") else dev)
            if out.action == "calibrate":
                for s in self._sessions_of(user):
                    log.info("device=%s user=%s calibration requested", s.device_id, user)
                    self._dispatch(s, s.calibrate())
            elif out.action == "announce":
                for s in self._sessions_of(user):
                    self._dispatch(s, s.announce(out.payload.get("exercise")))

    def _sessions_of(self, user: str) -> list[DeviceSession]:
        sessions = [s for s in self.sessions.values() if s.user == user]
        for d in self.cfg.devices:          # configured but not yet seen: create so it applies
            if d.user == user and d.id not in self.sessions:
                sessions.append(self._session(d.id, d.rate_hz))
        return sessions

    # -- status and commands ---------------------------------------------------------------
    def _on_status(self, item: _Item) -> None:
        try:
            doc = json.loads(item.payload)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            self.counters.inc("rejected", reason="bad_status")
            return
        if doc.get("state") != "end":
            self._store_status(item, doc)
            return
        if not self._device_allowed(item.key):
            return
        end_t = doc.get("end_t_s")
        end_t = float(end_t) if isinstance(end_t, (int, float)) and not isinstance(end_t, bool) else None
        s = self.sessions.get(item.key)
        if s is None:
            return
        log.info("device=%s end of stream end_t_s=%s", item.key, end_t)
        self._dispatch(s, s.request_end(end_t))
        self._arrival[item.key] = item.arrival

    def _store_status(self, item: _Item, doc: dict) -> None:
        """Gateway status (battery, RSSI, rate, link) -> ``device_status``. The document carries
        no time: it is stamped with its arrival (wall clock; this is the adapter layer) unless it
        has ``t_s``. A retained status is delivered again on every (re)subscription: an
        identical payload is stored once."""
        if not self._device_allowed(item.key):
            return
        if self._status_seen.get(item.key) == item.payload:
            return
        self._status_seen[item.key] = item.payload
        t_s = doc.get("t_s")
        if isinstance(t_s, bool) or not isinstance(t_s, (int, float)):
            t_s = time.time() - (time.monotonic() - item.arrival)
        self.counters.inc("status_in")
        self._store([Event("status", float(t_s), doc, item.key)], self.cfg.user_of(item.key), item.key)

    def _on_gateway_event(self, item: _Item) -> None:
        """A gateway event (``Event.to_dict()``): its gaps are stored. The reorder buffer sees the
        same hole as a jump in ``seq`` and declares it with the same start, so the key is the
        same and InfluxDB keeps one point."""
        try:
            doc = json.loads(item.payload)
            if not isinstance(doc, dict) or "user" in doc:
                return                   # not the gateway's format (one of our own messages)
            ev = Event.from_dict(doc)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            self.counters.inc("rejected", reason="bad_event")
            return
        if ev.kind not in GATEWAY_EVENT_KINDS:
            self.counters.inc("gateway_events_ignored")
            return
        if not self._device_allowed(item.key):
            return
        self.counters.inc("gateway_events", reason=ev.kind)
        self._store([ev], self.cfg.user_of(item.key), item.key)

    def _on_command(self, item: _Item) -> None:
        user = item.key
        t_s = None
        try:
            doc = json.loads(item.payload)
            has_time = isinstance(doc, dict) and doc.get("t_s") is not None
        except (ValueError, UnicodeDecodeError):
            has_time = True          # let the coach produce the error reply
        if not has_time:
            # event time of the command: the user's latest sample time (replays run in the past),
            # else the wall clock (a live user whose sensor has not sent anything yet)
            times = [s.live.t_s for s in self.sessions.values() if s.user == user and s.live.t_s]
            t_s = max(times) if times else time.time()
        self.counters.inc("commands")
        try:
            outs = self.coach.on_command(user, item.payload, t_s=t_s)
        except Exception:
            log.exception("user=%s command failed", user)
            self.counters.inc("coach_errors")
            return
        for out in outs:
            if out.suffix == "cmd/reply" and not out.payload.get("ok", True):
                self.counters.inc("commands_rejected")
        self._apply_outgoing(user, outs)

    def _publish_discovery(self) -> None:
        users: dict[str, list[str]] = {}
        for d in self.cfg.devices:
            users.setdefault(d.user, []).append(d.id)
        for user, ids in users.items():
            try:
                self._apply_outgoing(user, self.coach.discovery(user, ids))
            except Exception:
                log.exception("user=%s discovery failed", user)

    # -- housekeeping (wall clock: this is the adapter layer) ------------------------------
    def _housekeeping(self, now: float) -> None:
        self.outbox.pump()
        wait = self.cfg.pipeline.reorder_wait_s
        for device_id, s in list(self.sessions.items()):
            silent = now - self._arrival.get(device_id, now) >= wait
            if silent and (s.buffer.pending_samples or s.end_t_s is not None):
                before = s.stats.samples
                events = s.flush()
                self.counters.inc("samples_processed", s.stats.samples - before)
                self._dispatch(s, events)
        if now >= self._next["state"]:
            self._next["state"] = now + self.cfg.pipeline.state_interval_s
            self._publish_states()
        if now >= self._next["stats"]:
            self._next["stats"] = now + self.cfg.pipeline.stats_interval_s
            self._publish_stats()
        if now >= self._next["snapshot"]:
            self._next["snapshot"] = now + self.cfg.pipeline.snapshot_interval_s
            self._snapshot_all()

    def _publish_states(self, force: bool = False) -> None:
        devices = list(self.sessions) if force else sorted(self._dirty)
        self._dirty.clear()
        for device_id in devices:
            s = self.sessions[device_id]
            self.outbox.send(topic(self.prefix, device_id, "state"),
                             dumps(s.live.payload(device_id, s.user)), qos=1, retain=True)

    def stats(self) -> dict:
        self.counters.set("queue_depth", self.queue.qsize())
        self.counters.set("outbox_depth", self.outbox.depth())
        self.counters.set("devices", len(self.sessions))
        try:
            st = self.storage.stats()
        except Exception:
            st = {}
        for k in ("points_written", "points_spooled", "points_rejected", "spool_depth",
                  "points_dropped", "write_errors"):
            if k in st:
                self.counters.set(f"storage_{k}" if not k.startswith("points") else k, st[k])
        if self._latency_s:
            lat = np.asarray(self._latency_s)
            self._latency_s = []
            self.counters.set("latency_p50_ms", round(float(np.percentile(lat, 50)) * 1000, 1))
            self.counters.set("latency_p99_ms", round(float(np.percentile(lat, 99)) * 1000, 1))
        return self.counters.snapshot()

    def _publish_stats(self) -> None:
        snap = self.stats()
        wall = time.time()
        self.outbox.send(self.topic_stats, dumps({"t_s": wall, "client_id":
                         self.cfg.pipeline.client_id, **snap}), qos=1, retain=True)
        from spinewise.storage import make_point, time_ns

        fields = {k.replace(".", "_"): v for k, v in snap.items() if isinstance(v, (int, float))}
        p = make_point("pipeline", {}, fields, time_ns(wall))
        if p is not None:
            self._points.append(p)
        log.info("pipeline stats %s", _kv(snap, ("messages_in", "samples_processed", "events",
                 "rejected", "points_written", "spool_depth", "queue_depth", "devices",
                 "latency_p99_ms")))

    def _drain_outbox(self, timeout_s: float) -> None:
        """At shutdown: give what waits in the outbox a few seconds to reach the broker."""
        deadline = time.monotonic() + timeout_s
        while self.outbox.depth() and time.monotonic() < deadline:
            if not self.outbox.pump():
                time.sleep(0.05)
        if self.outbox.depth():
            log.warning("pipeline stopped with %d outgoing messages unsent (broker away)",
                        self.outbox.depth())

    def _snapshot_all(self) -> None:
        for device_id, s in list(self.sessions.items()):
            try:
                self.snapshots.save(device_id, s.get_state())
            except Exception:
                log.exception("device=%s snapshot failed", device_id)
                self.counters.inc("snapshot_errors")

    def _restore(self) -> None:
        for device_id, state in self.snapshots.load_all().items():
            s = DeviceSession(device_id, self.cfg.user_of(device_id), self.analyzer_factory,
                              reorder_wait_s=self.cfg.pipeline.reorder_wait_s, day_of=self._day_of)
            try:
                s.set_state(state)
            except Exception:
                log.exception("device=%s snapshot could not be restored: starting fresh", device_id)
                continue
            self.sessions[device_id] = s
            self._primary.setdefault(s.user, device_id)
            log.info("device=%s restored samples=%d", device_id, s.stats.samples)

    # -- helpers for commands and tests ----------------------------------------------------
    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Until every message received so far is processed and no device holds samples back."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._done >= self._enqueued and not any(
                    s.buffer.pending_samples for s in list(self.sessions.values())):
                return True
            time.sleep(0.02)
        return False

def parse_shard(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"pipeline.shard: expected i/N like 0/3, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"pipeline.shard: {text!r} needs 0 <= i < N")
    return None if n == 1 else (i, n)


def _expand(path: str):
    from pathlib import Path
    if path == ":memory:":
        return path
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _kv(d: dict, keys) -> str:
    return " ".join(f"{k}={d.get(k, 0)}" for k in keys)
