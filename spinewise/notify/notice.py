"""Notice: one nudge as every channel sees it (plain data, built from the coach's payload)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# the suggestion kinds of spinewise.coaching.suggest -> a short title
_TITLES = {"change_position": "Change position", "walk_break": "Time for a movement break",
           "acute_walk": "Time for a gentle walk", "morning_mobility": "Morning mobility"}


@dataclass(frozen=True)
class Notice:
    user: str
    id: str                      # the nudge id: deliveries are deduplicated by (user, id)
    t_s: float                   # epoch seconds when the coach fired it
    title: str
    message: str
    kind: str = "nudge"          # the suggestion kind (walk_break, ...)
    device_id: str = ""          # the sensor whose stream fired it ("" when unknown)
    data: dict[str, Any] = field(default_factory=dict, compare=False)   # the full nudge payload

    @property
    def key(self) -> tuple[str, str]:
        return (self.user, self.id)

    @classmethod
    def from_nudge(cls, user: str, payload: dict, device_id: str = "") -> "Notice":
        """From the coach's nudge payload (``{"type": "nudge", "id", "t_s", "suggestion": {...}}``)."""
        suggestion = payload.get("suggestion") or {}
        kind = str(suggestion.get("kind") or "nudge")
        return cls(user=user, id=str(payload["id"]), t_s=float(payload["t_s"]),
                   title=_TITLES.get(kind, "Time to move"),
                   message=str(suggestion.get("text") or "Time to get up and move."),
                   kind=kind, device_id=device_id if device_id not in ("", "local") else "",
                   data=dict(payload))
