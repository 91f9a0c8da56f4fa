"""The outcome types of reading a recording: the error, the policy, the report, the summary."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Literal


log = logging.getLogger(__name__)

HEADER = ("t", "ax", "ay", "az", "gx", "gy", "gz")
HEADER_LINE = ",".join(HEADER)
REASONS = ("bad_number", "short_row", "not_text", "too_long", "nan", "duplicate_time",
           "non_monotonic", "truncated", "gap")
_KEEP_LINES = 10        # line numbers kept (and logged at WARNING) per reason


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
    units: dict | None = None          # the columns' units and conversions (read with units)
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
