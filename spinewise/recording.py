"""CSV recordings of one IMU: the offline format spinewise reads, writes and simulates.

API: ``read_chunks(path, chunk_size)`` streams ``ImuChunk``s at constant memory,
``write_csv(path, chunks)`` writes them, ``probe(path)`` summarises a file in one pass,
``read_all(path)`` loads a small one. ``RecordingError`` is a file that cannot be read;
``ReadReport`` counts what was handled; ``ReadPolicy`` tunes the handling.

Format
------
A UTF-8 text file whose first line is exactly ``t,ax,ay,az,gx,gy,gz`` and whose every other
line is one sample::

    t,ax,ay,az,gx,gy,gz
    0.0,0.0123,-0.0051,0.9987,0.31,-1.22,0.05
    0.02,0.0119,-0.0049,0.9991,0.28,-1.19,0.07

``t`` is seconds (absolute epoch seconds or relative to anything; values are kept as
given), ``ax..az`` specific force in g, ``gx..gz`` angular rate in deg/s, all in the
*sensor* frame. Columns after the seventh are ignored (so a recording can carry notes).
``\\r\\n`` line ends, a UTF-8 byte-order mark, blank lines and a final line without a
newline are accepted.

Accelerometer-only recordings (Polar H10 and friends)
-----------------------------------------------------
A recording whose ``gx,gy,gz`` are empty, or exactly zero, on every line has no gyroscope:
its chunks carry ``gyro_dps=None`` and consumers report gyro figures as unavailable.
"Exactly zero throughout" is only known at the end of the file, so the decision is made
up front like this (see ``_decide_gyro``):

1. the first blocks holding at least ``ReadPolicy.peek_rows`` lines are read (they also
   give the sample rate); one non-zero gyro value there proves a gyroscope (the common
   case, costs nothing extra);
2. otherwise, if the input is seekable (a regular file), the rest of the file's gyro
   columns are scanned before the first chunk is yielded, then reading starts over. The
   scan is cheap: C-level counting of the usual "no gyro" line endings (``,,,``,
   ``,0,0,0``, ``,0.0,0.0,0.0``) settles most blocks; a regex and float parsing look only
   at lines that may hold a non-zero value;
3. a non-seekable input (a pipe) is decided from the peek alone; later gyro values are
   then not read. ``ReadReport.gyro_rule`` says which rule decided.

In a recording with a gyroscope, zeros are kept as zeros (a gyro idle for a while) and an
empty gyro field is a ``bad_number`` line. ``write_csv`` leaves the gyro columns empty for
chunks with ``gyro_dps=None``.

Reading bad files
-----------------
Fatal problems raise ``RecordingError`` (with the line number where there is one): file
missing or unreadable, empty file, wrong or undecodable header, fewer than two valid
samples. They are raised on the first ``next()``, before any chunk is yielded.
Everything else is a *handled* problem: the line is dropped (never the rest of the file),
counted in ``ReadReport.counts`` by reason, its line number kept in ``ReadReport.lines``
(the first 10 per reason) and logged (WARNING for the first 10 per reason, then DEBUG).

=================  ==========================================================================
reason             handling
=================  ==========================================================================
``bad_number``     a used field is not a number (or an empty gyro field in a gyro recording)
``short_row``      fewer fields than the columns in use
``not_text``       the line is not UTF-8 text (binary garbage)
``too_long``       more than ``ReadPolicy.max_line_bytes`` without a newline (binary
                   garbage): skipped up to the next newline, so memory stays bounded
``nan``            a used value is NaN or infinite
``duplicate_time`` ``t`` equals the previous kept sample's: the later line is dropped
``non_monotonic``  ``t`` is before the previous kept sample's: the line is dropped
``truncated``      the last line has no newline and does not parse (a cut-off write)
``gap``            ``t`` jumps forward by more than ``ReadPolicy.gap_s``: *kept*, counted,
                   listed in ``ReadReport.gaps`` and in the chunk's ``meta["gaps"]``
=================  ==========================================================================

With ``policy="strict"`` the first handled problem (except a gap) raises instead.
Because a line is judged against the last *kept* sample, a single corrupt time far in the
future would hide all the samples before that time; such a spike (its successor in the
file lands between it and its predecessor) is the line dropped as ``non_monotonic`` instead, so good
data is not lost to one bad timestamp. (A run of several bad times is not recognised.)
Times are never rewritten, so a clock that restarts (time jumps back for good) loses the
samples until it passes its old time again; the count says so, and such a file is better
split at the restart.

Sample rate
-----------
``rate_hz`` of every chunk is 1 / the median sample interval of the first
``ReadPolicy.peek_rows`` valid samples, refined over the intervals within 0.5-1.5x of that
median (so lost samples do not bias it) and rounded to 6 significant digits (50.0, not
49.99999999999996). It is the same for any ``chunk_size``.

Speed and memory
----------------
The file is read in blocks of about 1 MiB; each block is parsed by numpy's C ``loadtxt``
(fast path; measured as fast as ``np.fromstring`` and 7x faster than ``float()`` per
field). A block that fails is split just before the row numpy's error names; the good
parts are parsed fast again and only the few lines around a bad one go through Python line
by line (slow path) to name the problem. Both paths accept the same syntax, so the result
does not depend on where blocks fall (property-tested). Memory is bounded by the block size plus ``chunk_size`` whatever the
file length, and the output is identical for any ``chunk_size``. Figures per CPU second
(benchmarks/bench_recording.py, 24 h at 50 Hz = 4.3 M rows, 16-bit values): reading 0.95 M
rows/s written exactly (386 MB), 1.4 M rows/s with ``decimals=5`` (256 MB), 1.5 M rows/s
accelerometer-only; Python heap < 11 MB throughout. A bad line every 1000 halves the
speed (each costs a re-parse of the good lines before it). Writing builds the text with
numpy (``_format_rows``), ~2.5x faster than ``%r`` formatting.
"""
from __future__ import annotations

import io
import itertools
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Literal

import numpy as np

from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

HEADER = ("t", "ax", "ay", "az", "gx", "gy", "gz")
HEADER_LINE = ",".join(HEADER)
REASONS = ("bad_number", "short_row", "not_text", "too_long", "nan", "duplicate_time",
           "non_monotonic", "truncated", "gap")
_BLOCK_BYTES = 1 << 20
_WRITE_ROWS = 8192
_KEEP_LINES = 10        # line numbers kept (and logged at WARNING) per reason
_MAX_GAPS = 100_000     # gaps kept in the report (a pathological file could have millions)


class RecordingError(ValueError):
    """A recording that cannot be read at all; ``line`` is the 1-based line, if known."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None):
        self.line = line
        self.path = path
        where = ", ".join(p for p in (path, f"line {line}" if line else None) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message


@dataclass(frozen=True)
class ReadPolicy:
    """How ``read_chunks`` treats handled problems (see the module docstring)."""
    on_bad_line: Literal["drop", "raise"] = "drop"
    gap_s: float = 5.0                 # a forward jump above this is a reported gap
    max_line_bytes: int = 1 << 16      # longer newline-free runs are binary garbage
    peek_rows: int = 10_000            # rate estimate and gyro peek (whole blocks, at least)
    scan_gyro: bool = True             # scan the whole (seekable) file if the peek saw no gyro

    @staticmethod
    def of(policy: "ReadPolicy | str | None") -> "ReadPolicy":
        if policy is None or policy == "drop":
            return ReadPolicy()
        if policy == "strict" or policy == "raise":
            return ReadPolicy(on_bad_line="raise")
        if isinstance(policy, ReadPolicy):
            return policy
        raise ValueError(f"policy must be a ReadPolicy, 'drop' or 'strict', got {policy!r}")


@dataclass(frozen=True)
class Gap:
    line: int          # line of the first sample after the gap
    start_s: float     # last sample before the gap
    end_s: float       # first sample after it

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class ReadReport:
    """What ``read_chunks`` handled: counts per reason, first line numbers, gaps."""
    path: str = ""
    data_lines: int = 0                # non-blank lines after the header
    rows: int = 0                      # samples yielded
    has_gyro: bool | None = None
    gyro_rule: str = ""                # how has_gyro was decided
    rate_hz: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    _quiet: bool = field(default=False, repr=False, compare=False)   # the peek counts silently

    @property
    def dropped(self) -> int:
        """Lines dropped (gaps are counted but their samples kept)."""
        return sum(n for reason, n in self.counts.items() if reason != "gap")

    @property
    def ok(self) -> bool:
        return self.dropped == 0

    def note(self, reason: str, line: int, detail: str = "") -> None:
        n = self.counts.get(reason, 0) + 1
        self.counts[reason] = n
        if n <= _KEEP_LINES:
            self.lines.setdefault(reason, []).append(int(line))
        if self._quiet:
            return
        if n <= _KEEP_LINES:   # a gap is legitimate (sensor away), a dropped line is not
            log.log(logging.INFO if reason == "gap" else logging.WARNING,
                    "%s line %d: %s%s%s", self.path or "recording", line, reason,
                    ": " if detail else "", detail)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("%s line %d: %s%s%s", self.path or "recording", line, reason,
                      ": " if detail else "", detail)

    def summary(self) -> str:
        if not self.counts:
            return f"{self.rows} samples, no problems"
        parts = ", ".join(f"{n} {reason} (lines {', '.join(map(str, self.lines.get(reason, [])))}"
                          f"{', ...' if n > len(self.lines.get(reason, [])) else ''})"
                          for reason, n in sorted(self.counts.items()))
        return f"{self.rows} samples; {parts}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_quiet")
        d["dropped"] = self.dropped
        return d


@dataclass(frozen=True)
class RecordingInfo:
    rate_hz: float
    has_gyro: bool
    n_rows: int
    t0_s: float
    duration_s: float
    report: ReadReport | None = None


# ----------------------------------------------------------------------------- parsing


class _Overlong(bytes):
    """Stands in for a newline-free run longer than ``max_line_bytes`` (binary garbage)."""


@dataclass(frozen=True)
class _Block:
    """Whole lines of the file, joined (no final newline), with the first one's number."""
    data: bytes
    first_line: int
    n_lines: int
    unterminated: bool = False      # the file's last line, which had no newline

    def lines(self) -> list[bytes]:
        return [self.data] if isinstance(self.data, _Overlong) else self.data.split(b"\n")


class _Source:
    """Blocks of about ``_BLOCK_BYTES`` of whole lines from a binary file.

    An overlong newline-free run is yielded as a one-line block holding an ``_Overlong``
    (counted as ``too_long`` by the parser) and skipped up to its newline, so binary
    garbage never makes memory grow.
    """

    def __init__(self, fh: BinaryIO, max_line_bytes: int, first_line: int = 2):
        self.fh = fh
        self.max_line_bytes = max_line_bytes
        self.line = first_line          # number of the next line to yield

    def blocks(self) -> Iterator[_Block]:
        carry = b""
        skipping = False                # inside an overlong line: drop bytes up to its newline
        while True:
            data = self.fh.read(_BLOCK_BYTES)
            if not data:
                if carry and not skipping:
                    yield _Block(carry, self.line, 1, unterminated=True)
                    self.line += 1
                return
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    continue
                data = data[nl + 1:]
                skipping = False
            buf = carry + data if carry else data
            cut = buf.rfind(b"\n")
            if cut >= 0:
                block = _Block(buf[:cut], self.line, buf.count(b"\n", 0, cut) + 1)
                carry = buf[cut + 1:]
                yield block
                self.line += block.n_lines
            else:
                carry = buf
            if len(carry) > self.max_line_bytes:
                yield _Block(_Overlong(carry[:80]), self.line, 1)
                self.line += 1
                carry, skipping = b"", True


def _handle(report: ReadReport, policy: ReadPolicy, reason: str, line: int, detail: str) -> None:
    if policy.on_bad_line == "raise" and reason != "gap":
        raise RecordingError(f"{reason}: {detail}" if detail else reason, line=line,
                             path=report.path or None)
    report.note(reason, line, detail)


_ROW_HINT = re.compile(r"at row (\d+)")


def _loadtxt(lines: list[str], ncols: int) -> tuple[np.ndarray | None, int | None]:
    """(rows, None) parsed by numpy's C reader, or (None, hint) if a line needs a closer look.

    The hint is the row numpy's error message names: only a hint (its base differs between
    messages and it does not count blank lines), so callers split just before it.
    """
    if not any(line.strip() for line in lines):
        return None, None                     # all blank: loadtxt would warn "no data"
    try:
        arr = np.loadtxt(lines, delimiter=",", usecols=range(ncols), comments=None,
                         dtype=np.float64, ndmin=2)
    except ValueError as exc:
        match = _ROW_HINT.search(str(exc))
        return None, int(match.group(1)) if match else None
    if arr.shape[0] != len(lines):            # it skipped blank lines: we number them
        return None, None
    return arr, None


def _parse_field(text: str) -> float:
    # Same syntax as numpy's loadtxt: Python's float() also takes "1_0" and non-ASCII digits.
    if "_" in text or not text.isascii():
        raise ValueError(text)
    return float(text)


def _parse_line(raw: bytes, ncols: int) -> tuple[list[float] | None, str | None, str]:
    """(values, None, "") for a good line, (None, None, "") for a blank one, else a reason.

    Like the fast path, only the used fields matter: undecodable bytes in ignored columns
    are fine, and a failing line that is not UTF-8 is reported as ``not_text``.
    """
    if isinstance(raw, _Overlong):
        return None, "too_long", f"no newline within the line limit: {bytes(raw[:40])!r}"
    text = raw.decode("utf-8", "surrogateescape")
    if not text.strip():
        return None, None, ""
    fields = text.split(",")
    if len(fields) < ncols:
        reason, detail = "short_row", f"{len(fields)} fields, need {ncols} ({text[:60]!r})"
    else:
        for j in range(ncols):
            try:
                _parse_field(fields[j])
            except ValueError:
                what = "empty" if not fields[j].strip() else "not a number"
                reason, detail = "bad_number", f"{HEADER[j]} {what}: {fields[j][:40]!r}"
                break
        else:
            return [float(f) for f in fields[:ncols]], None, ""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not_text", f"{raw[:40]!r}"
    return None, reason, detail


def _parse_slow(lines: list[bytes], first_line: int, ncols: int, unterminated: bool,
                report: ReadReport, policy: ReadPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Line by line: the valid rows and their line numbers; bad lines handled and counted."""
    rows: list[list[float]] = []
    line_nos: list[int] = []
    for i, raw in enumerate(lines):
        line_no = first_line + i
        row, reason, detail = _parse_line(raw, ncols)
        if row is None and reason is None:
            continue                      # blank line
        report.data_lines += 1
        if row is not None:
            rows.append(row)
            line_nos.append(line_no)
        else:
            if unterminated:
                reason, detail = "truncated", f"last line has no newline and {reason}: {detail}"
            _handle(report, policy, reason, line_no, detail)
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), ncols)
    return arr, np.array(line_nos, dtype=np.int64)


_SLOW_LINES = 64   # a failing piece this small goes line by line


def _parse_block(block: _Block, ncols: int, report: ReadReport,
                 policy: ReadPolicy) -> tuple[np.ndarray, np.ndarray]:
    """(rows, line numbers) of a block.

    Fast path: the whole block through ``loadtxt``. When it fails, the block is split just
    before the row numpy's error names (or halved when it names none), the good part is
    parsed fast again and only a few lines around the bad one go through the line-by-line
    slow path, so a file with a bad line every thousand still reads at a good fraction of
    full speed. Bytes that are not ASCII survive the trip through ``str`` as surrogates, so
    the slow path sees the original bytes. Pieces are processed in file order.
    """
    if block.unterminated or isinstance(block.data, _Overlong):
        return _parse_slow(block.lines(), block.first_line, ncols, block.unterminated,
                           report, policy)
    lines = block.data.decode("ascii", "surrogateescape").split("\n")
    parts: list[tuple[np.ndarray, np.ndarray]] = []

    def slow(lo: int, hi: int) -> None:
        raw = [line.encode("ascii", "surrogateescape") for line in lines[lo:hi]]
        parts.append(_parse_slow(raw, block.first_line + lo, ncols, False, report, policy))

    pending = [(0, len(lines))]                    # a stack: the top is the earliest piece
    while pending:
        lo, hi = pending.pop()
        if hi <= lo:
            continue
        arr, hint = _loadtxt(lines[lo:hi], ncols)
        if arr is not None:
            report.data_lines += hi - lo
            first = block.first_line + lo
            parts.append((arr, np.arange(first, first + (hi - lo), dtype=np.int64)))
        elif hi - lo <= _SLOW_LINES:
            slow(lo, hi)
        elif hint is not None and hint <= 2:       # bad line at the start: a few slow lines
            slow(lo, lo + hint + 1)
            pending.append((lo + hint + 1, hi))
        elif hint is not None and hint < hi - lo:  # good lines before the bad one
            pending += [(lo + hint - 1, hi), (lo, lo + hint - 1)]
        else:
            mid = (lo + hi) // 2
            pending += [(mid, hi), (lo, mid)]
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


# ------------------------------------------------------------------------- validation


class _Validator:
    """Drops non-finite rows and out-of-order times, finds gaps; state spans blocks.

    One row is held back so a lone forward spike (the next row lands between it and its
    predecessor) can be recognised as the bad timestamp rather than dropping what follows.
    """

    def __init__(self, report: ReadReport, policy: ReadPolicy):
        self.report = report
        self.policy = policy
        self.last_t = -np.inf           # last kept time
        self.held: tuple[np.ndarray, int] | None = None   # (row, line) awaiting its successor
        self.before_t = -np.inf         # time of the row before the next one to judge

    def feed(self, rows: np.ndarray, line_nos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if rows.shape[0] == 0:
            return rows, line_nos
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            for ln in line_nos[~finite]:
                _handle(self.report, self.policy, "nan", int(ln), "NaN or infinite value")
            rows, line_nos = rows[finite], line_nos[finite]
        if self.held is not None:
            rows = np.vstack([self.held[0][None, :], rows])
            line_nos = np.concatenate([[self.held[1]], line_nos])
            self.held = None
        if rows.shape[0] == 0:
            return rows, line_nos
        # hold back the last row: whether it is a spike depends on the next one
        self.held = (rows[-1].copy(), int(line_nos[-1]))
        before_t = self.before_t
        if rows.shape[0] >= 2:
            self.before_t = float(rows[-2, 0])
        return self._order(rows[:-1], line_nos[:-1], before_t, float(rows[-1, 0]))

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        if self.held is None:
            return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
        row, ln = self.held
        self.held = None
        return self._order(row[None, :], np.array([ln]), self.before_t, np.nan)

    def _order(self, rows: np.ndarray, line_nos: np.ndarray, before_t: float, next_t: float):
        """Judge rows given the times of the rows just before and after them in the file."""
        if rows.shape[0] == 0:
            return rows, line_nos
        t = rows[:, 0]
        spike = self._spikes(t, before_t, next_t)
        if spike.any():
            for ln in line_nos[spike]:
                _handle(self.report, self.policy, "non_monotonic", int(ln),
                        "isolated forward time spike")
            rows, line_nos, t = rows[~spike], line_nos[~spike], t[~spike]
            if rows.shape[0] == 0:
                return rows, line_nos
        prev = np.maximum.accumulate(np.concatenate(([self.last_t], t)))[:-1]
        keep = t > prev
        if not keep.all():
            for i in np.flatnonzero(~keep):
                reason = "duplicate_time" if t[i] == prev[i] else "non_monotonic"
                _handle(self.report, self.policy, reason, int(line_nos[i]),
                        f"t={float(t[i])!r} after t={float(prev[i])!r}")
            rows, line_nos, t = rows[keep], line_nos[keep], t[keep]
        if t.shape[0] == 0:
            return rows, line_nos
        dt = np.diff(np.concatenate(([self.last_t], t)))
        for i in np.flatnonzero(dt > self.policy.gap_s):
            if i == 0 and not np.isfinite(self.last_t):
                continue
            start = float(self.last_t if i == 0 else t[i - 1])
            gap = Gap(int(line_nos[i]), start, float(t[i]))
            if len(self.report.gaps) < _MAX_GAPS:
                self.report.gaps.append(gap)
            _handle(self.report, self.policy, "gap", gap.line,
                    f"{gap.duration_s:.3f} s without samples after t={start!r}")
        self.last_t = float(t[-1])
        return rows, line_nos

    @staticmethod
    def _spikes(t: np.ndarray, before_t: float, next_t: float) -> np.ndarray:
        """Rows whose successor falls between them and their predecessor (in file order): a
        lone time that jumped ahead. Dropping it costs one sample; keeping it would drop all
        samples up to its time."""
        before = np.concatenate(([before_t], t[:-1]))
        after = np.concatenate((t[1:], [next_t]))
        with np.errstate(invalid="ignore"):
            return (after < t) & (after > before)


# ------------------------------------------------------------------------------ reading


def _open(path) -> tuple[BinaryIO, str, bool]:
    if hasattr(path, "read"):
        name = str(getattr(path, "name", "<stream>"))
        if isinstance(path, io.TextIOBase):     # bytes are needed to name undecodable lines
            if not hasattr(path, "buffer"):
                raise RecordingError("open the recording in binary mode ('rb')", path=name)
            path = path.buffer
        return path, name, False
    name = os.fspath(path)
    try:
        return open(name, "rb"), name, True
    except OSError as exc:
        raise RecordingError(f"cannot open: {exc.strerror or exc}", path=name) from None


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
    names = tuple(name.strip() for name in text.split(","))
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


def _peek(blocks: Iterator, policy: ReadPolicy,
          replay: bool) -> tuple[list, float | None, bool]:
    """(blocks read if ``replay``, rate estimate, non-zero gyro seen) from the first blocks.

    Reads until ``peek_rows`` valid samples; with ``replay`` (a pipe, whose blocks must be
    kept for the main pass) only until ``peek_rows`` lines, so memory stays bounded.
    """
    quiet = ReadReport(_quiet=True)          # problems are logged once, in the main pass
    validator = _Validator(quiet, ReadPolicy(gap_s=policy.gap_s))
    peeked, times, n_lines, n_valid, gyro_seen = [], [], 0, 0, False
    for block in blocks:
        if replay:
            peeked.append(block)
        rows, line_nos = _parse_block(block, 4, quiet, ReadPolicy())
        rows, _ = validator.feed(rows, line_nos)
        times.append(rows[:, 0])
        gyro_seen = gyro_seen or _gyro_evidence(block)
        n_lines += block.n_lines
        n_valid += rows.shape[0]
        if n_valid >= policy.peek_rows or (replay and n_lines >= policy.peek_rows):
            break
    else:
        rows, _ = validator.finish()
        if rows.size:
            times.append(rows[:, 0])
    t = np.concatenate(times)[:policy.peek_rows] if times else np.zeros(0)
    return peeked, _estimate_rate(t), gyro_seen


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
                policy: ReadPolicy | str | None = None) -> Iterator[ImuChunk]:
    """Stream a CSV recording as ``ImuChunk``s of ``chunk_size`` samples (last one shorter).

    ``path`` is a path or a binary file object. Raises ``RecordingError`` (on the first
    ``next()``, or at the end for "fewer than two valid samples") for unreadable files;
    handled problems go to ``report``. A chunk's ``meta["gaps"]`` lists ``(start_s, end_s)``
    of the gaps that end inside it (a gap before its first sample included).
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    policy = ReadPolicy.of(policy)
    report = report if report is not None else ReadReport()
    fh, name, owned = _open(path)
    report.path = name
    try:
        yield from _read(fh, int(chunk_size), device_id, report, policy)
    except OSError as exc:
        raise RecordingError(f"cannot read: {exc.strerror or exc}", path=name) from None
    finally:
        if owned:
            fh.close()


def _seekable(fh) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _read(fh, chunk_size, device_id, report, policy) -> Iterator[ImuChunk]:
    _read_header(fh, report, policy)
    seekable = _seekable(fh)
    data_start = fh.tell() if seekable else 0
    blocks = _Source(fh, policy.max_line_bytes).blocks()
    peeked, rate_hz, gyro_seen = _peek(blocks, policy, replay=not seekable)
    has_gyro = _decide_gyro(blocks, seekable, gyro_seen, report, policy)
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
        blocks = itertools.chain(peeked, blocks)

    ncols = 7 if has_gyro else 4
    validator = _Validator(report, policy)
    out = _Rechunker(chunk_size, device_id, rate_hz, has_gyro, policy.gap_s, report)
    for block in blocks:
        rows, line_nos = _parse_block(block, ncols, report, policy)
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


def probe(path, *, policy: ReadPolicy | str | None = None) -> RecordingInfo:
    """One pass over the whole recording: rate, gyro, rows, start and duration."""
    report = ReadReport()
    n, t0, t1 = 0, None, None
    for chunk in read_chunks(path, 1 << 16, report=report, policy=policy):
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


def write_csv(path, chunks: Iterable[ImuChunk] | ImuChunk, *,
              decimals: int | None = None) -> int:
    """Write chunks as a CSV recording; returns the number of rows written.

    ``decimals=None`` writes every value exactly: reading the file back gives bit-identical
    floats, so any 16-bit sensor count times any scale round-trips. Each value is written in
    plain decimals when a few decimals (at most 15) represent it exactly, as quantised
    sensor values and ``i / rate`` times are, else in Python's shortest round-trip ``repr``.
    An int writes ``ax..gz`` with that many decimals, rounded (smaller files; 6 decimals =
    1 micro-g), while ``t`` stays exact. Gyro columns are left empty when the chunks have no
    gyro. ``path`` may be a binary or text file object; a path is written under a temporary
    name and renamed when complete, so a crash never leaves a half-written recording.
    Raises ``ValueError`` for non-finite values, times that do not strictly increase, or
    chunks that disagree about the gyro.
    """
    if decimals is not None and (isinstance(decimals, bool) or not 0 <= int(decimals) <= 15):
        raise ValueError(f"decimals must be None or 0..15, got {decimals!r}")
    if isinstance(chunks, ImuChunk):
        chunks = [chunks]
    if hasattr(path, "write"):
        if isinstance(path, io.TextIOBase):
            return _write(lambda b: path.write(b.decode("ascii")), chunks, decimals)
        return _write(path.write, chunks, decimals)
    target = Path(path)
    tmp = target.with_name(target.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            n = _write(fh.write, chunks, decimals)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _write(write, chunks: Iterable[ImuChunk], decimals: int | None) -> int:
    write(HEADER_LINE.encode() + b"\n")
    n, last_t, has_gyro = 0, -np.inf, None
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        if has_gyro is None:
            has_gyro = chunk.has_gyro
        elif chunk.has_gyro != has_gyro:
            raise ValueError(f"chunk at t={chunk.t_s[0]!r} has_gyro={chunk.has_gyro}, "
                             f"earlier chunks {has_gyro}: a recording has gyro throughout or not")
        cols = [chunk.t_s[:, None], chunk.acc_g] + ([chunk.gyro_dps] if has_gyro else [])
        data = np.hstack(cols)
        if not np.isfinite(data).all():
            bad = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
            raise ValueError(f"non-finite value at t={chunk.t_s[bad]!r} (sample {n + bad})")
        t = chunk.t_s
        if not (t[0] > last_t and np.all(np.diff(t) > 0)):
            raise ValueError(f"times must strictly increase (chunk starting t={t[0]!r}, "
                             f"sample {n})")
        last_t = float(t[-1])
        for i in range(0, data.shape[0], _WRITE_ROWS):   # bounded memory for huge chunks
            write(_format_rows(data[i:i + _WRITE_ROWS], decimals, has_gyro))
        n += data.shape[0]
    return n


# ---------------------------------------------------------------- vectorised formatting
# Python's float formatting costs ~0.3 us a value (20 s for a 24 h file); building the
# characters with numpy is faster. Every column becomes a (width, n) ASCII matrix and a
# "keep" mask of the same shape (one matrix row per character position, so every numpy
# operation runs along n); the kept characters of the transposed whole are the CSV text.

_MAX_EXACT = 2.0 ** 52      # integers below this survive float arithmetic exactly


def _format_rows(data: np.ndarray, decimals: int | None, has_gyro: bool) -> bytes:
    """CSV lines (with newlines) for rows of ``t, ax..az[, gx..gz]``."""
    n = data.shape[0]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for j in range(data.shape[1]):
        if j:
            parts.append(_const(b",", n))
        col = data[:, j]
        if decimals is None or j == 0:
            parts.append(_exact_chars(col))
        else:
            parts.append(_fixed_chars(col, int(decimals), strip=False)
                         or _str_chars([f"{v:.{decimals}f}" for v in col.tolist()]))
    parts.append(_const(b"\n" if has_gyro else b",,,\n", n))
    chars = np.ascontiguousarray(np.concatenate([p[0] for p in parts]).T)
    keep = np.ascontiguousarray(np.concatenate([p[1] for p in parts]).T)
    return chars[keep].tobytes()


def _const(text: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    chars = np.repeat(np.frombuffer(text, np.uint8)[:, None], n, axis=1)
    return chars, np.ones(chars.shape, dtype=bool)


def _str_chars(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    chars = np.array(texts, dtype=bytes)
    chars = chars.view(np.uint8).reshape(len(texts), chars.dtype.itemsize).T
    return chars, chars != 0


def _exact_chars(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fewest decimals that give every value back exactly; repr if none (<= 15) do.

    If ``x == rint(x * 10**d) / 10**d`` in float arithmetic, the decimal string of that
    integer over 10**d parses back to x (both are the correctly rounded quotient).
    """
    peak = float(np.abs(col).max())
    d = _exact_decimals(col[:64], peak, 0)           # a sample finds the likely d cheaply
    d = d if d is None else _exact_decimals(col, peak, d)
    fixed = None if d is None else _fixed_chars(col, max(d, 1), strip=True)  # "1.0" like repr
    return fixed or _str_chars([repr(v) for v in col.tolist()])


def _exact_decimals(col: np.ndarray, peak: float, start: int) -> int | None:
    for d in range(start, 16):
        scale = 10.0 ** d
        if peak * scale >= _MAX_EXACT:
            return None
        if np.array_equal(np.rint(col * scale) / scale, col):
            return d
    return None


def _fixed_chars(col: np.ndarray, d: int, strip: bool):
    """(chars, keep) of ``col`` with ``d`` decimals, or None if too large to do exactly.

    ``chars`` holds sign, zero-padded digits and point for every value; ``keep`` masks out
    the sign of positive values, leading zeros and, with ``strip``, trailing zero decimals
    beyond the first (``1.0``, ``0.25``, as repr writes them).
    """
    q = np.rint(col * 10.0 ** d)
    big = float(np.abs(q).max()) if q.size else 0.0
    if big >= _MAX_EXACT:
        return None
    n = col.shape[0]
    n_int = max(len(str(int(big))) - d, 1)        # integer digits, at least one
    width = 1 + n_int + (1 + d if d else 0)
    chars = np.empty((width, n), dtype=np.uint8)
    keep = np.ones((width, n), dtype=bool)
    a = np.abs(q).astype(np.int64)
    rest = a
    for row in range(width - 1, 0, -1):           # digits right to left, skipping the point
        if d and row == n_int + 1:
            chars[row] = ord(".")
            continue
        rest, digit = np.divmod(rest, 10)
        chars[row] = digit + ord("0")
    chars[0] = ord("-")
    # exact mode keeps "-0.0" (bit-exact); fixed mode writes "0.000" for values that round to 0
    keep[0] = np.signbit(col) & ((q != 0) | strip)
    whole = a // 10 ** d
    for k in range(1, n_int):                     # leading zeros: digit k of n_int from the left
        keep[k] = whole >= 10 ** (n_int - k)
    if d and strip:
        frac = a % 10 ** d
        for k in range(1, d):                     # decimal k+1 is kept if frac has digits there
            keep[n_int + 2 + k] = frac % 10 ** (d - k) != 0
    return chars, keep
