"""``spinewise calibrate --device ID``: ask the pipeline to recalibrate that sensor's mounting.

Stand upright and still for a few seconds while it runs. The command goes to the device's user
as ``{"v": 1, "cmd": "calibrate"}`` on ``<prefix>/user/<user>/cmd`` (the pipeline recalibrates all
of that user's sensors); the coach's reply on ``<prefix>/user/<user>/cmd/reply`` is printed. The
MQTT login in the config must be that person's (or one allowed to send their commands).
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="send the calibrate command for a device over MQTT",
                       description=__doc__.splitlines()[0])
    p.add_argument("--device", required=True, help="device id (its user comes from the config)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
    p.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    p.set_defaults(func=run)


def send_command(cfg, user: str, command: dict, timeout_s: float = 10.0) -> dict | None:
    """Publish a command to ``<prefix>/user/<user>/cmd`` and return the matching reply (or None).
    Raises ConnectionError with the reason when the broker cannot be reached or refuses."""
    import queue
    import uuid

    from spinewise.mqtt import MqttClient
    from spinewise.topics import Topics

    cid = command.setdefault("id", uuid.uuid4().hex[:12])
    replies: queue.Queue = queue.Queue()

    def on_reply(_topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        # every reply, errors included, echoes the id (spinewise.coaching.commands): only ours
        if isinstance(doc, dict) and doc.get("id") == cid:
            replies.put(doc)

    client = MqttClient(cfg.mqtt, f"spinewise-cli-{uuid.uuid4().hex[:8]}", clean_session=True)
    topics = Topics(cfg.mqtt.prefix)
    client.subscribe(topics.user(user, "cmd/reply"), on_reply, qos=1)
    try:
        if not client.connect(timeout_s):
            raise ConnectionError(client.failure() or
                                  f"MQTT broker {cfg.mqtt.host}:{cfg.mqtt.port} not reachable")
        if not client.publish(topics.user(user, "cmd"), json.dumps(command), qos=1,
                              timeout_s=timeout_s):
            raise ConnectionError("the broker did not acknowledge the command")
        try:
            return replies.get(timeout=timeout_s)
        except queue.Empty:
            return None
    finally:
        client.close()


def run(args) -> int:
    from spinewise import config as config_mod

    cfg = config_mod.load(getattr(args, "config", None))
    user = cfg.user_of(args.device)
    try:
        reply = send_command(cfg, user, {"v": 1, "cmd": "calibrate"}, args.timeout)
    except ConnectionError as exc:
        print(f"spinewise calibrate: {exc}", file=sys.stderr)
        return 1
    if reply is None:
        print(f"spinewise calibrate: sent to user {user}; no reply within {args.timeout:g} s "
              "(is `spinewise pipeline` running?)", file=sys.stderr)
        return 1
    if not reply.get("ok"):
        print(f"spinewise calibrate: refused: {reply.get('error')}", file=sys.stderr)
        return 1
    print(f"calibration requested for {args.device} (user {user}): "
          f"{reply.get('note', 'stand upright and still')}")
    return 0
