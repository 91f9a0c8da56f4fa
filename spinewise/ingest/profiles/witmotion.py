"""WitMotion WT901BLE / BWT901BLECL (BLE 5.0 protocol): 0x55 0x61 frames of acc, gyro and angle.

Source: WitMotion "Bluetooth 5.0 communication protocol" (wit-motion.gitbook.io, WT901BLECL
datasheet v23-0420, as mirrored in the ESPHome witmotion component): service 0000ffe5-...,
notify 0000ffe4-..., write 0000ffe9-...; each notification is a 20-byte frame ``0x55 0x61`` + 9
x int16 LE: ax ay az (raw/32768*16 g), wx wy wz (raw/32768*2000 deg/s), roll pitch yaw
(raw/32768*180 deg). 0x55 0x71 frames answer register reads (ignored here). Commands are ``FF AA
<reg> <lo> <hi>``: unlock ``FF AA 69 88 B5``, return rate register 0x03 (save ``FF AA 00 00 00``
is not sent: see start_commands). The frames carry no counter or timestamp, so sample times come
from the nominal rate corrected for clock drift (spinewise.ingest.timestamps).
"""
from __future__ import annotations

import numpy as np

from spinewise.ingest.profiles.base import DecodeError, Frame, GattWrite, SensorProfile, int16_le

FRAME_LEN = 20
# return-rate register codes (WT901BLECL datasheet, register RATE 0x03)
RATE_CODES = {0.2: 0x01, 0.5: 0x02, 1.0: 0x03, 2.0: 0x04, 5.0: 0x05, 10.0: 0x06, 20.0: 0x07,
              50.0: 0x08, 100.0: 0x09, 200.0: 0x0B}


class WitMotion(SensorProfile):
    name = "witmotion"
    title = "WitMotion WT901BLE / BWT901BLECL"
    service_uuid = "0000ffe5-0000-1000-8000-00805f9a34fb"
    notify_uuid = "0000ffe4-0000-1000-8000-00805f9a34fb"
    control_uuid = "0000ffe9-0000-1000-8000-00805f9a34fb"
    name_prefixes = ("WT901", "WT", "BWT")
    has_gyro = True
    rates_hz = tuple(r for r in RATE_CODES if r >= 10.0)
    default_rate_hz = 50.0

    def start_commands(self) -> list[GattWrite]:
        code = RATE_CODES[self.rate_hz]
        # unlock, then the return rate. No "save" (FF AA 00 00 00): the rate is set again on every
        # connection, and saving each time would wear the sensor's flash for nothing.
        return [GattWrite(self.control_uuid, bytes([0xFF, 0xAA, 0x69, 0x88, 0xB5]), False, 0.1),
                GattWrite(self.control_uuid, bytes([0xFF, 0xAA, 0x03, code, 0x00]), False, 0.1)]

    def decode(self, data: bytes) -> Frame | None:
        data = bytes(data)
        if len(data) < 2 or data[0] != 0x55:
            raise DecodeError("bad_header", f"expected 0x55 header, got {data[:2].hex() or 'nothing'}")
        if data[1] != 0x61:
            return None   # 0x71 register replies and others carry no IMU samples
        if len(data) % FRAME_LEN:
            raise DecodeError("bad_length", f"{len(data)} bytes is not a multiple of {FRAME_LEN}")
        n = len(data) // FRAME_LEN
        frames = np.frombuffer(data, dtype=np.uint8).reshape(n, FRAME_LEN)
        if np.any(frames[:, 0] != 0x55) or np.any(frames[:, 1] != 0x61):
            raise DecodeError("bad_header", "concatenated frame without 0x55 0x61 header")
        raw = np.stack([int16_le(bytes(f[2:]), 0, 9) for f in frames])
        return Frame(acc_g=raw[:, 0:3] / 32768.0 * 16.0,
                     gyro_dps=raw[:, 3:6] / 32768.0 * 2000.0,
                     angles_deg=raw[:, 6:9] / 32768.0 * 180.0)


def encode_frame(acc_g, gyro_dps, angles_deg=(0.0, 0.0, 0.0)) -> bytes:
    """Build a 0x55 0x61 frame (for the emulated peripheral and tests)."""
    vals = np.r_[np.asarray(acc_g) / 16.0, np.asarray(gyro_dps) / 2000.0, np.asarray(angles_deg) / 180.0]
    raw = np.clip(np.rint(vals * 32768.0), -32768, 32767).astype("<i2")
    return bytes([0x55, 0x61]) + raw.tobytes()
