"""The gateway's outgoing MQTT messages on disk: a thin framing layer over spinewise.spool.

Every message is appended here first and removed only after the broker acknowledged it (PUBACK),
so a broker outage or a gateway restart loses nothing that fits the bound. Storage, order, fsync,
bound, corruption and locking policies are those of :class:`spinewise.spool.Spool`; here the
gateway's defaults: fsync at most once a second (appends reach the OS at once, so only a power
loss can cost up to a second), the head file at most every 0.5 s (after a crash up to that much
acknowledged data is sent again: at-least-once, consumers drop repeated ``seq``).

Record body: ``[u8 qos | retain << 2][u16 topic length][topic utf-8][payload]`` (little endian).
"""
from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass

from spinewise.spool import Spool as RecordSpool
from spinewise.spool import SpoolBusyError

log = logging.getLogger(__name__)

_MSG = struct.Struct("<BH")


@dataclass(frozen=True)
class SpoolRecord:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


def encode_message(rec: SpoolRecord) -> bytes:
    topic = rec.topic.encode()
    if len(topic) > 0xFFFF:
        raise ValueError(f"MQTT topic of {len(topic)} bytes is too long")
    return _MSG.pack((rec.qos & 3) | (4 if rec.retain else 0), len(topic)) + topic + bytes(rec.payload)


def decode_message(body: bytes) -> SpoolRecord | None:
    """The message in a record body; None for a body that cannot be one (counted by the caller)."""
    if len(body) < _MSG.size:
        return None
    flags, tlen = _MSG.unpack_from(body)
    if _MSG.size + tlen > len(body):
        return None
    topic = body[_MSG.size:_MSG.size + tlen].decode(errors="replace")
    return SpoolRecord(topic, body[_MSG.size + tlen:], flags & 3, bool(flags & 4))


class MessageSpool:
    """FIFO of :class:`SpoolRecord` with a read-ahead window for messages in flight."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int = 256 * 2**20, *,
                 segment_bytes: int | None = None, fsync_interval_s: float = 1.0,
                 head_interval_s: float = 0.5) -> None:
        self.records = RecordSpool(directory, max_bytes, segment_bytes=segment_bytes,
                                   fsync_interval_s=fsync_interval_s,
                                   head_interval_s=head_interval_s)
        self.dir = self.records.dir
        self.malformed = 0          # record bodies that passed the crc but are no message

    def __len__(self) -> int:
        return len(self.records)

    @property
    def size_bytes(self) -> int:
        return self.records.size_bytes

    @property
    def dropped(self) -> int:
        return self.records.dropped

    @property
    def corrupt(self) -> int:
        return self.records.corrupt + self.malformed

    def stats(self) -> dict:
        return {**self.records.stats(), "malformed": self.malformed}

    def append(self, rec: SpoolRecord) -> None:
        self.records.append(encode_message(rec))

    def peek(self) -> SpoolRecord | None:
        """The oldest unacknowledged message (the same one until ``pop``), or None."""
        recs = self.peek_many(1)
        return recs[0] if recs else None

    def peek_many(self, n: int) -> list[SpoolRecord]:
        """Up to ``n`` oldest unacknowledged messages, in order (a window of messages in flight)."""
        while True:
            bodies = self.records.peek(n)
            msgs = [decode_message(b) for b in bodies]
            bad = next((i for i, m in enumerate(msgs) if m is None), None)
            if bad is None:
                return msgs
            if bad > 0:
                return msgs[:bad]     # hand out the good ones; the bad one leads the next peek
            # only reachable from a foreign or buggy writer: the crc matched what was written
            self.malformed += 1
            log.warning("spool %s: a record that is no MQTT message was skipped", self.dir)
            self.records.ack(1)

    def pop(self, n: int = 1) -> None:
        """Acknowledge the first ``n`` messages returned by ``peek``/``peek_many``."""
        self.records.ack(n)

    def rewind(self) -> None:
        self.records.rewind()

    def sync(self) -> None:
        self.records.sync()

    def sync_if_due(self) -> None:
        self.records.sync_if_due()

    def close(self) -> None:
        self.records.close()


Spool = MessageSpool        # the name the publisher and benchmarks have always used

__all__ = ["MessageSpool", "Spool", "SpoolBusyError", "SpoolRecord", "decode_message",
           "encode_message"]
