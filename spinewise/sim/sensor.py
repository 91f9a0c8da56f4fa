"""The sensor: mounting rotation, noise, bias and 16-bit quantisation.

Full scales (typical of the BMI270 / LSM6DSO class of wearable IMUs): accelerometer +-8 g,
gyroscope +-2000 deg/s, both 16-bit signed, so one LSB is 16/65536 g = 0.244 mg and
4000/65536 deg/s = 0.061 deg/s. Readings are clipped at full scale.

Noise is white Gaussian per axis (level chosen per seed); bias is constant per axis for the
recording (a clip re-attached is a new recording) plus, on the gyro, a slow temperature-like
wander (RMS 0.01-0.1 deg/s, periods of 15 min to 3 h). Noise is drawn per fixed internal block of
samples from a generator keyed by (seed, block), so the output does not depend on how a caller
chunks it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from spinewise.sim.motion import SmoothNoise

ACC_FULL_SCALE_G = 8.0
GYRO_FULL_SCALE_DPS = 2000.0
ADC_BITS = 16
ACC_LSB_G = 2 * ACC_FULL_SCALE_G / 2 ** ADC_BITS
GYRO_LSB_DPS = 2 * GYRO_FULL_SCALE_DPS / 2 ** ADC_BITS

# Named mountings, as R_sensor_from_body. "upright": sensor axes = body axes.
NAMED_MOUNTS = {
    "upright": Rotation.identity(),
    # clip on the belt, sensor x up the spine, y to the left, z out of the back (posterior)
    "belt_x_up": Rotation.from_matrix([[0, 0, 1], [0, 1, 0], [-1, 0, 0]]),
    # same clip upside down (x down the spine)
    "belt_x_down": Rotation.from_matrix([[0, 0, -1], [0, -1, 0], [-1, 0, 0]]),
    # clip rotated sideways: sensor y up the spine, z out of the back
    "belt_y_up": Rotation.from_matrix([[0, -1, 0], [0, 0, 1], [-1, 0, 0]]),
    # an off-axis clip: tilted 20 deg, twisted 30 deg, rolled 10 deg
    "skewed": Rotation.from_euler("zyx", [30, 20, 10], degrees=True),
}


def parse_mount(spec: str | None, rng: np.random.Generator) -> tuple[str, Rotation]:
    """``random`` (any fixed rotation), a name from NAMED_MOUNTS, or ``euler:Z,Y,X`` (degrees,
    scipy ``from_euler("zyx", ...)``: extrinsic rotations about z, then y, then x)."""
    spec = (spec or "random").strip()
    if spec == "random":
        return "random", Rotation.random(random_state=np.random.default_rng(rng.integers(2 ** 63)))
    if spec in NAMED_MOUNTS:
        return spec, NAMED_MOUNTS[spec]
    if spec.startswith("euler:"):
        try:
            zyx = [float(v) for v in spec[6:].split(",")]
            if len(zyx) != 3 or not np.all(np.isfinite(zyx)):
                raise ValueError
        except ValueError:
            raise ValueError(f"mount {spec!r}: expected euler:Z,Y,X in degrees") from None
        return spec, Rotation.from_euler("zyx", zyx, degrees=True)
    raise ValueError(f"unknown mount {spec!r}: use random, {', '.join(NAMED_MOUNTS)} or euler:Z,Y,X")


@dataclass(frozen=True)
class SensorModel:
    R_sensor_from_body: np.ndarray     # (3, 3)
    acc_noise_g: float
    gyro_noise_dps: float
    acc_bias_g: np.ndarray             # (3,)
    gyro_bias_dps: np.ndarray          # (3,)
    has_gyro: bool = True
    quantize: bool = True
    gyro_drift_dps: float = 0.0        # RMS of the slow (temperature-like) gyro bias wander
    drift: SmoothNoise | None = None   # unit-RMS wander, periods of 15 min to 3 h

    def truth(self) -> dict:
        return {"acc_noise_g": round(self.acc_noise_g, 6),
                "gyro_noise_dps": round(self.gyro_noise_dps, 6) if self.has_gyro else None,
                "gyro_bias_dps": [round(float(v), 6) for v in self.gyro_bias_dps] if self.has_gyro else None,
                "gyro_bias_drift_dps_rms": round(self.gyro_drift_dps, 6) if self.has_gyro else None,
                "acc_bias_g": [round(float(v), 6) for v in self.acc_bias_g],
                "acc_full_scale_g": ACC_FULL_SCALE_G, "gyro_full_scale_dps": GYRO_FULL_SCALE_DPS,
                "adc_bits": ADC_BITS, "quantized": self.quantize}

    def measure(self, t_s: np.ndarray, acc_body_g: np.ndarray, gyro_body_dps: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Body-frame truth -> sensor readings (noise, bias, quantisation, clipping)."""
        R = self.R_sensor_from_body
        acc = acc_body_g @ R.T + self.acc_bias_g
        acc = acc + rng.standard_normal(acc.shape) * self.acc_noise_g
        gyro_noise = rng.standard_normal(acc.shape)   # always drawn: same acc noise with/without gyro
        acc = _adc(acc, ACC_FULL_SCALE_G, ACC_LSB_G) if self.quantize else acc
        if not self.has_gyro:
            return acc, None
        gyro = gyro_body_dps @ R.T + self.gyro_bias_dps + gyro_noise * self.gyro_noise_dps
        if self.drift is not None and self.gyro_drift_dps > 0:
            gyro = gyro + self.gyro_drift_dps * self.drift(t_s)
        gyro = _adc(gyro, GYRO_FULL_SCALE_DPS, GYRO_LSB_DPS) if self.quantize else gyro
        return acc, gyro


def _adc(x: np.ndarray, full_scale: float, lsb: float) -> np.ndarray:
    counts = np.clip(np.rint(x / lsb), -2 ** (ADC_BITS - 1), 2 ** (ADC_BITS - 1) - 1)
    return counts * lsb


def draw_sensor(rng: np.random.Generator, R_sensor_from_body: np.ndarray, has_gyro: bool,
                acc_noise_g: float | None = None, gyro_noise_dps: float | None = None,
                gyro_bias_dps: float | list | None = None, acc_bias_g: float | list | None = None,
                quantize: bool = True, gyro_drift_dps: float | None = None) -> SensorModel:
    """Noise and bias per seed within realistic ranges; explicit values override.

    A scalar bias means "draw each axis uniformly within +-value"; a list is used as is.
    """
    draw_acc_noise = rng.uniform(0.002, 0.02)
    draw_gyro_noise = rng.uniform(0.03, 0.3)
    gb = rng.uniform(-1.0, 1.0, 3)
    ab = rng.uniform(-1.0, 1.0, 3)
    draw_drift = rng.uniform(0.01, 0.1)
    drift = SmoothNoise(rng, 1.0 / 10800.0, 1.0 / 900.0, n_axes=3, n_terms=4)

    def bias(value, unit_draw, default_max):
        if value is None:
            return unit_draw * default_max
        arr = np.asarray(value, dtype=np.float64)
        return unit_draw * float(arr) if arr.ndim == 0 else arr.reshape(3)

    return SensorModel(
        R_sensor_from_body=np.asarray(R_sensor_from_body, dtype=np.float64),
        acc_noise_g=draw_acc_noise if acc_noise_g is None else float(acc_noise_g),
        gyro_noise_dps=draw_gyro_noise if gyro_noise_dps is None else float(gyro_noise_dps),
        acc_bias_g=bias(acc_bias_g, ab, 0.015),
        gyro_bias_dps=bias(gyro_bias_dps, gb, 2.0),
        has_gyro=has_gyro, quantize=quantize,
        gyro_drift_dps=draw_drift if gyro_drift_dps is None else float(gyro_drift_dps), drift=drift)
