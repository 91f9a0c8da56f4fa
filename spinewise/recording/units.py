"""Units of a recording as people have them: detected from the data, or given by the user.

spinewise's own format is seconds, g and deg/s. Phone apps export m/s^2 and rad/s, loggers
write milliseconds or epoch times. ``detect_units`` looks at the first samples of a file (the
reader's peek, so the file still streams at constant memory) and returns a ``Units`` that
says how to convert each column, with a one-line notice per conversion; what it cannot tell
raises ``RecordingError`` naming what was seen and the option that settles it.

Rules (physics, not tuned on any recording):

- acceleration: the median magnitude of the specific force is gravity whatever the person
  does (walking, sitting, exercising average out): ~1 in g, ~9.81 in m/s^2, ~1000 in mg.
- gyroscope: where the gravity direction seen by the accelerometer turns by more than
  ``_TURN_RAD`` within a window, the gyro's rate perpendicular to gravity, integrated over the
  same window, turned by the same angle: their ratio is 1 in rad/s and 57.3 in deg/s. With too
  few such turns, magnitudes decide only when one reading is physically implausible (a median
  above ``_DPS_MEDIAN`` rad/s would be a trunk spinning all day). A file that starts still (an
  office day: someone sitting for the first minutes) has no turns to compare, so the reader
  looks at later windows of the same size, up to the whole file, before it refuses.
- time: the median sample interval gives the unit (an IMU samples at 4-2000 Hz, so an interval
  of 0.0005-0.25 is seconds, 0.5-250 milliseconds, 500-250000 microseconds, 5e5-2.5e8
  nanoseconds); times are always
  offset to the first sample (``start_s`` is seconds from it, as the README says), and a first
  time within 2000-2100 in that unit is an epoch, kept as ``start_epoch_s`` for clock time.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from spinewise.recording.report import RecordingError

G_MS2 = 9.80665                      # standard gravity
ACC_UNITS = {"g": 1.0, "m/s2": 1.0 / G_MS2, "mg": 1e-3}           # -> g
GYRO_UNITS = {"dps": 1.0, "rad/s": float(np.degrees(1.0))}         # -> deg/s
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}       # -> s (Polar SDK: ns)
_ACC_ALIASES = {"m/s^2": "m/s2", "ms2": "m/s2", "mps2": "m/s2"}
_GYRO_ALIASES = {"deg/s": "dps", "rad": "rad/s", "rads": "rad/s", "rps": "rad/s"}

_RATE_HZ = (4.0, 2000.0)             # plausible IMU sample rates
_EPOCH_S = (946_684_800.0, 4_102_444_800.0)   # 2000-01-01 .. 2100-01-01
_ACC_BANDS = {"g": (0.6, 1.6), "m/s2": (6.0, 16.0), "mg": (600.0, 1600.0)}
_TURN_RAD = np.radians(15.0)         # gravity must turn _MIN_TURNS times this in all
_WINDOW_S = 0.5
_MIN_TURNS = 3
_DPS_MEDIAN = 2.0                    # median |gyro| this high cannot be rad/s (115 deg/s)


class GyroUnitUnclear(RecordingError):
    """The samples looked at cannot tell the gyroscope unit (too little turning)."""


def normalise_unit(kind: str, unit: str | None) -> str | None:
    if unit is None:
        return None
    u = unit.strip().lower()
    table, aliases = {"acc": (ACC_UNITS, _ACC_ALIASES), "gyro": (GYRO_UNITS, _GYRO_ALIASES),
                      "time": (TIME_UNITS, {})}[kind]
    u = aliases.get(u, u)
    if u not in table:
        raise ValueError(f"unknown {kind} unit {unit!r}; one of {', '.join(table)}")
    return u


@dataclass
class Units:
    """Units of the columns (None = detect) and, once decided, how to convert them."""
    acc: str | None = None
    gyro: str | None = None
    time: str | None = None
    t0: float | None = None              # raw time of the first sample (subtracted)
    start_epoch_s: float | None = None   # the first sample's clock time, if the times are epoch
    notices: list[str] = field(default_factory=list)
    detected: dict[str, str] = field(default_factory=dict)   # column -> how it was decided

    @classmethod
    def given(cls, acc: str | None = None, gyro: str | None = None,
              time: str | None = None) -> "Units":
        return cls(normalise_unit("acc", acc), normalise_unit("gyro", gyro),
                   normalise_unit("time", time))

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Rows (t, ax, ay, az[, gx, gy, gz]) in the file's units -> seconds from the first
        sample, g, deg/s (in place when possible)."""
        if rows.shape[0] == 0:
            return rows
        t_scale = TIME_UNITS[self.time or "s"]
        if self.t0 is not None:
            rows[:, 0] = (rows[:, 0] - self.t0) * t_scale
        elif t_scale != 1.0:
            rows[:, 0] *= t_scale
        a = ACC_UNITS[self.acc or "g"]
        if a != 1.0:
            rows[:, 1:4] *= a
        if rows.shape[1] >= 7:
            w = GYRO_UNITS[self.gyro or "dps"]
            if w != 1.0:
                rows[:, 4:7] *= w
        return rows

    def to_dict(self) -> dict:
        return {"acc": self.acc, "gyro": self.gyro, "time": self.time,
                "start_epoch_s": self.start_epoch_s, "detected": dict(self.detected),
                "notices": list(self.notices)}


def detect_units(units: Units, t: np.ndarray, acc: np.ndarray,
                 gyro_rows: np.ndarray | None,
                 later_gyro_rows: Callable[[], Iterable[np.ndarray]] | None = None) -> Units:
    """Fill in the units left None from the first valid samples (raw values); sets ``t0``.

    ``t`` must hold at least two times, in file order with bad rows removed; ``gyro_rows``
    (t, ax..az, gx..gz; None without a gyroscope) are the first valid samples with gyro.
    ``later_gyro_rows``, if given, yields further windows of such rows (a seekable file, read
    again from its start) to try, one at a time, when the first cannot tell the gyro unit.
    """
    what = f"the first {len(t)} samples"
    if units.time is None:
        units.time = _detect_time(t, what)
        units.detected["time"] = "median sample interval"
        if units.time != "s":
            units.notices.append(f"time column in {units.time}: converted to seconds "
                                 "(--time-unit to set it)")
    scale = TIME_UNITS[units.time]
    t0 = float(t[0])
    units.t0 = t0
    if units.start_epoch_s is None and _EPOCH_S[0] <= t0 * scale <= _EPOCH_S[1]:
        units.start_epoch_s = t0 * scale
        units.notices.append("epoch times: offset to the first sample "
                             f"({_utc(units.start_epoch_s)}); times are seconds from it")
    rate = _rate(t * scale)
    if not (_RATE_HZ[0] <= rate <= _RATE_HZ[1]):
        raise RecordingError(f"the time column gives {rate:.4g} Hz with t in {units.time}, "
                             f"outside the {_RATE_HZ[0]:g}-{_RATE_HZ[1]:g} Hz of an IMU; "
                             "pass --time-unit s|ms|us|ns")
    if units.acc is None:
        units.acc = _detect_acc(acc, what)
        units.detected["acc"] = "median |a| is gravity"
        if units.acc != "g":
            units.notices.append(f"acceleration in {units.acc} (median |a| "
                                 f"{_median_norm(acc):.3g}): converted to g (--acc-unit to set it)")
    if gyro_rows is not None and units.gyro is None:
        units.gyro, how = _detect_gyro_in(gyro_rows, later_gyro_rows, scale, units.acc)
        units.detected["gyro"] = how
        if units.gyro != "dps":
            units.notices.append(f"gyroscope in {units.gyro} ({how}): converted to deg/s "
                                 "(--gyro-unit to set it)")
    return units


def _detect_gyro_in(first: np.ndarray, later: Callable[[], Iterable[np.ndarray]] | None,
                    time_scale: float, acc_unit: str) -> tuple[str, str]:
    """The gyro unit from the first window, else from the first later window that tells it."""
    def attempt(g: np.ndarray, what: str) -> tuple[str, str]:
        return _detect_gyro(g[:, 0] * time_scale, g[:, 1:4] * ACC_UNITS[acc_unit], g[:, 4:7], what)

    try:
        return attempt(first, f"the first {len(first)} samples")
    except GyroUnitUnclear as unclear:
        if later is None:
            raise
        seen = 0
        for g in later():
            seen += len(g)
            if len(g) < 8:
                continue
            try:
                unit, how = attempt(g, "later samples")
            except GyroUnitUnclear:
                continue
            t_from = (float(g[0, 0]) - float(first[0, 0])) * time_scale
            return unit, f"{how}, from the samples {t_from:.0f} s on (the first were too still)"
        raise GyroUnitUnclear(f"{unclear.message.split(';')[0]}, nor from any later window of "
                              f"the {seen} samples with gyro; pass --gyro-unit dps|rad/s") from None


def parse_start(text: str, tz: str = "UTC") -> float:
    """Epoch seconds of an ISO 8601 time (``2026-01-05T08:00:00Z``, ``2026-01-05 09:00``);
    without an offset it is local time in ``tz``."""
    import datetime as dt
    from zoneinfo import ZoneInfo
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"start {text!r}: expected an ISO time like 2026-01-05T09:00 "
                         "(local) or 2026-01-05T08:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(tz))
    return when.timestamp()


def _utc(epoch_s: float) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rate(t_s: np.ndarray) -> float:
    dt = np.diff(t_s)
    dt = dt[dt > 0]
    return 1.0 / float(np.median(dt)) if dt.shape[0] else float("nan")


def _detect_time(t: np.ndarray, what: str) -> str:
    dt = np.diff(t)
    dt = dt[dt > 0]
    if dt.shape[0] == 0:
        raise RecordingError("no increasing times to tell the time unit; pass --time-unit s|ms|us|ns")
    step = float(np.median(dt))
    for unit, scale in TIME_UNITS.items():
        if 1.0 / _RATE_HZ[1] <= step * scale <= 1.0 / _RATE_HZ[0]:
            return unit
    raise RecordingError(f"median time step {step:.6g} over {what} is not an IMU's interval in "
                         f"s, ms or us ({_RATE_HZ[0]:g}-{_RATE_HZ[1]:g} Hz); "
                         "pass --time-unit s|ms|us|ns")


def _median_norm(v: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(v, axis=1)))


def _detect_acc(acc: np.ndarray, what: str) -> str:
    m = _median_norm(acc)
    for unit, (lo, hi) in _ACC_BANDS.items():
        if lo <= m <= hi:
            return unit
    raise RecordingError(f"median |a| over {what} is {m:.4g}: not gravity in g (~1), m/s^2 "
                         "(~9.81) or mg (~1000); pass --acc-unit g|m/s2|mg "
                         "(or check that columns 2-4 are the accelerometer)")


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    return (c[n:] - c[:-n]) / n


def gyro_turn_ratio(t_s: np.ndarray, acc_g: np.ndarray,
                    gyro: np.ndarray) -> tuple[float | None, float]:
    """(gyro units per rad/s, correlation) from how gravity turns in the sensor frame.

    The measured gravity direction u turns as du/dt = u x w (w in rad/s). Over windows of
    ``_WINDOW_S`` the change of the smoothed u is compared with u x (integral of the gyro):
    the least-squares factor between them is the gyro's unit in rad/s (1 for rad/s, 57.3
    for deg/s). Linear acceleration (steps, jolts) adds changes of u the gyro does not
    predict; they are uncorrelated with it, so they lower the correlation, not the factor.
    ``(None, corr)`` when the gravity direction hardly turned or the fit is poor.
    """
    if len(t_s) < 8:
        return None, 0.0
    step = float(np.median(np.diff(t_s)))
    smooth = max(int(round(0.25 / step)), 1)          # 0.25 s: steps and jolts average out
    a = _moving_mean(acc_g, smooth)
    w = _moving_mean(gyro, smooth)
    ts = t_s[smooth - 1:]
    u = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    # integral of the gyro from the start (trapezoid), sampled at window edges
    cum = np.vstack([np.zeros((1, 3)),
                     np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(ts)[:, None], axis=0)])
    win = max(int(round(_WINDOW_S / step)), 2)
    idx = np.arange(0, len(u), win)
    if len(idx) < 3:
        return None, 0.0
    i, j = idx[:-1], idx[1:]
    ok = (ts[j] - ts[i]) < 2 * _WINDOW_S                # no gap inside the window
    du = (u[j] - u[i])[ok]
    mid = u[i][ok] + u[j][ok]
    mid /= np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-9)
    pred = np.cross(mid, (cum[j] - cum[i])[ok])         # = k * du
    turned = float(np.linalg.norm(du, axis=1).sum())
    sxy, sxx, syy = float((pred * du).sum()), float((du * du).sum()), float((pred * pred).sum())
    if turned < _TURN_RAD * _MIN_TURNS or sxx <= 0 or syy <= 0:
        return None, 0.0
    corr = sxy / np.sqrt(sxx * syy)
    if corr < 0.5:
        return None, float(corr)
    # du on pred underestimates k by the noise in du, pred on du overestimates it by the
    # noise in pred: their geometric mean sits between (k is 1 or 57.3, far apart)
    return float(np.sqrt(syy / sxx)), float(corr)


def _detect_gyro(t_s: np.ndarray, acc_g: np.ndarray, gyro: np.ndarray,
                 what: str) -> tuple[str, str]:
    ratio, corr = gyro_turn_ratio(t_s, acc_g, gyro)
    if ratio is not None:
        # 1 in rad/s, 57.3 in deg/s; a factor 2.5 either way leaves room for noise
        fit = f"gravity turns as the gyro says x{ratio:.3g} (r={corr:.2f})"
        if 0.4 <= ratio <= 2.5:
            return "rad/s", fit
        if 23.0 <= ratio <= 143.0:
            return "dps", fit
    norm = np.linalg.norm(gyro, axis=1)
    med = float(np.median(norm))
    if med >= _DPS_MEDIAN:
        return "dps", f"median |gyro| {med:.3g}, too fast for rad/s"
    seen = (f"gravity turns as the gyro says x{ratio:.3g}" if ratio is not None
            else "too little turning to compare with the accelerometer")
    raise GyroUnitUnclear(f"cannot tell the gyroscope unit from {what}: median |gyro| {med:.3g}, "
                          f"{seen}; pass --gyro-unit dps|rad/s")
