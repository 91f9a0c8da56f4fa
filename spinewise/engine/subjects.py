"""Names in the engine (NATS JetStream): subjects, the stream, the buckets, the server's mapping.

The gateway keeps publishing MQTT (``<prefix>/dev/<device>/imu|status|link``) to the NATS
server's MQTT listener, which turns ``/`` into ``.``. The server's subject mapping (see
:func:`mappings`) moves each sensor message to one of ``partitions`` partition subjects,
hashing the device id, so all of a device's messages land, in order, in one partition::

    <prefix>.dev.<device>.<kind>  ->  <prefix>.part.<p>.<device>.<kind>     p = hash(device) % N

User commands (``<prefix>/user/<user>/cmd``) are per user, partitions per device: the command
stream ``<COMMANDS>`` takes them, and a worker sends each on to the partition of its user's
primary device (spinewise.engine.commands), where the worker that coaches the user takes it
in order with the device's own messages::

    <prefix>.user.<user>.cmd  ->  <prefix>.cmdroute.<device>  ->  <prefix>.cmdpart.<p>.<device>

The stream ``<STREAM>`` keeps the partition subjects on disk (replicated in a cluster; it
sources them from the MQTT listener's store, see spinewise.engine.inputstream); each
partition has one pull consumer, owned by one worker at a time (spinewise.engine.intake).
"""
from __future__ import annotations

import re

from spinewise.topics import SENSOR_KINDS, valid_id

STREAM = "SPINEWISE_IN"
LEASES = "spinewise_leases"         # p<i> -> worker id, TTL: who owns partition i
WORKERS = "spinewise_workers"       # <worker id> -> heartbeat, TTL: who is alive
CHECKPOINTS = "spinewise_ckpt"      # p<i> -> last stream sequence covered by stored snapshots
SNAPSHOTS = "spinewise_state"       # <device> -> pickled DeviceSession state
COACH = "spinewise_coach"           # <user>.<table>.<row> -> coaching rows (spinewise.engine.coachstore)
COMMANDS = "SPINEWISE_CMD"          # user commands on their way to the coaching worker


def base(prefix: str) -> str:
    """The NATS form of an MQTT topic prefix (``a/b`` -> ``a.b``)."""
    if "." in prefix or " " in prefix:
        raise ValueError(f"mqtt.prefix: {prefix!r} cannot be used with the engine (no '.' or space)")
    return prefix.replace("/", ".")


def mappings(prefix: str, partitions: int) -> dict[str, str]:
    """The server's subject mapping: each sensor kind, and a command sent on to a device, ->
    the device's partition (the same hash of the same token: the same partition)."""
    b = base(prefix)
    part = f"{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}"
    maps = {f"{b}.dev.*.{kind}": f"{b}.part.{part}.{kind}" for kind in SENSOR_KINDS}
    maps[f"{b}.cmdroute.*"] = f"{b}.cmdpart.{part}"
    return maps


def stream_subjects(prefix: str) -> list[str]:
    return [f"{base(prefix)}.part.>"]


def command_subjects(prefix: str) -> list[str]:
    """What the input stream captures besides the sensor messages: commands sent on to a
    partition (published by a worker, spinewise.engine.commands)."""
    return [f"{base(prefix)}.cmdpart.>"]


def user_commands(prefix: str) -> str:
    return f"{base(prefix)}.user.*.cmd"


def routed_command(prefix: str, device: str) -> str:
    return f"{base(prefix)}.cmdroute.{device}"


def partition_filters(prefix: str, index: int) -> list[str]:
    b = base(prefix)
    return [f"{b}.part.{index}.>", f"{b}.cmdpart.{index}.*"]


def parse(prefix: str, subject: str) -> tuple[int, str, str] | None:
    """``<prefix>.part.<p>.<device>.<kind>`` -> (p, device, kind), ``<prefix>.cmdpart.<p>.<device>``
    -> (p, device, "cmd"), or None."""
    b = base(prefix)
    if subject.startswith(b + ".cmdpart."):
        m = re.fullmatch(r"(\d+)\.([^.]+)", subject[len(b) + 9:])
        if m is None or not valid_id(m.group(2)):
            return None
        return int(m.group(1)), m.group(2), "cmd"
    if not subject.startswith(b + ".part."):
        return None
    m = re.fullmatch(r"(\d+)\.([^.]+)\.([^.]+)", subject[len(b) + 6:])
    if m is None or m.group(3) not in SENSOR_KINDS or not valid_id(m.group(2)):
        return None
    return int(m.group(1)), m.group(2), m.group(3)


def user_of_command(prefix: str, subject: str) -> str | None:
    """``<prefix>.user.<user>.cmd`` -> user, or None."""
    b = base(prefix) + ".user."
    if not (subject.startswith(b) and subject.endswith(".cmd")):
        return None
    user = subject[len(b):-4]
    return user if valid_id(user) else None


def lease_key(index: int) -> str:
    return f"p{index}"
