"""Daily-life building blocks: calibration intro, sitting, standing, walking, lying, sleeping.

Sitting bouts are a sequence of still periods joined by posture moves that stay "sitting":
fidgets (2-5 deg shifts), weight shifts (lateral 4-10 deg), reaching / leaning forward
(20-40 deg for 1-4 s, then back) and slumps (a further 10-30 deg posterior tilt, person
specific, held 45 s to 15 min; truth: a slump of that depth, slouch if beyond the threshold). Standing has sway, weight shifts and sometimes a
slouch (forward flexion 15-30 deg). Night lying turns over (supine / side / prone) every
20-90 min.
"""
from __future__ import annotations

import numpy as np

from spinewise.sim.motion import rot_x, rot_y, rot_z
from spinewise.sim.plan import Z_BED, Planner, lying


def calibration_intro(pl: Planner) -> None:
    """A few seconds standing still, 20-40 s walking, standing again (mounting calibration)."""
    rng = pl.rng
    pl.still("standing", "stand_still_calibration", rng.uniform(3.0, 6.0))
    pl.walk(rng.uniform(20.0, 40.0), detail="walk_calibration", turns=0)
    pl.still("standing", "stand", rng.uniform(2.0, 4.0))


def stand(pl: Planner, duration_s: float, slouch_prob: float = 0.0) -> None:
    rng = pl.rng
    end = pl.t_s + duration_s
    while end - pl.t_s > 1.0:
        left = end - pl.t_s
        if left > 70 and rng.random() < slouch_prob:
            hold = min(left - 10, rng.uniform(45, 180))
            shift = rng.uniform(2, 4)
            # depth beyond the standing neutral, for truth (the product's slouch definition)
            pl.slouch_bouts.append([pl.t_s + shift / 2, None, pl.person.slouch_stand_deg])
            pl.pose("standing", "slouch_standing",
                    [(shift, pl.standing(pl.person.slouch_stand_deg), None)],
                    wiggles=pl.still_wiggles(shift + hold, pl.person.sway_deg, pl.person.breath_deg),
                    hold_s=hold, slouch=True)
            shift = rng.uniform(2, 4)
            pl.slouch_bouts[-1][1] = pl.t_s + shift / 2
            pl.pose("standing", "stand", [(shift, pl.standing(), None)])
            continue
        # daily life: the person's own sway and weight-shift habits (exercise sessions keep the
        # population's, so their committed fixtures stay as they are)
        shift_p = pl.person.stand_shift_rate if pl.daily_life else 0.3
        k = pl.person.stand_sway_scale if pl.daily_life else 1.0
        if left > 8 and rng.random() < shift_p:
            lat = rng.choice([-1, 1]) * rng.uniform(2, 5)
            d = rng.uniform(1.0, 2.0)
            pl.pose("standing", "weight_shift", [(d, pl.standing() * rot_x(lat), None)],
                    wiggles=pl.still_wiggles(d + 3, pl.person.sway_deg, 0.0), hold_s=3.0)
            pl.pose("standing", "weight_shift", [(d, pl.standing(), None)])
            continue
        pl.still("standing", "stand", min(left, rng.uniform(10, 60)), sway_deg=pl.person.sway_deg * k,
                 pos_sway_m=0.004 * k)


def walk(pl: Planner, duration_s: float, detail: str = "walk") -> None:
    """Often turn to face the way out first (turning in place), then walk."""
    if duration_s > 20 and pl.rng.random() < 0.5:
        pl.turn_in_place(pl.rng.choice([-1, 1]) * pl.rng.uniform(45, 180))
    pl.walk(duration_s, detail=detail)


def sit(pl: Planner, duration_s: float, slouch_prob: float = 0.3, z_seat: float | None = None,
        detail: str = "sit", slump_s: float | None = None) -> None:
    """Sit down, sit for ``duration_s`` (fidgets, reaching, slumps), stand up.

    ``duration_s`` covers the whole bout including both transitions. ``slump_s``: one slump of
    that length early in the bout (for fixtures), in addition to the random ones."""
    rng, p = pl.rng, pl.person
    t_end = pl.t_s + duration_s
    pl.sit_down(z_seat=z_seat)
    slumped = False
    if slump_s:
        pl.still("sitting", detail, rng.uniform(10, 30), sway_deg=p.sway_deg * 0.6, pos_sway_m=0.001)
        shift = rng.uniform(3, 8)
        pl.slouch_bouts.append([pl.t_s + shift / 2, None, p.slump_extra_deg])
        pl.pose("sitting", "slump", [(shift, pl.sitting(slump=True), None)], slouch=True)
        pl.still("sitting", "slumped", slump_s - shift, sway_deg=p.sway_deg * 0.6, pos_sway_m=0.001,
                 slouch=True)
        shift = rng.uniform(2, 5)
        pl.slouch_bouts[-1][1] = pl.t_s + shift / 2
        pl.pose("sitting", "sit_up", [(shift, pl.sitting(), None)])
    while t_end - pl.t_s > 8.0:
        left = t_end - pl.t_s - 3.0           # keep room for standing up
        r = rng.random()
        base = pl.sitting(slump=slumped)
        if not slumped and left > 70 and r < slouch_prob * 0.25:
            shift = rng.uniform(3, 8)
            pl.slouch_bouts.append([pl.t_s + shift / 2, None, p.slump_extra_deg])
            pl.pose("sitting", "slump", [(shift, pl.sitting(slump=True), None)], slouch=True)
            slumped = True
            continue
        if slumped and (r < 0.2 or left < 20):
            shift = rng.uniform(2, 5)
            pl.slouch_bouts[-1][1] = pl.t_s + shift / 2
            pl.pose("sitting", "sit_up", [(shift, pl.sitting(), None)])
            slumped = False
            continue
        if left > 10 and rng.random() < p.swivel_rate:     # turn the office chair
            pl.swivel(rng.choice([-1, 1]) * rng.uniform(10, 120))
            continue
        if r < 0.55:      # a still period
            d = min(left, rng.exponential(90.0) + 5.0)
            pl.still("sitting", "slumped" if slumped else detail, d, sway_deg=p.sway_deg * 0.6,
                     pos_sway_m=0.001, slouch=slumped)
        elif r < 0.75:    # fidget: small tilt/roll change and back
            d = rng.uniform(0.8, 2.0)
            f = base * rot_y(rng.uniform(-5, 5)) * rot_x(rng.uniform(-4, 4)) * rot_z(rng.uniform(-6, 6))
            pl.pose("sitting", "fidget", [(d, f, None), (d, base, None)], slouch=slumped)
        elif r < 0.87:    # weight shift: lean to one side for a while
            d = rng.uniform(1.0, 2.5)
            hold = min(max(1.0, left - 2 * d), rng.uniform(5, 60))
            f = base * rot_x(rng.choice([-1, 1]) * rng.uniform(4, 10))
            pl.pose("sitting", "weight_shift", [(d, f, None)],
                    wiggles=pl.still_wiggles(d + hold, p.sway_deg * 0.5, p.breath_deg), hold_s=hold,
                    slouch=slumped)
            pl.pose("sitting", "weight_shift", [(d, base, None)], slouch=slumped)
        else:             # reach / lean forward briefly while staying seated
            d = rng.uniform(0.8, 1.6)
            lean = rng.uniform(20, 40)
            f = pl.sitting(slump=slumped, lean_deg=lean) * rot_x(rng.uniform(-10, 10)) \
                * rot_z(rng.uniform(-20, 20))
            fwd = pl.pos + [0.05, 0.0, 0.0]
            pl.pose("sitting", "reach", [(d, f, fwd), (rng.uniform(1, 4), f, None), (d, base, pl.pos.copy())],
                    slouch=slumped)
    if slumped:
        shift = rng.uniform(2, 4)
        pl.slouch_bouts[-1][1] = pl.t_s + shift / 2
        pl.pose("sitting", "sit_up", [(shift, pl.sitting(), None)])
    if t_end - pl.t_s > 0.5:
        pl.still("sitting", detail, t_end - pl.t_s - 0.0)
    pl.stand_up()


def lie_down_bed(pl: Planner) -> None:
    """Sit on the bed edge, swing the legs up, lie supine."""
    rng = pl.rng
    pl.sit_down(z_seat=Z_BED)
    x = pl.pos[0]
    pl.pose("transition", "lie_down", [(rng.uniform(1.0, 1.8), lying(130.0), [x, 0.1, Z_BED - 0.03]),
                                       (rng.uniform(0.8, 1.5), lying(180.0), [x, 0.2, Z_BED - 0.05])],
            ends_in="lying")


def get_out_of_bed(pl: Planner) -> None:
    rng = pl.rng
    if abs(((pl.rot.inv() * lying(180.0)).magnitude())) > np.radians(5):
        pl.pose("transition", "roll_to_back", [(rng.uniform(1.5, 3.0), lying(180.0), None)], ends_in="lying")
    pl.pose("transition", "sit_up_in_bed", [(rng.uniform(1.0, 2.0), lying(130.0), None),
                                             (rng.uniform(1.0, 2.0), pl.sitting(), [pl.pos[0], 0.0, Z_BED])],
            ends_in="sitting")
    pl.still("sitting", "bed_edge", rng.uniform(5, 30))
    pl.stand_up()


def sleep(pl: Planner, duration_s: float) -> None:
    """Night lying: still periods (breathing only) with turns between supine/sides/prone."""
    rng, p = pl.rng, pl.person
    t_end = pl.t_s + duration_s
    roll = 180.0
    while t_end - pl.t_s > 10:
        left = t_end - pl.t_s
        d = min(left, rng.uniform(20, 90) * 60.0)
        pl.still("lying", "sleep", d, sway_deg=0.05, breath_deg=p.breath_deg * 0.6, pos_sway_m=0.0005,
                 asleep=True)
        if t_end - pl.t_s < 15:
            break
        new = float(rng.choice([r for r in (180.0, 90.0, -90.0, 0.0) if r != roll]))
        # a half turn (supine <-> prone, side <-> side) goes through the intermediate posture
        path = [new]
        if abs((new - roll) % 360.0 - 180.0) < 1e-6:
            path = [90.0 if roll in (0.0, 180.0) else 180.0, new]
        frames = [(rng.uniform(1.5, 3.0), lying(r), None) for r in path]
        pl.pose("lying", "turn_over", frames, asleep=True)
        roll = new
    if t_end - pl.t_s > 0.05:
        pl.still("lying", "sleep", t_end - pl.t_s, sway_deg=0.05, breath_deg=p.breath_deg * 0.6, asleep=True)
