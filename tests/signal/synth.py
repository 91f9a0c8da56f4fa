"""Tiny deterministic body-frame signals for unit tests (independent of spinewise.sim).

Sagittal-plane body model: the pelvis tilts by ``flexion_deg`` about body y; walking adds
inverted-pendulum accelerations (vertical at the step frequency, AP leading it by 90 deg,
mediolateral at the stride frequency). A mounting rotation maps body to sensor.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from spinewise.stream import ImuChunk


def segments_signal(segments, rate_hz=50.0, seed=0, acc_noise_g=0.005, gyro_bias_dps=(0, 0, 0),
                    R_sensor_from_body=None, has_gyro=True, cadence_spm=110.0):
    """segments: list of (activity, duration_s, flexion_deg). activity in
    standing|sitting|walking|lying_supine. Returns (ImuChunk, truth list of (start,end,activity))."""
    rng = np.random.default_rng(seed)
    n_total = int(round(sum(s[1] for s in segments) * rate_hz))
    t = np.arange(n_total) / rate_hz
    flex = np.zeros(n_total)
    lie = np.zeros(n_total, dtype=bool)
    dyn = np.zeros((n_total, 3))
    truth, i0 = [], 0
    f_step = cadence_spm / 60.0
    for act, dur, fl in segments:
        n = int(round(dur * rate_hz))
        sl = slice(i0, i0 + n)
        flex[sl] = fl
        if act == "lying_supine":
            lie[sl] = True
        if act == "walking":
            tt = t[sl]
            w = 2 * np.pi * f_step
            dyn[sl, 2] = -0.25 * np.cos(w * tt)          # vertical: max up at double support
            dyn[sl, 0] = 0.15 * np.sin(w * tt)            # AP = d/dt(vertical acc) / w
            dyn[sl, 1] = 0.08 * np.sin(w / 2 * tt)        # ML at stride frequency
        truth.append((i0 / rate_hz, (i0 + n) / rate_hz, act))
        i0 += n
    # smooth posture changes over ~1 s so the gyro is finite
    k = int(rate_hz)
    kern = np.ones(k) / k
    flex_s = np.convolve(np.pad(flex, (k // 2, k - k // 2 - 1), mode="edge"), kern, mode="valid")
    pitch = np.radians(np.where(lie, 90.0 + 0 * flex_s, flex_s))
    # lying supine = body rotated backwards by 90 deg -> up_body = (1,0,0)
    pitch = np.where(lie, -np.pi / 2, pitch)
    up_body = np.column_stack([-np.sin(pitch), np.zeros(n_total), np.cos(pitch)])
    acc_body = up_body + dyn
    gyro_body = np.zeros((n_total, 3))
    gyro_body[:, 1] = np.degrees(np.gradient(pitch, 1.0 / rate_hz))
    R = np.eye(3) if R_sensor_from_body is None else np.asarray(R_sensor_from_body)
    acc_s = acc_body @ R.T + rng.normal(0, acc_noise_g, (n_total, 3))
    gyro_s = gyro_body @ R.T + np.asarray(gyro_bias_dps) + rng.normal(0, 0.1, (n_total, 3))
    chunk = ImuChunk(t, acc_s, gyro_s if has_gyro else None, rate_hz=rate_hz)
    return chunk, truth


def random_mounting(seed):
    return Rotation.random(random_state=seed).as_matrix()
