"""Payload codec: JSON and binary v1 round trips, and clear reasons for garbage."""
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spinewise.ingest import payload
from spinewise.ingest.payload import PayloadError, decode, encode
from spinewise.stream import ImuChunk


def _chunk(n=25, gyro=True, seq=True, t0=1_732_540_000.0):
    rng = np.random.default_rng(1)
    return ImuChunk(t_s=t0 + np.arange(n) / 50.0, acc_g=rng.normal(0, 1, (n, 3)),
                    gyro_dps=rng.normal(0, 50, (n, 3)) if gyro else None, device_id="back",
                    rate_hz=50.0, seq=np.arange(1000, 1000 + n) if seq else None)


@pytest.mark.parametrize("gyro", [True, False])
@pytest.mark.parametrize("seq", [True, False])
def test_json_round_trip_is_exact(gyro, seq):
    c = _chunk(gyro=gyro, seq=seq)
    d = decode(encode(c, "json"))
    np.testing.assert_array_equal(d.t_s, c.t_s)
    np.testing.assert_array_equal(d.acc_g, c.acc_g)
    assert (d.gyro_dps is None) == (not gyro)
    if gyro:
        np.testing.assert_array_equal(d.gyro_dps, c.gyro_dps)
    assert (d.seq is None) == (not seq)
    if seq:
        np.testing.assert_array_equal(d.seq, c.seq)
    assert d.device_id == "back" and d.rate_hz == 50.0


@pytest.mark.parametrize("gyro", [True, False])
@pytest.mark.parametrize("seq", [True, False])
def test_binary_round_trip_to_float32_and_microsecond(gyro, seq):
    c = _chunk(gyro=gyro, seq=seq)
    raw = encode(c, "binary")
    assert raw[0] == 0xB1
    assert len(raw) == 25 + 4 + 25 * (4 + (4 if seq else 0) + 12 + (12 if gyro else 0))
    d = decode(raw)
    np.testing.assert_allclose(d.t_s, c.t_s, atol=1e-6, rtol=0)
    np.testing.assert_allclose(d.acc_g, c.acc_g, rtol=1e-6, atol=1e-6)
    if gyro:
        np.testing.assert_allclose(d.gyro_dps, c.gyro_dps, rtol=1e-6, atol=1e-5)
    if seq:
        np.testing.assert_array_equal(d.seq, c.seq)


def test_binary_is_much_smaller_than_json():
    c = _chunk()
    assert len(encode(c, "binary")) * 3 < len(encode(c, "json"))


def test_json_accepts_leading_whitespace_and_str():
    assert len(decode("  \n" + encode(_chunk(), "json").decode())) == 25


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"),
    (b"hello", "unknown_encoding"),
    (b"{not json", "malformed_json"),
    (b"[1,2]", "unknown_encoding"),
    (b'{"v": 2, "t_s": [], "acc_g": []}', "bad_version"),
    (b'{"v": 1, "acc_g": []}', "bad_field"),
    (b'{"v": 1, "t_s": [1, 2], "acc_g": [[0, 0, 1]]}', "bad_shape"),
    (b'{"v": 1, "t_s": [1, 2], "acc_g": [[0, 0, 1], [0, 0, "x"]]}', "bad_shape"),
    (b'{"v": 1, "t_s": [1, NaN], "acc_g": [[0, 0, 1], [0, 0, 1]]}', "nan"),
    (b'{"v": 1, "t_s": [2, 1], "acc_g": [[0, 0, 1], [0, 0, 1]]}', "not_increasing"),
    (b'{"v": 1, "t_s": [1], "acc_g": [[0, 0, 1]], "seq": [1.5]}', "bad_field"),
    (b'{"v": 1, "t_s": [1], "acc_g": [[0, 0, 1]], "rate_hz": -1}', "bad_field"),
    (b"\xb2\x00", "bad_version"),
    (b"\xb1\x00\x01", "truncated"),
])
def test_bad_payloads_have_reasons(raw, reason):
    with pytest.raises(PayloadError) as exc:
        decode(raw)
    assert exc.value.reason == reason
    assert reason in payload.REASONS


def test_binary_truncated_and_trailing():
    raw = encode(_chunk(), "binary")
    with pytest.raises(PayloadError) as exc:
        decode(raw[:-1])
    assert exc.value.reason == "truncated"
    with pytest.raises(PayloadError) as exc:
        decode(raw + b"\0")
    assert exc.value.reason == "bad_shape"


def test_binary_nan_sample_rejected():
    c = _chunk(n=3)
    acc = c.acc_g.copy()
    acc[1, 2] = np.nan
    bad = ImuChunk(c.t_s, acc, c.gyro_dps, "back", 50.0, seq=c.seq)
    with pytest.raises(PayloadError) as exc:
        decode(encode(bad, "binary"))
    assert exc.value.reason == "nan"


def test_binary_signalling_nan_is_rejected_without_a_warning():
    import warnings

    raw = bytearray(encode(_chunk(n=3), "binary"))
    i = raw.rfind(struct.pack("<f", float(_chunk(n=3).acc_g[-1, -1])))
    raw[i:i + 4] = struct.pack("<I", 0x7F800001)         # the bit pattern of a signalling NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # a service must not warn on stderr
        with pytest.raises(PayloadError) as exc:
            decode(bytes(raw))
    assert exc.value.reason == "nan"


def test_json_encoder_refuses_nan():
    c = _chunk(n=2)
    acc = c.acc_g.copy()
    acc[0, 0] = np.inf
    with pytest.raises(ValueError):
        encode(ImuChunk(c.t_s, acc), "json")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_bytes_only_raise_payload_error(raw):
    try:
        decode(raw)
    except PayloadError as exc:
        assert exc.reason in payload.REASONS


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["v", "t_s", "acc_g", "gyro_dps", "seq", "rate_hz", "device", "meta"]),
                        inner, max_size=6), max_leaves=20))
def test_garbage_json_only_raises_payload_error(doc):
    try:
        raw = json.dumps(doc).encode()
    except ValueError:
        return
    try:
        decode(raw)
    except PayloadError as exc:
        assert exc.reason in payload.REASONS


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 60), st.booleans(), st.booleans(), st.integers(0, 2**40))
def test_binary_round_trip_property(n, gyro, seq, seq0):
    c = _chunk(n=n, gyro=gyro, seq=False)
    c = ImuChunk(c.t_s, c.acc_g, c.gyro_dps, "d", 25.0, seq=seq0 + np.arange(n) * 2 if seq else None)
    d = decode(encode(c, "binary"))
    assert len(d) == n
    if seq:
        np.testing.assert_array_equal(d.seq, c.seq)


def test_binary_header_layout_is_documented():
    # the byte table in docs/sensors.md: magic, flags, n, rate, t0, seq0, device length
    raw = encode(_chunk(n=2), "binary")
    magic, flags, n, rate, t0, seq0, dl = struct.unpack_from("<BBHfdqB", raw)
    assert (magic, flags, n, rate, seq0, dl) == (0xB1, 3, 2, 50.0, 1000, 4)
    assert raw[25:29] == b"back"


def test_meta_with_numpy_values_round_trips():
    c = _chunk(n=2)
    c = ImuChunk(c.t_s, c.acc_g, c.gyro_dps, "back", 50.0, seq=c.seq,
                 meta={"gaps": [(np.float64(1.5), np.float64(7.0))], "n": np.int64(3)})
    assert decode(encode(c, "json")).meta == {"gaps": [[1.5, 7.0]], "n": 3}
