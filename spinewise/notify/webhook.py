"""Generic JSON webhook: POST the nudge as JSON to a URL (and the HTTP helper ntfy/gotify share).

Body (``Content-Type: application/json``)::

    {"v": 1, "type": "nudge", "user", "id", "t_s", "title", "message", "kind", "device",
     "priority": 1-5, "nudge": <the coach's full nudge payload>}

Headers: ``Idempotency-Key: <user>:<id>`` (the same on every retry, so a receiver can drop a
repeat when our attempt timed out after it had arrived), ``Authorization: Bearer <token>``
when ``token`` is set. 2xx is success; 4xx other than 408/429 is a refusal (not retried).
"""
from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from spinewise.config import NotifyChannelConfig
from spinewise.jsonwire import dumps
from spinewise.notify.channel import DeliveryError, RejectedError
from spinewise.notify.notice import Notice


def where(url: str) -> str:
    """The URL for messages: scheme, host and path, never a query (it may hold a token)."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST; returns the 2xx status or raises RejectedError (4xx) / DeliveryError (the rest)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace").strip().replace("\n", " ")[:200]
        msg = f"{where(url)}: HTTP {exc.code} {text}"
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise RejectedError(msg) from None
        raise DeliveryError(msg) from None
    except (urllib.error.URLError, OSError) as exc:   # refused, DNS, timeout, TLS
        raise DeliveryError(f"{where(url)}: {getattr(exc, 'reason', exc)}") from None


class WebhookChannel:
    def __init__(self, cfg: NotifyChannelConfig) -> None:
        self.cfg = cfg
        self.name = f"webhook:{cfg.user}:{urlsplit(cfg.url).netloc}"

    def body(self, n: Notice) -> dict:
        return {"v": 1, "type": "nudge", "user": n.user, "id": n.id, "t_s": n.t_s,
                "title": n.title, "message": n.message, "kind": n.kind, "device": n.device_id,
                "priority": self.cfg.priority, "nudge": n.data}

    def send(self, notice: Notice) -> None:
        headers = {"Content-Type": "application/json",
                   "Idempotency-Key": f"{notice.user}:{notice.id}"}
        if self.cfg.token:
            headers["Authorization"] = f"Bearer {self.cfg.token}"
        post(self.cfg.url, dumps(self.body(notice)), headers, self.cfg.timeout_s)

    def close(self) -> None:
        pass
