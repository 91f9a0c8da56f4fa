"""The planner: builds the list of segments (and the exercise truth) one after the other.

It carries the body state from one segment to the next (time cursor, heading, posture in the
heading frame, position), so every segment starts exactly where the previous one ended. Plans
are small (a few numbers per segment and per rep), so a week-long plan fits in memory while the
samples themselves are generated lazily.

Postures are rotations ``R_heading_from_body`` (heading frame: x the way the person faces, z up):
    standing   Ry(stand_flexion) Rx(stand_lateral)      (up_body ~ (0,0,1))
    prone      Ry(90)                                   (face down, head ahead: up_body (-1,0,0))
    lying(r)   Ry(90) Rz(r): r=0 prone, +90 on the right side, -90 left side, 180 supine
Body-frame rotations applied on top (right-multiplied): Ry(+a) forward flexion / anterior tilt,
Ry(-a) extension / posterior tilt, Rx(+a) bend to the right, Rz(+a) axial roll towards lying on
the right side when face down (left side up).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from spinewise.sim.motion import Envelope, KeyframeTrack, SmoothNoise, Wiggle, rot_x, rot_y, rot_z
from spinewise.sim.person import Person
from spinewise.sim.segments import GaitParams, PoseSegment, Segment, WalkSegment

# pelvis heights relative to standing (m)
Z_SIT = -0.45
Z_KNEEL = -0.45
Z_QUADRUPED = -0.40
Z_FLOOR = -0.82
Z_BED = -0.40


def lying(roll_deg: float) -> Rotation:
    return rot_y(90.0) * rot_z(roll_deg)


PRONE = lying(0.0)
SUPINE = lying(180.0)


class Planner:
    def __init__(self, person: Person, rng: np.random.Generator, heading_deg: float = 0.0):
        self.person = person
        self.rng = rng
        self.t_s = 0.0
        self.heading_deg = heading_deg
        self.rot = self.standing()
        self.pos = np.zeros(3)
        self.segments: list[Segment] = []
        self.sets: list[dict] = []
        self.holds: list[dict] = []
        self.slouch_bouts: list[list[float]] = []   # [start_s, end_s, depth_deg beyond neutral]
        self.dose_scale = 1.0       # scales rep counts of exercise sets
        self.bad_form_rate = 0.25   # share of sets / holds performed with a form fault
        self.sets_per_exercise = 1

    # ---- postures -------------------------------------------------------------------------
    def standing(self, extra_flexion_deg: float = 0.0) -> Rotation:
        p = self.person
        return rot_y(p.stand_flexion_deg + extra_flexion_deg) * rot_x(p.stand_lateral_deg)

    def sitting(self, slump: bool = False, lean_deg: float = 0.0, lateral_deg: float = 0.0) -> Rotation:
        p = self.person
        flex = p.sit_flexion_deg - (p.slump_extra_deg if slump else 0.0) + lean_deg
        return rot_y(flex) * rot_x(p.stand_lateral_deg * 0.5 + lateral_deg)

    # ---- wiggles ----------------------------------------------------------------------------
    def still_wiggles(self, duration_s: float, sway_deg: float, breath_deg: float,
                      breath_hz: float | None = None, pos_sway_m: float = 0.0,
                      ramp_s: float = 1.0) -> list[Wiggle]:
        """Postural sway (0.05-0.6 Hz) and breathing rocking, tapered to 0 at both ends."""
        rng = self.rng
        env = Envelope.window(0.0, duration_s, ramp_s)
        bh = breath_hz or self.person.breath_hz
        out = [Wiggle("rot", SmoothNoise(rng, 0.05, 0.6),
                      np.radians([sway_deg, sway_deg, sway_deg * 0.5]), env),
               Wiggle("rot", SmoothNoise(rng, bh * 0.93, bh * 1.07, n_terms=3),
                      np.radians([breath_deg * 0.2, breath_deg, 0.0]), env)]
        if pos_sway_m > 0:
            out.append(Wiggle("pos", SmoothNoise(rng, 0.05, 0.5),
                              np.array([pos_sway_m, pos_sway_m, pos_sway_m * 0.3]), env))
        return out

    # ---- segments ---------------------------------------------------------------------------
    def pose(self, activity: str, detail: str, frames: list[tuple[float, Rotation, np.ndarray | None]],
             wiggles: list[Wiggle] | None = None, hold_s: float = 0.0, **info) -> PoseSegment:
        """Append a keyframed segment. ``frames``: (dt from previous frame, rotation, position or
        None = keep). ``hold_s`` adds a final still period after the last frame."""
        times, rots, poss = [0.0], [self.rot], [self.pos.copy()]
        t = 0.0
        for dt, rot, pos in frames:
            t += max(0.0, float(dt))
            times.append(t)
            rots.append(rot)
            poss.append(poss[-1] if pos is None else np.asarray(pos, dtype=np.float64))
        duration = t + max(0.0, hold_s)
        if duration <= 0:
            return None
        seg = PoseSegment(start_s=self.t_s, duration_s=duration, activity=activity, detail=detail,
                          info=info, heading_deg=self.heading_deg,
                          track=KeyframeTrack(times, rots, poss), wiggles=list(wiggles or []))
        self._append(seg)
        self.rot = rots[-1]
        self.pos = poss[-1].copy()
        return seg

    def still(self, activity: str, detail: str, duration_s: float, sway_deg: float | None = None,
              breath_deg: float | None = None, pos_sway_m: float = 0.002, **info) -> PoseSegment:
        p = self.person
        w = self.still_wiggles(duration_s, p.sway_deg if sway_deg is None else sway_deg,
                               p.breath_deg if breath_deg is None else breath_deg, pos_sway_m=pos_sway_m)
        return self.pose(activity, detail, [], wiggles=w, hold_s=duration_s, **info)

    def walk(self, duration_s: float, detail: str = "walk", turns: int | None = None,
             speed_scale: float = 1.0) -> WalkSegment:
        p, rng = self.person, self.rng
        duration_s = max(3.0, duration_s)
        # walking needs the upright posture: callers stand up first
        step_hz = p.step_hz * rng.uniform(0.96, 1.04) * (speed_scale ** 0.4)
        gait = GaitParams(step_hz=step_hz, speed_m_s=step_hz * p.step_length_m * speed_scale ** 0.6,
                          bounce_m=p.bounce_m * speed_scale, ap_m=p.ap_m * speed_scale,
                          ml_m=p.ml_m, yaw_deg=p.yaw_deg, obliquity_deg=p.obliquity_deg,
                          tilt_deg=p.tilt_deg, impact_g=p.impact_g * speed_scale,
                          impact_width_s=rng.uniform(0.015, 0.025), limp=p.limp)
        if turns is None:
            turns = int(rng.poisson(duration_s / 45.0))
        knots_t, knots_v, h = [0.0], [0.0], 0.0
        if turns and duration_s > 8:
            for tc in np.sort(rng.uniform(3.0, duration_s - 4.0, size=turns)):
                dur = rng.uniform(1.2, 3.0)
                if tc - dur / 2 <= knots_t[-1] + 0.5:
                    continue
                knots_t += [tc - dur / 2, tc + dur / 2]
                knots_v += [h, h + np.radians(rng.choice([-1, 1]) * rng.uniform(20, 180))]
                h = knots_v[-1]
        knots_t.append(duration_s)
        knots_v.append(h)
        seg = WalkSegment(start_s=self.t_s, duration_s=duration_s, activity="walking", detail=detail,
                          heading_deg=self.heading_deg, upright=self.rot, gait=gait,
                          heading_track=Envelope(np.array(knots_t), np.array(knots_v)),
                          cadence_noise=SmoothNoise(rng, 0.01, 0.05, n_axes=1, n_terms=3),
                          sway=Wiggle("rot", SmoothNoise(rng, 0.1, 0.8), np.radians([0.8, 0.8, 1.5]),
                                      Envelope.window(0.0, duration_s, 1.2)))
        seg.impact_gain = gait.impact_g * rng.uniform(0.75, 1.25, seg.heel_strikes_s.size)
        seg.impact_gain *= 1.0 + p.limp * np.where(seg._strike_index % 2 == 0, 1.0, -1.0)
        seg.info["steps"] = int(seg.heel_strikes_s.size)
        self._append(seg)
        self.heading_deg = (self.heading_deg + np.degrees(h)) % 360.0
        return seg

    def _append(self, seg: Segment) -> None:
        self.segments.append(seg)
        self.t_s = seg.end_s

    # ---- transitions ------------------------------------------------------------------------
    def sit_down(self, z_seat: float = Z_SIT):
        """Stand-to-sit: trunk flexes forward 30-45 deg while the pelvis descends, then settles."""
        rng = self.rng
        lean = rng.uniform(30, 45)
        t1, t2 = rng.uniform(0.7, 1.1), rng.uniform(0.8, 1.3)
        mid = np.array([self.pos[0] - 0.15, self.pos[1], (self.pos[2] + z_seat) / 2])
        end = np.array([self.pos[0] - 0.25, self.pos[1], z_seat])
        self.pose("transition", "stand_to_sit", [(t1, self.standing(lean), mid),
                                                 (t2, self.sitting(), end)], ends_in="sitting")

    def stand_up(self):
        """Sit-to-stand: lean forward 30-45 deg (trunk over the feet), rise, straighten."""
        rng = self.rng
        lean = rng.uniform(30, 45)
        t1, t2, t3 = rng.uniform(0.5, 0.8), rng.uniform(0.6, 0.9), rng.uniform(0.4, 0.7)
        p0 = self.pos
        self.pose("transition", "sit_to_stand",
                  [(t1, self.sitting(lean_deg=lean - self.person.sit_flexion_deg + self.person.stand_flexion_deg),
                    p0 + [0.12, 0, 0.02]),
                   (t2, self.standing(lean * 0.6), np.array([p0[0] + 0.25, p0[1], 0.3 * p0[2]])),
                   (t3, self.standing(), np.array([p0[0] + 0.25, p0[1], 0.0]))],
                  ends_in="standing")

    def turn_in_place(self, delta_deg: float, ends_in: str = "standing"):
        """Turn on the spot to face another way (a yaw rotation; the shuffling steps are not
        modelled as gait and not counted as steps)."""
        dur = 1.0 + abs(delta_deg) / 90.0
        rot0 = self.rot
        self.pose("transition", "turn", [(dur, rot_z(delta_deg) * rot0, None)], ends_in=ends_in)
        # same world orientation, re-expressed in the new heading frame
        self.heading_deg = (self.heading_deg + delta_deg) % 360.0
        self.rot = rot0
