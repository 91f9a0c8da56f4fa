"""The engine's input stream (``subjects.STREAM``): where sensor messages wait for a worker.

Why it sources from the MQTT listener's own store. A gateway's QoS 1 PUBLISH is acknowledged
by nats-server's MQTT listener once the message is stored in the server's ``$MQTT_msgs``
stream (a synchronous JetStream store, replicated in a cluster); the publish on the mapped
subject that a stream *capturing* ``<prefix>.part.>`` takes is fire and forget. When the
node leading that stream dies, the cluster takes seconds to elect a new leader, and every
message acknowledged to the gateway in between is lost (measured on a 3-node cluster of
2.9.10: 2,429 of 4,000). From nats-server 2.10 a stream can *source* ``$MQTT_msgs`` with a
subject transform: the stream then holds exactly what was acknowledged (0 lost of 20,000 in
the same kill on 2.15.1), with the same subjects as before.

``$MQTT_msgs`` keeps a message only while a consumer is interested in it (interest
retention), and the source is such a consumer: what a gateway publishes before this stream
exists is acknowledged and dropped, so start a worker before the gateways (docs/deploy.md).
How the source consumes matters for the same reason. Up to 2.13 the server makes its own
consumer for a source, acknowledging each message as it is *sent*: a message on its way when
the input stream's leader dies is gone from ``$MQTT_msgs`` and never stored (the cluster test
lost some on 2.15.1 that way). From 2.14 a source can name a durable consumer of ours with
``ack_policy = flow_control`` (ADR-60): acknowledged once the input stream has stored the
message on its replicas. On a 2.9 server the stream captures the partition subjects as before,
and says so.
"""
from __future__ import annotations

import asyncio
import logging
import time

from spinewise.engine import subjects

log = logging.getLogger(__name__)

MQTT_STORE = "$MQTT_msgs"           # the MQTT listener's stream of QoS 1 messages
SOURCED_FROM = (2, 10)              # first nats-server with subject transforms on sources
DURABLE_FROM = (2, 14)              # first with a flow-controlled durable source consumer
SOURCE_CONSUMER = "spinewise_input"
SOURCE_PENDING = 10_000             # messages on their way from the MQTT store at a time


def sourced(server_version) -> bool:
    """Whether a server of this version (nats-py ServerVersion) can source the MQTT store."""
    return (server_version.major, server_version.minor) >= SOURCED_FROM


def durable(server_version) -> bool:
    """Whether it can source through a flow-controlled durable consumer (see above)."""
    return (server_version.major, server_version.minor) >= DURABLE_FROM


def deliver_subject(prefix: str) -> str:
    return f"_{subjects.base(prefix)}.input.deliver"


def config(prefix: str, *, replicas: int, retention_s: float, source: bool, durable_source: bool = False):
    from nats.js.api import (DiscardPolicy, RetentionPolicy, StorageType, StreamConfig,
                             StreamConsumerSource, StreamSource, SubjectTransform)
    b = subjects.base(prefix)
    common = dict(name=subjects.STREAM, retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
                  discard=DiscardPolicy.OLD, max_age=retention_s, num_replicas=replicas)
    # commands a worker sends on to a partition are published to the engine, not through the
    # MQTT listener: the stream captures them (spinewise.engine.commands)
    captured = subjects.command_subjects(prefix)
    if not source:
        return StreamConfig(subjects=subjects.stream_subjects(prefix) + captured, **common)
    # the server's mapping has already moved each message to its partition subject
    transform = SubjectTransform(src=f"$MQTT.msgs.{b}.part.>", dest=f"{b}.part.>")
    consumer = (StreamConsumerSource(name=SOURCE_CONSUMER, deliver_subject=deliver_subject(prefix))
                if durable_source else None)
    return StreamConfig(subjects=captured, sources=[StreamSource(
        name=MQTT_STORE, subject_transforms=[transform], consumer=consumer)], **common)


def source_consumer(prefix: str, replicas: int):
    """The durable consumer on the MQTT store that the input stream sources through."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    return ConsumerConfig(durable_name=SOURCE_CONSUMER, deliver_subject=deliver_subject(prefix),
                          ack_policy=AckPolicy.FLOW_CONTROL, flow_control=True, idle_heartbeat=1.0,
                          max_ack_pending=SOURCE_PENDING, deliver_policy=DeliverPolicy.ALL,
                          filter_subject=f"$MQTT.msgs.{subjects.base(prefix)}.part.>",
                          num_replicas=replicas)


async def ensure(js, server_version, prefix: str, *, replicas: int, retention_s: float,
                 timeout_s: float) -> str:
    """Create the input stream if it is not there; returns how it takes messages
    ("sourced (flow-controlled)", "sourced" or "captured"). Sourcing waits for ``$MQTT_msgs``
    (the server makes it when the first MQTT client connects: the pipeline's own publisher
    does) and for the source to run."""
    source = sourced(server_version)
    if not source:
        log.warning("engine: nats-server %s cannot source its MQTT store (2.10 or later can); "
                    "the input stream captures the partition subjects, and messages a gateway "
                    "publishes while a node leading it dies can be lost", server_version)
    else:
        await _wait(lambda: js.stream_info(MQTT_STORE), timeout_s,
                    f"{MQTT_STORE} (the MQTT listener's store) did not appear: is the pipeline's "
                    "mqtt.host the engine's MQTT listener?")
    flow = source and durable(server_version)
    if flow:
        try:
            await js.add_consumer(MQTT_STORE, source_consumer(prefix, replicas))
        except Exception as exc:     # another worker made it (the same) in between
            log.debug("engine: source consumer: %s", exc)
    wanted = config(prefix, replicas=replicas, retention_s=retention_s, source=source,
                    durable_source=flow)
    try:
        await js.add_stream(wanted)
    except Exception as exc:         # exists with other settings: keep it as it is
        log.info("engine stream %s kept as it is (%s)", subjects.STREAM, exc)
        await _take_commands(js, prefix)
    if source:
        async def running():
            info = await js.stream_info(subjects.STREAM)
            src = (info.sources or [None])[0]
            if src is None or src.active is None or src.active < 0:
                raise LookupError("the source is not running yet")
        await _wait(running, timeout_s, f"{subjects.STREAM} does not source {MQTT_STORE}")
    return "sourced (flow-controlled)" if flow else "sourced" if source else "captured"


async def _take_commands(js, prefix: str) -> None:
    """A stream made before commands were routed through it: add their subjects."""
    info = await js.stream_info(subjects.STREAM)
    have = list(info.config.subjects or [])
    missing = [s for s in subjects.command_subjects(prefix) if s not in have]
    if missing:
        info.config.subjects = have + missing
        await js.update_stream(info.config)
        log.info("engine stream %s now also takes %s", subjects.STREAM, ", ".join(missing))


async def _wait(probe, timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await probe()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise TimeoutError(why) from None
            await asyncio.sleep(0.2)
