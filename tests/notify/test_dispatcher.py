"""The dispatcher: retries with backoff, deduplication, bounded queues, a dead channel isolated."""
from __future__ import annotations

import threading
import time

from spinewise.config import NotifyConfig
from spinewise.notify import DeliveryError, Notifier, RejectedError
from tests.notify.conftest import FAST, notice


class Scripted:
    """A channel that fails the first ``fail`` sends (with ``exc``), then records."""

    def __init__(self, name="fake", fail=0, exc=DeliveryError, block: threading.Event | None = None):
        self.name, self.fail, self.exc, self.block = name, fail, exc, block
        self.got, self.attempts, self.closed = [], 0, False

    def send(self, n):
        self.attempts += 1
        if self.block is not None:
            self.block.wait(5)
        if self.attempts <= self.fail:
            raise self.exc(f"scripted failure {self.attempts}")
        self.got.append(n.id)

    def close(self):
        self.closed = True


def test_delivers_once_per_channel_and_user():
    a, b, c = Scripted("a"), Scripted("b"), Scripted("c")
    n = Notifier([("ann", a), ("ann", b), ("bob", c)], FAST)
    assert n.submit(notice(1)) == 2
    assert n.submit(notice(1)) == 0                      # same id again: deduplicated
    assert n.wait_idle(5)
    assert n.submit(notice(1)) == 0                      # also after delivery
    n.submit(notice(2))
    n.wait_idle(5)
    n.close()
    assert a.got == b.got == ["ann-1", "ann-2"] and c.got == []
    assert n.stats()["a"]["duplicates"] == 2 and a.closed


def test_transient_failures_are_retried_with_backoff():
    ch = Scripted(fail=2)
    n = Notifier([("ann", ch)], FAST)
    n.submit(notice(1))
    n.wait_idle(5)
    assert ch.got == ["ann-1"] and ch.attempts == 3
    assert n.stats()["fake"] | {} == {**n.stats()["fake"], "retries": 2, "delivered": 1, "failed": 0}
    n.close()


def test_bounded_retry_then_counted_and_the_next_nudge_still_goes(caplog):
    ch = Scripted(fail=3)
    n = Notifier([("ann", ch)], FAST)
    n.submit(notice(1))
    n.submit(notice(2))
    n.wait_idle(5)
    n.close()
    s = n.stats()["fake"]
    assert (s["failed"], s["delivered"], ch.got) == (1, 1, ["ann-2"])
    assert "not delivered after 3 attempts" in caplog.text


def test_a_refusal_is_not_retried():
    ch = Scripted(fail=1, exc=RejectedError)
    n = Notifier([("ann", ch)], FAST)
    n.submit(notice(1))
    n.wait_idle(5)
    n.close()
    assert ch.attempts == 1 and n.stats()["fake"]["rejected"] == 1


def test_a_failed_nudge_may_be_submitted_again():
    ch = Scripted(fail=3)
    n = Notifier([("ann", ch)], FAST)
    n.submit(notice(1))
    n.wait_idle(5)
    assert n.submit(notice(1)) == 1                      # not delivered: not a duplicate
    n.wait_idle(5)
    n.close()
    assert ch.got == ["ann-1"]


def test_a_stuck_channel_never_blocks_submit_nor_the_others():
    gate = threading.Event()
    stuck, fine = Scripted("stuck", block=gate), Scripted("fine")
    n = Notifier([("ann", stuck), ("ann", fine)], NotifyConfig(queue_max=3, log_interval_s=3600))
    t0 = time.monotonic()
    for i in range(10):
        n.submit(notice(i))
    assert time.monotonic() - t0 < 1.0                  # submit does not wait for a channel
    gate.set()
    n.close()
    for ch in (stuck, fine):
        s = n.stats()[ch.name]
        assert s["delivered"] + s["dropped_full"] == 10 and s["delivered"] == len(ch.got)
    assert n.stats()["stuck"]["dropped_full"] >= 10 - 1 - 3   # at most one in flight, three queued
    assert len(fine.got) >= 3


def test_failures_are_logged_rate_limited(caplog):
    ch = Scripted(fail=100, exc=RejectedError)
    n = Notifier([("ann", ch)], NotifyConfig(log_interval_s=3600))
    for i in range(5):
        n.submit(notice(i))
    n.wait_idle(5)
    n.close()
    assert n.stats()["fake"]["rejected"] == 5
    assert caplog.text.count("refused") == 1
