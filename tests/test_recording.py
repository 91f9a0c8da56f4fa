"""The CSV recording format: round trips, chunking, every malformed case, gyro detection."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinewise import recording
from spinewise.recording import (HEADER_LINE, ReadPolicy, ReadReport, RecordingError, probe,
                                 read_all, read_chunks, write_csv)
from spinewise.stream import ImuChunk


def make_chunk(n=600, rate_hz=50.0, gyro=True, t0=0.0, seed=0) -> ImuChunk:
    """Samples quantised like a 16-bit IMU (+-16 g, +-2000 dps)."""
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) / rate_hz
    acc = np.round((np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.1, (n, 3))) * 2048) / 2048
    gyr = np.round(rng.normal(0, 30, (n, 3)) * 16.384) / 16.384 if gyro else None
    return ImuChunk(t, acc, gyr, rate_hz=rate_hz)


def write_text(tmp_path, text: str | bytes, name="rec.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def good_lines(n=20, rate_hz=50.0, gyro=True) -> list[str]:
    g = ",0.5,-0.25,1.0" if gyro else ",,,"
    return [f"{i / rate_hz!r},0.01,-0.02,0.99{g}" for i in range(n)]


def csv_of(lines: list[str]) -> str:
    return HEADER_LINE + "\n" + "\n".join(lines) + "\n"


def read(path, **kw) -> tuple[ImuChunk, ReadReport]:
    report = ReadReport()
    return read_all(path, report=report, **kw), report


def assert_same(a: ImuChunk, b: ImuChunk) -> None:
    assert np.array_equal(a.t_s, b.t_s)
    assert np.array_equal(a.acc_g, b.acc_g)
    if a.gyro_dps is None or b.gyro_dps is None:
        assert a.gyro_dps is None and b.gyro_dps is None
    else:
        assert np.array_equal(a.gyro_dps, b.gyro_dps)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("gyro", [True, False])
def test_round_trip_is_bit_exact(tmp_path, gyro):
    chunk = make_chunk(gyro=gyro)
    path = tmp_path / "rec.csv"
    assert write_csv(path, chunk.split(100)) == len(chunk)
    report = ReadReport()
    back = read_all(path, device_id="back1", report=report)
    assert_same(back, chunk)
    assert report.ok and report.rows == len(chunk) and report.has_gyro is gyro
    assert back.rate_hz == 50.0 and back.device_id == "back1" and back.meta == {}


def test_round_trip_of_arbitrary_floats_and_epoch_times(tmp_path):
    rng = np.random.default_rng(3)
    t = 1_764_000_000.0 + np.cumsum(rng.uniform(0.005, 0.015, 500))
    chunk = ImuChunk(t, rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) * 100)
    write_csv(tmp_path / "rec.csv", [chunk])
    back, _ = read(tmp_path / "rec.csv")
    assert_same(back, chunk)          # epoch seconds kept as given, not made relative
    assert back.rate_hz == pytest.approx(100, rel=0.05)


def test_fixed_decimals_are_compact_and_close(tmp_path):
    chunk = make_chunk()
    write_csv(tmp_path / "rec.csv", [chunk], decimals=6)
    assert (tmp_path / "rec.csv").read_text().splitlines()[1].count(".") == 7
    back, _ = read(tmp_path / "rec.csv")
    assert np.array_equal(back.t_s, chunk.t_s)
    assert np.abs(back.acc_g - chunk.acc_g).max() <= 5.001e-7
    assert np.abs(back.gyro_dps - chunk.gyro_dps).max() <= 5.001e-7


def test_write_rejects_inconsistent_input_and_leaves_no_file(tmp_path):
    good = make_chunk(10)
    bad_nan = ImuChunk(good.t_s + 1, np.full((10, 3), np.nan), good.gyro_dps)
    cases = [
        [good, bad_nan],
        [good, good],                                    # time does not increase
        [good, make_chunk(10, gyro=False, t0=10)],       # gyro then no gyro
    ]
    for chunks in cases:
        with pytest.raises(ValueError):
            write_csv(tmp_path / "x.csv", chunks)
        assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError):
        write_csv(tmp_path / "x.csv", [good], decimals=-1)


def test_write_to_a_text_stream():
    buf = io.StringIO()
    chunk = ImuChunk(np.array([0.0, 0.02]), np.array([[0.0, 0.5, 1.0], [-0.25, 0.0, 0.9999]]))
    assert write_csv(buf, chunk, decimals=3) == 2          # one chunk or an iterable
    assert buf.getvalue().splitlines() == [HEADER_LINE, "0.0,0.000,0.500,1.000,,,",
                                           "0.02,-0.250,0.000,1.000,,,"]


# ------------------------------------------------------------------------ chunk sizes


MESSY = csv_of(good_lines(30)[:5] + ["0.1,abc,0,1,0,0,0", "0.11,0,0"] + good_lines(30)[6:12]
               + ["0.2,0,0,1,0,0,0", "0.18,0,0,1,0,0,0", "0.24,nan,0,1,0,0,0"]
               + [f"{3600 + i / 50!r},0,0,1,1,2,3" for i in range(25)])


@pytest.mark.parametrize("gyro", [True, False])
def test_chunk_size_does_not_change_the_result(tmp_path, gyro):
    path = tmp_path / "rec.csv"
    write_csv(path, [make_chunk(3000, gyro=gyro)])
    ref = list(read_chunks(path, 4096))
    for size in (1, 7, 25, 1000, 10**6):
        chunks = list(read_chunks(path, size))
        assert all(len(c) == size for c in chunks[:-1]) and 0 < len(chunks[-1]) <= size
        assert_same(ImuChunk.concat(chunks), ImuChunk.concat(ref))
        assert {c.rate_hz for c in chunks} == {50.0}


def test_chunk_and_block_size_do_not_change_handling(tmp_path, monkeypatch):
    path = write_text(tmp_path, MESSY)
    ref_report = ReadReport()
    ref = ImuChunk.concat(list(read_chunks(path, 4096, report=ref_report)))
    for block_bytes in (16, 61, 200):             # blocks cut lines everywhere
        monkeypatch.setattr(recording.parse, "_BLOCK_BYTES", block_bytes)
        for size in (1, 3, 50):
            report = ReadReport()
            got = ImuChunk.concat(list(read_chunks(path, size, report=report)))
            assert_same(got, ref)
            assert report.counts == ref_report.counts and report.lines == ref_report.lines
            assert report.gaps == ref_report.gaps


def test_bad_chunk_size():
    with pytest.raises(ValueError):
        next(read_chunks("whatever.csv", 0))


# ------------------------------------------------------------------------ malformed files


def test_bad_number_is_dropped_and_named(tmp_path, caplog):
    lines = good_lines()
    lines[3] = "0.06,0.01,oops,0.99,0,0,0"
    with caplog.at_level(logging.WARNING, logger="spinewise.recording"):
        chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert len(chunk) == 19 and report.counts == {"bad_number": 1}
    assert report.lines["bad_number"] == [5]              # header is line 1
    assert "line 5" in caplog.text and "ay" in caplog.text
    assert "bad_number" in report.summary() and "5" in report.summary()


def test_missing_column_is_a_short_row(tmp_path):
    lines = good_lines()
    lines[7] = "0.14,0.01,-0.02,0.99,0.5,-0.25"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert report.counts == {"short_row": 1} and report.lines["short_row"] == [9]
    assert 0.14 not in chunk.t_s


def test_empty_gyro_field_in_a_gyro_recording(tmp_path):
    lines = good_lines()
    lines[2] = "0.04,0.01,-0.02,0.99,,,"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert chunk.has_gyro and report.counts == {"bad_number": 1}
    assert report.lines["bad_number"] == [4]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_values_are_dropped(tmp_path, value):
    lines = good_lines()
    lines[10] = f"0.2,0.01,{value},0.99,0,0,0"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert report.counts == {"nan": 1} and report.lines["nan"] == [12]
    assert np.isfinite(chunk.acc_g).all() and len(chunk) == 19


def test_time_going_backwards_is_dropped(tmp_path):
    lines = good_lines()
    lines[10] = "0.1,0.01,-0.02,0.99,0,0,0"       # between 0.18 and 0.22: goes back
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert report.counts == {"non_monotonic": 1} and report.lines["non_monotonic"] == [12]
    assert np.all(np.diff(chunk.t_s) > 0) and len(chunk) == 19


def test_duplicated_timestamp_keeps_the_first(tmp_path):
    lines = good_lines()
    lines[6] = lines[5].replace("0.01,", "0.5,", 1)
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert report.counts == {"duplicate_time": 1} and report.lines["duplicate_time"] == [8]
    assert chunk.acc_g[5, 0] == 0.01 and len(chunk) == 19


def test_a_single_corrupt_future_time_does_not_hide_the_rest(tmp_path):
    lines = good_lines()
    lines[8] = "99999.0,0.01,-0.02,0.99,0,0,0"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert report.counts == {"non_monotonic": 1} and report.lines["non_monotonic"] == [10]
    assert len(chunk) == 19 and chunk.t_s[-1] == pytest.approx(0.38)


def test_gap_of_hours_is_kept_counted_and_exposed(tmp_path):
    lines = good_lines(10) + [f"{7200 + i / 50!r},0.01,-0.02,0.99,0.5,0,0" for i in range(10)]
    report = ReadReport()
    chunks = list(read_chunks(write_text(tmp_path, csv_of(lines)), 4, report=report))
    assert sum(map(len, chunks)) == 20 and report.dropped == 0
    assert report.counts == {"gap": 1}
    (gap,) = report.gaps
    assert (gap.line, gap.start_s, gap.end_s) == (12, 0.18, 7200.0)
    assert gap.duration_s == pytest.approx(7199.82)
    with_gap = [c for c in chunks if c.meta.get("gaps")]
    assert len(with_gap) == 1 and with_gap[0].meta["gaps"] == [(0.18, 7200.0)]
    assert chunks[0].rate_hz == 50.0                        # the gap does not skew the rate


def test_gap_threshold_is_a_policy(tmp_path):
    lines = good_lines(10) + [f"{1 + i / 50!r},0.01,-0.02,0.99,0.5,0,0" for i in range(10)]
    path = write_text(tmp_path, csv_of(lines))
    assert read(path)[1].counts == {}
    assert read(path, policy=ReadPolicy(gap_s=0.5))[1].counts == {"gap": 1}


@pytest.mark.parametrize("content, line, words", [
    (b"", 1, "empty"),
    (b"time,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n", 1, "wrong header"),
    (b"0.0,0,0,1,0,0,0\n0.02,0,0,1,0,0,0\n", 1, "wrong header"),
    (b"t,ax,ay,az\n0,0,0,1\n0.02,0,0,1\n", 1, "wrong header"),
    (b"\xff\xfe\x00garbage\x00\n1,2\n", 1, "not text"),
])
def test_fatal_problems_raise_with_the_line(tmp_path, content, line, words):
    with pytest.raises(RecordingError) as err:
        read(write_text(tmp_path, content))
    assert err.value.line == line and words in str(err.value)
    assert f"line {line}" in str(err.value) and "rec.csv" in str(err.value)


@pytest.mark.parametrize("body", ["", "0.0,0,0,1,0,0,0\n", "x,y\n\xff\n"])
def test_no_usable_samples_is_fatal(tmp_path, body):
    with pytest.raises(RecordingError, match="fewer than two valid samples"):
        read(write_text(tmp_path, HEADER_LINE + "\n" + body))


def test_missing_file_is_a_recording_error(tmp_path):
    with pytest.raises(RecordingError, match="cannot open"):
        next(read_chunks(tmp_path / "nope.csv"))


def test_binary_garbage_lines_are_counted(tmp_path):
    raw = csv_of(good_lines(10)).encode() + b"\x00\xff\xfe\x9c garbage\n" + \
        csv_of(good_lines(20)[10:]).split("\n", 1)[1].encode()
    chunk, report = read(write_text(tmp_path, raw))
    assert report.counts == {"not_text": 1} and report.lines["not_text"] == [12]
    assert len(chunk) == 20


def test_overlong_line_is_skipped_with_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(recording.parse, "_BLOCK_BYTES", 4096)
    raw = csv_of(good_lines(10)).encode() + b"7" * 300_000 + b"\n" + \
        csv_of(good_lines(20)[10:]).split("\n", 1)[1].encode()
    chunk, report = read(write_text(tmp_path, raw), policy=ReadPolicy(max_line_bytes=1000))
    assert report.counts == {"too_long": 1} and report.lines["too_long"] == [12]
    assert len(chunk) == 20


@pytest.mark.parametrize("tail, reason", [("0.4,0.01,-0.0", "truncated"),
                                          ("0.4,0.01,-0.02,0.99,0.5,-0.25,1.0", None)])
def test_truncated_last_line(tmp_path, caplog, tail, reason):
    text = csv_of(good_lines()) + tail                  # no final newline
    with caplog.at_level(logging.WARNING, logger="spinewise.recording"):
        chunk, report = read(write_text(tmp_path, text))
    if reason:
        assert report.counts == {reason: 1} and report.lines[reason] == [22] and len(chunk) == 20
        assert "line 22: truncated: last line has no newline" in caplog.text
    else:   # a complete last line without newline is fine
        assert report.ok and len(chunk) == 21


def test_tolerated_variations(tmp_path):
    lines = [line + ",extra,notes" for line in good_lines()]
    lines.insert(5, "")
    lines.insert(9, "   ")
    text = "\ufeff" + csv_of(lines).replace("t,ax,ay,az,gx,gy,gz", "t,ax,ay,az,gx,gy,gz,note,x")
    chunk, report = read(write_text(tmp_path, text.replace("\n", "\r\n")))
    assert report.ok and len(chunk) == 20 and chunk.has_gyro
    assert report.data_lines == 20


def test_a_header_with_quoted_names_is_the_header(tmp_path):
    text = csv_of(good_lines()).replace("t,ax,ay,az,gx,gy,gz", '"t","ax","ay","az","gx","gy","gz"')
    chunk, report = read(write_text(tmp_path, text))
    assert report.ok and len(chunk) == 20 and chunk.has_gyro


def test_strict_policy_raises_at_the_first_problem(tmp_path):
    lines = good_lines()
    lines[4] = "0.08,0.01,-0.02,0.99,0,x,0"
    path = write_text(tmp_path, csv_of(lines))
    with pytest.raises(RecordingError) as err:
        read(path, policy="strict")
    assert err.value.line == 6 and "bad_number" in str(err.value)
    lines[4] = "0.08,0.01,-0.02,0.99,0.5,-0.25,1.0"   # a gap is not a problem, even strict
    lines[10:] = [f"{100 + i!r},0,0,1,0.5,0,0" for i in range(10)]
    assert read(write_text(tmp_path, csv_of(lines)), policy="strict")[1].counts == {"gap": 1}
    with pytest.raises(ValueError):
        ReadPolicy.of("lenient")


def test_report_keeps_first_lines_and_counts_all(tmp_path):
    lines = good_lines(200)
    for i in range(5, 200, 5):
        lines[i] = f"{i / 50!r},bad,0,1,0,0,0"
    _, report = read(write_text(tmp_path, csv_of(lines)))
    assert report.counts["bad_number"] == 39
    assert report.lines["bad_number"] == [7, 12, 17, 22, 27, 32, 37, 42, 47, 52]
    assert report.to_dict()["dropped"] == 39


# ------------------------------------------------------------------ accelerometer-only


@pytest.mark.parametrize("gyro_text", [",,", ",,,", ",0,0,0", ",0.0,-0.0,0.000000", ",0e0,0,+0"])
def test_empty_or_zero_gyro_throughout_means_no_gyro(tmp_path, gyro_text):
    lines = [f"{i / 25!r},0.01,-0.02,0.99{gyro_text}" for i in range(50)]
    if gyro_text == ",,":
        lines = [line + "," for line in lines]          # same as ",,,"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert chunk.gyro_dps is None and report.has_gyro is False and report.ok
    assert chunk.rate_hz == 25.0 and "whole-file scan" in report.gyro_rule


def test_zero_gyro_early_but_not_later_is_gyro(tmp_path, monkeypatch):
    monkeypatch.setattr(recording.parse, "_BLOCK_BYTES", 1 << 14)
    n = 25_000                                           # past the peek window
    lines = [f"{i / 50!r},0.01,-0.02,0.99,0,0,0" for i in range(n)]
    lines[-3] = f"{(n - 3) / 50!r},0.01,-0.02,0.99,0,0.0625,0"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert chunk.has_gyro and "whole-file scan" in report.gyro_rule
    assert chunk.gyro_dps[-3, 1] == 0.0625 and not chunk.gyro_dps[:-3].any()


class _Pipe(io.BufferedReader):
    def seekable(self):
        return False


def test_non_seekable_input_decides_gyro_from_the_peek(tmp_path, monkeypatch):
    monkeypatch.setattr(recording.parse, "_BLOCK_BYTES", 1024)  # the peek reads whole blocks
    n = 300
    lines = [f"{i / 50!r},0.01,-0.02,0.99,,," for i in range(n)]
    lines.append(f"{n / 50!r},0.01,-0.02,0.99,0,3,0")     # after the peek window
    report = ReadReport()
    stream = _Pipe(io.BytesIO(csv_of(lines).encode()))
    chunks = list(read_chunks(stream, 64, report=report, policy=ReadPolicy(peek_rows=100)))
    assert all(c.gyro_dps is None for c in chunks) and sum(map(len, chunks)) == n + 1
    assert "not seekable" in report.gyro_rule and report.ok


def test_non_seekable_input_is_read_completely(tmp_path, monkeypatch):
    monkeypatch.setattr(recording.parse, "_BLOCK_BYTES", 100)
    path = tmp_path / "rec.csv"
    chunk = make_chunk(500)
    write_csv(path, [chunk])
    with open(path, "rb") as fh:
        got = ImuChunk.concat(list(read_chunks(_Pipe(fh), 33, policy=ReadPolicy(peek_rows=50))))
    assert_same(got, chunk)


# ------------------------------------------------------------------------------- probe


def test_probe(tmp_path):
    path = tmp_path / "rec.csv"
    write_csv(path, [make_chunk(1000, rate_hz=100.0, gyro=False, t0=1_700_000_000.0)])
    info = probe(path)
    assert (info.rate_hz, info.has_gyro, info.n_rows) == (100.0, False, 1000)
    assert info.t0_s == 1_700_000_000.0 and info.duration_s == pytest.approx(9.99)


def test_rate_is_median_interval_despite_jitter_and_drops(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(2000) / 200.0 + rng.uniform(-5e-4, 5e-4, 2000)
    keep = rng.uniform(size=2000) > 0.1                 # 10 % of samples lost
    write_csv(tmp_path / "rec.csv", [ImuChunk(t[keep], np.zeros((keep.sum(), 3)), None)])
    assert probe(tmp_path / "rec.csv").rate_hz == pytest.approx(200, rel=0.01)


# --------------------------------------------------------------------------- property


def _check_stream(path, **kw) -> None:
    report = ReadReport()
    try:
        last = -np.inf
        for chunk in read_chunks(path, 7, report=report, **kw):
            assert len(chunk) > 0
            assert np.isfinite(chunk.t_s).all() and np.isfinite(chunk.acc_g).all()
            assert chunk.gyro_dps is None or np.isfinite(chunk.gyro_dps).all()
            assert chunk.t_s[0] > last and np.all(np.diff(chunk.t_s) > 0)
            assert np.isfinite(chunk.rate_hz) and chunk.rate_hz > 0
            last = chunk.t_s[-1]
    except RecordingError as exc:
        assert str(exc)
        return
    assert report.rows >= 2 and all(n > 0 for n in report.counts.values())


_PROPERTY = settings(max_examples=100, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_PROPERTY
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(tmp_path, data):
    _check_stream(write_text(tmp_path, data))
    _check_stream(write_text(tmp_path, HEADER_LINE.encode() + b"\n" + data))


_VALID = csv_of([f"{i / 50!r},0.01,-0.02,0.99,{i % 3},0.5,-1" for i in range(40)]).encode()


@_PROPERTY
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 3),
                          st.sampled_from([b"", b",", b"\n", b"-", b".", b"e", b"nan", b"9",
                                           b"\x00", b"\xff", b"inf", b"1e308", b"\r", b" "])),
                max_size=12))
def test_mutated_valid_file_never_crashes(tmp_path, edits):
    data = bytearray(_VALID)
    for pos, cut, insert in edits:
        pos = min(pos, len(data))
        data[pos:pos + cut] = insert
    _check_stream(write_text(tmp_path, bytes(data)))
    _check_stream(write_text(tmp_path, bytes(data)), policy="strict")


def test_file_objects(tmp_path):
    path = tmp_path / "rec.csv"
    write_csv(path, [make_chunk(100)])
    with open(path, "rb") as fh:
        assert len(read_all(fh)) == 100
    with open(path, "r") as fh:                            # text mode: its buffer is used
        assert len(read_all(fh)) == 100
    with pytest.raises(RecordingError, match="binary mode"):
        next(read_chunks(io.StringIO(path.read_text())))


def test_report_rows_grow_while_streaming(tmp_path):
    path = tmp_path / "rec.csv"
    write_csv(path, [make_chunk(100)])
    report = ReadReport()
    seen = [report.rows for _ in read_chunks(path, 30, report=report)]
    assert seen == [30, 60, 90, 100]


def test_undecodable_bytes_in_ignored_columns_are_fine_wherever_the_block_falls(tmp_path,
                                                                                monkeypatch):
    lines = [line + ",note" for line in good_lines(200)]
    raw = csv_of(lines).encode().replace(b"note", b"n\xffte")
    raw = raw.replace(b"0.5,0.01,", b"0.5,zz,", 1)          # one bad line somewhere
    ref = read(write_text(tmp_path, raw))
    assert ref[1].counts == {"not_text": 1} and len(ref[0]) == 199   # bad and not UTF-8
    for block_bytes in (50, 333, 4096):
        monkeypatch.setattr(recording.parse, "_BLOCK_BYTES", block_bytes)
        got = read(write_text(tmp_path, raw))
        assert_same(got[0], ref[0]) and got[1].counts == ref[1].counts


def test_sporadic_bad_lines_keep_the_fast_path(tmp_path, monkeypatch):
    slow_sizes = []
    parse_slow = recording.parse._parse_slow

    def spy(lines, *args):
        slow_sizes.append(len(lines))
        return parse_slow(lines, *args)

    monkeypatch.setattr(recording.parse, "_parse_slow", spy)
    lines = good_lines(5000)
    lines[1234] = "garbage"
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    assert len(chunk) == 4999 and report.lines["short_row"] == [1236]
    assert slow_sizes and max(slow_sizes) <= recording.parse._SLOW_LINES


_LONG = csv_of([f"{i / 50!r},0.01,-0.02,0.99,{i % 3},0.5,-1" for i in range(400)]).encode()


@_PROPERTY
@given(st.lists(st.tuples(st.integers(0, len(_LONG) - 1), st.integers(0, 3),
                          st.sampled_from([b"", b",", b"\n", b"\n\n", b"x", b"\xff", b"nan"])),
                min_size=1, max_size=20))
def test_fast_path_splitting_agrees_with_line_by_line(tmp_path, edits):
    data = bytearray(_LONG)
    for pos, cut, insert in edits:
        data[pos:pos + cut] = insert
    path = write_text(tmp_path, bytes(data))

    def outcome():
        report = ReadReport()
        try:
            return read_all(path, report=report), report
        except RecordingError as exc:
            return str(exc), None

    fast = outcome()
    saved = recording.parse._SLOW_LINES
    recording.parse._SLOW_LINES = 10**9                      # everything line by line
    try:
        slow = outcome()
    finally:
        recording.parse._SLOW_LINES = saved
    if fast[1] is None or slow[1] is None:
        assert fast == slow
    else:
        assert_same(fast[0], slow[0])
        assert (fast[1].counts, fast[1].lines, fast[1].gaps) == \
            (slow[1].counts, slow[1].lines, slow[1].gaps)


# ------------------------------------------------------------------------------ writing


_finite = st.floats(allow_nan=False, allow_infinity=False)
_sensor = st.one_of(_finite, st.integers(-32768, 32767).map(lambda c: c / 2048),
                    st.integers(-32768, 32767).map(lambda c: c * 2000 / 32768),
                    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308]))


@_PROPERTY
@given(st.lists(st.tuples(_sensor, _sensor, _sensor, _sensor, _sensor, _sensor),
                min_size=2, max_size=60),
       st.sampled_from([0.0, 1_764_000_000.0, -3.5]), st.sampled_from([50.0, 52.0, 1 / 3]),
       st.booleans())
def test_exact_writing_round_trips_any_float(tmp_path, values, t0, rate, gyro):
    arr = np.array(values, dtype=np.float64)
    t = t0 + np.arange(len(values)) / rate
    chunk = ImuChunk(t, arr[:, :3], arr[:, 3:] if gyro else None)
    path = tmp_path / "rec.csv"
    write_csv(path, chunk.split(17))
    lines = path.read_text().splitlines()[1:]
    parsed = np.array([[float(f) for f in line.split(",")[:7] if f] for line in lines])
    expect = np.column_stack([t, arr[:, :3]] + ([arr[:, 3:]] if gyro else []))
    assert parsed.tobytes() == expect.tobytes()          # bit-identical, -0.0 included


@_PROPERTY
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.integers(0, 9))
def test_fixed_decimals_match_printf(values, decimals):
    arr = np.array(values)
    chunk = ImuChunk(np.arange(len(values)) * 0.5, np.column_stack([arr, arr, arr]))
    buf = io.StringIO()
    write_csv(buf, [chunk], decimals=decimals)
    got = [line.split(",")[1] for line in buf.getvalue().splitlines()[1:]]
    for value, text in zip(values, got):
        want = f"{value:.{decimals}f}"
        if float(want) == 0:
            want = want.lstrip("-")                      # we write 0.00, not -0.00
        # x * 10**d carries a float rounding error, so near a tie it may round the other way
        assert text == want or \
            abs(float(text) - value) <= 0.5 * 10.0 ** -decimals + abs(value) * 2.0 ** -50


@_PROPERTY
@given(st.lists(st.one_of(st.just(1.0), st.just(0.0), st.just(-1.0), st.just(30.0),
                          st.just(-30.0), st.just(1e6), st.just(0.5)), min_size=3, max_size=120),
       st.sampled_from([16, 40, 97]))
def test_time_handling_does_not_depend_on_blocks(tmp_path, steps, block_bytes):
    t = np.cumsum(steps)                     # steps forward, back, repeats, gaps and spikes
    text = csv_of([f"{v!r},0.0,0.0,1.0,0.5,0.0,0.0" for v in t])
    path = write_text(tmp_path, text)

    def outcome():
        report = ReadReport()
        try:
            chunk = read_all(path, report=report)
        except RecordingError as exc:
            return str(exc)
        return chunk.t_s.tolist(), report.counts, report.lines, report.gaps

    ref = outcome()
    saved = recording.parse._BLOCK_BYTES
    recording.parse._BLOCK_BYTES = block_bytes
    try:
        assert outcome() == ref
    finally:
        recording.parse._BLOCK_BYTES = saved


def test_data_after_a_long_run_of_garbage_is_found(tmp_path):
    text = csv_of(["garbage"] * 15_000 + good_lines(20))
    chunk, report = read(write_text(tmp_path, text), policy=ReadPolicy(peek_rows=1000))
    assert len(chunk) == 20 and chunk.rate_hz == 50.0
    assert report.counts == {"short_row": 15_000} and report.lines["short_row"][0] == 2


def test_clock_restart_drops_until_time_passes_the_old_one(tmp_path):
    lines = good_lines(20) + good_lines(30)             # t restarts at 0 after 0.38 s
    chunk, report = read(write_text(tmp_path, csv_of(lines)))
    # 0.0 .. 0.38 repeat (20 lines, 0.38 itself a duplicate), then 0.40 .. 0.58 are new
    assert report.counts == {"non_monotonic": 19, "duplicate_time": 1}
    assert len(chunk) == 30 and np.all(np.diff(chunk.t_s) > 0)
    assert report.lines["non_monotonic"][0] == 22
