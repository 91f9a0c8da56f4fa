"""The gateway's message spool: MQTT framing over spinewise.spool (generic cases: tests/test_spool.py)."""
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinewise.ingest.spool import Spool, SpoolRecord, decode_message, encode_message
from spinewise.spool import SpoolBusyError


def _rec(i, size=10):
    return SpoolRecord(f"t/{i}", bytes([i % 256]) * size, i % 3, i % 2 == 0)


def _drain(sp):
    out = []
    while (r := sp.peek()) is not None:
        out.append(r)
        sp.pop()
    return out


@settings(max_examples=50, deadline=None)
@given(topic=st.text(max_size=40), payload=st.binary(max_size=200), qos=st.integers(0, 2),
       retain=st.booleans())
def test_framing_round_trips_any_message(topic, payload, qos, retain):
    rec = SpoolRecord(topic.encode("utf-8", "replace").decode(), payload, qos, retain)
    assert decode_message(encode_message(rec)) == rec


def test_messages_come_back_in_order_with_their_fields(tmp_path):
    sp = Spool(tmp_path, 1 << 20)
    for i in range(100):
        sp.append(_rec(i))
    assert len(sp) == 100
    got = _drain(sp)
    assert got == [_rec(i) for i in range(100)]
    assert len(sp) == 0 and sp.peek() is None


def test_the_on_disk_format_of_earlier_gateway_spools_is_read(tmp_path):
    """[u32 len][u32 crc][u8 qos|retain<<2][u16 topic len][topic][payload]: unchanged."""
    body = struct.pack("<BH", 1 | 4, 9) + b"sw/d1/imu" + b'{"v":1}'
    (tmp_path / "seg-000000000007.log").write_bytes(struct.pack("<II", len(body), zlib.crc32(body)) + body)
    (tmp_path / "head").write_text("7 0")
    assert _drain(Spool(tmp_path)) == [SpoolRecord("sw/d1/imu", b'{"v":1}', 1, True)]


def test_window_pop_and_rewind(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=1024)
    for i in range(100):
        sp.append(_rec(i))
    assert [r.topic for r in sp.peek_many(16)] == [f"t/{i}" for i in range(16)]
    sp.pop(3)
    assert [r.topic for r in sp.peek_many(16)] == [f"t/{i}" for i in range(3, 19)]
    sp.rewind()                                   # connection lost: in-flight ones go again
    assert sp.peek().topic == "t/3" and len(sp) == 97


def test_bound_drops_oldest_and_the_window_in_flight_stays_valid(tmp_path):
    sp = Spool(tmp_path, max_bytes=8_000, segment_bytes=1_000)
    for i in range(50):
        sp.append(_rec(i, 20))
    inflight = sp.peek_many(8)                    # the sender has the oldest in flight...
    for i in range(50, 400):
        sp.append(_rec(i, 20))                    # ...while the bound drops their segment
    assert sp.peek_many(8) == inflight            # their PUBACKs still acknowledge them
    sp.pop(8)
    got = [int(r.topic[2:]) for r in _drain(sp)]
    assert got == list(range(got[0], 400)) and sp.dropped == got[0] - 8 > 0
    assert sp.size_bytes <= 8_000


def test_crc_valid_record_that_is_no_message_is_skipped_and_counted(tmp_path):
    from spinewise.spool import Spool as RecordSpool
    raw = RecordSpool(tmp_path)
    raw.append(encode_message(_rec(1)))
    raw.append(b"\x01")                            # too short to be a message
    raw.append(encode_message(_rec(2)))
    raw.close()
    sp = Spool(tmp_path)
    assert sp.peek_many(5) == [_rec(1)]           # good ones first, the bad one leads next time
    sp.pop(1)
    assert _drain(sp) == [_rec(2)] and sp.corrupt == 1


def test_two_gateways_on_one_spool_directory_are_refused(tmp_path):
    sp = Spool(tmp_path)
    with pytest.raises(SpoolBusyError, match="spool_dir"):
        Spool(tmp_path)
    sp.close()


def test_stats(tmp_path):
    sp = Spool(tmp_path)
    sp.append(_rec(1))
    s = sp.stats()
    assert s["depth_records"] == 1 and s["depth_bytes"] > 0 and s["dropped"] == s["corrupt"] == 0
