"""Nordic Thingy:52 motion service: the raw data characteristic (accel, gyro, compass).

Source: Nordic-Thingy52-FW documentation, "Motion service" (ble_tms.h / firmware_architecture):
service EF680400-9B35-4933-9B10-52FFA9740042, config EF680401 (write), raw data EF680406
(notify, 18 bytes: accel x y z int16 Q6.10 in g, gyro x y z int16 Q11.5 in deg/s, compass
x y z int16 Q12.4 in uT, little-endian). Config is 9 bytes: step counter interval u16 ms,
temperature compensation interval u16 ms, magnetometer compensation interval u16 ms,
motion processing unit frequency u16 Hz (5..200; the raw data rate), wake on motion u8.
One sample per notification and no counter: times come from the nominal rate + drift fit.
"""
from __future__ import annotations

import struct

import numpy as np

from spinewise.ingest.profiles.base import DecodeError, Frame, GattWrite, SensorProfile, int16_le

_BASE = "ef68{:04x}-9b35-4933-9b10-52ffa9740042"


class Thingy52(SensorProfile):
    name = "thingy52"
    title = "Nordic Thingy:52"
    service_uuid = _BASE.format(0x0400)
    config_uuid = _BASE.format(0x0401)
    notify_uuid = _BASE.format(0x0406)
    control_uuid = config_uuid
    name_prefixes = ("Thingy",)
    has_gyro = True
    rates_hz = (5.0, 200.0)        # any whole rate in this range (BLE_TMS_CONFIG_MPUF_MIN/MAX)
    default_rate_hz = 50.0

    def __init__(self, rate_hz: float | None = None) -> None:
        want = float(rate_hz or self.default_rate_hz)
        self.rate_hz = float(min(max(round(want), self.rates_hz[0]), self.rates_hz[1]))

    def start_commands(self) -> list[GattWrite]:
        # firmware defaults for the other intervals (ble_tms defaults): pedometer 1000 ms,
        # temperature 500 ms, compass 500 ms; wake-on-motion off
        cfg = struct.pack("<HHHHB", 1000, 500, 500, int(self.rate_hz), 0)
        return [GattWrite(self.config_uuid, cfg, True, 0.05)]

    def decode(self, data: bytes) -> Frame | None:
        data = bytes(data)
        if len(data) != 18:
            raise DecodeError("bad_length", f"raw data is 18 bytes, got {len(data)}")
        raw = int16_le(data, 0, 9)
        return Frame(acc_g=(raw[0:3] / 1024.0).reshape(1, 3),      # Q6.10
                     gyro_dps=(raw[3:6] / 32.0).reshape(1, 3))     # Q11.5


def encode_raw(acc_g, gyro_dps, compass_ut=(0.0, 0.0, 0.0)) -> bytes:
    vals = np.r_[np.asarray(acc_g) * 1024.0, np.asarray(gyro_dps) * 32.0, np.asarray(compass_ut) * 16.0]
    return np.clip(np.rint(vals), -32768, 32767).astype("<i2").tobytes()
