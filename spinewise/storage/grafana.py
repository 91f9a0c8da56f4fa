"""Grafana dashboards as code (Grafana Foundation SDK), over the schema in schema.py.

Five dashboards — Today, Exercise, Trends, Devices and the carers' Patients (one row per
person) — with ``user`` and ``device`` template variables. Every query is raw InfluxQL, so the same JSON works against InfluxDB 1.x, 2.x
(through a DBRP mapping) and 3.x. ``spinewise dashboards --out deploy/grafana/dashboards``
regenerates the committed JSON; tests/deploy runs every query against a real InfluxDB.

Conventions used in the queries:
- ``$where`` below expands to the user/device filter and Grafana's ``$timeFilter``.
- Weeks start on Monday: InfluxQL buckets are aligned to the Unix epoch (a Thursday), so
  weekly groups use ``time(1w, 4d)``.
- Calendar groupings (hours, days, weeks) run in the dashboard's ``$tz`` variable
  (InfluxQL ``tz()``), so a day starts at local midnight; its default is the config's
  ``coaching.timezone`` (``spinewise dashboards``; ``--tz`` overrides it, UTC without a
  config). Points are stored in UTC.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cog_builder
from grafana_foundation_sdk.cog import variants as cog_variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

from spinewise.storage.schema import ACTIVITY_CODES

DATASOURCE_UID = "spinewise-influxdb"
DATASOURCE = dash_m.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
WHERE = '"user" =~ /^$user$/ AND "device" =~ /^$device$/ AND $timeFilter'
WEEK = "time(1w, 4d)"          # Monday-aligned weeks (the epoch was a Thursday)
DEFAULT_TZ = "UTC"
# a calendar GROUP BY (hour, day, week), its tag grouping and fill: tz() goes right after it
_CALENDAR_GROUP = re.compile(r"(GROUP BY time\((?:1h|1d|1w, 4d)\)(?:, \"\w+\")?(?: fill\(\w+\))?)")


def _in_local_time(query: str) -> str:
    """Append tz('$tz') to every statement (subqueries too) that groups by calendar time."""
    return _CALENDAR_GROUP.sub(lambda m: m.group(1) + " tz('$tz')", query)


# -- an InfluxQL target (the SDK has no InfluxDB query type; this is its JSON shape) ----------
class InfluxQLQuery(cog_variants.Dataquery):
    def __init__(self, ref_id: str, query: str, alias: str = "", result_format: str = "time_series"):
        self.ref_id, self.query, self.alias, self.result_format = ref_id, query, alias, result_format

    def to_json(self) -> dict:
        out = {"refId": self.ref_id, "datasource": DATASOURCE.to_json(), "rawQuery": True,
               "query": self.query, "resultFormat": self.result_format}
        if self.alias:
            out["alias"] = self.alias
        return out


class InfluxQL(cog_builder.Builder[InfluxQLQuery]):
    def __init__(self, ref_id: str, query: str, alias: str = "", result_format: str = "time_series"):
        self._q = InfluxQLQuery(ref_id, _in_local_time(query.replace("$where", WHERE)), alias,
                                result_format)

    def build(self) -> InfluxQLQuery:
        return self._q


# -- small declarative panel specs ------------------------------------------------------------
@dataclass
class PanelSpec:
    kind: str                                   # timeseries|bars|stat|state|table
    title: str
    queries: list[tuple[str, str, str]]         # (refId, InfluxQL with $where, alias)
    w: int = 12
    h: int = 8
    unit: str = ""
    description: str = ""
    extra: dict = field(default_factory=dict)   # stack, min, decimals, line_ref, hide_time


def _activity_mappings() -> list:
    colors = {"sitting": "orange", "standing": "blue", "walking": "green", "lying": "purple",
              "exercise": "dark-green", "transition": "gray"}
    opts = {name: dash_m.ValueMappingResult(text=name, color=colors[name], index=i)
            for i, name in enumerate(ACTIVITY_CODES)}
    return [dash_m.ValueMap(options=opts)]


def _build_panel(spec: PanelSpec, pid: int, x: int, y: int):
    kind = spec.kind
    if kind in ("timeseries", "bars"):
        p = timeseries.Panel()
        if kind == "bars":
            p = (p.draw_style(common_m.GraphDrawStyle.BARS).fill_opacity(70)
                 .bar_alignment(common_m.BarAlignment.AFTER))
        else:
            p = p.line_width(1).fill_opacity(10).span_nulls(False)
        if spec.extra.get("stack"):
            p = p.stacking(common_b.StackingConfig().mode(common_m.StackingMode.NORMAL))
        if "min" in spec.extra:
            p = p.min(spec.extra["min"])
    elif kind == "stat":
        p = (stat.Panel().graph_mode(common_m.BigValueGraphMode.NONE)
             .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"])))
    elif kind == "state":
        p = (statetimeline.Panel().mappings(_activity_mappings()).show_value(common_m.VisibilityMode.NEVER)
             .merge_values(True))
    elif kind == "table":
        p = table.Panel()
    else:
        raise ValueError(kind)
    p = (p.id(pid).title(spec.title).datasource(DATASOURCE)
         .grid_pos(dash_m.GridPos(h=spec.h, w=spec.w, x=x, y=y)))
    if spec.description:
        p = p.description(spec.description)
    if spec.unit:
        p = p.unit(spec.unit)
    if "decimals" in spec.extra:
        p = p.decimals(spec.extra["decimals"])
    if spec.extra.get("line_ref"):
        # a reference line over bars (the 10 % line): drawn as a dashed line, not as bars
        p = p.override_by_query(spec.extra["line_ref"], [
            dash_m.DynamicConfigValue("custom.drawStyle", "line"),
            dash_m.DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            dash_m.DynamicConfigValue("custom.lineWidth", 2),
            dash_m.DynamicConfigValue("custom.fillOpacity", 0),
            dash_m.DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "red"})])
    if spec.extra.get("join_by"):
        # one row per value of a tag (e.g. one per person): the queries' tables joined on it; the
        # first query's time (its last point) is kept under a name, the others' (range start) hidden
        key, first_time = spec.extra["join_by"], spec.extra.get("first_time", "Time")
        n = len(spec.queries)
        p = (p.with_transformation(dash_m.DataTransformerConfig(
                id_val="joinByField", options={"byField": key, "mode": "outerTabular"}))
             .with_transformation(dash_m.DataTransformerConfig(
                id_val="organize", options={
                    "excludeByName": {f"Time {i}": True for i in range(2, n + 1)}
                    | {c: True for c in spec.extra.get("hide", ())},
                    "renameByName": {"Time 1": first_time, key: key.capitalize()}})))
    if spec.extra.get("hide_time"):
        # a totals table: its time column (the range start) means nothing
        p = p.with_transformation(dash_m.DataTransformerConfig(
            id_val="organize", options={"excludeByName": {"Time": True}}))
    for ref, query, alias in spec.queries:
        p = p.with_target(InfluxQL(ref, query, alias, "table" if kind == "table" else "time_series"))
    return p


def _user_variable(every_user: bool):
    v = (dash_b.QueryVariable("user").label("User").datasource(DATASOURCE)
         .query('SHOW TAG VALUES WITH KEY = "user"')
         .refresh(dash_m.VariableRefresh.ON_DASHBOARD_LOAD)
         .sort(dash_m.VariableSort.ALPHABETICAL_ASC))
    if every_user:       # a carer's overview: every person the data source shows, or a few
        v = (v.multi(True).include_all(True).all_value(".*")
             .current(dash_m.VariableOption(selected=True, text="All", value="$__all")))
    return v


def _dashboard(uid: str, title: str, description: str, time_from: str, panels: list[PanelSpec],
               tags: list[str], tz: str, refresh: str = "", every_user: bool = False) -> dict:
    d = (dash_b.Dashboard(title).uid(uid).description(description).tags(["spinewise", *tags])
         .time(time_from, "now").timezone("browser").editable()
         .with_variable(_user_variable(every_user))
         .with_variable(dash_b.QueryVariable("device").label("Device").datasource(DATASOURCE)
                        .query('SHOW TAG VALUES WITH KEY = "device" WHERE "user" =~ /^$user$/')
                        .refresh(dash_m.VariableRefresh.ON_DASHBOARD_LOAD)
                        .multi(True).include_all(True).all_value(".*")
                        .current(dash_m.VariableOption(selected=True, text="All", value="$__all"))
                        .sort(dash_m.VariableSort.ALPHABETICAL_ASC))
         .with_variable(dash_b.TextBoxVariable("tz").label("Time zone").default_value(tz)
                        .current(dash_m.VariableOption(selected=True, text=tz, value=tz))
                        .description("IANA time zone for daily and weekly totals, e.g. Europe/London")))
    if refresh:
        d = d.refresh(refresh)
    if every_user:
        d = d.week_start("monday")            # "this week" (now/w) starts on Monday, as ISO weeks
    x = y = 0
    row_h = 0
    for i, spec in enumerate(panels, start=1):
        if x + spec.w > 24:
            x, y, row_h = 0, y + row_h, 0
        d = d.with_panel(_build_panel(spec, i, x, y))
        x += spec.w
        row_h = max(row_h, spec.h)
    return json.loads(json.dumps(d.build(), cls=JSONEncoder))


# -- the four dashboards ----------------------------------------------------------------------
def today(tz: str = DEFAULT_TZ) -> dict:
    minutes = 'FROM "activity_minute" WHERE $where'
    panels = [
        PanelSpec("timeseries", "Trunk angle", [
            ("A", 'SELECT mean("flexion_deg") FROM "posture" WHERE $where GROUP BY time($__interval) fill(null)',
             "flexion"),
            ("B", 'SELECT mean("lateral_deg") FROM "posture" WHERE $where GROUP BY time($__interval) fill(null)',
             "lateral")], w=24, unit="degree",
            description="Lower-back flexion (+ forward, - posterior tilt / slumped sitting) and "
                        "lateral bend, downsampled. Refreshes live."),
        PanelSpec("state", "Activity", [
            ("A", 'SELECT "activity" FROM "activity" WHERE $where', "activity")], w=24, h=5),
        PanelSpec("stat", "Sedentary", [("A", f'SELECT sum("sedentary_s") / 60 {minutes}', "")],
                  w=4, h=4, unit="m"),
        PanelSpec("stat", "Longest sedentary bout", [
            ("A", 'SELECT max("duration_s") / 60 FROM "sedentary_bout" WHERE $where', "")],
            w=4, h=4, unit="m"),
        PanelSpec("stat", "Movement breaks", [
            ("A", 'SELECT count("duration_s") FROM "break" WHERE $where', "")], w=4, h=4),
        PanelSpec("stat", "Nudges (answered)", [
            ("A", 'SELECT sum("count") FROM "nudge" WHERE $where', "sent"),
            ("B", 'SELECT sum("answered") FROM "nudge_outcome" WHERE $where', "answered")],
            w=4, h=4),
        PanelSpec("stat", "Steps", [("A", f'SELECT sum("steps") {minutes}', "")], w=4, h=4),
        PanelSpec("stat", "Slouched", [("A", f'SELECT sum("slouch_s") / 60 {minutes}', "")],
                  w=4, h=4, unit="m"),
        PanelSpec("bars", "Minutes per hour by activity", [
            (ref, f'SELECT sum("{col}_s") / 60 {minutes} GROUP BY time(1h) fill(none)', col)
            for ref, col in zip("ABCDE", ["sitting", "standing", "walking", "lying", "exercise"])],
            unit="m", extra={"stack": True}),
        PanelSpec("table", "Nudges", [
            ("A", 'SELECT "suggestion", "sedentary_min", "text" FROM "nudge" WHERE $where', "")]),
    ]
    return _dashboard("spinewise-today", "spinewise - Today",
                      "Posture, activity, sedentary time and movement breaks today.",
                      "now/d", panels, ["today"], tz, refresh="10s")


def exercise(tz: str = DEFAULT_TZ) -> dict:
    panels = [
        PanelSpec("table", "Sets and reps by exercise", [
            ("A", 'SELECT count("reps") AS "sets", sum("reps") AS "reps" FROM "set" '
                  'WHERE $where GROUP BY "exercise"', "")], w=8, extra={"hide_time": True}),
        PanelSpec("bars", "Reps per day", [
            ("A", 'SELECT sum("reps") FROM "set" WHERE $where GROUP BY time(1d), "exercise" fill(none)',
             "$tag_exercise")], w=16, extra={"stack": True}),
        PanelSpec("timeseries", "Plank hold time per week", [
            ("A", f'SELECT max("duration_s") FROM "hold" WHERE "exercise" = \'plank\' AND $where '
                  f'GROUP BY {WEEK} fill(none)', "longest"),
            ("B", f'SELECT mean("duration_s") FROM "hold" WHERE "exercise" = \'plank\' AND $where '
                  f'GROUP BY {WEEK} fill(none)', "mean")], unit="s",
            description="guide: Core Stabilization - Plank: build to 60-second holds."),
        PanelSpec("timeseries", "Plank stability per week", [
            ("A", f'SELECT mean("sway_deg_rms") FROM "hold" WHERE "exercise" = \'plank\' AND $where '
                  f'GROUP BY {WEEK} fill(none)', "sway (deg RMS)"),
            ("B", f'SELECT mean("tremor_mg_rms") FROM "hold" WHERE "exercise" = \'plank\' AND $where '
                  f'GROUP BY {WEEK} fill(none)', "tremor (mg RMS)")],
            description="Lower is steadier. Tremor needs >= 30 Hz sampling; sway needs no gyro."),
        PanelSpec("bars", "Form flags per week", [
            ("A", f'SELECT sum("flag_count") FROM "rep" WHERE $where GROUP BY {WEEK}, "exercise" fill(none)',
             "reps: $tag_exercise"),
            ("B", f'SELECT sum("flag_count") FROM "hold" WHERE $where GROUP BY {WEEK}, "exercise" fill(none)',
             "holds: $tag_exercise")], extra={"stack": True}),
        PanelSpec("table", "Flagged reps and holds", [
            ("A", 'SELECT "exercise", "flags", "amplitude_deg" FROM "rep" WHERE "flag_count" > 0 AND $where',
             ""),
            ("B", 'SELECT "exercise", "flags", "duration_s" FROM "hold" WHERE "flag_count" > 0 AND $where',
             "")]),
        PanelSpec("timeseries", "Range of motion per day", [
            ("A", 'SELECT mean("amplitude_deg") FROM "rep" WHERE $where GROUP BY time(1d), "exercise" fill(none)',
             "$tag_exercise")], w=24, unit="degree"),
    ]
    return _dashboard("spinewise-exercise", "spinewise - Exercise",
                      "Sets, reps, holds and form, by exercise.", "now-12w", panels, ["exercise"], tz)


def _ten_percent_line(inner: str) -> str:
    # InfluxQL has no lag(): with d = v - prev and m = (v + prev) / 2, prev = m - d / 2.
    return (f'SELECT 1.1 * ("m" - "d" / 2) AS "limit" FROM (SELECT difference("v") AS "d", '
            f'moving_average("v", 2) AS "m" FROM ({inner}))')


def trends(tz: str = DEFAULT_TZ) -> dict:
    reps_week = f'SELECT sum("reps") AS "v" FROM "set" WHERE $where GROUP BY {WEEK} fill(0)'
    hold_week = f'SELECT sum("duration_s") AS "v" FROM "hold" WHERE $where GROUP BY {WEEK} fill(0)'
    minutes = 'FROM "activity_minute" WHERE $where GROUP BY time(1d) fill(none)'
    guide_10 = ("guide: Safety Precautions and Exercise Modifications - increase volume by no "
                "more than 10 % weekly. The line is 110 % of the previous week.")
    panels = [
        PanelSpec("bars", "Weekly reps against the 10 % line", [
            ("A", reps_week, "reps"), ("B", _ten_percent_line(reps_week), "10 % line")],
            description=guide_10, extra={"line_ref": "B"}),
        PanelSpec("bars", "Weekly hold seconds against the 10 % line", [
            ("A", hold_week, "hold s"), ("B", _ten_percent_line(hold_week), "10 % line")],
            unit="s", description=guide_10, extra={"line_ref": "B"}),
        PanelSpec("bars", "Sedentary hours per day", [
            ("A", f'SELECT sum("sedentary_s") / 3600 {minutes}', "sedentary")], unit="h",
            extra={"decimals": 1}),
        PanelSpec("timeseries", "Pain against activity", [
            ("A", 'SELECT mean("score") FROM "pain" WHERE $where GROUP BY time(1d) fill(none)', "pain (0-10)"),
            ("B", f'SELECT (sum("walking_s") + sum("exercise_s")) / 60 {minutes}', "active minutes")],
            description="Daily mean pain score next to walking + exercise minutes."),
        PanelSpec("bars", "Steps per day", [("A", f'SELECT sum("steps") {minutes}', "steps")]),
        PanelSpec("bars", "Slouched minutes per day", [
            ("A", f'SELECT sum("slouch_s") / 60 {minutes}', "slouched")], unit="m"),
    ]
    return _dashboard("spinewise-trends", "spinewise - Trends",
                      "Weekly volume, sedentary time, pain and activity over weeks.", "now-12w",
                      panels, ["trends"], tz)


def devices(tz: str = DEFAULT_TZ) -> dict:
    status = 'FROM "device_status" WHERE $where GROUP BY time($__interval), "device" fill(none)'
    panels = [
        PanelSpec("timeseries", "Battery", [("A", f'SELECT last("battery_pct") {status}', "$tag_device")],
                  unit="percent", extra={"min": 0}),
        PanelSpec("timeseries", "Signal (RSSI)", [("A", f'SELECT mean("rssi_dbm") {status}', "$tag_device")],
                  unit="dBm"),
        PanelSpec("timeseries", "Sample rate", [("A", f'SELECT mean("rate_hz") {status}', "$tag_device")],
                  unit="hertz"),
        PanelSpec("stat", "Data lost to gaps", [
            ("A", 'SELECT sum("duration_s") FROM "gap" WHERE $where', "seconds"),
            ("B", 'SELECT count("duration_s") FROM "gap" WHERE $where', "gaps")], w=6),
        PanelSpec("table", "Connection gaps", [
            ("A", 'SELECT "duration_s", "samples_lost" FROM "gap" WHERE $where GROUP BY "device"', "")], w=6),
    ]
    return _dashboard("spinewise-devices", "spinewise - Devices",
                      "Sensor battery, BLE signal, sample rate and data gaps.", "now-7d", panels,
                      ["devices"], tz, refresh="1m")


def patients(tz: str = DEFAULT_TZ) -> dict:
    """The carer's view: one row per person over the chosen range (default: this week)."""
    red = '("leg" = true OR "numbness" = true OR "weakness" = true)'
    sed_days = ('SELECT sum("sedentary_s") / 3600 AS "h" FROM "activity_minute" WHERE $where '
                'GROUP BY time(1d), "user" fill(none)')
    panels = [
        PanelSpec("table", "Patients", [
            ("A", 'SELECT last("sedentary_s") AS "seen" FROM "activity_minute" WHERE $where GROUP BY "user"', ""),
            ("B", 'SELECT count("reps") AS "sets", sum("reps") AS "reps" FROM "set" WHERE $where GROUP BY "user"', ""),
            ("C", 'SELECT count("duration_s") AS "holds" FROM "hold" WHERE $where GROUP BY "user"', ""),
            ("D", 'SELECT last("planned_sets") AS "planned sets", last("status") AS "plan" FROM "plan" '
                  'WHERE $where GROUP BY "user"', ""),
            ("E", f'SELECT mean("h") AS "sedentary h/day" FROM ({sed_days}) GROUP BY "user"', ""),
            ("F", 'SELECT first("score") AS "pain first", last("score") AS "pain last", '
                  'last("score") - first("score") AS "pain change" FROM "pain" WHERE $where GROUP BY "user"', ""),
            ("G", f'SELECT count("score") AS "red flags" FROM "pain" WHERE {red} AND $where GROUP BY "user"', "")],
            w=24, h=9, extra={"join_by": "user", "first_time": "last seen", "hide": ["seen"], "decimals": 1},
            description="One row per person over the range (default: this week). Sets and holds "
                        "against the sets the coach planned for the programme week; pain change "
                        "= last - first report in the range; red flags = pain reports with leg "
                        "pain, numbness or weakness (guide: FAQ - see a clinician); plan 'stop' "
                        "means exercise is paused until a clinician clears it."),
        PanelSpec("timeseries", "Pain by day", [
            ("A", 'SELECT mean("score") FROM "pain" WHERE $where GROUP BY time(1d), "user" fill(none)',
             "$tag_user")], extra={"min": 0}),
        PanelSpec("bars", "Sedentary hours per day", [
            ("A", f'SELECT sum("sedentary_s") / 3600 FROM "activity_minute" WHERE $where '
                  f'GROUP BY time(1d), "user" fill(none)', "$tag_user")], unit="h", extra={"decimals": 1}),
    ]
    return _dashboard("spinewise-patients", "spinewise - Patients",
                      "The carer's view: every person's week in one table.", "now/w", panels,
                      ["patients"], tz, refresh="5m", every_user=True)


DASHBOARDS = {"today": today, "exercise": exercise, "trends": trends, "devices": devices,
              "patients": patients}


def render(build, tz: str = DEFAULT_TZ) -> str:
    """One dashboard as the committed file's text (stable formatting)."""
    return json.dumps(build(tz), indent=2, sort_keys=True) + "\n"


def write_dashboards(out_dir: str | Path, tz: str = DEFAULT_TZ) -> list[Path]:
    """Write every dashboard as ``<out_dir>/spinewise-<name>.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in DASHBOARDS.items():
        path = out / f"spinewise-{name}.json"
        path.write_text(render(build, tz))
        paths.append(path)
    return paths
