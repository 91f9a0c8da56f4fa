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
