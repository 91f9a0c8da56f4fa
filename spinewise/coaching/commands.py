"""The command protocol users talk to the coach with (``<prefix>/user/<user>/cmd``, JSON).

Every command is an object ``{"v": 1, "cmd": <name>, ...fields}``; ``id`` (string or
integer) is echoed in the reply so a client can match it; ``t_s`` (epoch seconds) is the
event time of the command when the sender knows it. Validation is a small table-driven
schema so a bad command is answered with an error that names the field.

Reply on ``<prefix>/user/<user>/cmd/reply`` (not retained)::

    {"v": 1, "ok": true,  "cmd": "<name>", "id": <as sent>, "t_s": <event time>, ...result}
    {"v": 1, "ok": false, "cmd": "<name>" | null, "id": <as sent>,
     "error": {"field": "<offending field>", "message": "<why>"}}

``id`` is echoed whenever the payload parsed far enough to have a valid one: also when the
command itself is refused (unknown ``cmd``, bad version, bad field), so a client never has to
guess which request an error answers. It is absent only when the sender gave none or the
payload is not a JSON object at all (then no request can be matched; ``CommandError.id`` is
None). ``reply_id(payload)`` gives that id for a reply built outside ``parse``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 4096
EXERCISES = ("plank", "side_plank", "bird_dog", "dead_bug", "bridge", "prone_press_up",
             "knee_to_chest", "spinal_rotation", "squat")


class CommandError(ValueError):
    def __init__(self, field_name: str, message: str, id: str | int | None = None):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message
        self.id = id          # the command's id when the payload had a valid one (for the reply)


@dataclass(frozen=True)
class Command:
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str | int | None = None
    t_s: float | None = None


def _number(lo: float, hi: float) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError("expected a number")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return float(v)
    return check


def _integer(lo: int, hi: int) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
            raise ValueError("expected an integer")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return int(v)
    return check


def _boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("expected true or false")
    return v


def _text(max_len: int) -> Callable[[Any], Any]:
    def check(v: Any) -> str:
        if not isinstance(v, str) or len(v) > max_len:
            raise ValueError(f"expected a string of at most {max_len} characters")
        return v
    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(v: Any) -> str:
        if v not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return v
    return check


def _object(v: Any) -> dict:
    if not isinstance(v, dict) or not v:
        raise ValueError("expected a non-empty object")
    return v


# cmd -> field -> (validator, required)
SCHEMA: dict[str, dict[str, tuple[Callable[[Any], Any], bool]]] = {
    "snooze": {"minutes": (_number(1, 24 * 60), False)},
    "done": {"nudge": (_text(64), False)},
    "pain": {"score": (_integer(0, 10), True), "leg": (_boolean, False),
             "numbness": (_boolean, False), "weakness": (_boolean, False),
             "note": (_text(500), False)},
    "set_start": {"exercise": (_one_of(EXERCISES), True), "variant": (_text(32), False),
                  "resistance": (_number(0.1, 10), False)},
    "set_stop": {},
    "calibrate": {},
    "acute": {"on": (_boolean, True)},
    "extension_eases": {"on": (_boolean, True)},
    "clinician_cleared": {},
    "settings": {"values": (_object, True)},
    "status": {},
    "plan": {},
}
_ENVELOPE = {"v", "cmd", "id", "t_s"}


def _valid_id(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (str, int)) and len(str(v)) <= 64


def reply_id(payload: bytes | str) -> str | int | None:
    """The ``id`` a reply to ``payload`` must echo (None when it has no valid one)."""
    try:
        parse(payload)
    except CommandError as exc:
        return exc.id
    doc = json.loads(payload)
    return doc.get("id")


def parse(payload: bytes | str) -> Command:
    """A validated Command; raises CommandError naming the offending field (and carrying the
    command's ``id`` when the payload had a valid one)."""
    doc_id: list = [None]
    try:
        return _parse(payload, doc_id)
    except CommandError as exc:
        exc.id = doc_id[0]
        raise


def _parse(payload: bytes | str, doc_id: list) -> Command:
    if isinstance(payload, (bytes, bytearray)):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise CommandError("payload", f"larger than {MAX_PAYLOAD_BYTES} bytes")
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("payload", "not UTF-8") from None
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, RecursionError):
        raise CommandError("payload", "not valid JSON") from None
    if not isinstance(doc, dict):
        raise CommandError("payload", "expected a JSON object")
    if _valid_id(doc.get("id")):
        doc_id[0] = doc["id"]        # from here on every error reply can name the request
    if "v" not in doc:
        raise CommandError("v", f"missing protocol version (send \"v\": {PROTOCOL_VERSION})")
    if doc["v"] != PROTOCOL_VERSION or isinstance(doc["v"], bool):
        raise CommandError("v", f"unsupported version {doc['v']!r} (this coach speaks {PROTOCOL_VERSION})")
    name = doc.get("cmd")
    if not isinstance(name, str) or name not in SCHEMA:     # a list or object is unhashable
        raise CommandError("cmd", f"unknown command {name!r} (known: {', '.join(SCHEMA)})")
    cid = doc.get("id")
    if cid is not None and not _valid_id(cid):
        raise CommandError("id", "expected a string or integer of at most 64 characters")
    t_s = None
    if doc.get("t_s") is not None:
        t_s = _field("t_s", _number(0, 1e11), doc["t_s"])
    spec = SCHEMA[name]
    for key in doc:
        if key not in spec and key not in _ENVELOPE:
            raise CommandError(key, f"unknown field for {name!r} (known: {', '.join(spec) or 'none'})")
    args = {}
    for key, (check, required) in spec.items():
        if key in doc:
            args[key] = _field(key, check, doc[key])
        elif required:
            raise CommandError(key, f"required for {name!r}")
    return Command(name, args, cid, t_s)


def _field(key: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise CommandError(key, f"{exc}, got {value!r}"[:200]) from None
