"""Fakes for the pipeline's edges: an MQTT client that records what is published and a small
Analyzer whose output is known by construction."""
import threading

import numpy as np

from spinewise.events import Event
from spinewise.ingest.payload import encode_json
from spinewise.stream import ImuChunk


def chunk(device, k, n=50, x=0.0):
    """The k-th 1 s message of a 50 Hz accelerometer-only stream starting at 1.7e9 (JSON v1)."""
    t = 1.7e9 + (k * n + np.arange(n)) / 50.0
    acc = np.tile([x, 0.0, 1.0], (n, 1))
    return encode_json(ImuChunk(t, acc, None, device, 50.0, seq=np.arange(k * n, (k + 1) * n)))


class FakeClient:
    def __init__(self, cfg, client_id, clean_session=False, will=None, manual_ack=False):
        self.client_id, self.clean_session, self.will = client_id, clean_session, will
        self.manual_ack = manual_ack
        self.acked = []                  # manual_ack: tokens acknowledged, in order
        self.handlers = {}
        self.published = []
        self.connected = threading.Event()

    def subscribe(self, topic_filter, handler, qos=1):
        self.handlers[topic_filter] = handler

    def connect(self, timeout_s=10.0, wait=True):
        self.connected.set()
        return True

    def publish_nowait(self, topic, payload, qos=1, retain=False):
        self.published.append((topic, payload, retain))

    def publish(self, topic, payload, qos=1, retain=False, timeout_s=10.0):
        self.published.append((topic, payload, retain))
        return True

    def close(self):
        self.connected.clear()

    def valid(self, token):
        return True

    def settle(self, token):
        self.acked.append(token)

    def checkpoint(self, tokens):
        self.acked.extend(tokens)
        return len(tokens)


class FakeAnalyzer:
    """Emits one 'minute' per 50 samples; explodes on a chunk whose first acc x is 99."""

    def __init__(self, device_id, rate_hz):
        self.device_id, self.n = device_id, 0

    def update(self, chunk):
        if chunk.acc_g[0, 0] == 99:
            raise RuntimeError("analyzer bug")
        out = []
        for t in chunk.t_s:
            self.n += 1
            if self.n % 50 == 0:
                out.append(Event("minute", float(t), {"start_s": float(t) - 1, "sedentary_s": 1.0},
                                 self.device_id))
        return out

    def finish(self):
        return []

    def summary(self):
        return {"n": self.n}

    def announce(self, exercise):
        return []

    def calibrate(self):
        return []

    def get_state(self):
        return {"n": self.n}

    def set_state(self, s):
        self.n = s["n"]


class RepAnalyzer(FakeAnalyzer):
    """FakeAnalyzer plus one ``rep`` of a bird dog with every minute (exercise and day events)."""

    def update(self, chunk):
        out = []
        for ev in super().update(chunk):
            out += [ev, Event("rep", ev.t_s, {"exercise": "bird_dog", "index": 1, "side": "",
                                              "start_s": ev.t_s - 1, "end_s": ev.t_s, "flags": []},
                              self.device_id)]
        return out


class RecordingCoach:
    """A coach that only records what the pipeline hands it."""

    def __init__(self):
        self.events = []            # (user, device, kind)

    def on_events(self, user, events):
        self.events += [(user, e.device_id, e.kind) for e in events]
        return []

    def on_command(self, user, payload, t_s=None):
        return []

    def discovery(self, user, devices=None):
        return []
