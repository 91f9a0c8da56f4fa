"""An emulated BLE IMU sensor: a GATT application + LE advertisement registered with BlueZ
(bluezoo) on one adapter, through GattManager1 / LEAdvertisingManager1, with dbus-fast.

It exposes a profile's service exactly as the real sensor does (UUIDs, flags, control writes,
PMD control-point indications for the Polar H10, Battery Service) and notifies frames built by
the profile's own encoder from a recording. The sensor keeps sampling while its link is down
(``vanish``/``reappear``), so its counters jump like a real sensor's would; everything it
actually notified is recorded in ``sent`` for the test to compare with what reached MQTT.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import numpy as np
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

from spinewise.ingest.profiles import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID, get_profile
from spinewise.ingest.profiles import polar as polar_mod
from spinewise.ingest.profiles import spinewise as sw_mod
from spinewise.ingest.profiles import thingy as thingy_mod
from spinewise.ingest.profiles import witmotion as wit_mod

log = logging.getLogger(__name__)


class _Service(ServiceInterface):
    def __init__(self, uuid: str) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: F821
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":  # noqa: F821
        return True


class _Characteristic(ServiceInterface):
    def __init__(self, uuid: str, service_path: str, flags: list[str], on_write=None,
                 value: bytes = b"") -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid, self._service, self._flags = uuid, service_path, flags
        self._value = value
        self.on_write = on_write
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: F821
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":  # noqa: F821
        return self._service

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":  # noqa: F821
        return self._flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":  # noqa: F821
        return self._value

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":  # noqa: F821
        return self._value

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}"):  # noqa: F821
        if self.on_write is not None:
            self.on_write(bytes(value))

    @method()
    def StartNotify(self):
        self.notifying = True

    @method()
    def StopNotify(self):
        self.notifying = False

    @method()
    def Confirm(self):
        pass

    def notify(self, data: bytes) -> None:
        self._value = data
        self.emit_properties_changed({"Value": data})


class _Advertisement(ServiceInterface):
    def __init__(self, name: str, uuids: list[str], manufacturer_data: dict[int, bytes]) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self._name, self._uuids = name, uuids
        self._mfr = {k: Variant("ay", v) for k, v in manufacturer_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":  # noqa: F821
        return self._mfr

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":  # noqa: F821
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":  # noqa: F821
        return self._uuids

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":  # noqa: F821
        return self._name

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":  # noqa: F821
        return True

    @method()
    def Release(self):
        pass


@dataclass
class Sent:
    seq: list[int] = field(default_factory=list)          # the sensor's sample index
    acc_g: list[np.ndarray] = field(default_factory=list)
    gyro_dps: list[np.ndarray] = field(default_factory=list)


class EmulatedSensor:
    """One sensor on one adapter. ``speed`` > 1 streams sensor time faster than real time."""

    def __init__(self, bus_address: str, adapter: str, profile: str, name: str,
                 acc_g: np.ndarray, gyro_dps: np.ndarray | None, *, rate_hz: float = 50.0,
                 speed: float = 1.0, samples_per_packet: int = 5, battery_pct: int = 87,
                 manufacturer_data: dict[int, bytes] | None = None, motor: bool = True,
                 button: bool = True) -> None:
        self.bus_address = bus_address
        self.adapter_path = f"/org/bluez/{adapter}"
        self.profile = get_profile(profile)(rate_hz)
        self.name = name
        self.acc_g = np.asarray(acc_g, dtype=np.float64)
        self.gyro_dps = None if gyro_dps is None or not self.profile.has_gyro else np.asarray(gyro_dps)
        self.rate_hz = rate_hz
        self.speed = speed
        self.per_packet = samples_per_packet
        self.battery_pct = battery_pct
        # what real sensors put in the advertisement (Polar: company id 0x006B)
        self.manufacturer_data = manufacturer_data if manufacturer_data is not None else (
            {0x006B: bytes([0x33, 0x1E, 0x33])} if profile == "polar_h10" else {})
        self.sent = Sent()
        self.writes: list[bytes] = []
        self.motor = motor                  # expose the profile's vibration characteristic
        self.haptic_writes: list[bytes] = []
        self.has_button = button            # expose the profile's button characteristic
        self._button: _Characteristic | None = None
        self.bus: MessageBus | None = None
        self._data: _Characteristic | None = None
        self._control: _Characteristic | None = None
        self._streaming = False
        self._t0: float | None = None       # wall time of sample 0 (the sensor's boot)
        self._next = 0                      # next sample index to notify
        self._task: asyncio.Task | None = None
        self._gen = 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._t0 = time.monotonic()
        await self._register()
        self._task = asyncio.create_task(self._pump())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.bus is not None:
            self.bus.disconnect()
            self.bus = None

    async def vanish(self) -> None:
        """The sensor goes out of range: its D-Bus client (GATT app + advertisement) disappears
        without a word; the sensor keeps sampling. Notifications already emitted are let
        through first (what the sensor put on air before the link died did arrive)."""
        self._streaming = False
        await asyncio.sleep(0.2)
        if self.bus is not None:
            self.bus.disconnect()
            self.bus = None

    async def reappear(self) -> None:
        await self._register()

    def press(self, taps: int) -> bool:
        """The wearer taps the button ``taps`` times; False when nobody listens (not notifying)."""
        if self._button is None or not self._button.notifying:
            return False
        self._button.notify(bytes([0x01, taps]))
        return True

    @property
    def done(self) -> bool:
        return self._next >= len(self.acc_g)

    # -- D-Bus registration ----------------------------------------------------------------
    async def _register(self) -> None:
        self._gen += 1
        base = f"/spinewise/sensor{self._gen}"
        bus = await MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM).connect()
        p = self.profile
        svc_path = f"{base}/service0"
        bus.export(svc_path, _Service(p.service_uuid))
        data_flags = ["notify"]
        self._data = _Characteristic(p.notify_uuid, svc_path, data_flags)
        bus.export(f"{svc_path}/char0", self._data)
        if p.control_uuid and p.control_uuid != p.notify_uuid:
            flags = ["write", "write-without-response"] + (["indicate"] if p.control_notify else [])
            self._control = _Characteristic(p.control_uuid, svc_path, flags, on_write=self._on_control)
            bus.export(f"{svc_path}/char1", self._control)
        if p.haptic_uuid and self.motor:
            bus.export(f"{svc_path}/char2", _Characteristic(p.haptic_uuid, svc_path, ["write"],
                                                            on_write=self.haptic_writes.append))
        if p.button_uuid and self.has_button:
            self._button = _Characteristic(p.button_uuid, svc_path, ["notify"])
            bus.export(f"{svc_path}/char3", self._button)
        bat_path = f"{base}/service1"
        bus.export(bat_path, _Service(BATTERY_SERVICE_UUID))
        bus.export(f"{bat_path}/char0", _Characteristic(BATTERY_LEVEL_UUID, bat_path, ["read", "notify"],
                                                        value=bytes([self.battery_pct])))
        adv_path = f"{base}/advertisement0"
        bus.export(adv_path, _Advertisement(self.name, [p.service_uuid], self.manufacturer_data))
        await self._call(bus, "org.bluez.GattManager1", "RegisterApplication", "oa{sv}", [base, {}])
        await self._call(bus, "org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "oa{sv}",
                         [adv_path, {}])
        self.bus = bus

    async def _call(self, bus, interface, member, signature, body) -> None:
        reply = await bus.call(Message(destination="org.bluez", path=self.adapter_path,
                                       interface=interface, member=member,
                                       signature=signature, body=body))
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{member} failed: {reply.error_name} {reply.body}")

    # -- sensor behaviour ------------------------------------------------------------------
    def _on_control(self, data: bytes) -> None:
        self.writes.append(data)
        name = self.profile.name
        if name == "polar_h10":
            if data[:2] == bytes([0x02, polar_mod.MEASUREMENT_ACC]):
                self._streaming = True
                if self._control is not None:   # PMD response: F0 <op> <type> <status> <more>
                    self._control.notify(bytes([0xF0, 0x02, 0x02, 0x00, 0x00]))
            elif data[:1] == b"\x03":
                self._streaming = False
        elif name == "spinewise":
            if data[:1] == b"\x03":
                self._streaming = True
            elif data[:1] == b"\x02":
                self._streaming = False
        else:   # WitMotion / Thingy stream as soon as notifications are on
            self._streaming = True

    def _sampled(self) -> int:
        """How many samples the sensor has taken so far (it samples whether connected or not)."""
        return min(len(self.acc_g), int((time.monotonic() - self._t0) * self.rate_hz * self.speed))

    async def _pump(self) -> None:
        period = self.per_packet / (self.rate_hz * self.speed)
        while not self.done:
            await asyncio.sleep(period / 2)
            ready = self._sampled()
            live = (self.bus is not None and self._data is not None and self._data.notifying
                    and (self._streaming or self.profile.name in ("witmotion", "thingy52")))
            if not live:
                self._next = max(self._next, ready)   # samples taken while unheard are lost
                continue
            while ready - self._next >= self.per_packet or (ready == len(self.acc_g) and ready > self._next):
                k = self._next
                n = min(self.per_packet, ready - k)
                try:
                    self._data.notify(self._frame(k, n))
                except (OSError, EOFError) as exc:   # our bus broke: as if out of range
                    log.warning("emulated sensor %s: bus error %s", self.name, exc)
                    self.bus = None
                    break
                self._record(k, n)
                self._next += n

    def _frame(self, k: int, n: int) -> bytes:
        acc = self.acc_g[k:k + n]
        gyro = None if self.gyro_dps is None else self.gyro_dps[k:k + n]
        dt = 1.0 / self.rate_hz
        name = self.profile.name
        if name == "spinewise":
            return sw_mod.encode_packet(acc, gyro, seq=k, t_us=int(round(k * dt * 1e6)))
        if name == "polar_h10":
            ts_ns = int(round((k + n - 1) * dt * 1e9)) + 800_000_000_000_000_000
            enc = polar_mod.encode_delta_frame if (k // n) % 2 else polar_mod.encode_raw_frame
            return enc(acc, ts_ns)
        if name == "witmotion":    # one 0x55 0x61 frame per sample
            return b"".join(wit_mod.encode_frame(acc[i], gyro[i]) for i in range(n))
        if name == "thingy52":     # one raw-data notification per sample
            return thingy_mod.encode_raw(acc[0], gyro[0])
        raise ValueError(f"emulated sensor does not implement profile {name}")

    def _record(self, k: int, n: int) -> None:
        frame = self.profile.decode(self._frame(k, n))   # what the sensor really put on air
        self.sent.seq.extend(range(k, k + n))
        self.sent.acc_g.append(frame.acc_g)
        if frame.gyro_dps is not None:
            self.sent.gyro_dps.append(frame.gyro_dps)


async def add_adapter(bus_address: str, index: int, address: str) -> str:
    """Add a virtual adapter through bluezoo's org.bluezoo.Manager1 (one per emulated sensor:
    bluezoo reports one device per adapter)."""
    bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(Message(destination="org.bluez", path="/org/bluezoo",
                                       interface="org.bluezoo.Manager1", member="AddAdapter",
                                       signature="ys", body=[index, address]))
        if reply.message_type == MessageType.ERROR and "AlreadyExists" not in (reply.error_name or ""):
            raise RuntimeError(f"AddAdapter failed: {reply.error_name} {reply.body}")
        return f"hci{index}"
    finally:
        bus.disconnect()


async def device_disconnect(bus_address: str, adapter: str, address: str) -> None:
    """Drop a connection from the central's side (BlueZ then reports Connected=False)."""
    bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM).connect()
    try:
        await bus.call(Message(destination="org.bluez",
                               path=f"/org/bluez/{adapter}/dev_{address.replace(':', '_')}",
                               interface="org.bluez.Device1", member="Disconnect"))
    finally:
        bus.disconnect()


__all__ = ["EmulatedSensor", "add_adapter", "device_disconnect"]
