"""ntfy, Gotify and the generic webhook against a real local HTTP server."""
from __future__ import annotations

import json

from spinewise.config import NotifyChannelConfig
from spinewise.notify import Notifier, make_channel
from tests.notify.conftest import FAST, notice


def channel(kind, url, **kw):
    return make_channel(None, NotifyChannelConfig(user="ann", kind=kind, url=url, **kw))


def deliver(ch, *notices):
    n = Notifier([("ann", ch)], FAST)
    for x in notices:
        n.submit(x)
    assert n.wait_idle(10)
    n.close()
    return n.stats()[ch.name]


def test_ntfy_posts_the_message_with_title_priority_tags(http_recorder):
    ch = channel("ntfy", http_recorder.url + "/ann-back", token="tk_1", priority=4,
                 tags=["person_standing", "back"])
    assert deliver(ch, notice(1, text="Stand up – walk 2-5 minutes."))["delivered"] == 1
    (req,) = http_recorder.requests
    assert req.path == "/ann-back"
    assert req.body.decode("utf-8") == "Stand up – walk 2-5 minutes."
    assert req.headers["title"] == "Time for a movement break"
    assert req.headers["priority"] == "4"
    assert req.headers["tags"] == "person_standing,back"
    assert req.headers["authorization"] == "Bearer tk_1"


def test_ntfy_retries_a_server_error_and_arrives_once(http_recorder):
    http_recorder.statuses = [503, 502]
    stats = deliver(channel("ntfy", http_recorder.url + "/t"), notice(1), notice(1))
    assert len(http_recorder.requests) == 3 and stats["retries"] == 2 and stats["delivered"] == 1
    assert stats["duplicates"] == 1


def test_gotify_posts_json_to_message_with_the_app_token(http_recorder):
    ch = channel("gotify", http_recorder.url + "/gotify/", token="AbC.secret", priority=3)
    assert deliver(ch, notice(7))["delivered"] == 1
    (req,) = http_recorder.requests
    assert req.path == "/gotify/message" and req.query == {}        # token not in the URL
    assert req.headers["x-gotify-key"] == "AbC.secret"
    doc = json.loads(req.body)
    assert doc["title"] == "Time for a movement break" and doc["priority"] == 5
    assert doc["message"].startswith("Stand up")
    assert doc["extras"]["spinewise::nudge"]["id"] == "ann-7"


def test_gotify_bad_token_is_refused_once_not_retried(http_recorder):
    http_recorder.statuses = [401]
    stats = deliver(channel("gotify", http_recorder.url, token="wrong"), notice(1))
    assert stats["rejected"] == 1 and len(http_recorder.requests) == 1


def test_webhook_posts_the_nudge_as_json(http_recorder):
    ch = channel("webhook", http_recorder.url + "/hooks/spinewise?src=sw", token="s3")
    deliver(ch, notice(3))
    (req,) = http_recorder.requests
    assert req.path == "/hooks/spinewise" and req.query == {"src": ["sw"]}
    assert req.headers["content-type"] == "application/json"
    assert req.headers["idempotency-key"] == "ann:ann-3"
    assert req.headers["authorization"] == "Bearer s3"
    doc = json.loads(req.body)
    assert (doc["type"], doc["user"], doc["id"], doc["device"]) == ("nudge", "ann", "ann-3", "belt1")
    assert doc["nudge"]["suggestion"]["kind"] == "walk_break"


def test_webhook_unreachable_is_counted_failed(http_recorder):
    url = http_recorder.url
    http_recorder.close()                                 # nothing listens there any more
    stats = deliver(channel("webhook", url + "/x", timeout_s=1.0), notice(1))
    assert stats["failed"] == 1 and stats["retries"] == 2


def test_the_setup_check_sends_one_test_notice_per_channel(http_recorder, tmp_path, capsys):
    from spinewise.notify.__main__ import main

    path = tmp_path / "spinewise.toml"
    path.write_text(f"""
[notify]
attempts = 2
backoff_s = 0.01
[[notify.channels]]
user = "ann"
kind = "webhook"
url = "{http_recorder.url}/ok"
[[notify.channels]]
user = "ann"
kind = "gotify"
url = "{http_recorder.url}/g"
token = "bad"
[[notify.channels]]
user = "bob"
kind = "webhook"
url = "{http_recorder.url}/bob"
""")
    http_recorder.statuses = [200, 401]                # the first request succeeds, the next is refused
    assert main(["--config", str(path), "--user", "ann"]) == 1
    out = capsys.readouterr().out
    assert "delivered" in out and "rejected 1" in out
    assert sorted(r.path for r in http_recorder.requests) == ["/g/message", "/ok"]
    assert main(["--config", str(path), "--user", "carl"]) == 2
