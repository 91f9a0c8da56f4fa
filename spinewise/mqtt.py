"""Thin paho-mqtt adapter: connect (auth, TLS, last will), publish with PUBACK, subscribe.

Everything MQTT in spinewise goes through :class:`MqttClient` so that auth, TLS, reconnects and
the persistent session are handled once. paho's network loop runs in its own thread; handlers
are called from that thread and must only hand work off (enqueue), never block. Topic names
come from spinewise.topics.

TLS (``mqtt.tls = true``): the broker's certificate is verified against ``mqtt.ca_file`` (or
the system CAs) and must name ``mqtt.host``. paho retries a failed handshake silently for
ever; here the first failure is logged once, as one sentence that says what to check, and kept
in :attr:`MqttClient.tls_error` so a command can exit with it instead of waiting.

Manual acknowledgement (``manual_ack=True``, the pipeline's subscriber): a QoS 1 message is
not acknowledged when its handler returns but when the application says so. The handler gets
a third argument, the message's ack token, and returns True when it took the message (acked
later through :meth:`MqttClient.checkpoint`), False when it refused it (acked at once: nothing
to redo) or None when it wants it again after a restart (not acked: the broker keeps it in
the persistent session and sends it again when we reconnect).

Such a client speaks MQTT 5 with a Receive Maximum of 65535. Over MQTT 3.1.1 a broker sends
a client only its own quota of unacknowledged messages (Mosquitto's max_inflight_messages, 20
by default) and queues the rest, and Mosquitto 2.0.11 (Debian 12) then lets new messages
overtake queued ones: measured, a device's messages arrived up to 100 messages out of order
and seconds late, which a stream cannot tell from lost data. Under MQTT 5 the quota is ours:
while connected nothing waits in the broker's queue, so nothing is reordered.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from spinewise.config import ConfigError, MqttConfig

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
RECEIVE_MAXIMUM = 65535            # MQTT 5: unacknowledged messages the broker may send us
SESSION_NEVER_EXPIRES = 0xFFFFFFFF


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes | str
    qos: int = 1
    retain: bool = True


class MqttClient:
    """One MQTT connection. ``clean_session=False`` + a stable ``client_id`` gives a persistent
    session: QoS 1 messages published while we were away are delivered when we come back."""

    def __init__(self, cfg: MqttConfig, client_id: str, *, clean_session: bool = False,
                 will: Will | None = None, manual_ack: bool = False) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.connected = threading.Event()
        self.tls_error: str | None = None      # why the last TLS handshake failed, if it did
        self.refused: str | None = None        # why the broker refused the last CONNECT
        self._subs: dict[str, tuple[int, Handler]] = {}
        self._lock = threading.Lock()
        self.manual_ack = manual_ack
        self._generation = 0      # connections so far: a token names the one it came on
        self._clean = clean_session
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   clean_session=None if manual_ack else clean_session,
                                   protocol=paho.MQTTv5 if manual_ack else paho.MQTTv311,
                                   manual_ack=manual_ack)
        if cfg.username:
            self._client.username_pw_set(cfg.username, cfg.password or None)
        if cfg.tls:
            if cfg.ca_file and not os.access(os.path.expanduser(cfg.ca_file), os.R_OK):
                raise ConfigError(f"mqtt.ca_file: cannot read {cfg.ca_file}")
            try:
                self._client.tls_set(ca_certs=os.path.expanduser(cfg.ca_file) if cfg.ca_file else None,
                                     cert_reqs=ssl.CERT_REQUIRED)
            except ssl.SSLError as exc:
                raise ConfigError(f"mqtt.ca_file: {cfg.ca_file} is not a PEM CA bundle: {exc}") from None
            self._wrap_reconnect()
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        # Unacknowledged QoS 1 messages stay in paho's queue across reconnects.
        self._client.max_inflight_messages_set(100)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(cfg.reconnect_max_s)))
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._started = False
        self._failed = threading.Event()        # set by a refused login or a TLS failure

    def _wrap_reconnect(self) -> None:
        """Say once, clearly, why a TLS handshake failed (paho retries it silently)."""
        inner = self._client.reconnect

        def reconnect():
            try:
                return inner()
            except ssl.SSLError as exc:
                self._tls_failed(exc)
                raise
        self._client.reconnect = reconnect

    def _tls_failed(self, exc: ssl.SSLError) -> None:
        where = f"{self.cfg.host}:{self.cfg.port}"
        if isinstance(exc, ssl.SSLCertVerificationError):
            why = (f"MQTT TLS to {where}: the broker's certificate failed verification "
                   f"({exc.verify_message}); check mqtt.ca_file "
                   f"({self.cfg.ca_file or 'system CAs'}) and that mqtt.host names the certificate")
        else:
            why = (f"MQTT TLS to {where} failed ({exc.reason or exc}); is that port a TLS "
                   "listener (usually 8883)?")
        if why != self.tls_error:
            log.error("%s", why)
        self.tls_error = why
        self._failed.set()

    # -- lifecycle -------------------------------------------------------------------------
    def connect(self, timeout_s: float = 10.0, *, wait: bool = True) -> bool:
        """Start the network loop and connect; with ``wait`` block until connected, refused
        (bad login, TLS failure: see :meth:`failure`) or timeout. Reconnects happen
        automatically afterwards."""
        with self._lock:                    # one network loop, whoever calls first
            if not self._started:
                if self.manual_ack:           # MQTT 5: our own quota, a session that persists
                    props = Properties(PacketTypes.CONNECT)
                    props.ReceiveMaximum = RECEIVE_MAXIMUM
                    props.SessionExpiryInterval = 0 if self._clean else SESSION_NEVER_EXPIRES
                    self._client.connect_async(self.cfg.host, self.cfg.port,
                                               keepalive=self.cfg.keepalive_s,
                                               clean_start=self._clean, properties=props)
                else:
                    self._client.connect_async(self.cfg.host, self.cfg.port,
                                               keepalive=self.cfg.keepalive_s)
                self._client.loop_start()
                self._started = True
        if wait:
            end = time.monotonic() + timeout_s
            while not self.connected.is_set() and not self._failed.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.connected.wait(min(0.05, left))
        return self.connected.is_set()

    def failure(self) -> str | None:
        """Why connecting does not work (TLS or refused login), for a command's error message."""
        return self.tls_error or self.refused

    def close(self) -> None:
        if self._started:
            try:
                self._client.disconnect()
            finally:
                self._client.loop_stop()
                self._started = False
        self.connected.clear()

    def __enter__(self) -> "MqttClient":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- publish / subscribe ---------------------------------------------------------------
    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                timeout_s: float = 10.0) -> bool:
        """Publish and, for QoS >= 1, wait for the broker's PUBACK. Returns False when the message
        was not acknowledged in time (it may still be delivered later by paho's retry)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            log.warning("publish to %s failed rc=%s", topic, info.rc)
            return False
        if qos == 0:
            return info.rc == paho.MQTT_ERR_SUCCESS
        try:
            info.wait_for_publish(timeout_s)
        except (ValueError, RuntimeError):
            return False
        return info.is_published()

    def publish_nowait(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False):
        """Queue a publish and return paho's MQTTMessageInfo (call ``is_published()`` later)."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        with self._lock:
            self._subs[topic_filter] = (qos, handler)
        if self.connected.is_set():
            self._client.subscribe(topic_filter, qos)

    # -- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            why = (f"MQTT broker {self.cfg.host}:{self.cfg.port} refused the login "
                   f"{self.cfg.username or '(anonymous)'}: {reason_code}")
            if self.manual_ack and "protocol" in str(reason_code).lower():
                why = (f"MQTT broker {self.cfg.host}:{self.cfg.port} does not speak MQTT 5, which "
                       "pipeline.ack = \"checkpoint\" needs (Mosquitto >= 1.6 does): use a newer "
                       "broker or set pipeline.ack = \"arrival\" (acknowledge on arrival)")
            if why != self.refused:
                log.error("%s", why)
            self.refused = why
            self._failed.set()
            return
        self.tls_error = self.refused = None
        self._failed.clear()
        log.info("mqtt connected host=%s port=%s client_id=%s session_present=%s",
                 self.cfg.host, self.cfg.port, self.client_id,
                 getattr(flags, "session_present", None))
        with self._lock:
            subs = list(self._subs.items())
        for topic_filter, (qos, _) in subs:
            client.subscribe(topic_filter, qos)
        self._generation += 1
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code != 0:
            log.warning("mqtt disconnected host=%s port=%s reason=%s (reconnecting)",
                        self.cfg.host, self.cfg.port, reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            subs = list(self._subs.items())
        token = AckToken(self._generation, msg.mid) if self.manual_ack and msg.qos > 0 else None
        taken = False
        for topic_filter, (_, handler) in subs:
            if paho.topic_matches_sub(topic_filter, msg.topic):
                try:
                    if self.manual_ack:
                        taken = handler(msg.topic, msg.payload, token)
                    else:
                        handler(msg.topic, msg.payload)
                except Exception:  # a handler bug must not kill paho's network thread
                    log.exception("mqtt handler for %s failed", msg.topic)
        if token is not None and taken is False:
            self.settle(token)        # refused (or no handler): nothing to redo after a restart

    # -- manual acknowledgement (manual_ack=True) ------------------------------------------
    def valid(self, token: "AckToken") -> bool:
        """Every message taken is processed (a token of an older connection only is not acked)."""
        return True

    def settle(self, token: "AckToken") -> None:
        """Acknowledge one message now."""
        self.checkpoint([token])

    def checkpoint(self, tokens: list["AckToken"]) -> int:
        """Acknowledge the messages of ``tokens`` (everything they changed is stored). A token
        from an earlier connection is skipped: the broker has sent that message again on this
        one (same session), and its new token is acknowledged when that copy is processed.
        Returns how many were acknowledged."""
        done = 0
        for t in tokens:
            if t.generation == self._generation and self.connected.is_set():
                if self._client.ack(t.mid, 1) == paho.MQTT_ERR_SUCCESS:
                    done += 1
        return done


@dataclass(frozen=True)
class AckToken:
    """Which message to acknowledge: its packet id on one connection."""
    generation: int
    mid: int
