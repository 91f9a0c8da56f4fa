"""Nudges that arrive: the coach's nudges delivered on each person's configured channels.

    notifier = open_notifier(cfg)          # None when cfg.notify has no channels
    notifier.submit(Notice.from_nudge(user, nudge_payload))   # never blocks
    notifier.close()

One module per channel kind (ntfy, gotify, webhook, desktop, homeassistant, haptic), each a
thin adapter implementing spinewise.notify.channel.Channel; spinewise.notify.dispatcher runs
them off the hot path with bounded retries and deduplication. docs/notify.md explains setup.
"""
from __future__ import annotations

import threading

from spinewise.notify.channel import Channel, DeliveryError, RejectedError
from spinewise.notify.dispatcher import Notifier
from spinewise.notify.notice import Notice

__all__ = ["Channel", "DeliveryError", "Notice", "Notifier", "RejectedError", "make_channel",
           "open_notifier"]


def make_channel(cfg, ch, mqtt=None, replies=None) -> Channel:
    """The adapter for one ``[[notify.channels]]`` entry; ``mqtt`` is a shared MqttClient factory
    (called at most once) for the kinds that publish on the broker; ``replies`` takes the
    commands a person answers with on channels that can carry an answer (desktop: snooze)."""
    if ch.kind == "ntfy":
        from spinewise.notify.ntfy import NtfyChannel
        return NtfyChannel(ch)
    if ch.kind == "gotify":
        from spinewise.notify.gotify import GotifyChannel
        return GotifyChannel(ch)
    if ch.kind == "webhook":
        from spinewise.notify.webhook import WebhookChannel
        return WebhookChannel(ch)
    if ch.kind == "desktop":
        from spinewise.notify.desktop import DesktopChannel
        return DesktopChannel(ch, replies)
    if ch.kind == "homeassistant":
        from spinewise.notify.homeassistant import HomeAssistantChannel
        return HomeAssistantChannel(ch, cfg, mqtt)
    if ch.kind == "haptic":
        from spinewise.notify.haptic import HapticChannel
        return HapticChannel(ch, cfg, mqtt)
    raise ValueError(f"unknown notify channel kind {ch.kind!r}")


class _SharedMqtt:
    """One broker connection for every MQTT channel, opened on first use.

    The channels' worker threads ask for it at the same moment (a nudge goes to Home Assistant
    and the buzz at once), hence the lock: two clients with one client id would take the
    session from each other in turn, and every takeover resends the messages in flight, which
    is how a nudge arrived twice (issue 14)."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self._client = None
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            if self._client is None:
                from spinewise.mqtt import MqttClient
                self._client = MqttClient(self.cfg.mqtt, f"{self.cfg.pipeline.client_id}-notify",
                                          clean_session=True)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class Replies:
    """Where answers from the channels go: ``sink(user, command payload)``, set by whoever can
    take commands (the pipeline); false until then, so channels offer no buttons that go nowhere."""

    def __init__(self) -> None:
        self.sink = None

    def __bool__(self) -> bool:
        return self.sink is not None

    def __call__(self, user: str, payload: bytes) -> None:
        if self.sink is not None:
            self.sink(user, payload)


def open_notifier(cfg, mqtt=None) -> Notifier | None:
    """The Notifier for ``cfg.notify`` (None without channels: nothing to run)."""
    if not cfg.notify.channels:
        return None
    own = None if mqtt else _SharedMqtt(cfg)
    replies = Replies()
    channels = [(ch.user, make_channel(cfg, ch, mqtt or own, replies)) for ch in cfg.notify.channels]
    notifier = Notifier(channels, cfg.notify, on_close=[own.close] if own else [])
    notifier.replies = replies
    return notifier
