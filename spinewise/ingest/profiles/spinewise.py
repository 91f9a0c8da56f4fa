"""The open ``spinewise`` profile for DIY sensors (ESP32 / nRF52 + any IMU). Byte table in docs/sensors.md.

Service 5e1f0000-7370-696e-6577-697365000000 ("spinewise" in the UUID), characteristics:
  5e1f0001-... notify: sample packets (below)
  5e1f0002-... write:  ``01 <u16 rate_hz LE>`` set the sample rate; ``02`` stop; ``03`` start
  5e1f0003-... write:  optional vibration motor: ``01 <u8 pulses> <u16 on_ms LE> <u16 off_ms LE>``
                       plays the pattern (firmware without a motor leaves the characteristic out)
  5e1f0004-... notify: optional button: ``01 <u8 taps>`` after a press sequence (1 = a tap:
                       done, break taken; 2 = a double tap: snooze nudges)

Packet (little-endian)::

    off size type  field
    0   1    u8    version (1)
    1   1    u8    flags: bit0 gyro samples present
    2   1    u8    n: samples in this packet (1..255)
    3   1    u8    acc_fs_g: accelerometer full scale, g   (acc_g  = raw / 32768 * acc_fs_g)
    4   2    u16   gyro_fs_dps: gyroscope full scale, deg/s (gyro_dps = raw / 32768 * gyro_fs_dps)
    6   4    u32   seq: index of the first sample since boot (wraps at 2^32)
    10  4    u32   t_us: sensor clock at the first sample, microseconds (wraps at 2^32)
    14  ..   i16   n samples of ax ay az [gx gy gz]

So 14 + 12 n bytes with gyro (request an ATT MTU >= 100: 7 samples per packet fit 98 bytes).
"""
from __future__ import annotations

import struct

import numpy as np

from spinewise.ingest.profiles.base import DecodeError, Frame, GattWrite, HapticPattern, SensorProfile

SERVICE = "5e1f0000-7370-696e-6577-697365000000"
DATA = "5e1f0001-7370-696e-6577-697365000000"
CONTROL = "5e1f0002-7370-696e-6577-697365000000"
HAPTIC = "5e1f0003-7370-696e-6577-697365000000"
HAPTIC_PLAY = 0x01
BUTTON = "5e1f0004-7370-696e-6577-697365000000"
BUTTON_TAPS = 0x01
HEADER = struct.Struct("<BBBBHII")
VERSION = 1


class SpinewiseProfile(SensorProfile):
    name = "spinewise"
    title = "spinewise open profile (DIY ESP32/nRF52 + IMU)"
    service_uuid = SERVICE
    notify_uuid = DATA
    control_uuid = CONTROL
    haptic_uuid = HAPTIC
    button_uuid = BUTTON
    name_prefixes = ("spinewise",)
    has_gyro = True
    rates_hz = (1.0, 1000.0)       # any whole rate in this range: the firmware decides
    default_rate_hz = 50.0

    def __init__(self, rate_hz: float | None = None) -> None:
        want = float(rate_hz or self.default_rate_hz)
        self.rate_hz = float(min(max(round(want), self.rates_hz[0]), self.rates_hz[1]))

    def start_commands(self) -> list[GattWrite]:
        return [GattWrite(CONTROL, b"\x01" + struct.pack("<H", int(round(self.rate_hz))), True),
                GattWrite(CONTROL, b"\x03", True)]

    def stop_commands(self) -> list[GattWrite]:
        return [GattWrite(CONTROL, b"\x02", True)]

    def haptic_commands(self, pattern: HapticPattern) -> list[GattWrite]:
        return [GattWrite(HAPTIC, struct.pack("<BBHH", HAPTIC_PLAY, pattern.pulses, pattern.on_ms,
                                              pattern.off_ms), True)]

    def decode_button(self, data: bytes) -> int | None:
        data = bytes(data)
        if len(data) != 2 or data[0] != BUTTON_TAPS or data[1] == 0:
            return None
        return data[1]

    def decode(self, data: bytes) -> Frame | None:
        data = bytes(data)
        if len(data) < HEADER.size:
            raise DecodeError("truncated", f"{len(data)} bytes < {HEADER.size}-byte header")
        version, flags, n, acc_fs, gyro_fs, seq, t_us = HEADER.unpack_from(data)
        if version != VERSION:
            raise DecodeError("bad_version", f"packet version {version} (supported: {VERSION})")
        has_gyro = bool(flags & 1)
        per = 12 if has_gyro else 6
        if n == 0 or len(data) != HEADER.size + n * per:
            raise DecodeError("bad_length", f"{len(data)} bytes for n={n} (expected {HEADER.size + n * per})")
        if acc_fs == 0 or (has_gyro and gyro_fs == 0):
            raise DecodeError("bad_scale", "zero full-scale")
        raw = np.frombuffer(data, dtype="<i2", offset=HEADER.size).astype(np.float64).reshape(n, per // 2)
        return Frame(acc_g=raw[:, :3] / 32768.0 * acc_fs,
                     gyro_dps=raw[:, 3:6] / 32768.0 * gyro_fs if has_gyro else None,
                     sensor_t_s=t_us * 1e-6, sensor_t_mod_s=2**32 * 1e-6, sensor_t_at=0,
                     counter=seq, counter_mod=2**32)


def encode_packet(acc_g, gyro_dps, seq: int, t_us: int, acc_fs_g: int = 8, gyro_fs_dps: int = 2000) -> bytes:
    """Build a packet (for the emulated peripheral, tests and as a reference for firmware)."""
    acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
    n = acc.shape[0]
    cols = [acc / acc_fs_g]
    if gyro_dps is not None:
        cols.append(np.asarray(gyro_dps, dtype=np.float64).reshape(n, 3) / gyro_fs_dps)
    raw = np.clip(np.rint(np.hstack(cols) * 32768.0), -32768, 32767).astype("<i2")
    head = HEADER.pack(VERSION, 1 if gyro_dps is not None else 0, n, acc_fs_g, gyro_fs_dps,
                       seq % 2**32, t_us % 2**32)
    return head + raw.tobytes()
