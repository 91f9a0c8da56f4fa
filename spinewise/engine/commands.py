"""User commands in engine mode: from the user's topic to the worker that coaches the user.

A person's app publishes ``<prefix>/user/<user>/cmd`` to the engine's MQTT listener. Commands
are per user, but partitions are per device, and a user is coached where the partition of
the user's *primary* device (the first in ``[[devices]]``) is processed. So:

1. the command stream ``subjects.COMMANDS`` captures ``<prefix>.user.*.cmd`` (work queue,
   replicated like the rest);
2. every worker pulls from one shared durable consumer of it (each command goes to one of
   them) and publishes the command to ``<prefix>.cmdroute.<primary device>``, which the
   server's mapping moves to that device's partition (``<prefix>.cmdpart.<p>.<device>``), a
   subject the input stream captures; only once the input stream has stored it (its publish
   acknowledgement) is the command acknowledged, and a command sent on twice (a worker died
   in between) is stored once (``Nats-Msg-Id``, the stream's duplicate window);
3. the partition's owner takes it in order with the device's own messages, and acknowledges
   it at the checkpoint that stores what it changed (spinewise.engine.coachstore).

A command for a user the workers do not know is refused here: counted, logged, terminated.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from spinewise.engine import subjects

log = logging.getLogger(__name__)

ROUTER = "spinewise_cmd_router"
RETENTION_S = 86_400.0          # a command nobody took for a day is stale
FETCH = 100
FETCH_WAIT_S = 1.0


def stream_config(prefix: str, replicas: int):
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig
    return StreamConfig(name=subjects.COMMANDS, subjects=[subjects.user_commands(prefix)],
                        retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE,
                        max_age=RETENTION_S, num_replicas=replicas)


def consumer_config(replicas: int):
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    return ConsumerConfig(durable_name=ROUTER, ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0,
                          max_deliver=-1, deliver_policy=DeliverPolicy.ALL, num_replicas=replicas)


async def ensure(js, prefix: str, replicas: int):
    """The command stream and its shared consumer (made by the first worker); returns a pull
    subscription bound to that consumer."""
    try:
        await js.add_stream(stream_config(prefix, replicas))
    except Exception as exc:       # another worker made it (the same) in between
        log.debug("engine: command stream: %s", exc)
    try:
        await js.add_consumer(subjects.COMMANDS, consumer_config(replicas))
    except Exception as exc:
        log.debug("engine: command router: %s", exc)
    return await js.pull_subscribe_bind(ROUTER, subjects.COMMANDS)


class CommandRouter:
    """Sends user commands on to their primary device's partition (see the module doc).
    ``primary_of(user)`` names the device, or None for a user the workers do not know."""

    def __init__(self, js, prefix: str, primary_of: Callable[[str], str | None]) -> None:
        self.js = js
        self.prefix = prefix
        self.primary_of = primary_of
        self.routed = 0
        self.refused = 0

    async def run(self, sub, running: Callable[[], bool]) -> None:
        import nats.errors
        while running():
            try:
                msgs = await sub.fetch(FETCH, timeout=FETCH_WAIT_S)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:        # the cluster electing a leader: try again shortly
                log.warning("engine: command fetch failed: %s", exc)
                await asyncio.sleep(FETCH_WAIT_S)
                continue
            for m in msgs:
                try:
                    await self.route(m)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:    # not acknowledged: redelivered after ack_wait
                    log.warning("engine: command on %s not sent on: %s", m.subject, exc)

    async def route(self, m) -> None:
        user = subjects.user_of_command(self.prefix, m.subject)
        device = None if user is None else self.primary_of(user)
        if device is None:
            self.refused += 1
            log.warning("engine: command for %s refused: not a user of this service",
                        (user or m.subject)[:64])
            await m.term()
            return
        await self.js.publish(subjects.routed_command(self.prefix, device), m.data,
                              stream=subjects.STREAM,
                              headers={"Nats-Msg-Id": f"cmd-{m.metadata.sequence.stream}"})
        await m.ack()
        self.routed += 1
