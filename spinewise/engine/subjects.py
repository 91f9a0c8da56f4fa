"""Names in the engine (NATS JetStream): subjects, the stream, the buckets, the server's mapping.

The gateway keeps publishing MQTT (``<prefix>/dev/<device>/imu|status|link``) to the NATS
server's MQTT listener, which turns ``/`` into ``.``. The server's subject mapping (see
:func:`mappings`) moves each sensor message to one of ``partitions`` partition subjects,
hashing the device id, so all of a device's messages land, in order, in one partition::

    <prefix>.dev.<device>.<kind>  ->  <prefix>.part.<p>.<device>.<kind>     p = hash(device) % N

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


def base(prefix: str) -> str:
    """The NATS form of an MQTT topic prefix (``a/b`` -> ``a.b``)."""
    if "." in prefix or " " in prefix:
        raise ValueError(f"mqtt.prefix: {prefix!r} cannot be used with the engine (no '.' or space)")
    return prefix.replace("/", ".")


def mappings(prefix: str, partitions: int) -> dict[str, str]:
    """The server's subject mapping: each sensor kind -> its device's partition."""
    b = base(prefix)
    return {f"{b}.dev.*.{kind}": f"{b}.part.{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}.{kind}"
            for kind in SENSOR_KINDS}


def stream_subjects(prefix: str) -> list[str]:
    return [f"{base(prefix)}.part.>"]


def partition_filter(prefix: str, index: int) -> str:
    return f"{base(prefix)}.part.{index}.>"


def parse(prefix: str, subject: str) -> tuple[int, str, str] | None:
    """``<prefix>.part.<p>.<device>.<kind>`` -> (p, device, kind), or None."""
    b = base(prefix) + ".part."
    if not subject.startswith(b):
        return None
    m = re.fullmatch(r"(\d+)\.([^.]+)\.([^.]+)", subject[len(b):])
    if m is None or m.group(3) not in SENSOR_KINDS or not valid_id(m.group(2)):
        return None
    return int(m.group(1)), m.group(2), m.group(3)


def lease_key(index: int) -> str:
    return f"p{index}"
