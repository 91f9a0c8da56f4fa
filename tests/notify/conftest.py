from __future__ import annotations

import pytest

from spinewise.config import NotifyConfig
from spinewise.notify import Notice
from tests.notify.httpd import Recorder


@pytest.fixture
def http_recorder():
    rec = Recorder()
    yield rec
    rec.close()


FAST = NotifyConfig(attempts=3, backoff_s=0.01, backoff_max_s=0.05, log_interval_s=0.0)


def notice(i: int = 1, user: str = "ann", text: str = "Stand up and walk 2-5 minutes.") -> Notice:
    payload = {"type": "nudge", "user": user, "id": f"{user}-{i}", "t_s": 1767225600.0 + i,
               "reason": "sedentary",
               "suggestion": {"kind": "walk_break", "text": text, "items": []}}
    return Notice.from_nudge(user, payload, "belt1")
