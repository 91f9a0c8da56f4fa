"""Gateway logic without a radio: backoff, name filters, the notification path, saved state."""
import random

import numpy as np
import pytest

from spinewise.config import DeviceConfig, GatewayConfig
from spinewise.ingest.gateway import SensorLink, backoff_s, name_matches
from spinewise.ingest.profiles import spinewise as swp
from spinewise.ingest.profiles import witmotion


class FakePublisher:
    def __init__(self):
        self.items = []

    def publish_chunk(self, chunk):
        self.items.append(("chunk", chunk))

    def publish_event(self, event):
        self.items.append(("event", event))

    def publish_status(self, state, **fields):
        self.items.append(("status", state, fields))

    def push_batch(self):
        pass


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(1)
    first = [backoff_s(0, 60, rng) for _ in range(200)]
    assert 0.25 <= min(first) and max(first) <= 0.5
    assert len(set(round(x, 6) for x in first)) > 100          # jittered, not lockstep
    later = [backoff_s(a, 60, rng) for a in range(1, 12)]
    assert all(x <= 60 for x in later) and later[-1] >= 30
    assert backoff_s(1000, 5, rng) <= 5


@pytest.mark.parametrize("pattern, name, ok", [
    ("Polar H10", "Polar H10 8C4B2A21", True), ("Polar H10 *", "Polar H10 8C4B2A21", True),
    ("Polar H10 *", "Polar OH1 1234", False), ("WT901*", "WT901BLE68", True), ("", None, True),
    ("spinewise", None, False)])
def test_name_filter(pattern, name, ok):
    assert name_matches(pattern, name) is ok


def _link(tmp_path, profile="spinewise", **kw):
    return SensorLink(DeviceConfig(id="back", profile=profile, **kw), GatewayConfig(), FakePublisher(),
                      state_dir=tmp_path)


def test_notification_path_publishes_samples_and_gap_before_them(tmp_path):
    link = _link(tmp_path)
    acc = np.tile([0.0, 0.0, 1.0], (5, 1))
    gyro = np.zeros((5, 3))
    t = 1000.0
    for k in range(0, 50, 5):
        link.handle_notification(swp.encode_packet(acc, gyro, seq=k, t_us=k * 20_000), t + k * 0.02)
    link.handle_notification(swp.encode_packet(acc, gyro, seq=100, t_us=100 * 20_000), t + 2.0)
    kinds = [i[0] for i in link.publisher.items]
    assert kinds == ["chunk"] * 10 + ["event", "chunk"]
    gap = link.publisher.items[10][1]
    assert gap.kind == "gap" and gap.data["samples_lost"] == 50 and gap.device_id == "back"
    last = link.publisher.items[-1][1]
    np.testing.assert_array_equal(last.seq, np.arange(100, 105))
    assert last.device_id == "back" and last.rate_hz == 50.0 and last.gyro_dps is not None
    assert link.status_fields()["drops"] == 50


def test_bad_notifications_are_counted_not_raised(tmp_path):
    link = _link(tmp_path)
    assert link.handle_notification(b"\x07garbage", 1.0) == 0
    assert link.handle_notification(b"", 1.1) == 0
    assert link.stats["decode_errors"] == 2
    assert link.publisher.items == []


def test_sequence_numbers_continue_after_a_gateway_restart(tmp_path):
    link = _link(tmp_path, profile="witmotion")
    frame = witmotion.encode_frame([0, 0, 1], [0, 0, 0])
    for i in range(100):
        link.handle_notification(frame, 1000.0 + i * 0.02)
    link.save_state()
    link2 = _link(tmp_path, profile="witmotion")      # the next run, 10 s later
    link2.handle_notification(frame, 1000.0 + 100 * 0.02 + 10.0)
    chunk = link2.publisher.items[-1][1]
    gap = link2.publisher.items[0][1]
    assert gap.kind == "gap" and abs(gap.data["samples_lost"] - 500) <= 2
    assert chunk.seq[0] > 100 + 490


def test_unreadable_state_is_ignored(tmp_path):
    (tmp_path / "timestamps.json").write_text("{not json")
    link = _link(tmp_path)
    assert link.rebuilder.stats["samples"] == 0


def test_haptic_requests_that_cannot_buzz_are_dropped_and_counted(tmp_path):
    import json as _json
    import time as _time

    link = _link(tmp_path)
    assert link.haptic_topic() is None                  # no MQTT client here: nothing to subscribe
    link.on_haptic("t", b"not json")
    link.on_haptic("t", _json.dumps({"id": "n1", "t_s": _time.time(), "pulses": 99}).encode())
    link.on_haptic("t", _json.dumps({"id": "n2", "t_s": _time.time()}).encode())   # not connected
    link.on_haptic("t", _json.dumps({"id": "n2", "t_s": _time.time()}).encode())   # repeat: ignored
    link.on_haptic("t", _json.dumps({"id": "n3", "t_s": _time.time() - 3600}).encode())  # stale
    assert link.stats["haptic_dropped"] == 4 and link.stats["haptic_played"] == 0
