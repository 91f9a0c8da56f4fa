"""Gotify: POST JSON to ``<url>/message`` with the application token.

Body as Gotify's API documents it: ``title``, ``message``, ``priority`` (0-10; our 1-5 maps to
1, 3, 5, 7, 9 so 3 "normal" still makes a sound on the Android app) and ``extras`` (plain-text
display, and the nudge's id and kind under ``spinewise::nudge``). The token goes in the
``X-Gotify-Key`` header, which Gotify accepts like ``?token=``, so it never shows in a URL
(URLs end up in proxy and error logs).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from spinewise.config import NotifyChannelConfig
from spinewise.jsonwire import dumps
from spinewise.notify.notice import Notice
from spinewise.notify.webhook import post

PRIORITY = {1: 1, 2: 3, 3: 5, 4: 7, 5: 9}


class GotifyChannel:
    def __init__(self, cfg: NotifyChannelConfig) -> None:
        self.cfg = cfg
        self.url = cfg.url.rstrip("/") + "/message"
        self.name = f"gotify:{cfg.user}:{urlsplit(cfg.url).netloc}"

    def body(self, n: Notice) -> dict:
        return {"title": n.title, "message": n.message, "priority": PRIORITY[self.cfg.priority],
                "extras": {"client::display": {"contentType": "text/plain"},
                           "spinewise::nudge": {"user": n.user, "id": n.id, "kind": n.kind,
                                                "t_s": n.t_s}}}

    def send(self, notice: Notice) -> None:
        headers = {"Content-Type": "application/json", "X-Gotify-Key": self.cfg.token}
        post(self.url, dumps(self.body(notice)), headers, self.cfg.timeout_s)

    def close(self) -> None:
        pass
