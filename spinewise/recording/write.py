"""Writing a recording: the text is built with numpy, exactly or at fixed decimals."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from spinewise.stream import ImuChunk
from spinewise.recording.report import HEADER_LINE

_WRITE_ROWS = 8192


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
