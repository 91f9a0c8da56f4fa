"""The demo's live console: what a wearer's phone would show, read from MQTT like any client.

Subscribes to ``<prefix>/dev/+/events`` and ``<prefix>/user/+/nudge`` and prints reps as they are
counted, holds with elapsed seconds, activity changes and nudges as they fire. Counts what it
saw so the demo can check that the story was told (reps, a timed plank, a nudge).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import TextIO

from spinewise.mqtt import MqttClient
from spinewise.topics import ANY, Topics

HOLD_PRINT_EVERY_S = 10.0


def _clock(t_s: float | None) -> str:
    if t_s is None:
        return "--:--:--"
    return datetime.fromtimestamp(float(t_s), tz=timezone.utc).strftime("%H:%M:%S")


class LiveView:
    def __init__(self, mqtt_cfg, out: TextIO) -> None:
        self.out = out
        self.reps = 0
        self.holds: list[dict] = []
        self.nudges: list[dict] = []
        self.events = 0
        self.last_rx = time.monotonic()
        self._lock = threading.Lock()
        self._hold_printed: dict[str, float] = {}
        self.client = MqttClient(mqtt_cfg, f"spinewise-demo-view-{uuid.uuid4().hex[:6]}",
                                 clean_session=True)
        topics = Topics(mqtt_cfg.prefix)
        self.client.subscribe(topics.device(ANY, "events"), self._on_event, qos=1)
        self.client.subscribe(topics.user(ANY, "nudge"), self._on_nudge, qos=1)

    def start(self, timeout_s: float = 10.0) -> bool:
        return self.client.connect(timeout_s)

    def close(self) -> None:
        self.client.close()

    def wait_quiet(self, quiet_s: float = 0.7, timeout_s: float = 15.0) -> None:
        """Until nothing arrived for ``quiet_s``: the broker may still be delivering a backlog."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and time.monotonic() - self.last_rx < quiet_s:
            time.sleep(0.05)

    def _print(self, t_s, text: str) -> None:
        with self._lock:
            self.out.write(f"  [{_clock(t_s)}] {text}\n")
            self.out.flush()

    def _on_event(self, _topic: str, payload: bytes) -> None:
        self.last_rx = time.monotonic()
        try:
            ev = json.loads(payload)
            kind, d, t = ev["kind"], ev.get("data") or {}, ev.get("t_s")
        except (ValueError, KeyError, TypeError):
            return
        self.events += 1
        if kind == "set_started":
            self._print(t, f"set started: {d.get('exercise')}")
        elif kind == "rep":
            self.reps += 1
            side = f" {d['side']}" if d.get("side") else ""
            amp = d.get("amplitude_deg")
            amp_txt = f", {amp:.0f} deg" if isinstance(amp, (int, float)) else ""
            flags = f"  form: {', '.join(d['flags'])}" if d.get("flags") else ""
            self._print(t, f"  rep {d.get('index')}{side} {d.get('exercise')}{amp_txt}{flags}")
        elif kind == "set_finished":
            self._print(t, f"set finished: {d.get('exercise')} x {d.get('reps')} reps")
        elif kind == "hold_started":
            self._hold_printed[str(d.get("exercise"))] = 0.0
            self._print(t, f"hold started: {d.get('exercise')}")
        elif kind == "hold_running":
            ex, el = str(d.get("exercise")), float(d.get("elapsed_s") or 0.0)
            if el - self._hold_printed.get(ex, 0.0) >= HOLD_PRINT_EVERY_S:
                # on the print grid: a hold is confirmed (and its first running tick sent)
                # up to 12 s in, with its start backdated to the arrival
                self._hold_printed[ex] = el - el % HOLD_PRINT_EVERY_S
                self._print(t, f"  {ex} holding ... {self._hold_printed[ex]:.0f} s")
        elif kind == "hold_finished":
            self.holds.append(d)
            stab = d.get("stability") or {}
            sway = stab.get("sway_deg_rms")
            extra = f", sway {sway:.1f} deg rms" if isinstance(sway, (int, float)) else ""
            self._print(t, f"hold finished: {d.get('exercise')} {float(d.get('duration_s') or 0):.1f} s{extra}")
        elif kind == "gap":
            self._print(t, f"data gap: {d.get('samples_lost')} samples lost")

    def _on_nudge(self, _topic: str, payload: bytes) -> None:
        self.last_rx = time.monotonic()
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        if doc.get("type") != "nudge":
            return
        self.nudges.append(doc)
        sug = doc.get("suggestion") or {}
        self._print(doc.get("t_s"), f">>> NUDGE ({doc.get('sedentary_min')} min sedentary): {sug.get('text')}")
