"""Exercise log entries and pain reports as the coaching code sees them.

Entries come from ``set_finished`` / ``hold_finished`` events (analyze contract dicts) or
from the store; ``t_s`` is epoch seconds. Volume follows the guide's 10 % rule definition
(guide: Safety Precautions - "volume (sets x repetitions x resistance)"); for holds it is
hold seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Flags that make a plank hold not "perfect form" (guide: Core Stabilization - Plank:
# "avoid sagging hips"); shaking is the tracker's tremor flag.
_PLANK_FORM_FLAGS = ("sag", "tremor", "shak")


@dataclass(frozen=True)
class LogEntry:
    t_s: float                     # epoch seconds at the end of the set / hold
    exercise: str
    kind: str                      # "set" or "hold"
    reps: int = 0                  # total, both sides
    reps_left: int = 0
    reps_right: int = 0
    duration_s: float = 0.0        # holds
    resistance: float = 1.0
    variant: str = ""
    flags: tuple[str, ...] = field(default_factory=tuple)
    start_s: float | None = None   # epoch seconds
    sway_deg_rms: float | None = None     # holds: trunk sway (None: unavailable / not a hold)
    tremor_mg_rms: float | None = None    # holds: tremor (None without enough sample rate)

    @property
    def volume(self) -> float:
        if self.kind == "hold":
            return max(0.0, self.duration_s)
        return max(0, self.reps) * max(0.0, self.resistance)

    @property
    def clean(self) -> bool:
        """Perfect form: no form flag at all (guide: Common Mistakes - master with perfect form)."""
        return not self.flags

    @property
    def plank_clean(self) -> bool:
        """A hold without sag / shaking flags (guide: Core Stabilization - Plank)."""
        return not any(m in f.lower() for f in self.flags for m in _PLANK_FORM_FLAGS)

    def to_dict(self) -> dict:
        return {"t_s": self.t_s, "exercise": self.exercise, "kind": self.kind, "reps": self.reps,
                "reps_left": self.reps_left, "reps_right": self.reps_right,
                "duration_s": self.duration_s, "resistance": self.resistance,
                "variant": self.variant, "flags": list(self.flags), "start_s": self.start_s,
                "sway_deg_rms": self.sway_deg_rms, "tremor_mg_rms": self.tremor_mg_rms}

    @staticmethod
    def from_dict(d: dict) -> "LogEntry":
        return LogEntry(t_s=float(d["t_s"]), exercise=str(d["exercise"]), kind=str(d["kind"]),
                        reps=int(d.get("reps") or 0), reps_left=int(d.get("reps_left") or 0),
                        reps_right=int(d.get("reps_right") or 0),
                        duration_s=float(d.get("duration_s") or 0.0),
                        resistance=float(d.get("resistance") or 1.0),
                        variant=str(d.get("variant") or ""), flags=tuple(d.get("flags") or ()),
                        start_s=None if d.get("start_s") is None else float(d["start_s"]),
                        sway_deg_rms=_opt(d.get("sway_deg_rms")),
                        tremor_mg_rms=_opt(d.get("tremor_mg_rms")))


def entry_from_event(kind: str, data: dict, t0_epoch_s: float = 0.0,
                     variant: str = "", resistance: float = 1.0) -> LogEntry:
    """A LogEntry from a ``set_finished`` / ``hold_finished`` event's data (analyze dicts).

    Raises ValueError naming the field for anything that is not a plausible set or hold.
    """
    end = _num(data, "end_s") + t0_epoch_s
    start = _num(data, "start_s") + t0_epoch_s if data.get("start_s") is not None else None
    exercise = data.get("exercise")
    if not isinstance(exercise, str) or not exercise:
        raise ValueError(f"exercise: expected a name, got {exercise!r}")
    flags = _flags(data.get("flags"))
    details = data.get("reps_detail") or []
    if not isinstance(details, list) or not all(isinstance(r, dict) for r in details):
        raise ValueError("reps_detail: expected a list of rep objects")
    for rep in details:
        flags.extend(_flags(rep.get("flags")))
    common = dict(t_s=end, exercise=exercise, start_s=start,
                  variant=str(data.get("variant") or variant),
                  resistance=_num(data, "resistance", resistance, 0.0, 100.0),
                  flags=tuple(dict.fromkeys(flags)))
    if kind == "hold_finished":
        stab = data.get("stability") if isinstance(data.get("stability"), dict) else {}
        return LogEntry(kind="hold", duration_s=_num(data, "duration_s", None, 0.0, 86400.0),
                        sway_deg_rms=_opt(stab.get("sway_deg_rms")),
                        tremor_mg_rms=_opt(stab.get("tremor_mg_rms")), **common)
    return LogEntry(kind="set", reps=int(_num(data, "reps", 0, 0, 10000)),
                    reps_left=int(_num(data, "reps_left", 0, 0, 10000)),
                    reps_right=int(_num(data, "reps_right", 0, 0, 10000)), **common)


def _num(data: dict, key: str, default: float | None = None, lo: float = -1e11, hi: float = 1e11) -> float:
    value = data.get(key)
    if value is None:
        if default is None:
            raise ValueError(f"{key}: missing")
        return float(default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{key}: expected a number in {lo:g}..{hi:g}, got {value!r}")
    return float(value)


def _opt(value) -> float | None:
    """A finite number or None (stability figures are absent when unavailable)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _flags(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(f, str) for f in value):
        raise ValueError(f"flags: expected a list of names, got {value!r}")
    return list(value)


@dataclass(frozen=True)
class PainReport:
    t_s: float                     # epoch seconds
    score: int                     # 0-10
    leg: bool = False              # spreads down the leg
    numbness: bool = False
    weakness: bool = False
    note: str = ""

    @property
    def red_flag(self) -> bool:
        # guide: FAQ - "Pain that radiates down the leg or causes numbness/weakness requires
        # medical evaluation before continuing exercise."
        return self.leg or self.numbness or self.weakness

    def to_dict(self) -> dict:
        return {"t_s": self.t_s, "score": self.score, "leg": self.leg,
                "numbness": self.numbness, "weakness": self.weakness, "note": self.note}
