"""The interface every notification channel implements, and its two kinds of failure.

A channel is a thin adapter: ``send(notice)`` delivers one nudge or raises. It is called from
one worker thread of its own (spinewise.notify.dispatcher), so it may block up to its timeout,
and it never sees the same notice twice after a success (the dispatcher deduplicates).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from spinewise.notify.notice import Notice


class DeliveryError(Exception):
    """Delivery failed this time; the dispatcher retries with backoff (server down, 5xx)."""


class RejectedError(DeliveryError):
    """The counterpart refused the notice for good (bad token, 4xx): retrying cannot help."""


@runtime_checkable
class Channel(Protocol):
    name: str                      # "<kind>:<user>[:<where>]", for logs and counters

    def send(self, notice: Notice) -> None:
        """Deliver one notice or raise DeliveryError / RejectedError (anything else counts as
        DeliveryError)."""

    def close(self) -> None:
        """Release connections; called once when the dispatcher stops."""
