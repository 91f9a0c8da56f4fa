"""Operational counters of the pipeline: thread-safe, flat names, labelled by reason.

``inc("rejected", reason="nan")`` keeps ``rejected`` (the total) and ``rejected.nan``, so the
retained ``<prefix>/$sys/pipeline/stats`` message and the stored ``pipeline`` point show both.
Gauges (queue depth, spool depth, devices) are set, not counted.
"""
from __future__ import annotations

import threading
from collections import Counter


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._gauges: dict[str, float] = {}

    def inc(self, name: str, n: int = 1, *, reason: str | None = None) -> None:
        if n == 0:
            return
        with self._lock:
            self._counts[name] += n
            if reason is not None:
                self._counts[f"{name}.{reason}"] += n

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self._gauges[name] = value

    def get(self, name: str) -> float:
        with self._lock:
            return self._counts.get(name, self._gauges.get(name, 0))

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            out: dict[str, float] = dict(self._counts)
            out.update(self._gauges)
        return dict(sorted(out.items()))


class Rejections:
    """Refused messages: every one counted by reason (``rejected.<reason>``); the log gets the
    first few of each reason with their detail, then one summary line per stats interval, so
    a flood of garbage costs a counter increment each, not a log line each."""

    def __init__(self, counters: Counters, logger, first_n: int = 3) -> None:
        self.counters = counters
        self.log = logger
        self.first_n = first_n
        self._lock = threading.Lock()
        self._logged: Counter[str] = Counter()
        self._since: Counter[str] = Counter()
        self._example: dict[str, str] = {}

    def __call__(self, reason: str, key: str, detail: str = "") -> None:
        self.counters.inc("rejected", reason=reason)
        example = f"key={key[:64]!r} {detail[:160]}".rstrip()
        with self._lock:
            self._since[reason] += 1
            self._example[reason] = example
            first = self._logged[reason] < self.first_n
            if first:
                self._logged[reason] += 1
                last = self._logged[reason] == self.first_n
        if first:
            self.log.info("rejected reason=%s %s%s", reason, example,
                          " (further ones: counted, summarised with the stats)" if last else "")

    def summary(self, interval_s: float) -> None:
        """One log line: what was refused since the last call, by reason, with an example."""
        with self._lock:
            since, self._since = self._since, Counter()
            examples = dict(self._example)
        if not since:
            return
        parts = ", ".join(f"{r}={n} (last: {examples.get(r, '')})" for r, n in since.most_common(8))
        more = len(since) - 8
        self.log.warning("rejected %d messages in the last %.0f s: %s%s", sum(since.values()),
                         interval_s, parts, f" and {more} more reasons" if more > 0 else "")
