"""Polar H10 chest strap accelerometer over the Polar Measurement Data (PMD) service. No gyroscope.

Sources: polarofficial/polar-ble-sdk (technical_documentation/Polar_Measurement_Data_Specification,
TimeSystemExplained.md, android-communications BlePMDClient.kt / PmdDataFrame.kt / AccData.kt).

- Service FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8; control point FB005C81 (write + indicate),
  data FB005C82 (notify).
- Start measurement: ``02 <type> [<setting id> <count> <u16 value>...]``; ACC is type 0x02,
  settings 0x00 sample rate (25/50/100/200 Hz on H10), 0x01 resolution (16 bit), 0x02 range
  (2/4/8 g). Stop: ``03 02``. Responses on the control point: ``F0 <op> <type> <status> ...``,
  status 0 = success.
- Data frame: ``[u8 type][u64 timestamp ns][u8 frame type][content]``. The timestamp is the
  sensor clock (ns since 2000-01-01) of the LAST sample. Frame type bit 7 set = delta
  compressed; low bits select the sample width (0: 8-bit, 1: 16-bit, 2: 24-bit raw, signed,
  little-endian, x y z per sample, milli-g). Compressed frames: one reference sample (x y z,
  16-bit) then blocks of ``[u8 delta bit width][u8 sample count][packed deltas]``, the deltas
  signed, packed LSB-first across bytes, x y z per sample, each added to the previous sample.
  Compressed type 0 is in g scaled by the stream's factor (Verity Sense "Wolfi" format); the
  H10 sends raw type 1 (16-bit mG) and compressed type 1 (mG).
"""
from __future__ import annotations

import struct

import numpy as np

from spinewise.ingest.profiles.base import DecodeError, Frame, GattWrite, SensorProfile

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
MEASUREMENT_ACC = 0x02
_STATUS = {0: "success", 1: "invalid op code", 2: "invalid measurement type", 3: "not supported",
           4: "invalid length", 5: "invalid parameter", 6: "already in state",
           7: "invalid resolution", 8: "invalid sample rate", 9: "invalid range", 10: "invalid MTU",
           11: "invalid number of channels", 12: "invalid state", 13: "device in charger"}


class PolarH10(SensorProfile):
    name = "polar_h10"
    title = "Polar H10 (accelerometer via PMD)"
    service_uuid = PMD_SERVICE
    notify_uuid = PMD_DATA
    control_uuid = PMD_CONTROL
    control_notify = True
    name_prefixes = ("Polar H10", "Polar H9")
    has_gyro = False
    rates_hz = (25.0, 50.0, 100.0, 200.0)
    ranges_g = (2, 4, 8)
    default_rate_hz = 50.0

    def __init__(self, rate_hz: float | None = None, range_g: int = 8) -> None:
        super().__init__(rate_hz)
        self.range_g = min(self.ranges_g, key=lambda r: abs(r - range_g))
        self.factor = 1.0   # compressed-frame scale; the H10 reports 1.0

    def start_request(self) -> bytes:
        return bytes([0x02, MEASUREMENT_ACC,
                      0x00, 0x01]) + struct.pack("<H", int(self.rate_hz)) + bytes([
                      0x01, 0x01]) + struct.pack("<H", 16) + bytes([
                      0x02, 0x01]) + struct.pack("<H", self.range_g)

    def start_commands(self) -> list[GattWrite]:
        return [GattWrite(PMD_CONTROL, self.start_request(), True, 0.1)]

    def stop_commands(self) -> list[GattWrite]:
        return [GattWrite(PMD_CONTROL, bytes([0x03, MEASUREMENT_ACC]), True)]

    def on_control(self, data: bytes) -> str | None:
        data = bytes(data)
        if len(data) >= 4 and data[0] == 0xF0 and data[3] != 0:
            if data[3] == 6:     # "already in state": streaming already on after a reconnect
                return None
            return f"PMD op 0x{data[1]:02x} type {data[2]} failed: {_STATUS.get(data[3], data[3])}"
        return None

    def decode(self, data: bytes) -> Frame | None:
        data = bytes(data)
        if len(data) < 10:
            raise DecodeError("truncated", f"PMD frame of {len(data)} bytes < 10-byte header")
        if data[0] != MEASUREMENT_ACC:
            return None   # another measurement type (ECG, ...) we did not ask for
        ts_ns = struct.unpack_from("<Q", data, 1)[0]
        ftype = data[9]
        content = data[10:]
        if ftype & 0x80:
            ints = _delta_frames(content, channels=3, resolution_bits=16)
            acc = ints * (self.factor if ftype & 0x7F == 1 else self.factor * 1000.0)
        else:
            width = {0: 1, 1: 2, 2: 3}.get(ftype)
            if width is None:
                raise DecodeError("bad_frame_type", f"raw ACC frame type {ftype} not supported")
            if len(content) == 0 or len(content) % (3 * width):
                raise DecodeError("bad_length", f"{len(content)} content bytes for {width}-byte samples")
            acc = _signed_le(content, width).reshape(-1, 3).astype(np.float64)
        return Frame(acc_g=acc / 1000.0, gyro_dps=None, sensor_t_s=ts_ns * 1e-9, sensor_t_at=-1)


def _signed_le(content: bytes, width: int) -> np.ndarray:
    if width == 1:
        return np.frombuffer(content, dtype=np.int8).astype(np.int64)
    if width == 2:
        return np.frombuffer(content, dtype="<i2").astype(np.int64)
    b = np.frombuffer(content, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return np.where(v & 0x800000, v - (1 << 24), v)


def _delta_frames(content: bytes, channels: int, resolution_bits: int) -> np.ndarray:
    ref_bytes = (resolution_bits + 7) // 8
    if len(content) < channels * ref_bytes:
        raise DecodeError("truncated", "compressed frame shorter than its reference sample")
    ref = _signed_le(content[:channels * ref_bytes], ref_bytes)
    out = [ref]
    off = channels * ref_bytes
    while off < len(content):
        if off + 2 > len(content):
            raise DecodeError("truncated", "delta block header cut short")
        width, count = content[off], content[off + 1]
        off += 2
        if width == 0 or width > 32:
            raise DecodeError("bad_frame", f"delta bit width {width}")
        nbytes = (width * count * channels + 7) // 8
        if off + nbytes > len(content):
            raise DecodeError("truncated", "delta block longer than the frame")
        if count == 0:
            continue
        bits = np.unpackbits(np.frombuffer(content, dtype=np.uint8, count=nbytes, offset=off),
                             bitorder="little")[:width * count * channels]
        weights = 1 << np.arange(width, dtype=np.int64)
        vals = bits.reshape(count * channels, width).astype(np.int64) @ weights
        vals = np.where(vals & (1 << (width - 1)), vals - (1 << width), vals).reshape(count, channels)
        out.append(out[-1][-channels:].reshape(1, channels) + np.cumsum(vals, axis=0))
        off += nbytes
    return np.concatenate([o.reshape(-1, channels) for o in out]).astype(np.float64)


def encode_raw_frame(acc_g: np.ndarray, ts_ns: int) -> bytes:
    """An uncompressed 16-bit ACC frame (type 0x01), for the emulated peripheral and tests."""
    mg = np.clip(np.rint(np.asarray(acc_g) * 1000.0), -32768, 32767).astype("<i2")
    return bytes([MEASUREMENT_ACC]) + struct.pack("<Q", ts_ns) + bytes([0x01]) + mg.tobytes()


def encode_delta_frame(acc_g: np.ndarray, ts_ns: int, width: int | None = None) -> bytes:
    """A delta-compressed 16-bit ACC frame (type 0x81) with one delta block."""
    mg = np.rint(np.asarray(acc_g) * 1000.0).astype(np.int64).reshape(-1, 3)
    deltas = np.diff(mg, axis=0)
    if width is None:
        m = int(np.abs(deltas).max(initial=0))
        width = max(2, m.bit_length() + 1)
    vals = (deltas.reshape(-1) & ((1 << width) - 1)).astype(np.uint64)
    bits = ((vals[:, None] >> np.arange(width, dtype=np.uint64)) & 1).astype(np.uint8).reshape(-1)
    packed = np.packbits(bits, bitorder="little").tobytes()
    body = mg[0].astype("<i2").tobytes() + (bytes([width, len(deltas)]) + packed if len(deltas) else b"")
    return bytes([MEASUREMENT_ACC]) + struct.pack("<Q", ts_ns) + bytes([0x81]) + body
