"""Coaching: movement-break nudges, progression from the guide, pain log, commands.

Pure and transport-free: consumes Events and command payloads, returns ``Outgoing``
messages. Event time only (never the wall clock). See docs/coaching.md.
"""
from spinewise.coaching.outgoing import Outgoing
from spinewise.coaching.service import CoachService
from spinewise.coaching.store import CoachStore

__all__ = ["CoachService", "CoachStore", "Outgoing"]
