"""Reading a recording: header, sensor-kind and rate detection, and cutting the validated rows
into ``ImuChunk``s of a fixed size."""
from __future__ import annotations

import gzip
import io
import itertools
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from spinewise.stream import ImuChunk
from spinewise.recording.report import (HEADER, HEADER_LINE, ReadPolicy, ReadReport, RecordingError,
                                        RecordingInfo)
from spinewise.recording.parse import (_Block, _Overlong, _Source, _Validator, _parse_block,
                                       _parse_field)
from spinewise.recording.units import Units, detect_units

log = logging.getLogger(__name__)


_GZIP_MAGIC = b"\x1f\x8b"


def _open(path) -> tuple[BinaryIO, str, list]:
    """(binary file, name, owned): a path, ``-`` (standard input) or a file object; gzip
    data (``.csv.gz``, or gzip bytes on standard input) is decompressed as it streams."""
    if isinstance(path, str) and path == "-":
        return _maybe_gunzip(sys.stdin.buffer, "<stdin>", [])
    if hasattr(path, "read"):
        name = str(getattr(path, "name", "<stream>"))
        if isinstance(path, io.TextIOBase):     # bytes are needed to name undecodable lines
            if not hasattr(path, "buffer"):
                raise RecordingError("open the recording in binary mode ('rb')", path=name)
            path = path.buffer
        return _maybe_gunzip(path, name, [])
    name = os.fspath(path)
    try:
        fh = open(name, "rb")
    except OSError as exc:
        raise RecordingError(f"cannot open: {exc.strerror or exc}", path=name) from None
    return _maybe_gunzip(fh, name, [fh])


def _maybe_gunzip(fh, name: str, owned: list) -> tuple[BinaryIO, str, list]:
    if hasattr(fh, "peek"):
        head = fh.peek(2)[:2]
    elif _seekable(fh):
        pos = fh.tell()
        head = fh.read(2)
        fh.seek(pos)
    else:
        return fh, name, owned
    if head == _GZIP_MAGIC:
        gz = gzip.GzipFile(fileobj=fh, mode="rb")
        return gz, name, [gz, *owned]
    return fh, name, owned


def _read_header(fh: BinaryIO, report: ReadReport, policy: ReadPolicy) -> None:
    raw = fh.readline(policy.max_line_bytes + 1)
    if not raw:
        raise RecordingError("empty file (expected header " + HEADER_LINE + ")", line=1,
                             path=report.path)
    try:
        text = raw.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        raise RecordingError(f"header is not text (expected {HEADER_LINE}): {raw[:40]!r}",
                             line=1, path=report.path) from None
    # column names may be quoted ("t","ax",...: pyarrow's and spreadsheets' CSV writers)
    names = tuple(name.strip().strip('"').strip() for name in text.split(","))
    if names[:len(HEADER)] != HEADER:
        raise RecordingError(f"wrong header {text[:80]!r}, expected {HEADER_LINE!r} "
                             "(extra columns after these are allowed)", line=1, path=report.path)


# Lines of accelerometer-only recordings end like this (write_csv writes the first form).
_NO_GYRO_ENDINGS = tuple(end + nl for end in (b",,,", b",0,0,0", b",0.0,0.0,0.0")
                         for nl in (b"\n", b"\r\n"))
# A line with a digit 1-9 somewhere in fields 5-7: a candidate non-zero gyro value.
_GYRO_CANDIDATE = re.compile(rb"^(?:[^,\n]*,){4}(?:[^,\n]*,){0,2}[^,\n1-9]*[1-9]", re.M)


def _gyro_evidence(block: _Block) -> bool:
    """Whether any line of the block has a non-zero, parseable gyro value (columns 5-7).

    Most blocks are settled by C-level byte counting; the regex and float parsing only
    run on blocks that do not have one of the usual "no gyro" line endings throughout.
    """
    if isinstance(block.data, _Overlong):
        return False
    data = block.data + b"\n"
    if any(data.count(end) == block.n_lines for end in _NO_GYRO_ENDINGS):
        return False
    for match in _GYRO_CANDIDATE.finditer(data):
        line = data[match.start():data.find(b"\n", match.start())]
        for f in line.split(b",", 7)[4:7]:
            try:
                if _parse_field(f.decode("ascii")) != 0.0:
                    return True
            except (ValueError, UnicodeDecodeError):
                pass
    return False


def _estimate_rate(t_s: np.ndarray) -> float | None:
    """1 / median sample interval, ignoring intervals that span lost samples or jitter pairs.

    A plain median is biased by dropouts (10 % lost samples at 200 Hz with 0.5 ms jitter
    reads 197 Hz); a second median over intervals within 0.5-1.5x the first is not.
    """
    dt = np.diff(t_s[np.isfinite(t_s)])
    dt = dt[dt > 0]
    if dt.shape[0] == 0:
        return None
    first = float(np.median(dt))
    typical = dt[(dt > 0.5 * first) & (dt < 1.5 * first)]
    rate = 1.0 / (float(np.median(typical)) if typical.shape[0] else first)
    return float(f"{rate:.6g}")   # 49.99999999999996 -> 50.0


@dataclass
class _Peek:
    blocks: list                       # blocks read, if they must be replayed (a pipe)
    rows: np.ndarray                   # first valid samples: t, ax, ay, az (raw units)
    gyro_rows: np.ndarray | None       # first valid samples with gyro: t, ax..az, gx..gz
    gyro_seen: bool


def _peek(blocks: Iterator, policy: ReadPolicy, replay: bool) -> _Peek:
    """The first blocks: up to ``peek_rows`` valid samples, and whether a gyro shows.

    Reads until ``peek_rows`` valid samples; with ``replay`` (a pipe, whose blocks must be
    kept for the main pass) only until ``peek_rows`` lines, so memory stays bounded. Blocks
    with a non-zero gyro value are also parsed with the gyro columns (unit detection).
    """
    quiet = ReadReport(_quiet=True)          # problems are logged once, in the main pass
    validator = _Validator(quiet, ReadPolicy(gap_s=policy.gap_s))
    gyro_validator = _Validator(ReadReport(_quiet=True), ReadPolicy(gap_s=policy.gap_s))
    peeked, parts, gyro_parts, n_lines, n_valid, gyro_seen = [], [], [], 0, 0, False
    for block in blocks:
        if replay:
            peeked.append(block)
        rows, line_nos = _parse_block(block, 4, quiet, ReadPolicy())
        rows, _ = validator.feed(rows, line_nos)
        parts.append(rows)
        if _gyro_evidence(block):
            gyro_seen = True
            g_rows, g_lines = _parse_block(block, 7, ReadReport(_quiet=True), ReadPolicy())
            gyro_parts.append(gyro_validator.feed(g_rows, g_lines)[0])
        n_lines += block.n_lines
        n_valid += rows.shape[0]
        if n_valid >= policy.peek_rows or (replay and n_lines >= policy.peek_rows):
            break
    else:
        parts.append(validator.finish()[0])
        gyro_parts.append(gyro_validator.finish()[0])
    rows = np.concatenate([p for p in parts if p.size] or [np.zeros((0, 4))])[:policy.peek_rows]
    g = [p for p in gyro_parts if p.size]
    gyro_rows = np.concatenate(g)[:policy.peek_rows] if g else None
    return _Peek(peeked, rows, gyro_rows, gyro_seen)


def _gyro_windows(fh, data_start: int, policy: ReadPolicy) -> Iterator[np.ndarray]:
    """The file again from its first sample, as windows of ``peek_rows`` valid samples with
    gyro (t, ax..az, gx..gz, raw units): unit detection when the first window was too still.
    One window in memory at a time; the caller seeks back to the data afterwards."""
    fh.seek(data_start)
    validator = _Validator(ReadReport(_quiet=True), ReadPolicy(gap_s=policy.gap_s))
    parts, n = [], 0
    for block in _Source(fh, policy.max_line_bytes).blocks():
        rows, line_nos = _parse_block(block, 7, ReadReport(_quiet=True), ReadPolicy())
        rows = validator.feed(rows, line_nos)[0]
        parts.append(rows)
        n += rows.shape[0]
        if n >= policy.peek_rows:
            yield np.concatenate(parts)
            parts, n = [], 0
    parts.append(validator.finish()[0])
    if sum(p.shape[0] for p in parts):
        yield np.concatenate(parts)


def _decide_gyro(rest: Iterator, seekable: bool, gyro_seen: bool, report: ReadReport,
                 policy: ReadPolicy) -> bool:
    if gyro_seen:
        report.gyro_rule = "non-zero gyro value in the first lines"
        return True
    if seekable and policy.scan_gyro:
        found = any(_gyro_evidence(block) for block in rest)
        report.gyro_rule = ("non-zero gyro value found by a whole-file scan" if found else
                            "gyro columns empty or zero on every line (whole-file scan)")
        return found
    report.gyro_rule = (f"gyro columns empty or zero in the first {policy.peek_rows} lines "
                        "(input not seekable: later lines not checked)")
    return False


def read_chunks(path, chunk_size: int = 4096, *, device_id: str = "local",
                report: ReadReport | None = None,
                policy: ReadPolicy | str | None = None,
                units: Units | None = None) -> Iterator[ImuChunk]:
    """Stream a CSV recording as ``ImuChunk``s of ``chunk_size`` samples (last one shorter).

    ``path`` is a path or a binary file object. Raises ``RecordingError`` (on the first
    ``next()``, or at the end for "fewer than two valid samples") for unreadable files;
    handled problems go to ``report``. A chunk's ``meta["gaps"]`` lists ``(start_s, end_s)``
    of the gaps that end inside it (a gap before its first sample included).

    ``path`` may also be ``-`` (standard input) and gzip-compressed. With ``units`` (see
    ``spinewise.recording.units``) the columns are converted to seconds from the first
    sample, g and deg/s, the units left ``None`` detected from the first samples (a
    ``RecordingError`` names the option when they cannot be told); without it values are
    kept as written.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    policy = ReadPolicy.of(policy)
    report = report if report is not None else ReadReport()
    fh, name, owned = _open(path)
    report.path = name
    try:
        yield from _read(fh, int(chunk_size), device_id, report, policy, units)
    except (OSError, EOFError) as exc:      # EOFError: a cut-off .gz
        raise RecordingError(f"cannot read: {getattr(exc, 'strerror', None) or exc}",
                             path=name) from None
    finally:
        for f in owned:
            f.close()


def _seekable(fh) -> bool:
    if isinstance(fh, gzip.GzipFile):     # says seekable even over a pipe
        return _seekable(fh.fileobj)
    try:
        return bool(fh.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _read(fh, chunk_size, device_id, report, policy, units) -> Iterator[ImuChunk]:
    _read_header(fh, report, policy)
    seekable = _seekable(fh)
    data_start = fh.tell() if seekable else 0
    blocks = _Source(fh, policy.max_line_bytes).blocks()
    peek = _peek(blocks, policy, replay=not seekable)
    has_gyro = _decide_gyro(blocks, seekable, peek.gyro_seen, report, policy)
    if peek.rows.shape[0] < 2:
        raise RecordingError("fewer than two valid samples: no sample rate", path=report.path)
    if units is not None:
        try:
            g = peek.gyro_rows if has_gyro and peek.gyro_rows is not None \
                and peek.gyro_rows.shape[0] >= 2 else None
            later = (lambda: _gyro_windows(fh, data_start, policy)) if seekable else None
            detect_units(units, peek.rows[:, 0], peek.rows[:, 1:4], g, later)
        except RecordingError as exc:
            raise RecordingError(exc.message, path=report.path) from None
        if has_gyro and units.gyro is None:      # gyro values only after the peek
            units.gyro = "dps"
            units.detected["gyro"] = "assumed: no gyro values in the first samples"
            units.notices.append("gyroscope assumed in deg/s (no values in the first samples; "
                                 "--gyro-unit to set it)")
        for notice in units.notices:
            log.info("%s: %s", report.path, notice)
        report.units = units.to_dict()
        t_peek = units.apply(peek.rows.copy())[:, 0]
    else:
        t_peek = peek.rows[:, 0]
    rate_hz = _estimate_rate(t_peek)
    if rate_hz is None:
        raise RecordingError("fewer than two valid samples: no sample rate", path=report.path)
    if not np.isfinite(rate_hz):
        raise RecordingError(f"sample interval too small to give a sample rate ({rate_hz})",
                             path=report.path)
    report.rate_hz, report.has_gyro = rate_hz, has_gyro
    if seekable:                   # start over: the scan may have consumed the file
        fh.seek(data_start)
        blocks = _Source(fh, policy.max_line_bytes).blocks()
    else:                          # replay what the peek consumed, then carry on
        blocks = itertools.chain(peek.blocks, blocks)

    ncols = 7 if has_gyro else 4
    validator = _Validator(report, policy)
    out = _Rechunker(chunk_size, device_id, rate_hz, has_gyro, policy.gap_s, report)
    for block in blocks:
        rows, line_nos = _parse_block(block, ncols, report, policy)
        if units is not None:
            rows = units.apply(rows)
        yield from out.push(validator.feed(rows, line_nos)[0])
    yield from out.push(validator.finish()[0])
    yield from out.flush()
    if report.rows < 2:
        raise RecordingError("fewer than two valid samples" + (f" ({report.summary()})"
                             if report.counts else ""), path=report.path)
    if report.counts:
        log.info("%s: %s", report.path, report.summary())


class _Rechunker:
    """Accumulates validated rows and cuts them into chunks of exactly ``chunk_size``."""

    def __init__(self, chunk_size: int, device_id: str, rate_hz: float, has_gyro: bool,
                 gap_s: float, report: ReadReport):
        self.size = chunk_size
        self.device_id = device_id
        self.rate_hz = rate_hz
        self.has_gyro = has_gyro
        self.gap_s = gap_s
        self.report = report
        self.parts: list[np.ndarray] = []
        self.n = 0
        self.last_t = np.nan

    def push(self, rows: np.ndarray) -> Iterator[ImuChunk]:
        if rows.shape[0] == 0:
            return
        self.parts.append(rows)
        self.n += rows.shape[0]
        while self.n >= self.size:
            yield self._cut(self.size)

    def flush(self) -> Iterator[ImuChunk]:
        if self.n:
            yield self._cut(self.n)

    def _cut(self, n: int) -> ImuChunk:
        data = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        head, rest = data[:n], data[n:]
        self.parts = [rest] if rest.shape[0] else []
        self.n = rest.shape[0]
        self.report.rows += n
        t = np.ascontiguousarray(head[:, 0])
        edges = np.concatenate(([self.last_t], t))
        with np.errstate(invalid="ignore"):
            jumps = np.flatnonzero(np.diff(edges) > self.gap_s)
        gaps = [(float(edges[i]), float(edges[i + 1])) for i in jumps]
        self.last_t = float(t[-1])
        return ImuChunk(t_s=t, acc_g=np.ascontiguousarray(head[:, 1:4]),
                        gyro_dps=np.ascontiguousarray(head[:, 4:7]) if self.has_gyro else None,
                        device_id=self.device_id, rate_hz=self.rate_hz,
                        meta={"gaps": gaps} if gaps else {})


def probe(path, *, policy: ReadPolicy | str | None = None,
          units: Units | None = None) -> RecordingInfo:
    """One pass over the whole recording: rate, gyro, rows, start and duration (with
    ``units``: converted, and ``units`` filled in as ``read_chunks`` does)."""
    report = ReadReport()
    n, t0, t1 = 0, None, None
    for chunk in read_chunks(path, 1 << 16, report=report, policy=policy, units=units):
        if t0 is None:
            t0 = float(chunk.t_s[0])
        t1 = float(chunk.t_s[-1])
        n += len(chunk)
    return RecordingInfo(rate_hz=report.rate_hz, has_gyro=bool(report.has_gyro), n_rows=n,
                         t0_s=t0, duration_s=t1 - t0, report=report)


def read_all(path, *, device_id: str = "local", report: ReadReport | None = None,
             policy: ReadPolicy | str | None = None) -> ImuChunk:
    """The whole recording as one chunk (small files and tests)."""
    return ImuChunk.concat(list(read_chunks(path, 1 << 16, device_id=device_id, report=report,
                                            policy=policy)))


# ------------------------------------------------------------------------------ writing
