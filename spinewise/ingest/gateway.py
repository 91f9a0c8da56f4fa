"""The BLE gateway: keep every configured sensor connected and its samples flowing to MQTT.

One :class:`SensorLink` per ``[[devices]]`` entry runs this loop forever::

    find (scan by address / name / service UUID, one scan at a time per adapter)
    -> connect (bleak, pinned to GatewayConfig.adapter) -> subscribe -> write the profile's start
       commands -> read the battery -> stream: notification -> profile.decode -> TimestampRebuilder
       -> Publisher (batch, spool, MQTT)
    -> on a disconnect callback, or when no notification came for silence_timeout_s (a link that
       dies quietly gives no callback), drop the link, wait (exponential backoff with jitter), again.

Samples lost while the link was down come out of the timestamp rebuilder as a ``gap`` event,
published on ``<prefix>/<device>/events`` before the first samples after it. The rebuilder's
state is saved next to the device's spool so a restarted gateway continues the sequence numbers.
This module is the I/O edge: it may read the wall clock (arrival times).

Haptic nudges: for a profile with a vibration motor (``haptic_uuid``) the link subscribes to
``<prefix>/dev/<device>/haptic`` (spinewise.notify.haptic publishes it) and writes the profile's
haptic command while connected. A buzz for an id already played, older than HAPTIC_MAX_AGE_S,
or arriving while the sensor is away is dropped and counted: a late buzz means nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import random
import signal
import time
from pathlib import Path
from typing import Callable

from spinewise.config import Config, DeviceConfig, GatewayConfig
from spinewise.ingest.profiles import (BATTERY_LEVEL_UUID, DecodeError, HapticPattern, SensorProfile,
                                       get_profile)
from spinewise.ingest.publisher import Publisher
from spinewise.ingest.timestamps import TimestampRebuilder
from spinewise.events import Event
from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
STATUS_INTERVAL_S = 30.0
STATE_SAVE_INTERVAL_S = 10.0
HAPTIC_MAX_AGE_S = 120.0
_HAPTIC_IDS_KEPT = 64


def backoff_s(attempt: int, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped at ``max_s``.
    Sensors that dropped together (the user walked out of range) do not retry in lockstep."""
    cap = min(max_s, BACKOFF_BASE_S * (2 ** min(attempt, 16)))
    return cap / 2 + rng.uniform(0, cap / 2)


def name_matches(pattern: str, name: str | None) -> bool:
    """``name`` filter of a device: a glob (``Polar H10 *``) or a prefix (``Polar H10``)."""
    if not pattern:
        return True
    if not name:
        return False
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name.startswith(pattern)


class SensorLink:
    """One sensor: the connect/stream/reconnect loop, and the notification path."""

    def __init__(self, device: DeviceConfig, gateway: GatewayConfig, publisher: Publisher, *,
                 scan_lock: asyncio.Lock | None = None, wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, state_dir: str | Path | None = None) -> None:
        self.device = device
        self.gateway = gateway
        self.publisher = publisher
        self.profile: SensorProfile = get_profile(device.profile)(device.rate_hz)
        self.rebuilder = TimestampRebuilder(self.profile.rate_hz, device.id)
        self.scan_lock = scan_lock or asyncio.Lock()
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.state_file = Path(state_dir).expanduser() / "timestamps.json" if state_dir else None
        self.stats = {"connects": 0, "disconnects": 0, "watchdog_trips": 0, "decode_errors": 0,
                      "notifications": 0, "connect_failures": 0, "internal_errors": 0,
                      "haptic_played": 0, "haptic_dropped": 0, "haptic_failed": 0}
        self.rssi_dbm: int | None = None
        self.battery_pct: int | None = None
        self.address: str | None = device.address or None
        self._last_rx = 0.0
        self._lost = asyncio.Event()
        self._control_error: str | None = None
        self._client = None                       # the BleakClient while connected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._haptic_ids: list[str] = []           # recent buzz ids (MQTT may deliver twice)
        self._load_state()

    # -- the notification path (no BLE needed: tests call it directly) ----------------------
    def handle_notification(self, data: bytes | bytearray, arrival_s: float | None = None) -> int:
        """Decode one notification and hand its samples to the publisher; returns samples taken."""
        self._last_rx = time.monotonic()
        self.stats["notifications"] += 1
        arrival = self.wall_clock() if arrival_s is None else arrival_s
        try:
            frame = self.profile.decode(bytes(data))
        except DecodeError as exc:
            self.stats["decode_errors"] += 1
            if self.stats["decode_errors"] <= 10 or self.stats["decode_errors"] % 1000 == 0:
                log.warning("device=%s rejected notification (%d bytes) reason=%s: %s (%d so far)",
                            self.device.id, len(data), exc.reason, exc, self.stats["decode_errors"])
            return 0
        if frame is None or len(frame) == 0:
            return 0
        try:
            stamped = self.rebuilder.update(frame, arrival)
            for event in stamped.events:
                self.publisher.publish_event(event)
            self.publisher.publish_chunk(ImuChunk(
                t_s=stamped.t_s, acc_g=frame.acc_g, gyro_dps=frame.gyro_dps, device_id=self.device.id,
                rate_hz=self.profile.rate_hz, seq=stamped.seq))
        except Exception:   # a bug or a full disk must not kill bleak's callback for every sensor
            self.stats["internal_errors"] += 1
            log.exception("device=%s could not publish a notification (%d so far)", self.device.id,
                          self.stats["internal_errors"])
            return 0
        return len(frame)

    def _on_control(self, _char, data: bytearray) -> None:
        err = self.profile.on_control(bytes(data))
        if err:
            self._control_error = err
            log.error("device=%s control point: %s", self.device.id, err)

    # -- haptic nudges (MQTT thread -> the link's event loop) ----------------------------------
    def haptic_topic(self) -> str | None:
        from spinewise.topics import Topics
        client = getattr(self.publisher, "client", None)    # test publishers have none
        if not self.profile.haptic_uuid or client is None:
            return None
        return Topics(client.cfg.prefix).device(self.device.id, "haptic")

    def on_haptic(self, _topic: str, payload: bytes) -> None:
        """A buzz request from the broker: validate, deduplicate, hand to the BLE loop."""
        try:
            doc = json.loads(payload)
            buzz_id, t_s = str(doc["id"]), float(doc["t_s"])
            pattern = HapticPattern(int(doc.get("pulses", 2)), int(doc.get("on_ms", 200)),
                                    int(doc.get("off_ms", 150)))
        except (ValueError, KeyError, TypeError) as exc:
            return self._drop_haptic(f"bad request: {exc}")
        if buzz_id in self._haptic_ids:
            return None                              # a redelivery: played (or dropped) already
        self._haptic_ids = (self._haptic_ids + [buzz_id])[-_HAPTIC_IDS_KEPT:]
        age = self.wall_clock() - t_s
        if age > HAPTIC_MAX_AGE_S:
            return self._drop_haptic(f"{buzz_id} is {age:.0f} s old")
        client, loop = self._client, self._loop
        if client is None or loop is None or not client.is_connected:
            return self._drop_haptic(f"{buzz_id}: sensor not connected")
        asyncio.run_coroutine_threadsafe(self._buzz(client, pattern, buzz_id), loop)
        return None

    def on_button(self, data: bytes | bytearray) -> None:
        """The sensor's button (a tap or a double tap answers a buzz): a ``button`` event on ``link``."""
        taps = self.profile.decode_button(bytes(data))
        if taps is None:
            self.stats["decode_errors"] += 1
            return
        self.publisher.publish_event(Event("button", self.wall_clock(), {"taps": taps}, self.device.id))
        log.info("device=%s button: %d tap(s)", self.device.id, taps)

    def _drop_haptic(self, why: str) -> None:
        self.stats["haptic_dropped"] += 1
        log.info("device=%s haptic dropped: %s", self.device.id, why)

    async def _buzz(self, client, pattern: HapticPattern, buzz_id: str) -> None:
        try:
            if client.services.get_characteristic(self.profile.haptic_uuid) is None:
                return self._drop_haptic(f"{buzz_id}: this sensor has no vibration characteristic")
            for w in self.profile.haptic_commands(pattern):
                await client.write_gatt_char(w.char_uuid, w.data, response=w.response)
        except Exception as exc:    # never let a buzz drop the sample stream
            self.stats["haptic_failed"] += 1
            log.warning("device=%s haptic write failed: %s", self.device.id, exc)
            return None
        self.stats["haptic_played"] += 1
        log.info("device=%s buzzed for %s", self.device.id, buzz_id)
        return None

    # -- status / state ----------------------------------------------------------------------
    def status_fields(self) -> dict:
        rb = self.rebuilder.stats
        return {"profile": self.profile.name, "address": self.address, "rate_hz": self.profile.rate_hz,
                "has_gyro": self.profile.has_gyro, "battery_pct": self.battery_pct,
                "rssi_dbm": self.rssi_dbm, "samples": rb["samples"], "gaps": rb["gaps"],
                "drops": rb["lost"], "drift_ppm": round(rb["drift_ppm"], 1),
                "reconnects": max(0, self.stats["connects"] - 1),
                "watchdog_trips": self.stats["watchdog_trips"],
                "decode_errors": self.stats["decode_errors"]}

    def _load_state(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            state = json.loads(self.state_file.read_text())
            if state.get("profile") == self.profile.name and state.get("rate_hz") == self.profile.rate_hz:
                self.rebuilder.set_state(state["rebuilder"])
                log.info("device=%s continuing sequence numbers from the last run", self.device.id)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("device=%s ignoring unreadable timestamp state %s: %s", self.device.id,
                        self.state_file, exc)

    def save_state(self) -> None:
        if self.state_file is None:
            return
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"profile": self.profile.name, "rate_hz": self.profile.rate_hz,
                                       "rebuilder": self.rebuilder.get_state()}))
            tmp.replace(self.state_file)
        except OSError as exc:
            log.warning("device=%s cannot save timestamp state: %s", self.device.id, exc)

    # -- BLE ---------------------------------------------------------------------------------
    def _bluez_args(self) -> dict:
        return {"bluez": {"adapter": self.gateway.adapter}} if self.gateway.adapter else {}

    def _matches(self, device, adv) -> bool:
        if self.device.address:
            return device.address.upper() == self.device.address.upper()
        name = adv.local_name or device.name
        if self.device.name:
            return name_matches(self.device.name, name)
        return self.profile.service_uuid.lower() in [u.lower() for u in adv.service_uuids]

    async def _find(self):
        from bleak import BleakScanner

        found = {}

        def match(device, adv) -> bool:
            if self._matches(device, adv):
                found["rssi"] = adv.rssi
                return True
            return False

        async with self.scan_lock:
            dev = await BleakScanner.find_device_by_filter(match, timeout=self.gateway.scan_timeout_s,
                                                           **self._bluez_args())
        if dev is not None:
            self.rssi_dbm = found.get("rssi")
            self.address = dev.address
        return dev

    async def _connect_and_stream(self, stop: asyncio.Event) -> bool:
        """One connection's life. Returns True when it streamed (resets the backoff)."""
        from bleak import BleakClient

        dev = await self._find()
        if dev is None:
            log.info("device=%s not found in %.0f s of scanning", self.device.id, self.gateway.scan_timeout_s)
            return False
        self._lost.clear()
        self._control_error = None
        self.rebuilder.mark_discontinuity()

        def on_disconnect(_client) -> None:
            self._lost.set()

        client = BleakClient(dev, disconnected_callback=on_disconnect,
                             timeout=max(10.0, self.gateway.scan_timeout_s), **self._bluez_args())
        async with self.scan_lock:   # BlueZ controllers dislike connecting while scanning
            await client.connect()
        streamed = False
        try:
            self.stats["connects"] += 1
            log.info("device=%s connected to %s (%s, rssi %s dBm)", self.device.id, dev.address,
                     self.profile.title, self.rssi_dbm)
            await self._start(client)
            self._client = client
            self._last_rx = time.monotonic()
            self.publisher.publish_status("online", **self.status_fields())
            streamed = await self._watch(client, stop)
        finally:
            self._client = None
            self.publisher.push_batch()
            self.save_state()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5.0)
        return streamed

    async def _start(self, client) -> None:
        p = self.profile
        if p.control_notify and p.control_uuid:
            await client.start_notify(p.control_uuid, self._on_control)
        await client.start_notify(p.notify_uuid, lambda _c, data: self.handle_notification(data))
        if p.button_uuid and client.services.get_characteristic(p.button_uuid) is not None:
            await client.start_notify(p.button_uuid, lambda _c, data: self.on_button(data))
        for w in p.start_commands():
            await client.write_gatt_char(w.char_uuid, w.data, response=w.response)
            if w.delay_s:
                await asyncio.sleep(w.delay_s)
        await self._read_battery(client)

    async def _read_battery(self, client) -> None:
        try:
            char = client.services.get_characteristic(BATTERY_LEVEL_UUID)
            if char is not None:
                value = await client.read_gatt_char(char)
                self.battery_pct = int(value[0]) if value else None
        except Exception as exc:   # battery is nice to have; never drop a link for it
            log.debug("device=%s battery read failed: %s", self.device.id, exc)

    async def _watch(self, client, stop: asyncio.Event) -> bool:
        timeout = self.gateway.silence_timeout_s
        next_status = time.monotonic() + STATUS_INTERVAL_S
        next_save = time.monotonic() + STATE_SAVE_INTERVAL_S
        seen_before = self.stats["notifications"]
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._lost.wait(), min(0.25, timeout / 4))
            now = time.monotonic()
            if self._lost.is_set() or not client.is_connected:
                self.stats["disconnects"] += 1
                log.warning("device=%s disconnected", self.device.id)
                break
            if self._control_error:
                raise RuntimeError(self._control_error)
            silent = now - self._last_rx
            if silent > timeout:
                self.stats["watchdog_trips"] += 1
                log.warning("device=%s silent for %.1f s: dropping the link", self.device.id, silent)
                break
            if now >= next_status:
                next_status = now + STATUS_INTERVAL_S
                await self._read_battery(client)
                self.publisher.publish_status("online", **self.status_fields())
            if now >= next_save:
                next_save = now + STATE_SAVE_INTERVAL_S
                self.save_state()
        return self.stats["notifications"] > seen_before   # it streamed: reset the backoff

    async def run(self, stop: asyncio.Event) -> None:
        from bleak.exc import BleakError

        attempt = 0
        self._loop = asyncio.get_running_loop()
        topic = self.haptic_topic()
        if topic is not None:
            self.publisher.client.subscribe(topic, self.on_haptic, qos=1)
        while not stop.is_set():
            try:
                streamed = await self._connect_and_stream(stop)
            except (BleakError, asyncio.TimeoutError, OSError, EOFError, RuntimeError) as exc:
                self.stats["connect_failures"] += 1
                log.warning("device=%s link failed: %s: %s", self.device.id, type(exc).__name__, exc)
                streamed = False
            except Exception:   # never let one sensor's surprise stop the others
                self.stats["connect_failures"] += 1
                log.exception("device=%s unexpected error; retrying", self.device.id)
                streamed = False
            if stop.is_set():
                break
            attempt = 0 if streamed else attempt + 1
            self.publisher.publish_status("reconnecting", **self.status_fields())
            delay = backoff_s(attempt, self.gateway.reconnect_max_s, self.rng)
            log.info("device=%s reconnecting in %.1f s", self.device.id, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


class Gateway:
    """All configured sensors, each with its own Publisher (own MQTT last will)."""

    def __init__(self, cfg: Config, *, publisher_factory=Publisher) -> None:
        if not cfg.devices:
            raise ValueError("no [[devices]] configured: nothing for the gateway to connect to")
        self.cfg = cfg
        self.scan_lock = asyncio.Lock()
        self.links: list[SensorLink] = []
        for dev in cfg.devices:
            get_profile(dev.profile)    # fail early on a typo
            pub = publisher_factory(cfg.mqtt, cfg.gateway, dev.id)
            state_dir = Path(cfg.gateway.spool_dir).expanduser() / dev.id
            self.links.append(SensorLink(dev, cfg.gateway, pub, scan_lock=self.scan_lock,
                                         state_dir=state_dir))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(*(link.run(stop) for link in self.links))
        finally:
            for link in self.links:
                link.save_state()
            # flush and close every device's publisher at once (each waits up to 5 s for the broker)
            await asyncio.gather(*(asyncio.to_thread(link.publisher.close, 5.0) for link in self.links))

    def run_forever(self) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            await self.run(stop)
        asyncio.run(main())
