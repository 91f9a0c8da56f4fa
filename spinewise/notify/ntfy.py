"""ntfy (ntfy.sh or self-hosted): POST the message as the body to the topic URL.

Headers as ntfy documents them (docs.ntfy.sh/publish): ``Title``, ``Priority`` (1 min .. 5
urgent, our scale), ``Tags`` (comma-separated; names of emoji become icons), and
``Authorization: Bearer <token>`` for a protected topic. A title outside ASCII goes as an
RFC 2047 encoded word, which ntfy decodes.
"""
from __future__ import annotations

from email.header import Header
from urllib.parse import urlsplit

from spinewise.config import NotifyChannelConfig
from spinewise.notify.notice import Notice
from spinewise.notify.webhook import post


def header_text(text: str) -> str:
    return text if text.isascii() else Header(text, "utf-8").encode()


class NtfyChannel:
    def __init__(self, cfg: NotifyChannelConfig) -> None:
        self.cfg = cfg
        p = urlsplit(cfg.url)
        self.name = f"ntfy:{cfg.user}:{p.netloc}{p.path}"

    def send(self, notice: Notice) -> None:
        headers = {"Title": header_text(notice.title), "Priority": str(self.cfg.priority),
                   "Content-Type": "text/plain; charset=utf-8"}
        if self.cfg.tags:
            headers["Tags"] = ",".join(self.cfg.tags)
        if self.cfg.token:
            headers["Authorization"] = f"Bearer {self.cfg.token}"
        post(self.cfg.url, notice.message.encode("utf-8"), headers, self.cfg.timeout_s)

    def close(self) -> None:
        pass
