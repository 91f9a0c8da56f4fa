"""What a movement-break nudge suggests, chosen by context and taken from the guide."""
from __future__ import annotations

from dataclasses import dataclass

from spinewise.coaching import guide


@dataclass(frozen=True)
class NudgeContext:
    sedentary_min: float          # sedentary minutes in the policy window
    window_min: float             # length of that window
    first_of_morning: bool        # first nudge of the local day, before morning_end
    acute: bool = False           # user flag: acute episode
    extension_eases: bool = False # user flag: backward bending eases / centralises pain
    press_up_due: bool = False    # acute + extension: >= press_up_interval since last suggested
    red_flag: bool = False        # leg pain / numbness / weakness reported, not yet cleared


def suggest(ctx: NudgeContext) -> dict:
    """A JSON-friendly suggestion: ``kind``, ``text``, ``items`` and the ``guide`` sections."""
    sat = (f"You have been sitting or lying for {ctx.sedentary_min:.0f} of the last "
           f"{ctx.window_min:.0f} minutes.")
    if ctx.red_flag:
        # guide: FAQ - leg pain / numbness / weakness "requires medical evaluation before
        # continuing exercise": movement breaks only, no exercise suggestions.
        return _out("change_position", f"{sat} Stand up and change position; walk only if it is "
                    "comfortable. You reported pain spreading down the leg, numbness or weakness: "
                    "please see a clinician before doing exercises.", [], [guide.FAQ])
    if ctx.acute:
        lo, hi = guide.ACUTE_WALK_MIN
        items = [{"activity": "walking", "minutes": [lo, hi], "pace": "comfortable"}]
        text = (f"{sat} Acute episode: walk at a comfortable pace for {lo}-{hi} minutes, "
                "staying in pain-free ranges.")
        sources = [guide.WHEN + " - acute episodes"]
        if ctx.extension_eases and ctx.press_up_due:
            items.append({"exercise": "prone_press_up", "reps": guide.PRESS_UP.reps,
                          "range": "partial, progress to full over several sessions"})
            text += (f" Then {guide.PRESS_UP.reps} prone press-ups (partial range first), since "
                     "backward bending eases your pain; stop if it spreads or worsens.")
            sources.append(guide.WHEN + " - disc-related, prone press-ups every 2 hours")
        return _out("acute_walk", text, items, sources)
    if ctx.first_of_morning:
        k = guide.KNEE_TO_CHEST
        return _out("morning_mobility",
                    f"{sat} First long sit of the morning: gentle mobility before strengthening - "
                    f"knee-to-chest, hold {k.hold_s:.0f} s, {k.sets} times per side, then slow "
                    "spinal rotations (knees together, drop side to side). Then walk a few minutes.",
                    [{"exercise": "knee_to_chest", "sets": k.sets, "hold_s": k.hold_s, "per_side": True},
                     {"exercise": "spinal_rotation", "reps": guide.SPINAL_ROTATION.reps,
                      "per_side": True}],
                    [guide.WHEN + " - morning stiffness"])
    lo, hi = guide.BREAK_WALK_MIN
    return _out("walk_break", f"{sat} Time for a movement break: walk {lo}-{hi} minutes and "
                "stand tall.", [{"activity": "walking", "minutes": [lo, hi]},
                                {"posture": "stand tall"}],
                [guide.RESULTS + " - frequent movement through the day", guide.SAFETY + " - warm-up"])


def _out(kind: str, text: str, items: list, sources: list) -> dict:
    return {"kind": kind, "text": text, "items": items, "guide": sources}

