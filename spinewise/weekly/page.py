"""Draw the weekly figures on one A4 page (matplotlib, Agg; PDF or PNG by the file suffix).

Top to bottom: header with red flags in a red box, exercise table against plan and the
10 % line, then four small plots (volume vs line, plank over the weeks, sedentary hours with
nudges, pain against active minutes) and the form flags. Text stays text in the PDF
(TrueType fonts) so a reader can copy it and a test can extract it.
"""
from __future__ import annotations

from pathlib import Path

RED, GREEN, GREY, BLUE = "#c0392b", "#2e8b57", "#7f8c8d", "#2c6fbb"
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _fmt(v, unit: str = "") -> str:
    return "-" if v is None else f"{v:.0f}{unit}"


def write_page(week, path: str | Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.size": 8}):
        fig = plt.figure(figsize=(8.27, 11.69))          # A4 portrait
        table_h = 0.3 + 0.11 * max(1, len(week.exercises))     # the table's rows, no more
        grid = fig.add_gridspec(5, 2, height_ratios=[0.75, table_h, 1.6, 1.6, 0.5],
                                left=0.08, right=0.93, top=0.97, bottom=0.03, hspace=0.45, wspace=0.3)
        _header(fig.add_subplot(grid[0, :]), week)
        _table(fig.add_subplot(grid[1, :]), week)
        _volume(fig.add_subplot(grid[2, 0]), week)
        _plank(fig.add_subplot(grid[2, 1]), week)
        _sedentary(fig.add_subplot(grid[3, 0]), week)
        _pain(fig.add_subplot(grid[3, 1]), week)
        _flags(fig.add_subplot(grid[4, :]), week)
        fig.savefig(path, dpi=110 if path.suffix.lower() == ".png" else None)
        plt.close(fig)
    return path


def _header(ax, week) -> None:
    ax.axis("off")
    t = week.totals
    end = week.days[-1]["date"]
    ax.text(0, 1, f"spinewise weekly report - {week.user} - {week.week}", fontsize=14,
            weight="bold", va="top", transform=ax.transAxes)
    ax.text(0, 0.8, f"{week.days[0]['date']} to {end} ({week.tz})   last seen: "
            f"{week.last_seen or 'never'}", va="top", transform=ax.transAxes)
    ax.text(0, 0.67, week.plan_note, va="top", transform=ax.transAxes)
    ax.text(0, 0.52, f"Sets {t['sets']}   Reps {t['reps']}   Hold {t['hold_s']:.0f} s   "
            f"Form flags {t['form_flags']}   Sedentary {t['sedentary_h']:.1f} h   "
            f"Nudges sent {week.nudges['sent']} / answered {week.nudges['answered']}",
            fontsize=9, va="top", transform=ax.transAxes)
    if week.red_flags:
        text = "\n".join(week.red_flags[:4])
        ax.text(0, 0.34, text, va="top", color="white", weight="bold", fontsize=9,
                transform=ax.transAxes,
                bbox={"boxstyle": "round", "facecolor": RED, "edgecolor": RED})
    else:
        ax.text(0, 0.34, "Red flags: none reported this week", va="top", color=GREEN,
                fontsize=9, transform=ax.transAxes)


def _table(ax, week) -> None:
    ax.axis("off")
    ax.set_title("Exercise this week against the plan and the 10 % line "
                 "(volume: reps x resistance, hold seconds)", loc="left", fontsize=9)
    rows = []
    for e in week.exercises:
        status = ("OVER 10 % line" if e["over_line"] else
                  "no plan" if e["planned_volume"] is None else
                  "on plan" if e["volume"] >= e["planned_volume"] - 1e-9 else "below plan")
        rows.append([e["exercise"], str(e["sets"]),
                     f"{e['hold_s']:.0f} s" if e["kind"] == "hold" else str(e["reps"]),
                     _fmt(e["volume"]), _fmt(e["planned_volume"]), _fmt(e["line_volume"]),
                     _fmt(e["previous_volume"]), status])
    if not rows:
        ax.text(0, 0.5, "no exercise logged and no plan", transform=ax.transAxes)
        return
    tab = ax.table(cellText=rows, colLabels=["exercise", "sets", "reps / hold", "volume",
                                             "plan", "10 % line", "last week", "status"],
                   loc="upper left", cellLoc="center", colLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    tab.scale(1, 1.25)
    for i, e in enumerate(week.exercises, start=1):
        if e["over_line"]:
            for j in range(8):
                tab[i, j].set_facecolor("#f6d5d1")


def _volume(ax, week) -> None:
    ex = week.exercises
    x = range(len(ex))
    ax.bar(x, [e["volume"] for e in ex], color=[RED if e["over_line"] else BLUE for e in ex],
           label="done")
    ax.scatter(x, [e["planned_volume"] if e["planned_volume"] is not None else float("nan") for e in ex],
               marker="_", s=400, color="black", label="plan", zorder=3)
    ax.scatter(x, [e["line_volume"] if e["line_volume"] is not None else float("nan") for e in ex],
               marker="_", s=400, color=RED, linewidths=2, label="10 % line", zorder=3)
    ax.set_xticks(list(x), [e["exercise"].replace("_", " ") for e in ex], rotation=20)
    ax.set_title("Weekly volume", loc="left", fontsize=9)
    tops = [v for e in ex for v in (e["volume"], e["planned_volume"], e["line_volume"]) if v]
    ax.set_ylim(0, max(tops + [1.0]) * 1.3)              # room for the legend
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=3)


def _plank(ax, week) -> None:
    pw = week.plank_weeks
    labels = [w["week"][-3:] for w in pw]
    nan = float("nan")
    ax.plot(labels, [w["longest_s"] if w["longest_s"] is not None else nan for w in pw], "o-",
            color=BLUE, label="longest hold (s)")
    ax.plot(labels, [w["mean_s"] if w["mean_s"] is not None else nan for w in pw], "o--",
            color=GREY, label="mean hold (s)")
    ax.axhline(60, color=GREEN, lw=0.8, ls=":", label="goal 60 s")
    longest = [w["longest_s"] for w in pw if w["longest_s"] is not None]
    ax.set_ylim(0, max(longest + [60.0]) * 1.45)         # room for the legend above the goal
    ax.set_title("Plank hold time and stability by week", loc="left", fontsize=9)
    ax2 = ax.twinx()
    sway = [w["sway_deg_rms"] if w["sway_deg_rms"] is not None else nan for w in pw]
    ax2.plot(labels, sway, "s:", color=RED, label="sway (deg RMS)")
    ax2.set_ylim(0, max([v for v in sway if v == v] + [0.5]) * 1.45)
    ax2.set_ylabel("sway deg RMS (lower = steadier)", fontsize=7)
    if not longest:
        ax.text(0.5, 0.3, "no plank holds logged", transform=ax.transAxes, ha="center", color=GREY)
    elif all(v != v for v in sway):
        ax2.text(0.5, 0.05, "sway unavailable", transform=ax.transAxes, ha="center", color=GREY)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=6, frameon=False, loc="upper left", ncol=2)


def _sedentary(ax, week) -> None:
    days = week.days
    ax.bar(DAY_NAMES, [d["sedentary_h"] for d in days], color="#e4a05e")
    for i, d in enumerate(days):
        label = (f"{d['sedentary_h']:.1f}\n{d['nudges_answered']}/{d['nudges_sent']}"
                 if d["recorded"] else "no\ndata")     # sensor not worn / no minutes stored
        ax.text(i, d["sedentary_h"], label, ha="center", va="bottom", fontsize=7,
                color="black" if d["recorded"] else GREY)
    ax.set_ylim(0, max([d["sedentary_h"] for d in days] + [1]) * 1.35)
    ax.set_title("Sedentary hours per day (labels: h, nudges answered/sent)", loc="left",
                 fontsize=9)


def _pain(ax, week) -> None:
    days = week.days
    active = [d["walking_min"] + d["exercise_min"] for d in days]
    ax.bar(DAY_NAMES, active, color="#9fd3c7", label="walking + exercise min")
    ax.set_ylabel("active minutes", fontsize=7)
    ax.set_ylim(0, max(active + [10.0]) * 1.4)            # room for the legend
    ax2 = ax.twinx()
    nan = float("nan")
    ax2.plot(DAY_NAMES, [d["pain_max"] if d["pain_max"] is not None else nan for d in days], "o-",
             color=RED, label="pain (max, 0-10)")
    ax2.set_ylim(0, 14)
    ax2.set_yticks(range(0, 11, 2))
    for i, d in enumerate(days):
        if d["pain_max"] is not None:
            ax2.text(i, d["pain_max"] + 0.4, str(d["pain_max"]), ha="center", color=RED, fontsize=7)
    ax.set_title("Pain against activity", loc="left", fontsize=9)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=6, frameon=False, loc="upper left")


def _flags(ax, week) -> None:
    ax.axis("off")
    ax.set_title("Form flags this week (count)", loc="left", fontsize=9)
    items = [f"{ex.replace('_', ' ')}: {flag} x{n}" for ex, flag, n in week.form_flags]
    text = "   ".join(items) if items else "none - clean form on every logged set and hold"
    ax.text(0, 0.8, text, va="top", wrap=True, transform=ax.transAxes)
    ax.text(0, 0.1, "Figures from the spinewise coaching store; volume and plan as the coach computes "
            "them (guide: Safety Precautions - the 10 % rule). spinewise does not diagnose.",
            color=GREY, fontsize=6, transform=ax.transAxes)
