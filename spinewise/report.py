"""The ``spinewise analyze --report OUT.png`` figure (matplotlib, Agg backend, no display).

Three aligned panels over the recording: trunk angles (flexion and inclination, slouch
shaded and named), the activity timeline with sedentary bouts (the summary's, which give way
to exercise) and breaks underneath, and the exercise sets (reps) and holds (duration).
Nudges are marked across all panels. The x axis is local clock time (the config's
``coaching.timezone``) when the recording's clock start is known (epoch times, or the demo),
else time from the start. ``build_figure`` returns the figure (tests read its ticks and
marks); ``write_report`` saves it.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

ACTIVITY_COLORS = {"sitting": "#e4572e", "standing": "#29335c", "walking": "#17bebb",
                   "lying": "#a0a0a0", "exercise": "#76b041"}
ROWS = ("sitting", "standing", "walking", "lying", "exercise")


def _time_axis(duration_s: float) -> tuple[float, str]:
    if duration_s > 3 * 3600:
        return 3600.0, "h"
    if duration_s > 600:
        return 60.0, "min"
    return 1.0, "s"


class _Axis:
    """Seconds from the first sample -> x values, and how the x axis is labelled."""

    def __init__(self, duration_s: float, start_epoch_s: float | None, tz: str | None):
        self.start = start_epoch_s
        self.tz = tz or "UTC"
        if start_epoch_s is None:
            self.scale, self.unit = _time_axis(duration_s)
            self.offset = 0.0
        else:
            import matplotlib.dates as mdates
            self.scale, self.unit = 86400.0, "days"      # matplotlib date numbers
            epoch0 = mdates.date2num(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
            self.offset = epoch0 + start_epoch_s / 86400.0

    def x(self, t_s):
        return np.asarray(t_s, dtype=float) / self.scale + self.offset if np.ndim(t_s) \
            else float(t_s) / self.scale + self.offset

    def w(self, seconds: float) -> float:
        return seconds / self.scale

    def style(self, ax) -> None:
        if self.start is None:
            ax.set_xlabel(f"time from the start ({self.unit})")
            return
        import matplotlib.dates as mdates
        from zoneinfo import ZoneInfo
        zone = ZoneInfo(self.tz)
        loc = mdates.AutoDateLocator(tz=zone, minticks=4, maxticks=12)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=zone))
        day = dt.datetime.fromtimestamp(self.start, zone)
        ax.set_xlabel(f"local time ({self.tz}), {day:%a %Y-%m-%d}")


def _labels_apart(ax, items, fontsize: float = 7.0) -> None:
    """Text labels ``(x_data, y, text)`` of one row placed without overprinting: a label that
    would overlap the one before it goes one step up or down, or is left out (its bar stays);
    on a 24 h chart a plank every few minutes would otherwise be one smear of text."""
    fig = ax.figure
    x0, x1 = ax.get_xlim()
    width_px = ax.get_window_extent().width or fig.get_figwidth() * fig.dpi
    char_x = (x1 - x0) * fontsize * 0.62 * fig.dpi / 72.0 / width_px   # data units per char
    last_end = {0: -np.inf, 1: -np.inf, -1: -np.inf}
    for x, y, text in sorted(items):
        for level in (0, 1, -1):
            if x >= last_end[level]:
                ax.text(x, y + 0.28 * level, text, va="center", fontsize=fontsize,
                        gid="label")
                last_end[level] = x + char_x * (len(text) + 1)
                break


def build_figure(summary: dict, timeline: dict, *, tz: str | None = None,
                 start_epoch_s: float | None = None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    dur = max(float(summary.get("duration_s") or 0.0), 1.0)
    start = start_epoch_s if start_epoch_s is not None else summary.get("start_epoch_s")
    X = _Axis(dur, start, tz)
    fig, axes = plt.subplots(3, 1, figsize=(13, 8.5), sharex=True,
                             gridspec_kw={"height_ratios": [2.2, 1.6, 1.2]})
    ax_ang, ax_act, ax_ex = axes
    act = summary["activity"]
    when = ""
    if start is not None:
        from zoneinfo import ZoneInfo
        when = f" from {dt.datetime.fromtimestamp(start, ZoneInfo(X.tz)):%Y-%m-%d %H:%M}"
    title = (f"spinewise  {dur / 3600:.1f} h{when} at {summary.get('sample_rate_hz') or 0:g} Hz"
             f"{'' if summary.get('has_gyro') else ' (accelerometer only)'} - sedentary "
             f"{act['sedentary_s'] / 60:.0f} min, walking {act['walking_s'] / 60:.0f} min, "
             f"{act['steps']} steps, slouch {summary['posture']['slouch_s'] / 60:.0f} min")
    fig.suptitle(title, fontsize=11)

    # trunk angles
    post = np.asarray(timeline.get("posture") or np.zeros((0, 4)), dtype=float).reshape(-1, 4)
    if post.size:
        # flexion is a sagittal angle of an upright-ish trunk; lying on the side or prone it
        # wraps around +-180 and says nothing, so it is left out there (inclination stays)
        flex = np.where(post[:, 3] < 75.0, post[:, 1], np.nan)
        ax_ang.plot(X.x(post[:, 0]), flex, lw=0.6, color="#29335c",
                    label="flexion (+ forward, - slumped back)")
        ax_ang.plot(X.x(post[:, 0]), post[:, 3], lw=0.6, color="#e4572e", alpha=0.6,
                    label="inclination")
    neutral = summary["posture"].get("neutral_flexion_deg", {})
    thr = summary["posture"].get("slouch_threshold_deg")
    for name, style in (("sitting", ":"), ("standing", "--")):
        if name in neutral:
            ax_ang.axhline(neutral[name], color="grey", ls=style, lw=0.8,
                           label=f"{name} neutral {neutral[name]:+.0f} deg")
    slouch = timeline.get("slouch", [])
    for a, b in slouch:
        ax_ang.axvspan(X.x(a), X.x(b), color="#f3a712", alpha=0.25, lw=0, gid="slouch")
    handles, labels = ax_ang.get_legend_handles_labels()
    handles.append(Patch(color="#f3a712", alpha=0.25))
    labels.append("slouch" + (f": sitting flexion > {thr:g} deg below neutral (slumped), "
                              f"standing > {thr:g} deg above" if thr else ""))
    cal = summary.get("calibration", {}).get("events") or []
    if cal:      # angles before the first mounting calibration are in guessed axes
        ax_ang.axvspan(X.x(0.0), X.x(cal[0]["t_s"]), color="grey", alpha=0.15, lw=0)
        ax_ang.text(X.x(0.0), 0.02, " before mounting calibration",
                    transform=ax_ang.get_xaxis_transform(), fontsize=7, color="grey")
    ax_ang.set_ylabel("deg")
    ax_ang.legend(handles, labels, loc="upper right", fontsize=7, ncol=3)
    ax_ang.set_title("trunk angle (shaded: slouch)", fontsize=9, loc="left")

    # activity timeline
    acts = timeline.get("activity", [])
    for i, (t0, cls) in enumerate(acts):
        end = acts[i + 1][0] if i + 1 < len(acts) else dur
        row = ROWS.index(cls) if cls in ROWS else 0
        ax_act.broken_barh([(X.x(t0), X.w(end - t0))], (row + 0.1, 0.8),
                           facecolors=ACTIVITY_COLORS.get(cls, "k"))
    # the summary's bouts: they give way to exercise (spinewise.results), as in the JSON
    from spinewise.results import exercise_spans, split_sedentary
    bouts_act = {"sedentary_bouts": list(act.get("sedentary_bouts", []))}
    split_sedentary(bouts_act, exercise_spans(summary))     # a no-op on analyze's summary
    bouts = [(b["start_s"], b["end_s"]) for b in bouts_act["sedentary_bouts"]]
    for a, b in bouts:
        ax_act.plot([X.x(a), X.x(b)], [-0.45, -0.45], color="#e4572e", lw=3,
                    solid_capstyle="butt", gid="sedentary")
    for a, b in timeline.get("break", []):
        ax_act.plot([X.x(a), X.x(b)], [-0.85, -0.85], color="#17bebb", lw=3,
                    solid_capstyle="butt")
    ax_act.set_yticks([-0.85, -0.45] + [r + 0.5 for r in range(len(ROWS))])
    ax_act.set_yticklabels(["breaks", "sedentary bouts", *ROWS], fontsize=8)
    ax_act.set_ylim(-1.1, len(ROWS))
    ax_act.set_title("activity (1 s epochs)", fontsize=9, loc="left")

    # exercise
    names = sorted({s["exercise"] for s in summary.get("sets", [])} |
                   {h["exercise"] for h in summary.get("holds", [])})
    labels_by_row: dict[int, list] = {}
    for s in summary.get("sets", []):
        y = names.index(s["exercise"])
        ax_ex.broken_barh([(X.x(s["start_s"]), X.w(s["end_s"] - s["start_s"]))],
                          (y + 0.15, 0.7), facecolors="#76b041")
        labels_by_row.setdefault(y, []).append((X.x(s["end_s"]), y + 0.5, f" {s['reps']}"))
    for h in summary.get("holds", []):
        y = names.index(h["exercise"])
        ax_ex.broken_barh([(X.x(h["start_s"]), X.w(h["end_s"] - h["start_s"]))],
                          (y + 0.15, 0.7), facecolors="#3c6e71")
        side = {"left": "L ", "right": "R "}.get(h.get("side"), "")
        labels_by_row.setdefault(y, []).append(
            (X.x(h["end_s"]), y + 0.5, f" {side}{h['duration_s']:.0f}s"))
    ax_ex.set_yticks([i + 0.5 for i in range(len(names))])
    ax_ex.set_yticklabels(names, fontsize=8)
    ax_ex.set_ylim(0, max(len(names), 1))
    ax_ex.set_title("exercise sets (reps) and holds (s)" if names else "no exercise recognised",
                    fontsize=9, loc="left")
    ax_ex.set_xlim(X.x(0.0), X.x(dur))
    X.style(ax_ex)

    # nudges: a line through every panel, named once
    nudges = [float(n[0] if isinstance(n, (tuple, list)) else n) for n in timeline.get("nudge", [])]
    for t in nudges:
        for ax in axes:
            ax.axvline(X.x(t), color="#8e44ad", lw=0.9, ls="--", gid="nudge")
        ax_act.annotate("nudge", (X.x(t), 1.0), xycoords=("data", "axes fraction"),
                        fontsize=6, color="#8e44ad", ha="center", va="bottom", gid="nudge_label")
    if nudges:
        ax_act.set_title(f"activity (1 s epochs); dashed: {len(nudges)} movement-break nudge"
                         f"{'s' if len(nudges) != 1 else ''}", fontsize=9, loc="left")
    fig.tight_layout()
    for row in labels_by_row.values():       # after layout: text widths in axis units
        _labels_apart(ax_ex, row)
    return fig


def write_report(path: str, summary: dict, timeline: dict, *, tz: str | None = None,
                 start_epoch_s: float | None = None) -> None:
    import matplotlib.pyplot as plt
    fig = build_figure(summary, timeline, tz=tz, start_epoch_s=start_epoch_s)
    fig.savefig(path, dpi=110)
    plt.close(fig)
