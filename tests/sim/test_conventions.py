"""Frames and angle signs match docs/architecture.md (body x anterior, y left, z up)."""
from __future__ import annotations

import numpy as np
import pytest

from spinewise.sim.person import draw_person
from spinewise.sim.plan import PRONE, SUPINE, Planner, lying
from spinewise.sim.sensor import draw_sensor
from spinewise.sim.simulation import Simulation


@pytest.fixture(scope="module")
def posed():
    """Hold each reference posture for 10 s, joined by 3 s moves; return {name: mid time}."""
    pl = Planner(draw_person(np.random.default_rng(1)), np.random.default_rng(2))
    mids = {}
    for name, rot in [("standing", pl.standing()), ("sitting", pl.sitting()),
                      ("slumped", pl.sitting(slump=True)), ("flexed", pl.standing(30.0)),
                      ("prone", PRONE), ("right_side", lying(90.0)), ("supine", SUPINE),
                      ("left_side", lying(-90.0))]:
        pl.pose("transition", "move", [(3.0, rot, None)])
        mids[name] = pl.t_s + 5.0
        pl.still("standing", name, 10.0, sway_deg=0.0, breath_deg=0.0, pos_sway_m=0.0)
    sensor = draw_sensor(np.random.default_rng(3), np.eye(3), True, 0.0, 0.0, [0, 0, 0], [0, 0, 0],
                         gyro_drift_dps=0.0)
    sim = Simulation("conventions", 0, 50.0, pl.segments, sensor, {}, int(pl.t_s * 50))
    return sim, mids, pl.person


def test_up_body_of_reference_postures(posed):
    sim, mids, _ = posed
    expect = {"standing": (0, 0, 1), "prone": (-1, 0, 0), "supine": (1, 0, 0),
              "right_side": (0, 1, 0), "left_side": (0, -1, 0)}
    for name, up in expect.items():
        got = sim.body_truth(np.array([mids[name]]))["up_body"][0]
        np.testing.assert_allclose(got, up, atol=0.1, err_msg=name)


def test_flexion_signs(posed):
    sim, mids, person = posed

    def flex(name):
        return sim.body_truth(np.array([mids[name]]))["flexion_deg"][0]
    assert flex("sitting") == pytest.approx(person.sit_flexion_deg, abs=0.5)
    assert flex("slumped") == pytest.approx(person.sit_flexion_deg - person.slump_extra_deg, abs=0.5)
    assert flex("flexed") == pytest.approx(person.stand_flexion_deg + 30.0, abs=0.5)
    incl = sim.body_truth(np.array([mids["supine"], mids["prone"]]))["incl_deg"]
    np.testing.assert_allclose(incl, 90.0, atol=1.0)


def test_sensor_reads_up_at_rest(posed):
    sim, mids, _ = posed
    rec = sim.recording()
    i = np.searchsorted(rec.t_s, mids["standing"])
    np.testing.assert_allclose(rec.acc_g[i], sim.body_truth(rec.t_s[i:i + 1])["up_body"][0], atol=2e-3)
    assert np.abs(rec.gyro_dps[i]).max() < 0.1
