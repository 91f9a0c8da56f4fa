"""The ``spinewise analyze --report OUT.png`` figure (matplotlib, Agg backend, no display).

Three aligned panels over the recording: trunk angles (flexion and inclination), the
activity timeline with sedentary bouts, breaks and slouch bouts underneath, and the
exercise sets (reps) and holds (duration).
"""
from __future__ import annotations

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


def write_report(path: str, summary: dict, timeline: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dur = max(float(summary.get("duration_s") or 0.0), 1.0)
    scale, unit = _time_axis(dur)
    fig, axes = plt.subplots(3, 1, figsize=(13, 8.5), sharex=True,
                             gridspec_kw={"height_ratios": [2.2, 1.6, 1.2]})
    ax_ang, ax_act, ax_ex = axes
    act = summary["activity"]
    title = (f"spinewise  {dur / 3600:.1f} h at {summary.get('sample_rate_hz') or 0:g} Hz"
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
        ax_ang.plot(post[:, 0] / scale, flex, lw=0.6, color="#29335c", label="flexion")
        ax_ang.plot(post[:, 0] / scale, post[:, 3], lw=0.6, color="#e4572e", alpha=0.6,
                    label="inclination")
    neutral = summary["posture"].get("neutral_flexion_deg", {})
    thr = summary["posture"].get("slouch_threshold_deg")
    for name, style in (("sitting", ":"), ("standing", "--")):
        if name in neutral:
            ax_ang.axhline(neutral[name], color="grey", ls=style, lw=0.8,
                           label=f"{name} neutral {neutral[name]:+.0f} deg")
    for a, b in timeline.get("slouch", []):
        ax_ang.axvspan(a / scale, b / scale, color="#f3a712", alpha=0.2, lw=0)
    cal = summary.get("calibration", {}).get("events") or []
    if cal:      # angles before the first mounting calibration are in guessed axes
        ax_ang.axvspan(0, cal[0]["t_s"] / scale, color="grey", alpha=0.15, lw=0)
        ax_ang.text(0, 0.02, " before mounting calibration", transform=ax_ang.get_xaxis_transform(),
                    fontsize=7, color="grey")
    ax_ang.set_ylabel("deg")
    ax_ang.legend(loc="upper right", fontsize=8, ncol=4)
    ax_ang.set_title(f"trunk angle (shaded: slouch > {thr:g} deg from neutral)" if thr
                     else "trunk angle", fontsize=9, loc="left")

    # activity timeline
    acts = timeline.get("activity", [])
    for i, (start, cls) in enumerate(acts):
        end = acts[i + 1][0] if i + 1 < len(acts) else dur
        row = ROWS.index(cls) if cls in ROWS else 0
        ax_act.broken_barh([(start / scale, (end - start) / scale)], (row + 0.1, 0.8),
                           facecolors=ACTIVITY_COLORS.get(cls, "k"))
    for a, b in timeline.get("sedentary_bout", []):
        ax_act.plot([a / scale, b / scale], [-0.45, -0.45], color="#e4572e", lw=3,
                    solid_capstyle="butt")
    for a, b in timeline.get("break", []):
        ax_act.plot([a / scale, b / scale], [-0.85, -0.85], color="#17bebb", lw=3,
                    solid_capstyle="butt")
    ax_act.set_yticks([-0.85, -0.45] + [r + 0.5 for r in range(len(ROWS))])
    ax_act.set_yticklabels(["breaks", "sedentary bouts", *ROWS], fontsize=8)
    ax_act.set_ylim(-1.1, len(ROWS))
    ax_act.set_title("activity (1 s epochs)", fontsize=9, loc="left")

    # exercise
    names = sorted({s["exercise"] for s in summary.get("sets", [])} |
                   {h["exercise"] for h in summary.get("holds", [])})
    for s in summary.get("sets", []):
        y = names.index(s["exercise"])
        ax_ex.broken_barh([(s["start_s"] / scale, (s["end_s"] - s["start_s"]) / scale)],
                          (y + 0.15, 0.7), facecolors="#76b041")
        ax_ex.text(s["end_s"] / scale, y + 0.5, f" {s['reps']}", va="center", fontsize=7)
    for h in summary.get("holds", []):
        y = names.index(h["exercise"])
        ax_ex.broken_barh([(h["start_s"] / scale, (h["end_s"] - h["start_s"]) / scale)],
                          (y + 0.15, 0.7), facecolors="#3c6e71")
        ax_ex.text(h["end_s"] / scale, y + 0.5, f" {h['duration_s']:.0f}s", va="center", fontsize=7)
    ax_ex.set_yticks([i + 0.5 for i in range(len(names))])
    ax_ex.set_yticklabels(names, fontsize=8)
    ax_ex.set_ylim(0, max(len(names), 1))
    ax_ex.set_title("exercise sets (reps) and holds (s)" if names else "no exercise recognised",
                    fontsize=9, loc="left")
    ax_ex.set_xlabel(f"time ({unit})")
    ax_ex.set_xlim(0, dur / scale)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
