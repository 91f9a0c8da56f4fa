"""Notifier: hands each nudge to every channel of its user, off the hot path.

One worker thread and one bounded queue per channel, so a slow or dead channel delays only
itself: ``submit`` never blocks (a full queue drops the new notice, counted and logged).
Delivery is at-least-once within the process: up to ``attempts`` tries with exponential
backoff (``backoff_s``, doubling, capped at ``backoff_max_s``); a RejectedError stops at once.
Deduplicated by (user, nudge id): a notice already queued or delivered on a channel is not
sent there again (the last ``_REMEMBER`` delivered ids per channel are kept). A channel that
keeps failing is counted (``stats()``) and logged at most once per ``log_interval_s``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable

from spinewise.config import NotifyConfig
from spinewise.notify.channel import Channel, RejectedError
from spinewise.notify.notice import Notice

log = logging.getLogger(__name__)

_REMEMBER = 4096
COUNTERS = ("queued", "delivered", "retries", "failed", "rejected", "dropped_full", "duplicates")


class _LogLimiter:
    """At most one warning per interval; the ones held back are counted into the next."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = -float("inf")
        self._held = 0

    def warning(self, msg: str, *args) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            self._held += 1
            return
        if self._held:
            msg += " (%d similar messages held back)"
            args = (*args, self._held)
        self._last, self._held = now, 0
        log.warning(msg, *args)


class ChannelWorker:
    def __init__(self, channel: Channel, settings: NotifyConfig) -> None:
        self.channel = channel
        self.settings = settings
        self.counts = dict.fromkeys(COUNTERS, 0)
        self._queue: deque[Notice] = deque()
        self._queued: set[tuple[str, str]] = set()
        self._delivered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._cond = threading.Condition()
        self._busy = False
        self._stop = threading.Event()
        self._log = _LogLimiter(settings.log_interval_s)
        self._thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)
        self._thread.start()

    # -- producer side (the pipeline's worker thread): never blocks ----------------------
    def submit(self, notice: Notice) -> bool:
        with self._cond:
            if notice.key in self._queued or notice.key in self._delivered:
                self.counts["duplicates"] += 1
                return False
            if len(self._queue) >= self.settings.queue_max:
                self.counts["dropped_full"] += 1
                self._log.warning("notify %s: queue full (%d), dropped nudge %s",
                                  self.channel.name, self.settings.queue_max, notice.id)
                return False
            self._queue.append(notice)
            self._queued.add(notice.key)
            self.counts["queued"] += 1
            self._cond.notify_all()
            return True

    def wait_idle(self, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout_s)

    def stop(self, timeout_s: float) -> None:
        self.wait_idle(timeout_s)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout_s)
        try:
            self.channel.close()
        except Exception as exc:             # closing must not stop the others
            log.warning("notify %s: close failed: %s", self.channel.name, exc)

    # -- the channel's own thread ---------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stop.is_set())
                if self._stop.is_set():
                    return
                notice = self._queue.popleft()
                self._busy = True
            delivered = self._deliver(notice)
            with self._cond:
                self._queued.discard(notice.key)
                if delivered:
                    self._delivered[notice.key] = None
                    while len(self._delivered) > _REMEMBER:
                        self._delivered.popitem(last=False)
                self._busy = False
                self._cond.notify_all()

    def _deliver(self, notice: Notice) -> bool:
        s = self.settings
        for attempt in range(s.attempts):
            try:
                self.channel.send(notice)
            except RejectedError as exc:
                self.counts["rejected"] += 1
                self._log.warning("notify %s: nudge %s refused: %s", self.channel.name, notice.id, exc)
                return False
            except Exception as exc:   # any adapter failure is this channel's, never the pipeline's
                if attempt + 1 >= s.attempts:
                    self.counts["failed"] += 1
                    self._log.warning("notify %s: nudge %s not delivered after %d attempts: %s",
                                      self.channel.name, notice.id, s.attempts, exc)
                    return False
                self.counts["retries"] += 1
                log.debug("notify %s: attempt %d for %s failed: %s", self.channel.name,
                          attempt + 1, notice.id, exc)
                if self._stop.wait(min(s.backoff_max_s, s.backoff_s * 2 ** attempt)):
                    return False
            else:
                self.counts["delivered"] += 1
                log.info("notify %s: nudge %s delivered", self.channel.name, notice.id)
                return True
        return False


class Notifier:
    """``submit(notice)`` queues a nudge on every channel of ``notice.user``."""

    def __init__(self, channels: Iterable[tuple[str, Channel]], settings: NotifyConfig,
                 on_close: Iterable = ()) -> None:
        self.settings = settings
        self._on_close = list(on_close)        # shared resources (the broker connection)
        self.replies = None                    # spinewise.notify.Replies: set .sink to take answers
        self._by_user: dict[str, list[ChannelWorker]] = {}
        for user, channel in channels:
            self._by_user.setdefault(user, []).append(ChannelWorker(channel, settings))

    @property
    def workers(self) -> list[ChannelWorker]:
        return [w for ws in self._by_user.values() for w in ws]

    def set_reply_sink(self, sink) -> None:
        """``sink(user, command payload bytes)`` receives the answers people give on a channel
        (a desktop notification's Snooze button), in the coach's command format."""
        if self.replies is not None:
            self.replies.sink = sink

    def users(self) -> list[str]:
        return list(self._by_user)

    def submit(self, notice: Notice) -> int:
        """Queue on each of the user's channels; returns on how many it was queued."""
        return sum(w.submit(notice) for w in self._by_user.get(notice.user, []))

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Until every queue is empty and no delivery is running (tests, shutdown)."""
        end = time.monotonic() + timeout_s
        return all(w.wait_idle(max(0.0, end - time.monotonic())) for w in self.workers)

    def stats(self) -> dict[str, dict[str, int]]:
        return {w.channel.name: dict(w.counts) for w in self.workers}

    def totals(self) -> dict[str, int]:
        """The counters summed over every channel (the pipeline's stats)."""
        return {k: sum(w.counts[k] for w in self.workers) for k in COUNTERS}

    def close(self, timeout_s: float = 5.0) -> None:
        """Let queued nudges go out for up to ``timeout_s``, then stop every worker."""
        end = time.monotonic() + timeout_s
        for w in self.workers:
            w.stop(max(0.1, end - time.monotonic()))
        for close in self._on_close:
            try:
                close()
            except Exception as exc:
                log.warning("notify: closing %s failed: %s", close, exc)
