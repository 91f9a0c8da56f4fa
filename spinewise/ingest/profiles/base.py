"""What every sensor profile declares, and what its pure decoder returns.

A profile is a small data-like class (in the spirit of the Theengs decoder's device
declarations): GATT UUIDs, how to recognise the sensor in a scan, the writes that start
streaming at a chosen rate, and ``decode(bytes) -> Frame``. It does no I/O: the gateway
performs the writes and feeds notifications in, so each decoder is testable from byte
vectors alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


class DecodeError(ValueError):
    """A notification that is not a valid frame for this profile; ``reason`` names why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Frame:
    """Samples from one notification, in sensor units converted to g and deg/s.

    Timing is what the sensor itself says, if anything: ``sensor_t_s`` is the sensor clock
    (seconds, possibly wrapping at ``sensor_t_mod_s``) at sample ``sensor_t_at`` of the frame
    (0 = first, -1 = last), ``counter`` the index of the FIRST sample (wrapping at
    ``counter_mod``). spinewise.ingest.timestamps turns these into event times.
    """
    acc_g: np.ndarray                       # (n, 3) sensor frame, g
    gyro_dps: np.ndarray | None = None      # (n, 3) sensor frame, deg/s; None: no gyroscope
    sensor_t_s: float | None = None
    sensor_t_mod_s: float | None = None
    sensor_t_at: int = -1
    counter: int | None = None
    counter_mod: int | None = None
    angles_deg: np.ndarray | None = None    # (n, 3) on-sensor roll/pitch/yaw where offered

    def __len__(self) -> int:
        return int(self.acc_g.shape[0])


@dataclass(frozen=True)
class GattWrite:
    char_uuid: str
    data: bytes
    response: bool = True
    delay_s: float = 0.0            # pause after the write (some sensors need it)


@dataclass(frozen=True)
class HapticPattern:
    """A buzz: ``pulses`` vibrations of ``on_ms``, ``off_ms`` apart (a nudge: two short ones)."""
    pulses: int = 2
    on_ms: int = 200
    off_ms: int = 150

    def __post_init__(self) -> None:
        if not (1 <= self.pulses <= 10 and 10 <= self.on_ms <= 2000 and 0 <= self.off_ms <= 2000):
            raise ValueError(f"haptic pattern out of range: {self}")


NUDGE_BUZZ = HapticPattern()


class SensorProfile:
    """Base class: subclasses set the class attributes and implement ``decode``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    service_uuid: ClassVar[str] = ""
    notify_uuid: ClassVar[str] = ""
    control_uuid: ClassVar[str | None] = None       # written to configure/start
    control_notify: ClassVar[bool] = False          # subscribe to control responses first
    name_prefixes: ClassVar[tuple[str, ...]] = ()
    has_gyro: ClassVar[bool] = True
    haptic_uuid: ClassVar[str | None] = None        # a vibration motor, written to buzz (nudges)
    button_uuid: ClassVar[str | None] = None        # a button, notifying taps (answers to nudges)
    rates_hz: ClassVar[tuple[float, ...]] = (50.0,)  # the rates it offers; the nearest is chosen
    default_rate_hz: ClassVar[float] = 50.0

    def __init__(self, rate_hz: float | None = None) -> None:
        want = float(rate_hz or self.default_rate_hz)
        self.rate_hz = min(self.rates_hz, key=lambda r: abs(r - want))

    # -- recognition -------------------------------------------------------------------------
    @classmethod
    def matches(cls, name: str | None, service_uuids: list[str] | tuple[str, ...] = ()) -> bool:
        uuids = {u.lower() for u in service_uuids}
        if cls.service_uuid and cls.service_uuid.lower() in uuids:
            return True
        return bool(name) and any(name.startswith(p) for p in cls.name_prefixes)

    # -- I/O plan (executed by the gateway) --------------------------------------------------
    def start_commands(self) -> list[GattWrite]:
        return []

    def stop_commands(self) -> list[GattWrite]:
        return []

    def haptic_commands(self, pattern: "HapticPattern") -> list[GattWrite]:
        """The writes that play ``pattern`` on the sensor's vibration motor ([] without one)."""
        return []

    def decode_button(self, data: bytes) -> int | None:
        """Taps in one button notification (2 = a double tap), None when it is not one."""
        return None

    def on_control(self, data: bytes) -> str | None:
        """Inspect a control-point response; return an error message when it reports a failure."""
        return None

    # -- pure decoding -----------------------------------------------------------------------
    def decode(self, data: bytes) -> Frame | None:
        """Bytes of one notification -> Frame; None for frames that carry no samples."""
        raise NotImplementedError


def int16_le(data: bytes, offset: int, count: int) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2", count=count, offset=offset).astype(np.float64)
