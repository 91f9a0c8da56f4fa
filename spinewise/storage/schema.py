"""The InfluxDB schema: Events -> storage Points (pure; no I/O, no clock).

Designed for Grafana and for low series cardinality: the only tags are ``user``, ``device``
and (where it applies) ``exercise`` — nine values — so a user with one sensor has a few dozen
series in total. Everything else is a field. Every measurement, field and unit is listed in
``MEASUREMENTS`` (docs/storage.md is generated from the same table, and the dashboards'
queries are tested against it).

Timestamps: a point is stamped with the *start* of what it describes (a minute, a rep, a
bout), so ``GROUP BY time(1d)`` puts it on the day it began and re-analysing the same
recording produces the very same keys (measurement + tags + time). InfluxDB treats a second
write of the same key as an overwrite: that is why re-sending a spooled batch after a crash
cannot duplicate anything.

Offline recordings have ``t_s`` relative to their first sample; pass ``epoch_s`` (the wall
time of that first sample) to place them on the calendar. Live events already carry Unix
seconds and use ``epoch_s=0``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from spinewise.events import Event
from spinewise.storage.point import Point, make_point

ACTIVITY_CODES = {"sitting": 0, "standing": 1, "walking": 2, "lying": 3, "exercise": 4,
                  "transition": 5}


class SchemaError(ValueError):
    """An event whose data cannot be turned into points (names the kind and the key)."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str          # "float", "int", "str", "bool"
    unit: str
    meaning: str


@dataclass(frozen=True)
class Measurement:
    name: str
    source: str        # event kind(s) it comes from
    time: str          # what the timestamp is
    tags: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    note: str = ""


def _f(name, type_, unit, meaning):
    return FieldSpec(name, type_, unit, meaning)


_UD = ("user", "device")
_UDE = ("user", "device", "exercise")

MEASUREMENTS: dict[str, Measurement] = {m.name: m for m in [
    Measurement("posture", "posture", "sample time, quantised to 1/angle_rate_hz", _UD, (
        _f("flexion_deg", "float", "deg", "+ forward bend / anterior tilt, - posterior tilt"),
        _f("lateral_deg", "float", "deg", "+ bend to the right"),
        _f("incl_deg", "float", "deg", "trunk inclination from vertical (0 upright, 90 lying)"),
    ), "Downsampled trunk angles (InfluxConfig.angle_rate_hz, default 5 Hz). Points in the same "
       "1/rate slot share a timestamp, so the last one wins: downsampling without state."),
    Measurement("activity_minute", "minute", "start of the minute", _UD, (
        _f("sitting_s", "float", "s", "seconds sitting in the minute"),
        _f("standing_s", "float", "s", "seconds standing"),
        _f("walking_s", "float", "s", "seconds walking"),
        _f("lying_s", "float", "s", "seconds lying"),
        _f("exercise_s", "float", "s", "seconds in a recognised exercise"),
        _f("sedentary_s", "float", "s", "seconds sedentary (sitting/lying awake)"),
        _f("slouch_s", "float", "s", "seconds slouched"),
        _f("steps", "int", "count", "steps in the minute"),
        _f("enmo_mg", "float", "mg", "mean ENMO (Euclidean norm minus one, clipped at 0)"),
    )),
    Measurement("activity", "activity", "start of the new class", _UD, (
        _f("activity", "str", "", "sitting|standing|walking|lying|exercise|transition"),
        _f("code", "int", "", "the same as a number for state timelines: " +
           ", ".join(f"{k}={v}" for k, v in ACTIVITY_CODES.items())),
    )),
    Measurement("rep", "rep", "rep start", _UDE, (
        _f("index", "int", "", "rep number within its set (1-based as emitted)"),
        _f("side", "str", "", "left|right|'' for symmetric exercises"),
        _f("duration_s", "float", "s", "end - start"),
        _f("hold_s", "float", "s", "time held at the end of range"),
        _f("amplitude_deg", "float", "deg", "range of motion"),
        _f("flags", "str", "", "comma-separated form flags ('' = clean)"),
        _f("flag_count", "int", "count", "number of form flags"),
    )),
    Measurement("set", "set_finished", "set start", _UDE, (
        _f("reps", "int", "count", "reps in the set"),
        _f("reps_left", "int", "count", "reps on the left side"),
        _f("reps_right", "int", "count", "reps on the right side"),
        _f("duration_s", "float", "s", "end - start"),
        _f("flag_count", "int", "count", "form flags over all reps"),
    ), "SET is an InfluxQL keyword: always quote the name (\"set\")."),
    Measurement("hold", "hold_finished", "hold start", _UDE, (
        _f("duration_s", "float", "s", "hold time"),
        _f("sway_deg_rms", "float", "deg", "trunk sway, RMS"),
        _f("tremor_mg_rms", "float", "mg", "tremor (fatigue), RMS"),
        _f("drift_deg", "float", "deg", "sag / drift over the hold"),
        _f("flags", "str", "", "comma-separated form flags"),
        _f("flag_count", "int", "count", "number of form flags"),
    ), "Stability fields are absent when the figure is unavailable (no gyro)."),
    Measurement("sedentary_bout", "sedentary_bout", "bout start", _UD, (
        _f("duration_s", "float", "s", "length of the uninterrupted sedentary bout"),
    )),
    Measurement("slouch", "slouch_ended", "bout start", _UD, (
        _f("duration_s", "float", "s", "length of the slouch bout"),
        _f("flexion_deg", "float", "deg", "typical flexion during the bout"),
    )),
    Measurement("break", "break", "break start", _UD, (
        _f("duration_s", "float", "s", "length of the movement break"),
    )),
    Measurement("nudge", "nudge", "event time", _UD, (
        _f("reason", "str", "", "why the nudge was sent (e.g. sedentary)"),
        _f("suggestion", "str", "", "suggestion kind (walk_break, morning_mobility, ...)"),
        _f("text", "str", "", "the message the user saw"),
        _f("sedentary_min", "float", "min", "sedentary minutes in the policy window"),
        _f("count", "int", "count", "always 1 (sum() counts nudges)"),
    )),
    Measurement("nudge_outcome", "nudge_outcome", "time of the nudge it answers", _UD, (
        _f("outcome", "str", "", "answered|ignored"),
        _f("answered", "int", "0/1", "1 when a break followed within the answer window, or a done reply came"),
        _f("response_s", "float", "s", "nudge to break start, or to the done reply (answered only)"),
        _f("via", "str", "", "break|reply: a break followed, or the person answered done"),
    )),
    Measurement("pain", "pain", "report time", _UD, (
        _f("score", "float", "0-10", "pain on the numeric rating scale"),
        _f("leg", "bool", "", "pain spreading down the leg"),
        _f("numbness", "bool", "", "numbness reported"),
        _f("weakness", "bool", "", "weakness reported"),
        _f("note", "str", "", "free text (optional)"),
    )),
    Measurement("plan", "plan", "event time (the coach re-plans each new local day and after "
                "pain reports or flag changes)", _UD, (
        _f("status", "str", "", "train|acute|stop (stop: red flag, exercise paused)"),
        _f("phase", "str", "", "stability|strength|power ('' unless training)"),
        _f("week", "int", "", "programme week"),
        _f("deload", "bool", "", "a deload week"),
        _f("planned_sets", "int", "count", "sets planned for the programme week, all exercises"),
        _f("red_flag", "bool", "", "leg pain, numbness or weakness reported: see a clinician"),
    ), "For the carers' Patients dashboard: sets done against the plan, red flags."),
    Measurement("device_status", "status", "status time", _UD, (
        _f("battery_pct", "float", "%", "battery level"),
        _f("rssi_dbm", "float", "dBm", "BLE signal strength at the gateway"),
        _f("rate_hz", "float", "Hz", "sample rate (measured when the producer knows it)"),
        _f("connected", "bool", "", "link up (gateway status state online/offline)"),
        _f("drops", "int", "count", "samples lost since the gateway started"),
        _f("reconnects", "int", "count", "BLE reconnections since the gateway started"),
    ), "Accepts the gateway's status document as it is (docs: spinewise/ingest/publisher.py)."),
    Measurement("gap", "gap", "gap start", _UD, (
        _f("duration_s", "float", "s", "length of the data gap"),
        _f("samples_lost", "int", "count", "samples missing"),
    )),
    Measurement("calibration", "calibrated", "event time", _UD, (
        _f("reason", "str", "", "why the mounting was (re)calibrated"),
    )),
    Measurement("imu", "raw ImuChunk (InfluxConfig.raw_imu)", "sample time", _UD, (
        _f("ax_g", "float", "g", "sensor-frame specific force x"),
        _f("ay_g", "float", "g", "y"),
        _f("az_g", "float", "g", "z"),
        _f("gx_dps", "float", "deg/s", "sensor-frame angular rate x (absent without gyro)"),
        _f("gy_dps", "float", "deg/s", "y"),
        _f("gz_dps", "float", "deg/s", "z"),
    ), "Full rate, off by default: 4.3 million points per sensor-day at 50 Hz, against "
       "432,000 for posture at 5 Hz."),
    Measurement("pipeline", "Pipeline.stats()",
                "wall time of the snapshot, every pipeline.stats_interval_s", (), (
        _f("messages_in", "int", "count", "MQTT messages received (per kind: messages_in_imu, ...)"),
        _f("samples_processed", "int", "count", "samples the Analyzers consumed"),
        _f("events", "int", "count", "events produced"),
        _f("rejected", "int", "count", "rejected messages (per reason: rejected_<reason>)"),
        _f("queue_depth", "int", "count", "MQTT messages waiting for the worker"),
        _f("outbox_depth", "int", "count", "outgoing messages held while the broker is away"),
        _f("outbox_dropped", "int", "count", "outgoing messages dropped by the bound while the broker "
           "was away (per class: outbox_dropped_event, outbox_dropped_keep)"),
        _f("points_written", "int", "count", "storage points written (from Storage.stats())"),
        _f("spool_depth", "int", "count", "points waiting in the storage spool"),
        _f("latency_p99_ms", "float", "ms", "MQTT arrival to events published, 99th percentile"),
        _f("committed", "int", "count", "messages acknowledged after a checkpoint (engine mode, "
           "and Mosquitto with pipeline.ack = checkpoint)"),
        _f("checkpoint_errors", "int", "count", "checkpoints that failed (broker, engine or "
           "storage away; retried, nothing acknowledged meanwhile)"),
        _f("messages_revoked", "int", "count", "engine mode: messages of a partition given up "
           "before they were processed (its next owner processes them)"),
    ), "Operational counters of one pipeline process, no tags (a shard's stats carry the same "
       "fields). One field per counter of the `<prefix>/$sys/pipeline/stats` message, '.' in a "
       "counter name becoming '_' (e.g. `rejected.nan` -> `rejected_nan`): the fields listed are "
       "the ones dashboards and alerts should use; counters are cumulative since the process "
       "started, gauges are the value at the snapshot."),
]}

# Kinds that are live-only (MQTT / coaching state) and deliberately not stored. ``summary`` (the
# coach's end-of-day message) is derived entirely from stored points (activity_minute, set,
# nudge, nudge_outcome), so Grafana recomputes it for any range and storing it would only add
# a second, stale copy of the same figures.
LIVE_ONLY_KINDS = frozenset({"set_started", "hold_started", "hold_running", "slouch_started",
                             "summary"})


def time_ns(t_s: float, epoch_s: float = 0.0) -> int:
    """Event seconds -> integer ns, rounded to the microsecond so that the same event
    always maps to the same key (float noise below 1 us would otherwise leak in)."""
    t = float(t_s) + float(epoch_s)
    if not math.isfinite(t) or abs(t) > 9e9:
        raise SchemaError(f"time {t_s!r} s (+ epoch {epoch_s!r}) is not a usable timestamp")
    return int(round((float(t_s) + float(epoch_s)) * 1e6)) * 1000


def _num(data: dict, key: str, kind: str, *, required: bool = False) -> float | None:
    v = data.get(key)
    if v is None:
        if required:
            raise SchemaError(f"{kind} event: missing {key!r}")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise SchemaError(f"{kind} event: {key!r} must be a number, got {v!r}")
    return float(v)


def _int(data: dict, key: str, kind: str, *, required: bool = False) -> int | None:
    v = _num(data, key, kind, required=required)
    return None if v is None or not math.isfinite(v) else int(round(v))


def _str(data: dict, key: str) -> str | None:
    v = data.get(key)
    return None if v is None else str(v)


def _flags(data: dict) -> tuple[str, int]:
    flags = data.get("flags") or []
    if isinstance(flags, str):
        flags = [f for f in flags.split(",") if f]
    if not isinstance(flags, (list, tuple)):
        raise SchemaError(f"'flags' must be a list of names, got {flags!r}")
    flags = [str(f) for f in flags]
    return ",".join(flags), len(flags)


def _start(event: Event) -> float:
    v = event.data.get("start_s", event.t_s)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise SchemaError(f"{event.kind} event: 'start_s' must be a number, got {v!r}")
    return float(v)


def _duration(event: Event) -> float | None:
    end = _num(event.data, "end_s", event.kind)
    if end is None:
        return _num(event.data, "duration_s", event.kind)
    return end - _start(event)


def _first(data: dict, keys: Iterable[str], kind: str) -> float | None:
    for k in keys:
        if data.get(k) is not None:
            return _num(data, k, kind)
    return None


def points_from_event(event: Event, user: str, device: str, *, epoch_s: float = 0.0,
                      angle_rate_hz: float = 5.0) -> list[Point]:
    """The points one event is stored as (often one, sometimes none).

    Raises SchemaError for malformed data; kinds that are live-only or unknown give [].
    """
    kind, d = event.kind, event.data or {}
    if not isinstance(d, dict):
        raise SchemaError(f"{kind} event: data must be a dict, got {type(d).__name__}")
    tags = {"user": str(user), "device": str(device)}

    def one(measurement: str, fields: dict[str, Any], t_s: float, extra_tags=None) -> list[Point]:
        p = make_point(measurement, {**tags, **(extra_tags or {})}, fields, time_ns(t_s, epoch_s))
        return [p] if p is not None else []

    def exercise_tag() -> dict[str, str]:
        ex = d.get("exercise")
        if not ex:
            raise SchemaError(f"{kind} event: missing 'exercise'")
        return {"exercise": str(ex)}

    if kind == "posture":
        if angle_rate_hz <= 0:
            raise SchemaError("angle_rate_hz must be > 0")
        slot_ns = int(round(1e9 / angle_rate_hz))
        t_ns = time_ns(event.t_s, epoch_s) // slot_ns * slot_ns
        p = make_point("posture", tags, {
            "flexion_deg": _num(d, "flexion_deg", kind, required=True),
            "lateral_deg": _num(d, "lateral_deg", kind),
            "incl_deg": _num(d, "incl_deg", kind)}, t_ns)
        return [p] if p is not None else []
    if kind == "minute":
        fields = {k: _num(d, k, kind) for k in ("sitting_s", "standing_s", "walking_s", "lying_s",
                                                 "exercise_s", "sedentary_s", "slouch_s", "enmo_mg")}
        fields["steps"] = _int(d, "steps", kind)
        return one("activity_minute", fields, _start(event))
    if kind == "activity":
        act = _str(d, "activity")
        if act is None:
            raise SchemaError("activity event: missing 'activity'")
        return one("activity", {"activity": act, "code": ACTIVITY_CODES.get(act, -1)}, _start(event))
    if kind == "rep":
        flags, n_flags = _flags(d)
        return one("rep", {
            "index": _int(d, "index", kind), "side": _str(d, "side") or "",
            "duration_s": _duration(event), "hold_s": _num(d, "hold_s", kind),
            "amplitude_deg": _num(d, "amplitude_deg", kind),
            "flags": flags, "flag_count": n_flags}, _start(event), exercise_tag())
    if kind == "set_finished":
        details = d.get("reps_detail") or []
        n_flags = sum(_flags(r)[1] for r in details if isinstance(r, dict))
        return one("set", {
            "reps": _int(d, "reps", kind, required=True),
            "reps_left": _int(d, "reps_left", kind), "reps_right": _int(d, "reps_right", kind),
            "duration_s": _duration(event), "flag_count": n_flags}, _start(event), exercise_tag())
    if kind == "hold_finished":
        stab = d.get("stability") or {}
        if not isinstance(stab, dict):
            raise SchemaError("hold_finished event: 'stability' must be a dict")
        flags, n_flags = _flags(d)
        duration = _num(d, "duration_s", kind)
        return one("hold", {
            "duration_s": duration if duration is not None else _duration(event),
            "sway_deg_rms": _num(stab, "sway_deg_rms", kind),
            "tremor_mg_rms": _num(stab, "tremor_mg_rms", kind),
            "drift_deg": _num(stab, "drift_deg", kind),
            "flags": flags, "flag_count": n_flags}, _start(event), exercise_tag())
    if kind in ("sedentary_bout", "break"):
        return one(kind, {"duration_s": _duration(event)}, _start(event))
    if kind == "slouch_ended":
        return one("slouch", {"duration_s": _duration(event),
                              "flexion_deg": _num(d, "flexion_deg", kind)}, _start(event))
    if kind == "nudge":
        sug = d.get("suggestion")
        sug_kind, text = (sug.get("kind"), sug.get("text")) if isinstance(sug, dict) else (sug, None)
        return one("nudge", {"reason": _str(d, "reason") or "",
                             "suggestion": "" if sug_kind is None else str(sug_kind),
                             "text": None if text is None else str(text),
                             "sedentary_min": _num(d, "sedentary_min", kind), "count": 1}, event.t_s)
    if kind == "nudge_outcome":
        outcome = _str(d, "outcome") or ""
        t_nudge = _num(d, "nudge_t_s", kind)
        via = _str(d, "via") or ("break" if outcome == "answered" else None)
        return one("nudge_outcome", {"outcome": outcome, "answered": int(outcome == "answered"),
                                     "response_s": _num(d, "response_s", kind), "via": via},
                   event.t_s if t_nudge is None else t_nudge)
    if kind in ("pain", "pain_report"):
        def flag(k):
            return None if d.get(k) is None else bool(d[k])
        return one("pain", {"score": _first(d, ("score", "pain", "nrs"), kind),
                            "leg": flag("leg"), "numbness": flag("numbness"),
                            "weakness": flag("weakness"), "note": _str(d, "note")}, event.t_s)
    if kind == "plan":
        def flag(k):
            return None if d.get(k) is None else bool(d[k])
        return one("plan", {"status": _str(d, "status") or "", "phase": _str(d, "phase") or "",
                            "week": _int(d, "week", kind), "deload": flag("deload"),
                            "planned_sets": _int(d, "planned_sets", kind),
                            "red_flag": flag("red_flag")}, event.t_s)
    if kind == "status":
        connected = d.get("connected", d.get("online"))
        if connected is None and d.get("state") in ("online", "offline", "reconnecting"):
            connected = d["state"] == "online"
        return one("device_status", {
            "battery_pct": _first(d, ("battery_pct", "battery"), kind),
            "rssi_dbm": _first(d, ("rssi_dbm", "rssi"), kind),
            "rate_hz": _first(d, ("measured_rate_hz", "rate_hz", "sample_rate_hz"), kind),
            "connected": None if connected is None else bool(connected),
            "drops": _int(d, "drops", kind), "reconnects": _int(d, "reconnects", kind)}, event.t_s)
    if kind == "gap":
        return one("gap", {"duration_s": _duration(event),
                           "samples_lost": _int(d, "samples_lost", kind)}, _start(event))
    if kind == "calibrated":
        return one("calibration", {"reason": _str(d, "reason") or ""}, event.t_s)
    return []


def points_from_chunk(chunk, user: str, device: str, *, epoch_s: float = 0.0) -> list[Point]:
    """Raw IMU at full rate (only when InfluxConfig.raw_imu is on): one point per sample."""
    tags = {"user": str(user), "device": str(device)}
    t_ns = [time_ns(t, epoch_s) for t in chunk.t_s]
    acc = chunk.acc_g.tolist()
    gyro = chunk.gyro_dps.tolist() if chunk.gyro_dps is not None else None
    out = []
    for i, t in enumerate(t_ns):
        fields = {"ax_g": acc[i][0], "ay_g": acc[i][1], "az_g": acc[i][2]}
        if gyro is not None:
            fields.update(gx_dps=gyro[i][0], gy_dps=gyro[i][1], gz_dps=gyro[i][2])
        p = make_point("imu", tags, fields, t)
        if p is not None:
            out.append(p)
    return out


def schema_markdown() -> str:
    """The measurement tables of docs/storage.md (a test keeps the doc in sync with this)."""
    out = []
    for m in MEASUREMENTS.values():
        out.append(f"### `{m.name}`\n")
        out.append(f"From `{m.source}`; timestamp: {m.time}; tags: "
                   + (", ".join(f"`{t}`" for t in m.tags) or "none") + ".")
        if m.note:
            out.append(f" {m.note}")
        out.append("\n\n| field | type | unit | meaning |\n| --- | --- | --- | --- |\n")
        for f in m.fields:
            meaning = f.meaning.replace("|", "\\|")
            out.append(f"| `{f.name}` | {f.type} | {f.unit} | {meaning} |\n")
        out.append("\n")
    return "".join(out).rstrip() + "\n"
