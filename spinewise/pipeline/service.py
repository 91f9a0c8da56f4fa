"""The live service: MQTT in -> per-device sessions -> events, state, coaching, storage out.

Threads and ownership:

- paho's network thread (subscriber client) runs the handlers made by :meth:`Pipeline._handler`:
  they count the message, refuse a bad topic id or an oversized payload (counted by reason),
  and put ``(kind, key, payload, arrival)`` on a queue bounded in messages and bytes
  (spinewise.pipeline.intake). When it is full they *block*: paho sends the PUBACK after the
  handler returns, so a slow worker makes the broker hold messages in our persistent session
  (backpressure) instead of us dropping acknowledged data. With ``pipeline.ack = "checkpoint"``
  (default) paho does not acknowledge then either: the worker acknowledges a message at the
  checkpoint that flushed storage and stored its device's snapshot (as in engine mode): the
  periodic snapshot, or sooner once ``pipeline.ack_window`` acks are owed or the input went
  quiet. After a crash the broker sends again exactly what the restored state may not have.
- one worker thread owns every DeviceSession, the coach and storage writes. It drains the
  queue in batches, coalesces consecutive IMU messages per device into one Analyzer call
  (results do not depend on chunking), and runs the housekeeping timers. Each message, and each
  device's share of a cycle, is handled in its own ``try``: a bug triggered by one payload or
  one device costs that message (counted ``worker_errors``), never the cycle of the others.
- a second MQTT client (clean session) publishes; separating it lets shutdown disconnect the
  subscriber first (unacknowledged messages stay with the broker) while the worker drains
  the queue and still publishes what those messages produce.

Topics (spinewise.topics; ``p`` = MqttConfig.prefix)::

    in   p/dev/<device>/imu      sensor samples (spinewise.ingest.payload, JSON or binary v1)
    in   p/dev/<device>/status   gateway status (stored as device_status); {"state": "end",
                                 "end_t_s": ..} = end of stream (not stored)
    in   p/dev/<device>/link     the gateway's own events (Event.to_dict(): kind, t_s, data,
                                 device_id); its ``gap`` events are stored
    in   p/user/<user>/cmd       user commands (spinewise.coaching.commands)
    out  p/dev/<device>/events   one JSON Event per message (posture at most 1 Hz per device)
    out  p/dev/<device>/state    retained live figures (activity, trunk angle, reps/sedentary today)
    out  p/user/<user>/...       coaching output (nudge, coach, plan, cmd/reply)
    out  p/$sys/pipeline/stats   retained counters every stats_interval_s (also stored)
    out  p/$sys/pipeline/status  retained online/offline (last will)

Every message is counted once in ``messages_in`` and ends as exactly one of ``accepted.<kind>``,
``rejected.<reason>`` or ``messages_other_shard`` (or ``dropped_at_shutdown``): nothing
vanishes uncounted. Rejections are logged a few times per reason, then summarised once per
stats interval (spinewise.pipeline.counters.Rejections).

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
them with user = device id and counts ``unknown_device_messages``; "reject" (the shipped
deploy/spinewise.toml) drops them and counts ``rejected.unknown_device``. At most
``pipeline.max_devices`` sessions exist; an unknown device beyond that is ``rejected.device_cap``.
Commands are taken for configured users and users of accepted devices only
(``rejected.unknown_user``). Sample times outside 2000-2100 are ``rejected.bad_time``; a jump in
time or sequence numbers is believed only once the next message confirms it
(spinewise.pipeline.jumps).
"""
from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spinewise.config import Config, ConfigError
from spinewise.events import Event
from spinewise.jsonwire import dumps
from spinewise.memory import release_free_memory
from spinewise.mqtt import MqttClient, Will
from spinewise.pipeline.counters import Counters, Rejections
from spinewise.pipeline.device import DeviceSession
from spinewise.pipeline.intake import IntakeQueue
from spinewise.pipeline.outbox import Outbox
from spinewise.pipeline.snapshot import SnapshotStore
from spinewise.stream import ImuChunk
from spinewise.topics import ANY, Topics, valid_id

log = logging.getLogger(__name__)

POSTURE_MQTT_PERIOD_S = 1.0     # posture on MQTT: at most one per second per device (all stored)
MAX_BATCH_MESSAGES = 4000       # messages one worker cycle takes off the queue
# engine mode: the engine keeps the backlog durably, so only a little of it is taken locally
# and a cycle is short: checkpoints (acks) and partition hand-overs are not held up behind it
ENGINE_QUEUE_MAX = 2000
ENGINE_BATCH_MESSAGES = 200
QUEUE_BLOCK_WARN_S = 5.0
MEMORY_RELEASE_S = 30.0         # a burst's garbage and freed heap back to the OS (spinewise.memory)
ACK_SILENCE_S = 1.0             # manual acks: input silent this long with acks owed -> checkpoint
GATEWAY_EVENT_KINDS = frozenset({"gap"})   # gateway events the pipeline stores
# sample times the pipeline believes: live streams are epoch seconds (replays map files there)
EPOCH_MIN_S, EPOCH_MAX_S = 946684800.0, 4102444800.0      # 2000-01-01 .. 2100-01-01 UTC
INTAKE = {"imu": "device", "status": "device", "link": "device", "cmd": "user"}


@dataclass
class _Item:
    kind: str            # "imu" | "status" | "link" | "cmd"
    key: str             # device or user
    payload: bytes
    arrival: float       # monotonic
    token: object = None  # engine mode: the message's ack token (spinewise.engine.intake)


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
        self.topics = Topics(cfg.mqtt.prefix, cfg.coaching.ha_discovery_prefix)
        self.counters = Counters()
        self.reject = Rejections(self.counters, log)
        engine = pc.transport == "nats"
        self.queue: IntakeQueue[_Item] = IntakeQueue(
            min(pc.queue_max, ENGINE_QUEUE_MAX) if engine else pc.queue_max, pc.queue_max_bytes)
        self._batch_max = ENGINE_BATCH_MESSAGES if engine else MAX_BATCH_MESSAGES
        self.sessions: dict[str, DeviceSession] = {}
        self.shard = parse_shard(pc.shard)
        # engine mode (pipeline.transport = "nats"): input, snapshots and partition ownership
        # come from the engine (spinewise.engine); outputs still go out on MQTT
        self.engine = pc.transport == "nats"
        # Mosquitto mode with pipeline.ack = "checkpoint": a message is acknowledged to the
        # broker only after the checkpoint that covers it (storage flushed, device snapshot
        # stored), as in engine mode; a killed pipeline is sent again what it had not stored
        self.manual_ack = not self.engine and pc.ack == "checkpoint"
        self._closing = False                       # stop(): leave new messages to the broker
        self.worker_id = ""
        if self.engine:
            from spinewise.engine.intake import default_worker_id
            self.worker_id = pc.worker_id or default_worker_id()
        state_dir = pc.state_dir if self.shard is None else \
            f"{pc.state_dir.rstrip('/')}/shard{self.shard[0]}of{self.shard[1]}"
        if self.engine:
            from spinewise.engine.intake import EngineIntake
            self.sub = EngineIntake(cfg, self.worker_id)
            self.snapshots = self.sub.snapshots
            self.sub.primary_of = self._primary_of
        else:
            self.snapshots = SnapshotStore(state_dir)          # each shard keeps its own
        if storage is None:
            from spinewise.storage import open_storage
            storage = open_storage(cfg.influx, carers=cfg.carers)
        self.storage = storage
        self._own_coach_store = None
        # engine mode: the coaching rows live in the engine and follow the user from worker to
        # worker (spinewise.engine.coachstore); user -> partition it is coached with, here
        self._engine_coach = None
        self._coach_part: dict[str, int] = {}
        if coach is None:
            from spinewise.coaching.service import CoachService
            from spinewise.coaching.store import CoachStore
            from spinewise.notify import open_notifier
            if self.engine:
                self._own_coach_store = self._engine_coach = self.sub.coach_store
            else:
                self._own_coach_store = CoachStore(str(_expand(cfg.coaching.state_db)))
            coach = CoachService(cfg, self._own_coach_store, notifier=open_notifier(cfg))
        self.coach = coach
        self.analyzer_factory = analyzer_factory or default_analyzer_factory(cfg)
        self._devices = {d.id: d for d in cfg.devices}
        self._primary: dict[str, str] = {}          # user -> device whose day events coach sees
        for d in cfg.devices:
            self._primary.setdefault(d.user, d.id)
        self._users = set(self._primary)            # users whose commands are taken
        instance = "" if self.shard is None else f"shard{self.shard[0]}of{self.shard[1]}"
        if self.engine:
            instance = self.worker_id
        self.topic_stats = self.topics.pipeline("stats", instance)
        self.topic_status = self.topics.pipeline("status", instance)
        client_id = pc.client_id if not instance else f"{pc.client_id}-{instance}"
        if self.engine:
            pass                                  # self.sub: the EngineIntake made above
        elif self.manual_ack:
            self.sub = client_factory(cfg.mqtt, client_id, clean_session=False, manual_ack=True)
        else:
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
        self._errors_logged = 0                      # worker errors logged with a traceback
        self._admitted: set[str] = set()             # unknown devices accepted (bounded)
        self._latency_s: list[float] = []           # arrival -> events published, last cycle(s)
        self._points: list = []                     # storage points of this worker cycle
        self._enqueued = 0                          # items put on the queue (MQTT thread)
        self._done = 0                              # items fully processed (worker)
        now = time.monotonic()
        self._next = {"state": now, "stats": now + pc.stats_interval_s,
                      "snapshot": now + pc.snapshot_interval_s,
                      "checkpoint": now + pc.checkpoint_interval_s, "memory": now + MEMORY_RELEASE_S}
        self._tokens: list = []                     # ack tokens processed, not yet checkpointed
        self._touched: set[str] = set()             # devices changed since the checkpoint
        self._last_arrival = now                    # monotonic arrival of the newest item

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, connect_timeout_s: float = 10.0) -> None:
        if self.cfg.pipeline.unknown_devices == "accept":
            # said once at start, not only when a stranger shows up: a sensor missing from
            # [[devices]] (a typo, a gateway's other id) files its data under user = its id
            log.warning("pipeline.unknown_devices = \"accept\": a sensor not in [[devices]] is "
                        "analysed and its data filed under user = its device id; set \"reject\" "
                        "(counted as rejected.unknown_device) or add it to [[devices]]")
        self._restore()
        for kind, scope in INTAKE.items():
            filt = self.topics.device(ANY, kind) if scope == "device" else self.topics.user(ANY, kind)
            self.sub.subscribe(filt, self._handler(kind), qos=1)
        notifier = getattr(self.coach, "notifier", None)
        if notifier is not None:       # answers given on a notification (desktop Snooze) = commands
            take = self._handler("cmd")
            notifier.set_reply_sink(lambda user, payload: take(self.topics.user(user, "cmd"), payload))
        self._worker.start()
        self._started = True
        self.pub.connect(connect_timeout_s, wait=False)
        if self.sub.connect(connect_timeout_s):
            self.pub.connected.wait(connect_timeout_s)
        elif self.engine:       # nothing to retry: say so and exit (the supervisor restarts us)
            self._abort.set()
            self.pub.close()
            raise ConfigError(f"pipeline.nats_servers: engine {self.cfg.pipeline.nats_servers} "
                              "not reachable")
        else:   # same broker: waiting a second timeout for the publisher would only delay start
            log.warning("mqtt broker %s:%s not reachable yet; retrying in the background%s",
                        self.cfg.mqtt.host, self.cfg.mqtt.port,
                        " (a broker that speaks only MQTT 3.1.1 never accepts the subscriber of "
                        "pipeline.ack = \"checkpoint\": set ack = \"arrival\" for it)"
                        if self.manual_ack else "")
        self.outbox.send(self.topic_status, dumps({"state": "online"}), qos=1, retain=True)
        self._publish_discovery()
        log.info("pipeline started prefix=%s client_id=%s devices_restored=%d",
                 self.prefix, self.cfg.pipeline.client_id, len(self.sessions))

    def stop(self, timeout_s: float = 60.0) -> None:
        """Clean shutdown: stop taking messages, drain, snapshot, flush storage and MQTT."""
        if not self._started:
            return
        self._started = False
        log.info("pipeline stopping queue_depth=%d", self.queue.qsize())
        if self.manual_ack:
            # Take nothing new (left unacknowledged: the broker sends it again after a restart)
            # but stay connected, so the last checkpoint can acknowledge what was processed.
            self._closing = True
        else:
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
            if self.manual_ack:     # never acknowledged: the broker still holds them
                log.warning("pipeline backlog not drained in %.0f s: %d messages left to the broker "
                            "(sent again after a restart)", timeout_s, lost)
            else:
                log.error("pipeline backlog not drained in %.0f s: %d messages dropped", timeout_s, lost)
        self._publish_states(force=True)
        self._publish_stats()
        self._write_points()
        if self.manual_ack:        # every snapshot, then acknowledge what was processed; leave
            self._checkpoint(everyone=True)
            self.sub.close()
        else:
            self._snapshot_all()
        if self.engine:            # commit what was processed, then give the partitions back
            self._checkpoint()
            self.sub.finish()
        self._drain_outbox(5.0)
        try:
            self.storage.close()
        except Exception:
            log.exception("storage close failed")
        if self._own_coach_store is not None:
            self.coach.close()           # queued notifications get a bounded moment to go out
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
        """The paho-thread handler of one input topic: count, refuse cheaply, enqueue."""
        limit = self.cfg.pipeline.max_imu_bytes if kind == "imu" else self.cfg.pipeline.max_message_bytes
        scope = INTAKE[kind]

        def handle(topic_name: str, payload: bytes, token=None) -> bool | None:
            """True when the message went on the queue (the engine or the MQTT client settles
            the others); None while stopping with manual acks (not taken, not acknowledged)."""
            if self._closing:
                return None
            self.counters.inc("messages_in", reason=kind)
            addr = self.topics.parse(topic_name)
            key = addr.id if addr is not None else ""
            if addr is None or addr.kind != kind or not valid_id(key) or (
                    scope == "device") != (addr.scope == "dev"):
                self.reject("bad_topic", topic_name[:120])
                return False
            if len(payload) > limit:
                self.reject("payload_too_large", key, f"kind={kind} bytes={len(payload)} > {limit}")
                return False
            if self.shard is not None and not self._mine(kind, key):
                self.counters.inc("messages_other_shard")
                return False
            item = _Item(kind, key, bytes(payload), time.monotonic(), token)
            waited = 0.0
            while not self.queue.put(item, len(payload), timeout=1.0):
                waited += 1.0
                if waited == QUEUE_BLOCK_WARN_S:
                    log.warning("pipeline queue full (%d messages, %d bytes): holding MQTT intake "
                                "(backpressure)", self.queue.qsize(), self.queue.bytes)
                self.counters.inc("queue_full_waits")
            self._enqueued += 1         # only this (paho) thread writes it
            return True
        return handle

    def _mine(self, kind: str, key: str) -> bool:
        user = key if kind == "cmd" else self.cfg.user_of(key)
        return zlib.crc32(user.encode()) % self.shard[1] == self.shard[0]

    # -- worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._abort.is_set():
            stop = self._stopping.is_set() and self.queue.empty()   # checked before draining
            items = self._drain()
            self._process(items)        # contains its own failures, per message and per device
            try:
                self._housekeeping(time.monotonic())
            except Exception:      # the worker must survive a bug anywhere
                self._worker_error("housekeeping", "")
            self._write_points()
            if self.engine or self.manual_ack:
                try:
                    self._ack_cycle(time.monotonic())
                except Exception:
                    self._worker_error("checkpoint", "")
            self._done += len(items)
            if stop and not items:
                break

    def _drain(self) -> list[_Item]:
        first = self.queue.get(timeout=0.05)
        if first is None:
            return []
        items = [first]
        while len(items) < self._batch_max:
            item = self.queue.get_nowait()
            if item is None:
                break
            items.append(item)
        return items

    def _worker_error(self, stage: str, key: str) -> None:
        """A bug hit while handling one message or one device: count it, log the first few with
        their traceback (then only the count), carry on with everything else."""
        self.counters.inc("worker_errors", reason=stage)
        self._errors_logged += 1
        if self._errors_logged <= 5:
            log.exception("pipeline %s failed key=%r%s", stage, key[:64],
                          " (further errors: counted only)" if self._errors_logged == 5 else "")

    def _process(self, items: list[_Item]) -> None:
        pending: dict[str, list[ImuChunk]] = {}
        arrivals: list[float] = []
        handlers = {"status": self._on_status, "link": self._on_gateway_event, "cmd": self._on_command}
        if self.engine or self.manual_ack:
            self._admit(items)
        for item in items:
            if item.token is not None and not self.sub.valid(item.token):
                self.counters.inc("messages_revoked")     # partition lost meanwhile
                continue
            if item.kind == "imu":
                try:
                    chunk = self._decode(item)
                except Exception:
                    self._worker_error("decode", item.key)
                    self.counters.inc("rejected", reason="internal_error")
                    continue
                if chunk is not None:
                    pending.setdefault(item.key, []).append(chunk)
                    self._arrival[item.key] = item.arrival
                    arrivals.append(item.arrival)
                continue
            # status / commands act between the samples that came before and after them
            self._ingest(pending)
            pending = {}
            try:
                handlers[item.kind](item)
            except Exception:
                self._worker_error(item.kind, item.key)
                self.counters.inc("rejected", reason="internal_error")
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
            self.reject(exc.reason, item.key, exc.detail)
            return None
        except (ValueError, RecursionError, MemoryError) as exc:   # never a dead worker
            self.reject("decoder_error", item.key, f"{type(exc).__name__}: {exc}")
            return None
        t0, t1 = float(chunk.t_s[0]), float(chunk.t_s[-1])
        if not (EPOCH_MIN_S <= t0 and t1 <= EPOCH_MAX_S):
            self.reject("bad_time", item.key, f"t_s {t0:.6g}..{t1:.6g} outside 2000-2100")
            return None
        if chunk.device_id != item.key:
            # the topic is authoritative (broker ACLs are per topic); count the disagreement
            self.counters.inc("device_id_mismatch")
        self.counters.inc("accepted", reason="imu")
        self.counters.inc("samples_in", len(chunk))
        return chunk

    def _device_allowed(self, device_id: str) -> bool:
        """Configured, or an unknown device the config accepts while there is room (every
        per-device table, and the series in storage, stay bounded by pipeline.max_devices)."""
        if device_id in self._devices:
            return True
        if self.cfg.pipeline.unknown_devices == "reject":
            self.reject("unknown_device", device_id, "not in the config (pipeline.unknown_devices=reject)")
            return False
        if device_id not in self._admitted:
            if len(self._devices) + len(self._admitted) >= self.cfg.pipeline.max_devices:
                self.reject("device_cap", device_id,
                            f"{self.cfg.pipeline.max_devices} devices = pipeline.max_devices")
                return False
            self._admitted.add(device_id)
            log.warning("device=%s not in the config: accepted with user=%s "
                        "(pipeline.unknown_devices=accept)", device_id, device_id)
        self.counters.inc("unknown_device_messages")
        return True

    def _session(self, device_id: str, rate_hz: float) -> DeviceSession:
        s = self.sessions.get(device_id)
        if s is None:
            dev = self._devices.get(device_id)
            s = DeviceSession(device_id, self.cfg.user_of(device_id), self.analyzer_factory,
                              rate_hz=dev.rate_hz if dev else rate_hz,
                              reorder_wait_s=self.cfg.pipeline.reorder_wait_s,
                              max_pending=self.cfg.pipeline.max_pending_samples, day_of=self._day_of)
            if getattr(self.snapshots, "lazy", False):
                self._restore_one(s)
            self.sessions[device_id] = s
            self._primary.setdefault(s.user, device_id)
            self._users.add(s.user)
            self.counters.set("devices", len(self.sessions))
            log.info("device=%s user=%s new session%s", device_id, s.user,
                     "" if dev else " (not in the config)")
        return s

    def _day_of(self, t_s: float) -> str:
        from spinewise.coaching.localtime import local_date
        return local_date(t_s, self.cfg.coaching.timezone).isoformat()

    def _ingest(self, pending: dict[str, list[ImuChunk]]) -> None:
        for device_id, chunks in pending.items():
            if self.engine and not self.sub.owns_device(device_id):
                self.counters.inc("messages_revoked", len(chunks))   # its next owner has them
                continue
            try:
                self._ingest_one(device_id, chunks)
            except Exception:           # one device's bug: the others' samples still go on
                self._worker_error("ingest", device_id)

    def _ingest_one(self, device_id: str, chunks: list[ImuChunk]) -> None:
        s = self._session(device_id, chunks[0].rate_hz)
        before = s.stats.samples
        before_counts = self._stream_counts(s)
        try:
            events = s.ingest(chunks)
        finally:
            self.counters.inc("samples_processed", s.stats.samples - before)
            self._count_stream(before_counts, s)
        if self.cfg.influx.raw_imu:
            self._store_raw(chunks, s.user, device_id)
        self._dispatch(s, events)

    @staticmethod
    def _stream_counts(s: DeviceSession) -> dict:
        return {**s.buffer.counts.as_dict(), **s.guard.counts.as_dict()}

    def _count_stream(self, before: dict, s: DeviceSession) -> None:
        after = self._stream_counts(s)
        for name in ("duplicates", "late", "time_backwards"):
            self.counters.inc(f"samples_{name}", after[name] - before[name])
        for name in ("gaps", "samples_lost", "seq_resets", "jumps_confirmed", "candidates_refuted",
                     "samples_unconfirmed"):
            self.counters.inc(name, after[name] - before[name])

    # -- outputs ---------------------------------------------------------------------------
    def _dispatch(self, s: DeviceSession, events: list[Event]) -> None:
        if not events:
            return
        self._dirty.add(s.device_id)
        self.counters.inc("events", len(events))
        self._publish_events(s, events)
        self._store(events, s.user, s.device_id)
        self._coach(s, events)

    def _coach(self, s: DeviceSession, events: list[Event]) -> None:
        if not self._coached_here(s.user):
            # engine mode: a user's second sensor, processed on another worker than the
            # primary one that coaches the user (its exercise does not reach the coach)
            self.counters.inc("coach_elsewhere")
            return
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
        t_topic = self.topics.device(s.device_id, "events")
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
                log.debug("device=%s event kind=%s not storable: %s", device, ev.kind, exc)
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
                log.debug("device=%s raw samples not storable: %s", device, exc)

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

    @staticmethod
    def _json_object(payload: bytes) -> dict | None:
        """A JSON object, or None for anything else (bad UTF-8, bad JSON, nesting too deep)."""
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError):       # UnicodeDecodeError is a ValueError
            return None
        return doc if isinstance(doc, dict) else None

    # -- status and commands ---------------------------------------------------------------
    def _on_status(self, item: _Item) -> None:
        if not self._device_allowed(item.key):
            return
        doc = self._json_object(item.payload)
        if doc is None:
            self.reject("bad_status", item.key, "not a JSON object")
            return
        if doc.get("state") != "end":
            self.counters.inc("accepted", reason="status")
            self._store_status(item, doc)
            return
        end_t = doc.get("end_t_s")
        if not (_number(end_t) and EPOCH_MIN_S <= end_t <= EPOCH_MAX_S):
            # an end without the time of the last sample would end the stream wherever it is
            self.reject("bad_end_marker", item.key, f"end_t_s={str(end_t)[:40]}")
            return
        self.counters.inc("accepted", reason="status")
        s = self.sessions.get(item.key)
        if s is None and self.engine:
            # taken over after its last sample: the end marker finishes the restored stream
            s = self._restored_session(item.key)
        if s is None:
            return
        ignored = s.stats.end_markers_ignored
        events = s.request_end(float(end_t))
        if s.stats.end_markers_ignored > ignored:
            self.counters.inc("end_markers_ignored")     # stale or forged: the stream went past it
            return
        log.debug("device=%s end of stream end_t_s=%s", item.key, end_t)
        self._dispatch(s, events)
        self._arrival[item.key] = item.arrival

    def _store_status(self, item: _Item, doc: dict) -> None:
        """Gateway status (battery, RSSI, rate, link) -> ``device_status``. The document carries
        no time: it is stamped with its arrival (wall clock; this is the adapter layer) unless it
        has a plausible ``t_s``. A retained status is delivered again on every (re)subscription:
        an identical payload is stored once."""
        if self._status_seen.get(item.key) == item.payload:
            return
        self._status_seen[item.key] = item.payload
        t_s = doc.get("t_s")
        if not (_number(t_s) and EPOCH_MIN_S <= t_s <= EPOCH_MAX_S):
            t_s = time.time() - (time.monotonic() - item.arrival)
        self.counters.inc("status_in")
        self._store([Event("status", float(t_s), doc, item.key)], self.cfg.user_of(item.key), item.key)

    def _on_gateway_event(self, item: _Item) -> None:
        """A gateway event (``Event.to_dict()``) on ``link``: its gaps are stored. The reorder
        buffer sees the same hole as a jump in ``seq`` and declares it with the same start, so
        the key is the same and InfluxDB keeps one point."""
        if not self._device_allowed(item.key):
            return
        doc = self._json_object(item.payload)
        kind = None if doc is None else doc.get("kind")
        if not isinstance(kind, str):
            self.reject("bad_event", item.key, "not an event object")
            return
        if kind == "button":          # the sensor's button: a double tap snoozes (docs/notify.md)
            from spinewise.notify.answers import button_command
            cmd = button_command(item.key, doc)
            if cmd is not None and self.cfg.user_of(item.key) in self._users:
                self._on_command(_Item("cmd", self.cfg.user_of(item.key), cmd, item.arrival))
                return
        if kind not in GATEWAY_EVENT_KINDS:
            self.counters.inc("accepted", reason="link")
            self.counters.inc("gateway_events_ignored")
            return
        ev = self._gap_event(doc, item.key)
        if ev is None:
            self.reject("bad_event", item.key, "gap with missing or implausible figures")
            return
        self.counters.inc("accepted", reason="link")
        self.counters.inc("gateway_events", reason=ev.kind)
        self._store([ev], self.cfg.user_of(item.key), item.key)

    def _gap_event(self, doc: dict, device_id: str) -> Event | None:
        """A gateway gap with times in 2000-2100 and a loss the gap's length allows."""
        data = doc.get("data")
        if not isinstance(data, dict):
            return None
        start, end, lost = data.get("start_s"), data.get("end_s"), data.get("samples_lost")
        if not (_number(start) and _number(end) and _number(lost) and _number(doc.get("t_s"))):
            return None
        if not (EPOCH_MIN_S <= start <= end <= EPOCH_MAX_S) or lost < 0 or lost != int(lost):
            return None
        dev = self._devices.get(device_id)
        s = self.sessions.get(device_id)
        rate = max(dev.rate_hz if dev else 0.0, s.rate_hz if s else 0.0, 1.0)
        if lost > 2 * (end - start) * rate + 2:        # more samples than the gap could hold
            return None
        return Event("gap", float(doc["t_s"]), {"start_s": float(start), "end_s": float(end),
                                                "samples_lost": int(lost)}, device_id)

    def _on_command(self, item: _Item) -> None:
        user = item.key
        if user not in self._users:
            self.reject("unknown_user", user, "commands are taken for configured users only")
            return
        if not self._coached_here(user):       # engine mode: on to the worker that coaches
            try:
                self.sub.route_command(self._primary_of(user), item.payload)
                self.counters.inc("commands_routed")
            except Exception as exc:
                self.counters.inc("rejected", reason="internal_error")
                log.warning("user=%s command not sent on to its coaching worker: %s", user, exc)
            return
        doc = self._json_object(item.payload)
        t_s = None
        if doc is None or doc.get("t_s") is None:
            # event time of the command: the user's latest sample time (replays run in the past),
            # else the wall clock (a live user whose sensor has not sent anything yet)
            times = [s.live.t_s for s in self.sessions.values() if s.user == user and s.live.t_s]
            t_s = max(times) if times else time.time()
        self.counters.inc("commands")
        try:
            outs = self.coach.on_command(user, item.payload, t_s=t_s)
        except Exception:
            self.counters.inc("coach_errors")
            self._worker_error("coach", user)
            self.counters.inc("rejected", reason="internal_error")
            return
        refused = any(out.suffix == "cmd/reply" and not out.payload.get("ok", True) for out in outs)
        if refused:
            self.counters.inc("commands_rejected")
            self.reject("bad_command", user, "answered with an error reply")
        else:
            self.counters.inc("accepted", reason="cmd")
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
            if silent and (s.pending_samples or s.end_t_s is not None):
                try:
                    self._flush_one(s)
                except Exception:
                    self._worker_error("flush", device_id)
        if now >= self._next["state"]:
            self._next["state"] = now + self.cfg.pipeline.state_interval_s
            self._publish_states()
        if now >= self._next["stats"]:
            self._next["stats"] = now + self.cfg.pipeline.stats_interval_s
            self._publish_stats()
        if now >= self._next["memory"]:
            self._next["memory"] = now + MEMORY_RELEASE_S
            release_free_memory()
        if now >= self._next["snapshot"] and not self.engine:    # engine: at every checkpoint
            self._next["snapshot"] = now + self.cfg.pipeline.snapshot_interval_s
            if self.manual_ack:
                self._checkpoint(everyone=True)
            else:
                self._snapshot_all()

    def _flush_one(self, s: DeviceSession) -> None:
        before, before_counts = s.stats.samples, self._stream_counts(s)
        try:
            events = s.flush()
        finally:
            self.counters.inc("samples_processed", s.stats.samples - before)
            self._count_stream(before_counts, s)
        self._dispatch(s, events)

    def _publish_states(self, force: bool = False) -> None:
        devices = list(self.sessions) if force else sorted(self._dirty)
        self._dirty.clear()
        for device_id in devices:
            s = self.sessions[device_id]
            self.outbox.send(self.topics.device(device_id, "state"),
                             dumps(s.live.payload(device_id, s.user)), qos=1, retain=True)

    def stats(self) -> dict:
        self.counters.set("queue_depth", self.queue.qsize())
        self.counters.set("queue_bytes", self.queue.bytes)
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
            if f"carer_{k}" in st:                 # influx.carer_copies: the copies' sums
                self.counters.set(f"storage_carer_{k}", st[f"carer_{k}"])
        notifier = getattr(self.coach, "notifier", None)     # spinewise.notify: per-channel sums
        if notifier is not None:
            for k, v in notifier.totals().items():
                self.counters.set(f"notify_{k}", v)
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
        self.reject.summary(self.cfg.pipeline.stats_interval_s)

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
        if self.engine:           # one round trip for all, and only devices still ours
            try:
                self.snapshots.save_many({d: s.get_state() for d, s in list(self.sessions.items())
                                          if self.sub.owns_device(d)})
            except Exception as exc:
                log.error("engine snapshots failed (the next owner starts from the last "
                          "checkpoint): %s", exc)
                self.counters.inc("snapshot_errors")
            return
        for device_id, s in list(self.sessions.items()):
            try:
                self.snapshots.save(device_id, s.get_state())
            except Exception:
                log.exception("device=%s snapshot failed", device_id)
                self.counters.inc("snapshot_errors")

    def _restore(self) -> None:
        for device_id, state in self.snapshots.load_all().items():
            s = DeviceSession(device_id, self.cfg.user_of(device_id), self.analyzer_factory,
                              reorder_wait_s=self.cfg.pipeline.reorder_wait_s,
                              max_pending=self.cfg.pipeline.max_pending_samples, day_of=self._day_of)
            try:
                s.set_state(state)
            except Exception:
                log.exception("device=%s snapshot could not be restored: starting fresh", device_id)
                continue
            self.sessions[device_id] = s
            self._primary.setdefault(s.user, device_id)
            self._users.add(s.user)
            if device_id not in self._devices:
                self._admitted.add(device_id)
            log.info("device=%s restored samples=%d", device_id, s.stats.samples)

    # -- acknowledge after a checkpoint (engine mode, and Mosquitto with pipeline.ack) ------
    def _admit(self, items: list[_Item]) -> None:
        """Remember the tokens and devices of a batch for the next checkpoint (a token of a
        partition given up meanwhile is ignored there: its next owner gets the message again)."""
        for item in items:
            if item.token is not None:
                self._tokens.append(item.token)
                self._touched.add(item.key)
                self._last_arrival = max(self._last_arrival, item.arrival)

    def _ack_cycle(self, now: float) -> None:
        if not self.engine:
            # Mosquitto: the periodic snapshot (housekeeping) is the regular checkpoint. Sooner
            # once ack_window acks are owed (what a crash would make the broker send again),
            # or when the input has gone quiet with acks owed (the end of a stream).
            owed = len(self._tokens)
            if owed >= self.cfg.pipeline.ack_window or (
                    owed and now - self._last_arrival >= ACK_SILENCE_S):
                self._checkpoint()
            return
        for p in self.sub.take_revoked():        # lease lost: another worker may own it now
            self._drop_partition(p, snapshot=False)
        ready = self.sub.take_release_ready()
        if ready or now >= self._next["checkpoint"]:
            self._next["checkpoint"] = now + self.cfg.pipeline.checkpoint_interval_s
            self._checkpoint()
        for p in ready:                          # given back: the next owner restores them
            self._drop_partition(p, snapshot=True)
            self.sub.released(p)

    def _checkpoint(self, everyone: bool = False) -> None:
        """Storage flushed, then the snapshots of the devices touched (``everyone``: of all),
        then the acks: a message is acknowledged only once everything it changed is stored."""
        tokens, self._tokens = self._tokens, []
        touched, self._touched = self._touched, set()
        devices = sorted(self.sessions) if everyone else sorted(touched)
        try:
            self._write_points()
            self.storage.flush()
            self.snapshots.save_many({d: self.sessions[d].get_state() for d in devices
                                      if d in self.sessions and self._owns(d)})
            if self._engine_coach is not None:       # the rows of users still coached here
                owned = set(self.sub.owned())
                self._engine_coach.flush(lambda user: self._coach_part.get(user) in owned)
            self.counters.inc("committed", self.sub.checkpoint(tokens))
            self.counters.inc("checkpoints")
        except Exception as exc:        # engine or storage away: retried at the next checkpoint
            self._tokens = tokens + self._tokens
            self._touched |= touched
            self.counters.inc("checkpoint_errors")
            log.warning("checkpoint failed (retried): %s", exc)

    def _owns(self, device_id: str) -> bool:
        return self.sub.owns_device(device_id) if self.engine else True

    # -- engine mode (pipeline.transport = "nats"; spinewise.engine.intake) -----------------
    def _drop_partition(self, partition: int, snapshot: bool) -> None:
        for device_id in [d for d in self.sessions if self.sub.partition_of(d) == partition]:
            s = self.sessions.pop(device_id)
            if snapshot:
                self.snapshots.save(device_id, s.get_state())
            for table in (self._arrival, self._posture_sent, self._status_seen):
                table.pop(device_id, None)
            self._dirty.discard(device_id)
            self._touched.discard(device_id)
            log.info("device=%s left this worker with partition %d", device_id, partition)
        for user in [u for u, p in self._coach_part.items() if p == partition]:
            del self._coach_part[user]
            self.coach.forget(user)
            if self._engine_coach is not None:
                self._engine_coach.unload(user)
        self.counters.set("devices", len(self.sessions))

    def _primary_of(self, user: str) -> str | None:
        """The device whose partition coaches ``user`` (engine mode), None for a stranger."""
        device = self._primary.get(user)
        if device is None and self.cfg.pipeline.unknown_devices == "accept" and valid_id(user):
            device = user            # an unknown sensor is filed under user = its id
        return device

    def _coached_here(self, user: str) -> bool:
        """Whether this process coaches ``user``: always on one machine; in engine mode when
        it owns the partition of the user's primary device, whose coaching rows it then loads
        from the engine on first use (unreadable: the partition goes back to its checkpoint)."""
        if not self.engine:
            return True
        device = self._primary_of(user)
        p = None if device is None else self.sub.partition_of(device)
        if p is None or not self.sub.owns_device(device):
            return False
        if self._coach_part.get(user) == p:
            return True
        if self._engine_coach is not None:
            try:
                rows = self._engine_coach.load(user)
            except Exception as exc:
                self.counters.inc("engine_restore_errors")
                self.sub.abandon(p, f"coaching rows of {user} not readable: {exc}")
                self._drop_partition(p, snapshot=False)
                return False
            log.info("user=%s coaching restored rows=%d", user, rows)
        self.coach.forget(user)
        self._coach_part[user] = p
        return True

    def _restored_session(self, device_id: str) -> DeviceSession | None:
        """Engine mode: the session of a device this worker has not seen yet, if the engine
        holds a snapshot of it."""
        if not self.sub.owns_device(device_id):
            return None
        s = self._session(device_id, 50.0)
        if s.analyzer is None and s.stats.samples == 0:     # nothing was stored: no session
            del self.sessions[device_id]
            return None
        return s

    def _restore_one(self, s: DeviceSession) -> None:
        try:
            state = self.snapshots.load(s.device_id)
        except Exception as exc:
            # Not knowing the device's state, continuing would start it afresh and store wrong
            # results: the partition goes back to its checkpoint instead (taken again at once).
            p = self.sub.partition_of(s.device_id)
            self.counters.inc("engine_restore_errors")
            if p is not None:
                self.sub.abandon(p, f"snapshot of {s.device_id} not readable: {exc}")
                self._drop_partition(p, snapshot=False)
            raise
        if state is None:
            return
        try:
            s.set_state(state)
        except Exception:
            log.exception("device=%s snapshot could not be restored: starting fresh", s.device_id)
            return
        self.counters.inc("engine_restored")
        log.info("device=%s restored samples=%d", s.device_id, s.stats.samples)

    # -- helpers for commands and tests ----------------------------------------------------
    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Until every message received so far is processed and no device holds samples back."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._done >= self._enqueued and not any(
                    s.pending_samples for s in list(self.sessions.values())):
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


def _number(v) -> bool:
    """A finite int or float (not a bool): what a JSON figure must be to be believed."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
            and v not in (float("inf"), float("-inf")))


def _kv(d: dict, keys) -> str:
    return " ".join(f"{k}={d.get(k, 0)}" for k in keys)
