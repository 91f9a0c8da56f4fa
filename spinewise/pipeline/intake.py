"""The bounded queue between paho's network thread and the pipeline's worker.

Bounded in messages *and* payload bytes: 20,000 messages of up to 1 MiB each would otherwise be
20 GiB. When either bound is reached ``put`` blocks: paho acknowledges a QoS 1 message only
after the handler returns, so the broker keeps what we cannot take yet in our persistent
session (backpressure) and nothing acknowledged is ever dropped here. One item larger than the
byte budget still goes in when the queue is empty (it has been size-checked at intake).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class IntakeQueue(Generic[T]):
    def __init__(self, maxsize: int, max_bytes: int) -> None:
        self.maxsize = int(maxsize)
        self.max_bytes = int(max_bytes)
        self._items: deque[tuple[T, int]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()

    def put(self, item: T, size: int, timeout: float) -> bool:
        """Add ``item`` (``size`` payload bytes); False when still full after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items and (len(self._items) >= self.maxsize
                                   or self._bytes + size > self.max_bytes):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            self._items.append((item, size))
            self._bytes += size
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> T | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._pop()

    def get_nowait(self) -> T | None:
        with self._cond:
            return self._pop() if self._items else None

    def _pop(self) -> T:
        item, size = self._items.popleft()
        self._bytes -= size
        self._cond.notify_all()
        return item

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    @property
    def bytes(self) -> int:
        return self._bytes
