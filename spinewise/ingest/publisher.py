"""Publish one device's stream to MQTT without losing it: batch -> spool -> broker.

``Publisher(mqtt_cfg, gateway_cfg, device_id)`` is what the BLE gateway and ``spinewise replay``
use. Topics (spinewise.topics, ``prefix`` from MqttConfig)::

    <prefix>/dev/<device>/imu      QoS 1, payload.encode(chunk) (JSON v1 or binary v1, GatewayConfig.encoding)
    <prefix>/dev/<device>/link     QoS 1, JSON Event.to_dict() (the gateway's gap events)
    <prefix>/dev/<device>/status   QoS 1 retained, JSON {"v":1,"device","state":"online"|"offline",...};
                                   "offline" is also the MQTT last will, so a dead gateway shows up

Samples are batched to ``gateway_cfg.batch_s`` worth of samples (at the nominal rate) per message.
Every imu/event message is appended to an on-disk :class:`~spinewise.ingest.spool.Spool` (the
project's one disk spool, spinewise.spool, with MQTT framing) first and removed only after the
broker's PUBACK; one sender thread drains the spool in order. So while the broker is away
messages accumulate on disk (bounded, drop-oldest, counted), and a restarted gateway sends what
the previous run left. One Publisher per spool directory (flock): a second one for the same
device gets a ``ConfigError`` naming ``gateway.spool_dir``. Delivery is at-least-once: after a reconnect a message
may arrive twice; consumers drop samples whose ``seq`` they have already seen.

Status is not spooled: only the latest status matters, and it is re-sent on every (re)connection.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from spinewise.config import ConfigError, GatewayConfig, MqttConfig
from spinewise.events import Event
from spinewise.ingest import payload
from spinewise.ingest.spool import Spool, SpoolBusyError, SpoolRecord
from spinewise.jsonwire import dumps
from spinewise.mqtt import MqttClient, Will
from spinewise.stream import ImuChunk
from spinewise.topics import Topics, check_id

log = logging.getLogger(__name__)


def status_payload(device_id: str, state: str, **fields: Any) -> bytes:
    doc = {"v": 1, "device": device_id, "state": state}
    doc.update({k: v for k, v in fields.items() if v is not None})
    return dumps(doc)


class Publisher:
    def __init__(self, mqtt_cfg: MqttConfig, gateway_cfg: GatewayConfig, device_id: str, *,
                 client: MqttClient | None = None, client_id: str | None = None,
                 spool_dir: str | Path | None = None, encoding: str | None = None,
                 ack_timeout_s: float = 5.0, max_inflight: int = 16, connect: bool = True) -> None:
        self.device_id = device_id
        self.encoding = encoding or gateway_cfg.encoding
        if self.encoding not in ("json", "binary"):
            raise ValueError(f"gateway.encoding must be json or binary, got {self.encoding!r}")
        self.batch_s = float(gateway_cfg.batch_s)
        self.ack_timeout_s = ack_timeout_s
        self.max_inflight = max(1, int(max_inflight))
        try:
            check_id(device_id, "device id")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        topics = Topics(mqtt_cfg.prefix)
        self.topic_imu = topics.device(device_id, "imu")
        self.topic_events = topics.device(device_id, "link")
        self.topic_status = topics.device(device_id, "status")
        try:
            self.spool = Spool(Path(spool_dir or Path(gateway_cfg.spool_dir).expanduser() / device_id),
                               max_bytes=int(gateway_cfg.spool_max_mb * 2**20))
        except SpoolBusyError as exc:     # two gateways for one device: a clear error, not a race
            raise ConfigError(f"gateway.spool_dir: {exc}") from None
        will = Will(self.topic_status, status_payload(device_id, "offline", reason="connection lost"),
                    qos=1, retain=True)
        base_id = mqtt_cfg.client_id or "spinewise-gw"
        self.client = client or MqttClient(mqtt_cfg, client_id or f"{base_id}-{device_id}",
                                           clean_session=True, will=will)
        self.stats = {"samples": 0, "messages_spooled": 0, "messages_sent": 0, "events": 0,
                      "publish_failures": 0}
        self._batch: list[ImuChunk] = []
        self._batch_n = 0
        self._batch_lock = threading.Lock()
        self._status: bytes | None = None
        self._status_sent = True
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = threading.Event()
        if connect:
            self.client.connect(timeout_s=0, wait=False)
        self._thread = threading.Thread(target=self._run, name=f"publisher-{device_id}", daemon=True)
        self._thread.start()

    # -- producer side (any thread) --------------------------------------------------------
    def publish_chunk(self, chunk: ImuChunk) -> None:
        """Queue samples; every ``batch_s`` worth of samples (at the chunk's nominal rate) becomes
        one message, whatever the size of the chunks handed in."""
        if len(chunk) == 0:
            return
        with self._batch_lock:
            self._batch.append(chunk)
            self._batch_n += len(chunk)
            per_msg = max(1, int(round(self.batch_s * chunk.rate_hz)))
            if self._batch_n >= per_msg:
                whole = ImuChunk.concat(self._batch) if len(self._batch) > 1 else self._batch[0]
                cut = (self._batch_n // per_msg) * per_msg
                for i in range(0, cut, per_msg):
                    self._spool_imu(whole.slice(i, i + per_msg))
                rest = whole.slice(cut, len(whole))
                self._batch = [rest] if len(rest) else []
                self._batch_n = len(rest)

    def publish_event(self, event: Event) -> None:
        """Spool an event after the samples queued before it (keeps the stream's order)."""
        body = dumps(event.to_dict())
        with self._batch_lock:
            self._push_batch_locked()
            self._append(SpoolRecord(self.topic_events, body, 1, False))
            self.stats["events"] += 1

    def publish_status(self, state: str = "online", **fields: Any) -> None:
        """Set the retained status (battery_pct, rssi_dbm, rate_hz, drops, ...); sent when connected."""
        with self._batch_lock:
            self._status = status_payload(self.device_id, state, spooled=len(self.spool),
                                          spool_dropped=self.spool.dropped, **fields)
            self._status_sent = False
        self._wake.set()

    def push_batch(self) -> None:
        """Spool the partial batch now (the gateway calls this when a sensor falls silent)."""
        with self._batch_lock:
            self._push_batch_locked()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Spool the partial batch and wait until the broker acknowledged everything spooled."""
        self.push_batch()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.spool) == 0 and self._status_sent:
                return True
            self._wake.set()
            self._idle.wait(0.05)
        return len(self.spool) == 0

    def close(self, timeout_s: float = 5.0, *, graceful: bool = True) -> None:
        """Flush (up to ``timeout_s``), mark the device offline, stop. Unsent messages stay on disk."""
        if graceful:
            self.flush(timeout_s)
            if self.client.connected.is_set():
                self.client.publish(self.topic_status,
                                    status_payload(self.device_id, "offline", reason="gateway stopped"),
                                    qos=1, retain=True, timeout_s=min(timeout_s, 2.0))
        else:
            self.push_batch()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.ack_timeout_s + 1)
        self.client.close()
        self.spool.close()

    @property
    def backlog(self) -> int:
        return len(self.spool)

    # -- internals -------------------------------------------------------------------------
    def _push_batch_locked(self) -> None:
        if not self._batch:
            return
        chunk = ImuChunk.concat(self._batch) if len(self._batch) > 1 else self._batch[0]
        self._batch, self._batch_n = [], 0
        for part in chunk.split(payload.MAX_SAMPLES):
            self._spool_imu(part)

    def _spool_imu(self, part: ImuChunk) -> None:
        self._append(SpoolRecord(self.topic_imu, payload.encode(part, self.encoding), 1, False))
        self.stats["samples"] += len(part)

    def _append(self, rec: SpoolRecord) -> None:
        self.spool.append(rec)
        self.stats["messages_spooled"] += 1
        self._wake.set()

    def _run(self) -> None:
        """Send the spool in order with up to ``max_inflight`` messages awaiting their PUBACK
        (one round trip per window, not per message: drains a backlog fast over a slow link).
        PUBACKs come back in order, so the spool is acknowledged from the front."""
        inflight: deque = deque()          # (MQTTMessageInfo, sent at) for the spool's first records
        was_connected = False
        while not self._stop.is_set():
            connected = self.client.connected.is_set()
            if connected and not was_connected:
                self._status_sent = self._status is None  # re-assert "online" after every reconnect
            was_connected = connected
            if not connected:
                if inflight:                   # unacknowledged: send again after the reconnect
                    inflight.clear()
                    self.spool.rewind()
                self.spool.sync_if_due()       # a backlog reaches the disk even when appends pause
                self._idle.set()
                self.client.connected.wait(0.2)
                continue
            if not self._status_sent and self._status is not None and not inflight:
                if self.client.publish(self.topic_status, self._status, qos=1, retain=True,
                                       timeout_s=self.ack_timeout_s):
                    self._status_sent = True
                continue
            if len(inflight) < self.max_inflight:
                recs = self.spool.peek_many(self.max_inflight)
                while len(inflight) < len(recs):
                    rec = recs[len(inflight)]
                    info = self.client.publish_nowait(rec.topic, rec.payload, qos=rec.qos,
                                                      retain=rec.retain)
                    inflight.append((info, time.monotonic()))
            if not inflight:
                self.spool.sync_if_due()
                self._idle.set()
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            self._idle.clear()
            info, sent_at = inflight[0]
            try:
                info.wait_for_publish(0.05)
                acked = info.is_published()
                failed = not acked and time.monotonic() - sent_at > self.ack_timeout_s
            except (ValueError, RuntimeError):   # not queued (no connection, queue full)
                acked, failed = False, True
            if acked:
                inflight.popleft()
                self.spool.pop(1)
                self.stats["messages_sent"] += 1
            elif failed:
                self.stats["publish_failures"] += 1
                log.debug("publish to %s not acknowledged; resending from the spool", self.topic_imu)
                inflight.clear()
                self.spool.rewind()
                self._stop.wait(0.2)
