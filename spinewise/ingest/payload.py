"""The ``<prefix>/<device>/imu`` payload: one ImuChunk per MQTT message, JSON or binary, version 1.

``encode(chunk, "json" | "binary") -> bytes`` and ``decode(bytes) -> ImuChunk``. ``decode`` sniffs
the first byte: ``{`` (after optional whitespace) is JSON, ``0xB1`` is binary v1. Anything else, and
any payload that does not describe a well-formed chunk, raises :class:`PayloadError` whose
``reason`` names the problem (see ``REASONS``) so a consumer can count rejections by kind.

JSON v1 (readable; the default)::

    {"v": 1, "device": "back", "rate_hz": 50.0,
     "t_s": [1732540000.02, ...],          # sample times, Unix epoch seconds, strictly increasing
     "seq": [1201, ...],                   # per-sample sequence numbers (optional; gaps = losses)
     "acc_g": [[ax, ay, az], ...],         # specific force, sensor frame, g
     "gyro_dps": [[gx, gy, gz], ...] | null,   # sensor frame, deg/s; null = no gyroscope
     "meta": {...}}                        # optional, free-form (battery, profile, ...)

Binary v1 (compact, little-endian; 32 bytes/sample with gyro and seq, 20 without gyro, plus a header)::

    off size type     field
    0   1    u8       magic+version 0xB1
    1   1    u8       flags: bit0 gyro present, bit1 seq present
    2   2    u16      n samples
    4   4    f32      rate_hz (nominal)
    8   8    f64      t0_s: time of the first sample, Unix epoch seconds
    16  8    i64      seq0: sequence number of the first sample (0 when absent)
    24  1    u8       L: device id length
    25  L    utf-8    device id
    ..  4n   u32      time of each sample after t0, microseconds
    ..  4n   u32      seq of each sample minus seq0 (only with flag bit1)
    ..  12n  f32      acc_g, x y z per sample
    ..  12n  f32      gyro_dps, x y z per sample (only with flag bit0)

Binary v1 carries no ``meta``. Float32 keeps 24 bits of mantissa, more than any IMU's 16-bit
converter; times are rounded to the microsecond, so a binary round trip is exact to 1 us and to
float32 precision.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

from spinewise.stream import ImuChunk

VERSION = 1
BINARY_MAGIC = 0xB1
MAX_SAMPLES = 65535
REASONS = ("empty", "unknown_encoding", "malformed_json", "bad_version", "bad_field", "truncated",
           "bad_shape", "nan", "not_increasing", "too_large")

_HEADER = struct.Struct("<BBHfdqB")
_FLAG_GYRO = 0x01
_FLAG_SEQ = 0x02


class PayloadError(ValueError):
    """A payload that cannot be turned into an ImuChunk; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# -- encode ---------------------------------------------------------------------------------
def encode(chunk: ImuChunk, encoding: str = "json") -> bytes:
    if encoding == "json":
        return encode_json(chunk)
    if encoding == "binary":
        return encode_binary(chunk)
    raise ValueError(f"unknown payload encoding {encoding!r} (json or binary)")


def encode_json(chunk: ImuChunk) -> bytes:
    doc = {"v": VERSION, "device": chunk.device_id, "rate_hz": float(chunk.rate_hz),
           "t_s": chunk.t_s.tolist(),
           "seq": None if chunk.seq is None else chunk.seq.tolist(),
           "acc_g": chunk.acc_g.tolist(),
           "gyro_dps": None if chunk.gyro_dps is None else chunk.gyro_dps.tolist()}
    if chunk.meta:
        doc["meta"] = chunk.meta
    # allow_nan=False: a NaN must never leave the gateway as invalid JSON
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, default=_plain).encode()


def _plain(obj):
    """numpy scalars/arrays in ``meta`` (recordings put gap lists there) as plain JSON values."""
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"meta value of type {type(obj).__name__} is not JSON-serialisable")


def encode_binary(chunk: ImuChunk) -> bytes:
    n = len(chunk)
    if n == 0 or n > MAX_SAMPLES:
        raise ValueError(f"binary payload needs 1..{MAX_SAMPLES} samples, got {n}")
    dev = chunk.device_id.encode()
    if len(dev) > 255:
        raise ValueError("device id longer than 255 bytes")
    t0 = float(chunk.t_s[0])
    dt_us = np.rint((chunk.t_s - t0) * 1e6)
    if dt_us[-1] > 0xFFFFFFFF:
        raise ValueError("chunk spans more than 71 minutes")
    flags = (_FLAG_GYRO if chunk.gyro_dps is not None else 0) | (_FLAG_SEQ if chunk.seq is not None else 0)
    seq0 = int(chunk.seq[0]) if chunk.seq is not None else 0
    parts = [_HEADER.pack(BINARY_MAGIC, flags, n, float(chunk.rate_hz), t0, seq0, len(dev)), dev,
             dt_us.astype("<u4").tobytes()]
    if chunk.seq is not None:
        dseq = chunk.seq - seq0
        if dseq.min() < 0 or dseq.max() > 0xFFFFFFFF:
            raise ValueError("seq not representable as u32 offsets from the first sample")
        parts.append(dseq.astype("<u4").tobytes())
    parts.append(chunk.acc_g.astype("<f4").tobytes())
    if chunk.gyro_dps is not None:
        parts.append(chunk.gyro_dps.astype("<f4").tobytes())
    return b"".join(parts)


# -- decode ---------------------------------------------------------------------------------
def decode(data: bytes | bytearray | memoryview | str) -> ImuChunk:
    """Decode a JSON or binary v1 payload. Raises PayloadError (never anything else) on bad input."""
    if isinstance(data, str):
        data = data.encode()
    data = bytes(data)
    if not data:
        raise PayloadError("empty", "empty payload")
    first = data.lstrip(b" \t\r\n")[:1]
    if first == b"{":
        return _decode_json(data)
    if data[0] == BINARY_MAGIC:
        return _decode_binary(data)
    if data[0] & 0xF0 == 0xB0:
        raise PayloadError("bad_version", f"binary payload version {data[0] & 0x0F} (supported: {VERSION})")
    raise PayloadError("unknown_encoding",
                       f"first byte 0x{data[0]:02x} is neither '{{' nor 0x{BINARY_MAGIC:02x}")


def _decode_json(data: bytes) -> ImuChunk:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PayloadError("malformed_json", str(exc)) from None
    if not isinstance(doc, dict):
        raise PayloadError("malformed_json", "top level is not an object")
    if doc.get("v") != VERSION:
        raise PayloadError("bad_version", f"v={doc.get('v')!r} (supported: {VERSION})")
    device = doc.get("device", "local")
    rate = doc.get("rate_hz", 50.0)
    if not isinstance(device, str):
        raise PayloadError("bad_field", "device is not a string")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 < rate < 1e5):
        raise PayloadError("bad_field", f"rate_hz={rate!r} is not a positive number")
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise PayloadError("bad_field", "meta is not an object")
    t = _array(doc, "t_s", (-1,))
    n = t.shape[0]
    if n > MAX_SAMPLES:
        raise PayloadError("too_large", f"{n} samples > {MAX_SAMPLES}")
    acc = _array(doc, "acc_g", (n, 3))
    gyro = None if doc.get("gyro_dps") is None else _array(doc, "gyro_dps", (n, 3))
    seq = None
    if doc.get("seq") is not None:
        seq_f = _array(doc, "seq", (n,))
        if not np.all(seq_f == np.round(seq_f)) or np.abs(seq_f).max(initial=0) > 2**53:
            raise PayloadError("bad_field", "seq holds non-integers")
        seq = seq_f.astype(np.int64)
    return _checked(t, acc, gyro, seq, device, float(rate), meta)


def _array(doc: dict, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in doc:
        raise PayloadError("bad_field", f"missing {name}")
    try:
        arr = np.asarray(doc[name], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise PayloadError("bad_shape", f"{name} is not a numeric array") from None
    if shape == (-1,):
        ok = arr.ndim == 1
    else:
        ok = arr.shape == shape
    if not ok:
        raise PayloadError("bad_shape", f"{name} has shape {arr.shape}, expected {shape}")
    return arr


def _decode_binary(data: bytes) -> ImuChunk:
    if len(data) < _HEADER.size:
        raise PayloadError("truncated", f"{len(data)} bytes < {_HEADER.size}-byte header")
    _, flags, n, rate, t0, seq0, dev_len = _HEADER.unpack_from(data)
    if flags & ~(_FLAG_GYRO | _FLAG_SEQ):
        raise PayloadError("bad_field", f"unknown flags 0x{flags:02x}")
    off = _HEADER.size
    has_gyro, has_seq = bool(flags & _FLAG_GYRO), bool(flags & _FLAG_SEQ)
    need = off + dev_len + 4 * n + (4 * n if has_seq else 0) + 12 * n + (12 * n if has_gyro else 0)
    if len(data) < need:
        raise PayloadError("truncated", f"{len(data)} bytes < {need} for {n} samples")
    if len(data) > need:
        raise PayloadError("bad_shape", f"{len(data) - need} trailing bytes")
    if n == 0:
        raise PayloadError("bad_shape", "zero samples")
    if not (math.isfinite(rate) and rate > 0) or not math.isfinite(t0):
        raise PayloadError("nan", "rate_hz or t0_s is not a finite positive number")
    try:
        device = data[off:off + dev_len].decode()
    except UnicodeDecodeError:
        raise PayloadError("bad_field", "device id is not UTF-8") from None
    off += dev_len

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal off
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=off)
        off += arr.nbytes
        return arr

    t = t0 + take("<u4", n).astype(np.float64) * 1e-6
    seq = seq0 + take("<u4", n).astype(np.int64) if has_seq else None
    # a signalling NaN in the bytes warns on the cast; _checked refuses it with a reason instead
    with np.errstate(invalid="ignore"):
        acc = take("<f4", 3 * n).astype(np.float64).reshape(n, 3)
        gyro = take("<f4", 3 * n).astype(np.float64).reshape(n, 3) if has_gyro else None
    return _checked(t, acc, gyro, seq, device, float(rate), {})


def _checked(t, acc, gyro, seq, device, rate, meta) -> ImuChunk:
    if not np.all(np.isfinite(t)) or not np.all(np.isfinite(acc)) or (
            gyro is not None and not np.all(np.isfinite(gyro))):
        raise PayloadError("nan", "non-finite time or sample value")
    if t.shape[0] > 1 and not np.all(np.diff(t) > 0):
        raise PayloadError("not_increasing", "t_s is not strictly increasing")
    if seq is not None and seq.shape[0] > 1 and not np.all(np.diff(seq) > 0):
        raise PayloadError("not_increasing", "seq is not strictly increasing")
    return ImuChunk(t_s=t, acc_g=acc, gyro_dps=gyro, device_id=device, rate_hz=rate, seq=seq, meta=meta)
