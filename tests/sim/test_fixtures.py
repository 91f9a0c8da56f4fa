"""The committed fixtures are readable, consistent with their truth, and not stale."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from spinewise.recording import read_chunks
from spinewise.sim import simulate

ROOT = Path(__file__).resolve().parents[2]
SIM_DIR = ROOT / "fixtures" / "sim"
sys.path.insert(0, str(ROOT / "fixtures"))
from make_fixtures import DECIMALS, FIXTURES  # noqa: E402

NAMES = [name for name, _, _ in FIXTURES]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_matches_its_truth(name):
    truth = json.loads((SIM_DIR / f"{name}.truth.json").read_text())
    chunks = list(read_chunks(SIM_DIR / f"{name}.csv", 8192))
    n = sum(len(c) for c in chunks)
    assert n == round(truth["duration_s"] * truth["rate_hz"])
    assert all(c.has_gyro == truth["has_gyro"] for c in chunks)
    t = np.concatenate([c.t_s for c in chunks])
    np.testing.assert_allclose(np.diff(t), 1.0 / truth["rate_hz"], rtol=1e-9)


def test_fixtures_are_small():
    total = sum(p.stat().st_size for p in SIM_DIR.iterdir())
    assert total < 6e6


def test_fixture_is_reproducible():
    """Regenerating the smallest fixture gives the committed samples (else: run make_fixtures)."""
    name, _, spec = FIXTURES[0]
    spec = dict(spec)
    sim = simulate(spec.pop("scenario"), **spec)
    got = sim.recording()
    chunks = list(read_chunks(SIM_DIR / f"{name}.csv", 1 << 16))
    acc = np.concatenate([c.acc_g for c in chunks])
    np.testing.assert_allclose(acc, np.round(got.acc_g, DECIMALS), atol=1.1 * 10.0 ** -DECIMALS)
    truth = json.loads((SIM_DIR / f"{name}.truth.json").read_text())
    assert truth["activity"] == json.loads(json.dumps(sim.truth["activity"]))
