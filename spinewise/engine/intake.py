"""The pipeline's input from the engine: owned partitions, in order, acked after checkpoints.

:class:`EngineIntake` stands where the pipeline's MQTT subscriber stands (``Pipeline.sub``:
``subscribe`` / ``connect`` / ``close`` / ``connected``) and calls the same per-kind handlers
with the same topics and payloads, plus an ack token. What it adds:

Ownership. Partitions are the unit of ownership. Each worker keeps a heartbeat key in the
``WORKERS`` bucket and owns partitions through keys in the ``LEASES`` bucket; both buckets
have a TTL of ``pipeline.lease_ttl_s``, renewed every quarter of it with compare-and-set.
A key is created only if absent, so a partition has at most one owner; a worker that cannot
renew a lease for 60 % of the TTL stops processing it before the engine lets anyone else take
it. Every worker aims at ceil(partitions / live workers): it takes free partitions up to that
share (a dead worker's leases expire, so its partitions are taken within about one TTL), and
gives back what is above it once a new worker appears (after a checkpoint, so nothing is
processed twice or lost).

Order and acks. One durable pull consumer per partition, re-created by each new owner to
start right after the partition's checkpoint (the ``CHECKPOINTS`` bucket): the stream
sequence up to which every message is reflected in stored device snapshots. The pipeline's
worker calls :meth:`checkpoint` with the tokens it has processed *after* storing the
snapshots of the devices they touched (and flushing storage); only then is the partition's
checkpoint advanced and the consumer acked (AckAll). After a crash the next owner restores
each device's snapshot and is redelivered exactly the messages after the checkpoint; samples
a newer snapshot already holds are dropped as duplicates by their sequence numbers (the
reorder buffer), a repeated end-of-stream marker is recognised as such.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import socket
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from spinewise.config import Config
from spinewise.engine import commands, inputstream, subjects
from spinewise.engine.coachstore import KvCoachStore
from spinewise.engine.link import EngineLink, server_urls
from spinewise.engine.snapshots import KvSnapshotStore
from spinewise.topics import SENSOR_KINDS

log = logging.getLogger(__name__)

FETCH_BATCH = 500
FETCH_WAIT_S = 0.5
MAX_ACK_PENDING = 50_000        # per partition: fetched, not yet covered by a checkpoint
LOCAL_EXPIRY = 0.6              # a lease not renewed for this share of the TTL is given up
CONSUMER_IDLE_S = 60.0          # the engine removes a partition consumer nobody pulls from
FETCH_STUCK_TTLS = 2.0          # fetches failing for this many lease TTLs: take the partition anew
NO_RESPONDERS_S = 1.0           # fetches answered "no responders" this long: its node is gone


@dataclass(frozen=True)
class Token:
    partition: int
    epoch: int           # which ownership of the partition delivered it
    seq: int             # stream sequence


@dataclass
class _Owned:
    index: int
    epoch: int
    lease_rev: int
    sub: object
    renewed_at: float
    delivered: deque = field(default_factory=deque)     # [seq, msg, done] in stream order
    by_seq: dict = field(default_factory=dict)
    releasing: bool = False
    release_asked: bool = False
    task: asyncio.Task | None = None
    consumer: str = ""
    consumer_failing_since: float | None = None


def default_worker_id() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{socket.gethostname()}-{os.getpid()}")[:64]


class EngineIntake:
    def __init__(self, cfg: Config, worker_id: str) -> None:
        pc = cfg.pipeline
        self.prefix = cfg.mqtt.prefix
        subjects.base(self.prefix)            # refuses a prefix the engine cannot carry
        self.partitions = int(pc.partitions)
        self.replicas = int(pc.engine_replicas)
        self.retention_s = float(pc.engine_retention_s)
        self.lease_ttl_s = float(pc.lease_ttl_s)
        self.worker_id = worker_id
        self.link = EngineLink(server_urls(pc.nats_servers), worker_id)
        self.snapshots = KvSnapshotStore(self.link)
        self.coach_store = KvCoachStore(self.link)
        self.user_of = cfg.user_of
        # user -> the device whose partition coaches the user (the pipeline sets its own)
        self.primary_of = lambda user: None
        self.router: commands.CommandRouter | None = None
        self.connected = self.link.connected
        self._handlers: dict[str, object] = {}
        self._owned: dict[int, _Owned] = {}
        self._lock = threading.Lock()
        self._revoked: list[int] = []
        self._release_ready: list[int] = []
        self._device_part: dict[str, int] = {}
        self._epoch = 0
        self._consumers = 0
        self._fetching = True
        self._acquiring = True
        self._running = False
        self._deliver_pool = ThreadPoolExecutor(1, thread_name_prefix="engine-deliver")
        self._owner_task: asyncio.Task | None = None
        self.history: deque = deque(maxlen=1000)   # (wall time, acquired|released|revoked, p)
        self.delivered = 0
        self.bad_subjects = 0
        self.intake_mode = ""          # how the input stream takes messages: see inputstream

    # -- the subscriber interface the pipeline uses ----------------------------------------
    def subscribe(self, topic_filter: str, handler, qos: int = 1) -> None:
        kind = topic_filter.rsplit("/", 1)[-1]
        if kind in SENSOR_KINDS or kind == "cmd":
            self._handlers[kind] = handler
        else:
            log.warning("engine mode: %s is not taken from the engine", topic_filter)

    def connect(self, timeout_s: float = 10.0, *, wait: bool = True) -> bool:
        fut = self.link.spawn(self._start(timeout_s))
        if not wait:
            return False
        try:
            fut.result(timeout_s + 10.0)
        except Exception as exc:
            log.error("engine %s not reachable: %s", ",".join(self.link.servers), exc)
            return False
        return True

    def close(self) -> None:
        """Stop taking partitions and messages (what was delivered is still processed and
        committed by the pipeline's :meth:`finish` at stop)."""
        self._acquiring = False
        self._fetching = False
        deadline = time.monotonic() + FETCH_WAIT_S + 2.0
        while time.monotonic() < deadline and any(
                o.task is not None and not o.task.done() for o in list(self._owned.values())):
            time.sleep(0.02)

    def finish(self) -> None:
        """After the last checkpoint: give every lease back (the others take over at once)."""
        if self._running:
            try:
                self.link.call(self._release_all(), 10.0)
            except Exception:
                log.warning("engine: leases not released at stop (they expire in %.0f s)",
                            self.lease_ttl_s, exc_info=True)
        self._deliver_pool.shutdown(wait=False)
        self.link.close()

    def failure(self) -> str | None:
        return None

    # -- what the pipeline's worker thread calls -------------------------------------------
    def valid(self, token: Token) -> bool:
        o = self._owned.get(token.partition)
        return o is not None and o.epoch == token.epoch

    def partition_of(self, device_id: str) -> int | None:
        return self._device_part.get(device_id)

    def owns_device(self, device_id: str) -> bool:
        p = self._device_part.get(device_id)
        return p is not None and p in self._owned

    def owned(self) -> list[int]:
        return sorted(self._owned)

    def take_revoked(self) -> list[int]:
        with self._lock:
            out, self._revoked = self._revoked, []
        return out

    def take_release_ready(self) -> list[int]:
        with self._lock:
            out, self._release_ready = self._release_ready, []
        return out

    def settle(self, token: Token) -> None:
        """A message that changed no state (refused at intake): done as it is."""
        with self._lock:
            o = self._owned.get(token.partition)
            if o is not None and o.epoch == token.epoch:
                entry = o.by_seq.get(token.seq)
                if entry is not None:
                    entry[2] = True

    def checkpoint(self, tokens: list[Token]) -> int:
        """The messages of ``tokens`` are processed and the snapshots of their devices are
        stored: advance each partition's checkpoint over its processed prefix and ack it.
        Returns the number of messages committed."""
        commits = []
        committed = 0
        with self._lock:
            for t in tokens:
                o = self._owned.get(t.partition)
                if o is not None and o.epoch == t.epoch:
                    entry = o.by_seq.get(t.seq)
                    if entry is not None:
                        entry[2] = True
            for o in self._owned.values():
                last = None
                while o.delivered and o.delivered[0][2]:
                    last = o.delivered.popleft()
                    o.by_seq.pop(last[0], None)
                    committed += 1
                if last is not None:
                    commits.append((o.index, o.epoch, last[0], last[1]))
        if commits:
            self.link.call(self._commit(commits), 10.0)
        return committed

    def released(self, index: int) -> None:
        """The pipeline has snapshotted and dropped the devices of a partition given back."""
        self.link.call(self._give_back(index), 10.0)

    def abandon(self, index: int, why: str) -> None:
        """The pipeline could not continue a partition (a snapshot could not be read): stop it
        without committing; it is taken again from its checkpoint (by us or another worker)."""
        async def revoke():
            o = self._owned.get(index)
            if o is not None:
                self._revoke(o, why)
                asyncio.get_running_loop().create_task(self._delete_lease(index))
        self.link.call(revoke(), 5.0)

    def route_command(self, device_id: str, payload: bytes) -> None:
        """A command this worker took but does not coach (a sensor button, a notification's
        answer): on to the partition of the user's primary device, like one from the user."""
        if self.router is None:
            raise RuntimeError("user commands need nats-server 2.10 or later")
        self.link.call(self.link.js.publish(subjects.routed_command(self.prefix, device_id), payload,
                                            stream=subjects.STREAM), 10.0)

    def kill(self) -> None:
        """Tests: stop dead, as a crashed worker would (no checkpoint, no release)."""
        self._fetching = self._acquiring = False
        self.link.kill()

    # -- engine side (the link's event loop) -----------------------------------------------
    async def _start(self, timeout_s: float) -> None:
        await self.link.open(timeout_s)
        self._sourced = inputstream.sourced(self.link.nc.connected_server_version)
        self.intake_mode = await inputstream.ensure(
            self.link.js, self.link.nc.connected_server_version, self.prefix, replicas=self.replicas,
            retention_s=self.retention_s, timeout_s=timeout_s)
        self._leases = await self._bucket(subjects.LEASES, self.lease_ttl_s)
        self._workers = await self._bucket(subjects.WORKERS, self.lease_ttl_s)
        self._ckpt = await self._bucket(subjects.CHECKPOINTS, None)
        self.snapshots.kv = await self._bucket(subjects.SNAPSHOTS, None)
        self.coach_store.kv = await self._bucket(subjects.COACH, None)
        self._running = True
        self._owner_task = asyncio.get_running_loop().create_task(self._ownership())
        if self._sourced:
            self.router = commands.CommandRouter(self.link.js, self.prefix,
                                                  lambda user: self.primary_of(user))
            self._router_sub = await commands.ensure(self.link.js, self.prefix, self.replicas)
            self._router_task = asyncio.get_running_loop().create_task(
                self.router.run(self._router_sub, lambda: self._running))
        else:
            log.warning("engine: user commands need nats-server 2.10 or later; not taken")
        log.info("engine worker %s joined (%d partitions, lease TTL %.1f s, input %s)", self.worker_id,
                 self.partitions, self.lease_ttl_s, self.intake_mode)

    async def _bucket(self, name: str, ttl_s: float | None):
        from nats.js.api import KeyValueConfig
        js = self.link.js
        try:
            return await js.key_value(name)
        except Exception:
            pass
        try:
            return await js.create_key_value(KeyValueConfig(bucket=name, history=1, ttl=ttl_s,
                                                            replicas=self.replicas))
        except Exception:          # another worker created it in between
            return await js.key_value(name)

    async def _ownership(self) -> None:
        """Two loops: renewing leases must never wait behind slow work (creating a consumer
        while the cluster elects a leader can take seconds), so it runs on its own."""
        renew = asyncio.get_running_loop().create_task(self._loop(self._renew_all))
        try:
            await self._loop(self._balance)
        finally:
            renew.cancel()

    async def _loop(self, step) -> None:
        while self._running:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("engine %s round failed: %s", step.__name__.strip("_"), exc)
            await asyncio.sleep(self.lease_ttl_s / 4)

    async def _renew_all(self) -> None:
        started = time.monotonic()
        limit = LOCAL_EXPIRY * self.lease_ttl_s / 2
        heartbeat = asyncio.wait_for(self._workers.put(self.worker_id, b"alive"), limit)
        owned = list(self._owned.values())
        results = await asyncio.gather(heartbeat, *(asyncio.wait_for(self._renew(o, started), limit)
                                                    for o in owned), return_exceptions=True)
        for o, res in zip(owned, results[1:]):
            if isinstance(res, Exception) and time.monotonic() - o.renewed_at > LOCAL_EXPIRY * self.lease_ttl_s:
                self._revoke(o, f"lease not renewed ({type(res).__name__}: {res})")
        for o in list(self._owned.values()):       # also when the round itself was slow
            if time.monotonic() - o.renewed_at > LOCAL_EXPIRY * self.lease_ttl_s:
                self._revoke(o, "lease renewal too late")

    async def _renew(self, o: _Owned, started: float) -> None:
        from nats.js.errors import KeyWrongLastSequenceError
        try:
            rev = await self._leases.update(subjects.lease_key(o.index), self.worker_id.encode(),
                                            last=o.lease_rev)
        except KeyWrongLastSequenceError:
            # our previous renewal may have been applied with its answer lost (a node
            # failing over): the key still names us, so it is still ours
            rev, holder = await self._own_revision(o.index)
            if rev is None:
                self._revoke(o, f"lease held by {holder!r} now")
                return
        if self._owned.get(o.index) is o:
            o.lease_rev, o.renewed_at = rev, started

    async def _check_consumers(self) -> None:
        """An owned partition whose consumer no longer answers (its node died) is given up and
        its lease deleted: it is taken again (by anyone) with a new consumer."""
        async def check(o: _Owned):
            try:
                await asyncio.wait_for(self.link.js.consumer_info(subjects.STREAM, o.consumer),
                                       self.lease_ttl_s / 2)
                o.consumer_failing_since = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                now = time.monotonic()
                o.consumer_failing_since = o.consumer_failing_since or now
                if now - o.consumer_failing_since > FETCH_STUCK_TTLS * self.lease_ttl_s:
                    asyncio.get_running_loop().create_task(self._delete_lease(o.index))
                    self._revoke(o, f"its consumer does not answer ({type(exc).__name__})")
        await asyncio.gather(*(check(o) for o in list(self._owned.values()) if not o.releasing))

    async def _balance(self) -> None:
        await self._check_consumers()
        for o in list(self._owned.values()):
            if o.releasing and not o.release_asked and not o.delivered and (
                    o.task is None or o.task.done()):
                o.release_asked = True
                with self._lock:
                    self._release_ready.append(o.index)
        if not self._acquiring:
            return
        alive = sorted(await self._alive())
        if self.worker_id not in alive:
            alive = sorted(alive + [self.worker_id])
        share = math.ceil(self.partitions / len(alive))
        mine = [o for o in self._owned.values() if not o.releasing]
        if len(mine) > share:
            for o in sorted(mine, key=lambda o: -o.index)[:len(mine) - share]:
                log.info("engine: giving partition %d back (%d workers, share %d)", o.index,
                         len(alive), share)
                o.releasing = True
            return
        need = share - len(mine)
        if need <= 0:
            return
        # each worker starts looking at its own place (fewer collisions); one attempt is
        # bounded so that a slow one (the cluster electing a leader) does not stall the round
        start = alive.index(self.worker_id) * self.partitions // len(alive)
        for k in range(self.partitions):
            if need <= 0:
                break
            index = (start + k) % self.partitions
            if index in self._owned:
                continue
            try:
                if await asyncio.wait_for(self._acquire(index), 2 * self.lease_ttl_s):
                    need -= 1
            except asyncio.TimeoutError:
                log.warning("engine: taking partition %d timed out", index)

    async def _own_revision(self, index: int) -> tuple[int | None, str | None]:
        """(revision, holder) of a lease: the revision only when the holder is us."""
        try:
            entry = await self._leases.get(subjects.lease_key(index))
        except Exception as exc:
            return None, f"nobody ({type(exc).__name__})"
        holder = None if entry is None or entry.value is None else entry.value.decode(errors="replace")
        if holder != self.worker_id:
            return None, holder
        return entry.revision, holder

    async def _alive(self) -> list[str]:
        """Workers with a live heartbeat key: one stream-info request (no consumer)."""
        prefix = f"$KV.{subjects.WORKERS}."
        info = await self.link.js.stream_info(f"KV_{subjects.WORKERS}", subjects_filter=prefix + ">")
        return [subj[len(prefix):] for subj in (info.state.subjects or {})]

    async def _acquire(self, index: int) -> bool:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import KeyWrongLastSequenceError
        asked = time.monotonic()
        try:
            rev = await self._leases.create(subjects.lease_key(index), self.worker_id.encode())
        except KeyWrongLastSequenceError:
            return False                      # owned by someone else
        try:
            ckpt = await self._checkpoint_of(index)
            sub, name = await self._consumer(index, ckpt)
        except BaseException:
            # Failed, or cancelled by the round's time bound (a slow consumer creation while
            # the cluster elects leaders): give the lease back now so that someone (maybe us,
            # next round) takes it at once, rather than leave it held, unserved, for its TTL.
            asyncio.get_running_loop().create_task(self._delete_lease(index))
            raise
        self._epoch += 1
        o = _Owned(index, self._epoch, rev, sub, asked, consumer=name)
        with self._lock:
            self._owned[index] = o
        o.task = asyncio.get_running_loop().create_task(self._fetch(o))
        self.history.append((time.time(), "acquired", index))
        log.info("engine: partition %d acquired by %s from sequence %d", index, self.worker_id, ckpt + 1)
        return True

    async def _consumer(self, index: int, ckpt: int):
        """A pull consumer of the partition from just after its checkpoint. A new name for each
        ownership: the previous owner's consumer may sit on a node that just died (deleting it
        would hang); unused ones are removed by the engine after CONSUMER_IDLE_S."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        self._consumers += 1
        name = f"p{index}-{self.worker_id}-{self._consumers}"
        filters = subjects.partition_filters(self.prefix, index)
        if not self._sourced:          # 2.9: one filter only, and no commands (see _start)
            filters = filters[:1]
        cc = ConsumerConfig(durable_name=name, filter_subjects=filters,
                            ack_policy=AckPolicy.ALL, ack_wait=600.0, max_deliver=-1,
                            max_ack_pending=MAX_ACK_PENDING, max_waiting=16,
                            inactive_threshold=CONSUMER_IDLE_S,
                            # disposable: its position is rebuilt from the checkpoint by every
                            # owner, so one in-memory replica (quick to create, even while the
                            # cluster elects leaders); if its node dies, _check_consumers
                            # notices and the partition is taken anew with a new consumer
                            num_replicas=1, mem_storage=True)
        if ckpt > 0:
            cc.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            cc.opt_start_seq = ckpt + 1
        else:
            cc.deliver_policy = DeliverPolicy.ALL
        js = self.link.js
        await js.add_consumer(subjects.STREAM, cc)
        return await js.pull_subscribe_bind(name, subjects.STREAM), name

    async def _checkpoint_of(self, index: int) -> int:
        from nats.js.errors import KeyNotFoundError
        try:
            entry = await self._ckpt.get(subjects.lease_key(index))
        except KeyNotFoundError:
            return 0
        try:
            return int(entry.value or b"0")
        except ValueError:
            return 0

    def _revoke(self, o: _Owned, why: str) -> None:
        if self._owned.get(o.index) is not o:
            return
        with self._lock:
            del self._owned[o.index]
            self._revoked.append(o.index)
        if o.task is not None:
            o.task.cancel()
        self.history.append((time.time(), "revoked", o.index))
        log.warning("engine: partition %d given up by %s: %s", o.index, self.worker_id, why)
        asyncio.get_running_loop().create_task(self._unsubscribe(o))

    async def _delete_lease(self, index: int) -> None:
        try:
            await self._leases.delete(subjects.lease_key(index))
        except Exception:
            pass                  # it expires

    async def _unsubscribe(self, o: _Owned) -> None:
        try:
            await o.sub.unsubscribe()
        except Exception:
            pass

    async def _fetch(self, o: _Owned) -> None:
        import nats.errors
        from nats.js.errors import ServiceUnavailableError
        loop = asyncio.get_running_loop()
        failing_since = None
        while self._fetching and not o.releasing and self._owned.get(o.index) is o:
            try:
                msgs = await o.sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failing_since = failing_since or time.monotonic()
                log.warning("engine: fetch on partition %d failed: %s", o.index, exc)
                # "no responders" (503): no live server holds the consumer, i.e. its node died
                # (one replica, by design: see _consumer); waiting for it cannot help
                gone = isinstance(exc, (nats.errors.NoRespondersError, ServiceUnavailableError))
                if time.monotonic() - failing_since > (
                        NO_RESPONDERS_S if gone else FETCH_STUCK_TTLS * self.lease_ttl_s):
                    # its consumer is gone (a node died with it): start the partition anew
                    # from its checkpoint, with a new consumer
                    loop.create_task(self._delete_lease(o.index))
                    self._revoke(o, f"fetch failing ({exc})")
                    return
                await asyncio.sleep(0.5)
                continue
            failing_since = None
            if self._owned.get(o.index) is not o:
                break               # given up meanwhile: the next owner gets them again
            batch = []
            with self._lock:
                for m in msgs:
                    seq = m.metadata.sequence.stream
                    entry = [seq, m, False]
                    o.delivered.append(entry)
                    o.by_seq[seq] = entry
                    batch.append((subjects.parse(self.prefix, m.subject), m.data,
                                  Token(o.index, o.epoch, seq)))
            # the handlers block while the pipeline's queue is full (backpressure), so they
            # run on one thread of their own, in order
            await loop.run_in_executor(self._deliver_pool, self._deliver, batch)

    def _deliver(self, batch) -> None:
        for parsed, data, token in batch:
            self.delivered += 1
            if parsed is None:
                self.bad_subjects += 1
                self.settle(token)
                continue
            _, device, kind = parsed
            self._device_part[device] = token.partition
            handler = self._handlers.get(kind)
            taken = False
            # a command sent on to its user's primary device (spinewise.engine.commands)
            topic = f"{self.prefix}/user/{self.user_of(device)}/cmd" if kind == "cmd" else \
                f"{self.prefix}/dev/{device}/{kind}"
            if handler is not None:
                try:
                    taken = handler(topic, data, token)
                except Exception:
                    log.exception("engine handler for %s failed", kind)
            if not taken:
                self.settle(token)

    async def _commit(self, commits) -> None:
        for index, epoch, seq, msg in commits:
            o = self._owned.get(index)
            if o is None or o.epoch != epoch:
                continue            # given up meanwhile: the next owner starts from the old checkpoint
            await self._ckpt.put(subjects.lease_key(index), str(seq).encode())
            await msg.ack()

    async def _give_back(self, index: int) -> None:
        with self._lock:
            o = self._owned.pop(index, None)
        if o is None:
            return
        await self._unsubscribe(o)
        try:
            await asyncio.wait_for(self.link.js.delete_consumer(subjects.STREAM, o.consumer), 2.0)
        except Exception:
            pass                  # the engine removes it once idle
        try:
            await self._leases.delete(subjects.lease_key(index))
        except Exception:
            log.debug("lease %d delete failed (it expires)", index, exc_info=True)
        self.history.append((time.time(), "released", index))
        log.info("engine: partition %d given back by %s", index, self.worker_id)

    async def _release_all(self) -> None:
        self._running = False
        if self._owner_task is not None:
            self._owner_task.cancel()
        for index in list(self._owned):
            await self._give_back(index)
        try:
            await self._workers.delete(self.worker_id)
        except Exception:
            pass
