"""Recordings as people have them: every unit and time base of one recording gives the
original's sets, holds and activity, or a refusal that names the option fixing it."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from spinewise.commands.analyze import analyze_recording
from spinewise.recording import RecordingError
from spinewise.recording.units import Units, gyro_turn_ratio

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/sim/ex_supine_25hz_upright.csv"
SECONDS = 130.0          # walking (mounting calibration), then a dead bug set
ACC = {"g": 1.0, "m/s2": 9.80665, "mg": 1000.0}
GYRO = {"dps": 1.0, "rad/s": np.pi / 180.0}
TIME = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
OPTION = {"acc": "--acc-unit", "gyro": "--gyro-unit", "time": "--time-unit"}


@pytest.fixture(scope="module")
def original() -> np.ndarray:
    d = np.genfromtxt(FIXTURE, delimiter=",", skip_header=1)
    return d[d[:, 0] < SECONDS]


def _csv(rows: np.ndarray, gyro: bool = True) -> bytes:
    out = io.StringIO()
    out.write("t,ax,ay,az,gx,gy,gz\n")
    for r in rows:
        vals = [repr(float(x)) for x in r[:4]]
        vals += [repr(float(x)) for x in r[4:7]] if gyro else ["", "", ""]
        out.write(",".join(vals) + "\n")
    return out.getvalue().encode()


def _variant(rows, acc, gyro, time, start) -> np.ndarray:
    v = rows.copy()
    v[:, 0] = (v[:, 0] + start) * TIME[time]
    v[:, 1:4] *= ACC[acc]
    v[:, 4:7] *= GYRO[gyro]
    return v


def _analyze(data: bytes, units: Units | None = None) -> dict:
    return analyze_recording(io.BytesIO(data), units=units or Units())


def _essence(s: dict) -> dict:
    """What must not change with the units: sets, holds, activity. Times are compared to
    0.05 s (an epoch offset and back, or ms -> s, moves them by float rounding only)."""
    act = s["activity"]
    return {"labels": [(x["exercise"], x.get("reps")) for x in s["sets"] + s["holds"]],
            "times": [t for x in s["sets"] + s["holds"] for t in (x["start_s"], x["end_s"])]
            + [t for b in act["sedentary_bouts"] for t in (b["start_s"], b["end_s"])]
            + [s["duration_s"]],
            "counts": {k: v for k, v in act.items() if isinstance(v, int)},
            "seconds": {k: v for k, v in act.items() if isinstance(v, float)},
            "rate": s["sample_rate_hz"]}


def _same(got: dict, want: dict) -> None:
    assert got["labels"] == want["labels"] and got["counts"] == want["counts"]
    assert got["times"] == pytest.approx(want["times"], abs=0.05)
    assert got["seconds"] == pytest.approx(want["seconds"], abs=1.0)   # 1 s epochs
    assert got["rate"] == pytest.approx(want["rate"], rel=1e-4)


@pytest.fixture(scope="module")
def expected(original) -> dict:
    s = _analyze(_csv(original))
    assert s["sets"], "the fixture slice must hold a set for this test to mean anything"
    return _essence(s)


COMBOS = [(a, g, t, e) for a in ACC for g in GYRO for t in TIME for e in (False, True)]


def _given(combo):
    def deco(f):
        for a, g, t, e in combo:
            f = example(acc=a, gyro=g, time=t, epoch=e, start_frac=0.5, gz=(a == "mg"))(f)
        return f
    return deco


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@_given(COMBOS)
@given(acc=st.sampled_from(list(ACC)), gyro=st.sampled_from(list(GYRO)),
       time=st.sampled_from(list(TIME)), epoch=st.booleans(),
       start_frac=st.floats(0.0, 1.0), gz=st.booleans())
def test_every_unit_and_time_base_gives_the_original_or_names_the_fix(
        original, expected, acc, gyro, time, epoch, start_frac, gz):
    # an epoch start anywhere in 2020-2035, or a relative clock that did not start at 0
    start = 1.58e9 + start_frac * 4.7e8 if epoch else start_frac * 5000.0
    data = _csv(_variant(original, acc, gyro, time, start))
    if gz:
        data = gzip.compress(data)
    try:
        got = _analyze(data)
    except RecordingError as exc:
        named = [kind for kind, opt in OPTION.items() if opt in str(exc)]
        assert named, f"refusal names no option: {exc}"
        got = _analyze(data, Units.given(acc, gyro, time))     # the fix works
    _same(_essence(got), expected)
    if epoch:
        assert got["start_epoch_s"] == pytest.approx(start, abs=1e-3)


def test_notices_say_what_was_converted(original):
    units = Units()
    s = analyze_recording(io.BytesIO(_csv(_variant(original, "m/s2", "rad/s", "ms", 1.7e9))),
                          units=units)
    text = " ".join(units.notices)
    for word in ("ms", "epoch", "m/s2", "rad/s"):
        assert word in text
    assert s["read"]["units"]["notices"] == units.notices
    assert s["read"]["units"] | {"notices": None} == {
        "acc": "m/s2", "gyro": "rad/s", "time": "ms", "start_epoch_s": pytest.approx(1.7e9),
        "detected": s["read"]["units"]["detected"], "notices": None}
    assert s["sets"][0]["start_s"] < 1e4          # seconds from the first sample


def test_own_format_has_no_notice(original):
    units = Units()
    analyze_recording(io.BytesIO(_csv(original)), units=units)
    assert units.notices == [] and (units.acc, units.gyro, units.time) == ("g", "dps", "s")


@pytest.mark.parametrize("factor", [7.5, 7500.0])
def test_time_steps_no_imu_has_are_refused(original, factor):
    v = original.copy()
    v[:, 0] *= factor             # steps of 0.3 / 300: 3.3 Hz in s, 3.3 kHz in ms or us
    with pytest.raises(RecordingError, match="--time-unit"):
        _analyze(_csv(v))


def test_acceleration_that_is_not_gravity_is_refused(original):
    v = original.copy()
    v[:, 1:4] *= 3.0
    with pytest.raises(RecordingError, match="--acc-unit"):
        _analyze(_csv(v))


def test_still_rad_per_s_gyro_is_refused_not_guessed():
    rng = np.random.default_rng(1)
    t = np.arange(0, 60, 0.02)
    acc = np.tile([0.0, 0.0, 1.0], (len(t), 1)) + rng.normal(0, 0.003, (len(t), 3))
    gyro = rng.normal(0, 0.004, (len(t), 3))              # rad/s noise, nothing turns
    with pytest.raises(RecordingError, match="--gyro-unit"):
        _analyze(_csv(np.column_stack([t, acc, gyro])))
    s = _analyze(_csv(np.column_stack([t, acc, gyro])), Units.given(gyro="rad/s"))
    assert s["duration_s"] == pytest.approx(60.0, abs=0.05)


class _Pipe(io.BytesIO):
    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("gyro_unit", ["dps", "rad/s"])
def test_a_still_start_is_settled_by_later_samples(original, gyro_unit):
    """An office day starts seated: 300 s still (noise and a 1.5 deg/s bias, median |gyro|
    just under what only deg/s allows) before the first turns. The unit comes from later in
    the file; from a pipe, which cannot be read twice, it is refused with the option."""
    rng = np.random.default_rng(2)
    t = np.arange(0, 300, 0.02)
    acc = original[0, 1:4] + rng.normal(0, 0.003, (len(t), 3))
    gyro = np.array([0.2, -1.5, -0.4]) + rng.normal(0, 0.6, (len(t), 3))
    moving = original.copy()
    moving[:, 0] += 300.0
    rows = _variant(np.vstack([np.column_stack([t, acc, gyro]), moving]), "g", gyro_unit, "s", 0.0)
    units = Units()
    s = analyze_recording(io.BytesIO(_csv(rows)), units=units)
    assert units.gyro == gyro_unit and "from the samples" in units.detected["gyro"]
    assert s["read"]["units"]["gyro"] == gyro_unit
    with pytest.raises(RecordingError, match="--gyro-unit"):
        analyze_recording(_Pipe(_csv(rows)), units=Units())


def test_turn_ratio_is_the_unit(original):
    t, acc, gyro = original[:, 0], original[:, 1:4], original[:, 4:7]
    ratio, corr = gyro_turn_ratio(t, acc, gyro)
    assert 40 < ratio < 80 and corr > 0.5
    ratio, _ = gyro_turn_ratio(t, acc, np.radians(gyro))
    assert 0.7 < ratio < 1.4


def test_accelerometer_only_in_m_s2(original):
    s = _analyze(_csv(_variant(original, "m/s2", "dps", "s", 0.0), gyro=False))
    ref = _analyze(_csv(original, gyro=False))
    _same(_essence(s), _essence(ref))


def test_cli_reads_gzip_from_stdin_and_prints_notices(original, tmp_path):
    import json
    import subprocess
    import sys
    data = gzip.compress(_csv(_variant(original, "m/s2", "rad/s", "ms", 1.7e9)))
    p = subprocess.run([sys.executable, "-m", "spinewise.cli", "analyze", "-", "--json"],
                       input=data, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["sets"] and out["start_epoch_s"] == pytest.approx(1.7e9)
    notes = [line for line in p.stderr.decode().splitlines() if "converted" in line]
    assert len(notes) == 3 and all(line.startswith("spinewise analyze: ") for line in notes)
    gz = tmp_path / "rec.csv.gz"
    gz.write_bytes(data)
    p = subprocess.run([sys.executable, "-m", "spinewise.cli", "analyze", str(gz), "--json",
                        "--acc-unit", "m/s2", "--gyro-unit", "rad/s", "--time-unit", "ms"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["sets"] == out["sets"]
