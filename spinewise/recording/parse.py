"""From bytes to validated rows: block splitting, the fast numpy parse with a line-by-line
fallback, and the checks on time (duplicates, order, gaps)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from spinewise.recording.report import HEADER, Gap, ReadPolicy, ReadReport, RecordingError

_BLOCK_BYTES = 1 << 20
_MAX_GAPS = 100_000     # gaps kept in the report (a pathological file could have millions)


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

# pyarrow's CSV reader parses a plain block ~3x faster than loadtxt (~0.1 s of CPU less per
# recorded hour at 50 Hz), but importing it costs ~55 MB of memory: an optional accelerator
# (not a dependency), used from this line on, so a recording of less than ~4 MB never loads
# it. Without pyarrow, loadtxt reads all.
ARROW_FROM_LINE = 100_000
_PLAIN = b"0123456789.,-+eE\n"     # a block of nothing else has no spaces, quotes, NaN, ...
_arrow = None                      # the pyarrow modules once loaded, False if not installed


def _arrow_rows(data: bytes, n_lines: int, ncols: int) -> np.ndarray | None:
    """The block's first ``ncols`` columns as float64 rows through pyarrow's CSV reader, or
    None to leave the block to loadtxt: pyarrow missing, a character outside _PLAIN, or
    anything pyarrow refuses (an empty field, a field count that differs between lines, a
    malformed number, a blank line). Both parsers round decimal text correctly, so a block
    both accept gives the same doubles (tests/recording/test_arrow_parse.py)."""
    global _arrow
    if _arrow is None:
        try:
            import pyarrow
            import pyarrow.csv
            _arrow = (pyarrow, pyarrow.csv)
        except ImportError:
            _arrow = False
    if not _arrow or data.translate(None, _PLAIN):
        return None
    pa, pc = _arrow
    first_line = data.split(b"\n", 1)[0]
    names = [f"c{k}" for k in range(first_line.count(b",") + 1)]
    if len(names) < ncols:
        return None
    try:
        tab = pc.read_csv(
            pa.py_buffer(data),
            read_options=pc.ReadOptions(column_names=names, use_threads=False),
            parse_options=pc.ParseOptions(quote_char=False, double_quote=False,
                                          escape_char=False, newlines_in_values=False,
                                          ignore_empty_lines=False),
            convert_options=pc.ConvertOptions(
                include_columns=names[:ncols], column_types={c: pa.float64() for c in names[:ncols]},
                null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if tab.num_rows != n_lines or any(tab.column(k).null_count for k in range(ncols)):
        return None
    out = np.empty((n_lines, ncols), dtype=np.float64)
    for k in range(ncols):
        out[:, k] = tab.column(k).to_numpy()
    return out


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
    if block.first_line >= ARROW_FROM_LINE:
        arr = _arrow_rows(block.data, block.n_lines, ncols)
        if arr is not None:
            report.data_lines += block.n_lines
            return arr, np.arange(block.first_line, block.first_line + block.n_lines,
                                  dtype=np.int64)
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
