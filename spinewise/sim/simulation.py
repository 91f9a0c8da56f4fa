"""Simulation: a finished plan, the mounting and the sensor; streams ImuChunks lazily.

Per sample at time t the pelvis state comes from the segment containing t. The body angular
rate is derived from the orientation trajectory itself (``R(t-h)^T R(t+h)`` as a rotation vector
over 2h, body frame) and the linear acceleration from the position trajectory (central second
difference) plus the segment's analytic terms (walking progression, heel strikes). Specific
force in the body frame is ``R_body_from_world @ (up + a_lin / g)``; the sensor model then
rotates into the sensor frame and adds bias, noise and quantisation.

The sensor's anti-alias filter (Gaussian, -3 dB at 0.4 x the output rate) is applied exactly to
the two components with content near Nyquist (heel-strike transients, tremor), so a 25 Hz
recording does not alias them.

Samples are produced in fixed internal blocks (noise keyed by block index), so the output is
identical whatever ``chunk_size`` a caller asks for, and memory stays constant for any length.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.spatial.transform import Rotation

from spinewise.signal.body import angles_from_up
from spinewise.sim.motion import bandwidth_sigma_s, quat_conj, quat_mul, quat_rotate, quat_to_rotvec
from spinewise.sim.segments import Segment, WalkSegment
from spinewise.sim.sensor import SensorModel
from spinewise.stream import GRAVITY_M_S2 as G0, ImuChunk

BLOCK = 4096          # internal generation block (samples); fixed so noise is chunk-invariant
DIFF_H_S = 1e-3       # differentiation step for gyro / linear acceleration


@dataclass
class Simulation:
    scenario: str
    seed: int
    rate_hz: float
    segments: list[Segment]
    sensor: SensorModel
    truth: dict
    n_samples: int
    device_id: str = "sim"
    start_utc: str = ""
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self._starts = np.array([s.start_s for s in self.segments])
        apply_sensor_bandwidth(self.segments, bandwidth_sigma_s(self.rate_hz))

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.rate_hz

    @property
    def has_gyro(self) -> bool:
        return self.sensor.has_gyro

    # ---- noise-free body-frame truth, per sample ---------------------------------------------
    def segment_index(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        return np.clip(np.searchsorted(self._starts, t, side="right") - 1, 0, len(self.segments) - 1)

    def orientation(self, t_s: np.ndarray) -> Rotation:
        """R_world_from_body at the given times (world z up, heading arbitrary)."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        quat = np.zeros((t.size, 4))
        idx = self.segment_index(t)
        for k in np.unique(idx):
            sel = np.nonzero(idx == k)[0]
            seg = self.segments[k]
            quat[sel] = seg.kinematics(t[sel] - seg.start_s)[0]
        return Rotation.from_quat(quat)

    def body_truth(self, t_s: np.ndarray) -> dict[str, np.ndarray]:
        """Noise-free body-frame signals and angles at the given times (seconds from start)."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        n = t.size
        acc = np.zeros((n, 3))
        gyro = np.zeros((n, 3))
        up = np.zeros((n, 3))
        idx = self.segment_index(t)
        h = DIFF_H_S
        for k in np.unique(idx):
            sel = np.nonzero(idx == k)[0]
            seg = self.segments[k]
            tl = t[sel] - seg.start_s
            stencil = np.concatenate([tl - h, tl, tl + h])
            q, pos, extra = seg.kinematics(stencil)
            m = sel.size
            q_m, q_0, q_p = q[:m], q[m:2 * m], q[2 * m:]
            gyro[sel] = np.degrees(quat_to_rotvec(quat_mul(quat_conj(q_m), q_p)) / (2 * h))
            a_world = (pos[2 * m:] - 2 * pos[m:2 * m] + pos[:m]) / (h * h) + extra[m:2 * m]
            f_world = a_world / G0
            f_world[:, 2] += 1.0
            q_inv = quat_conj(q_0)
            acc[sel] = quat_rotate(q_inv, f_world)
            up[sel] = quat_rotate(q_inv, np.broadcast_to([0.0, 0.0, 1.0], (m, 3)))
        flex, lat, incl = angles_from_up(up)
        return {"t_s": t, "acc_body_g": acc, "gyro_body_dps": gyro, "up_body": up,
                "flexion_deg": flex, "lateral_deg": lat, "incl_deg": incl}

    # ---- the sensor stream -------------------------------------------------------------------
    def _block(self, b: int) -> ImuChunk:
        i0 = b * BLOCK
        i1 = min(self.n_samples, i0 + BLOCK)
        t = np.arange(i0, i1, dtype=np.float64) / self.rate_hz
        body = self.body_truth(t)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 0x5E4503, b])
        acc, gyro = self.sensor.measure(t, body["acc_body_g"], body["gyro_body_dps"], rng)
        return ImuChunk(t_s=t, acc_g=acc, gyro_dps=gyro, device_id=self.device_id,
                        rate_hz=self.rate_hz, meta={"source": "sim", "scenario": self.scenario,
                                                    "seed": self.seed, "start_utc": self.start_utc})

    def chunks(self, chunk_size: int = 1024) -> Iterator[ImuChunk]:
        """Yield the recording as consecutive ImuChunks of ``chunk_size`` samples (last shorter)."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        pending: list[ImuChunk] = []
        have = 0
        n_blocks = (self.n_samples + BLOCK - 1) // BLOCK
        for b in range(n_blocks):
            pending.append(self._block(b))
            have += len(pending[-1])
            if have < chunk_size:
                continue
            buf = ImuChunk.concat(pending) if len(pending) > 1 else pending[0]
            cut = (have // chunk_size) * chunk_size
            for i in range(0, cut, chunk_size):
                yield buf.slice(i, i + chunk_size)
            pending = [buf.slice(cut, have)] if cut < have else []
            have -= cut
        if have:
            yield ImuChunk.concat(pending) if len(pending) > 1 else pending[0]

    def save(self, csv_path, decimals: int | None = None) -> tuple[Path, Path]:
        """Write the recording (spinewise.recording.write_csv) and FILE.truth.json next to it."""
        from spinewise.recording import write_csv
        csv_path = Path(csv_path)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(csv_path, self.chunks(BLOCK), decimals=decimals)
        truth_path = truth_path_for(csv_path)
        truth_path.write_text(json.dumps(self.truth, indent=1) + "\n")
        return csv_path, truth_path

    def recording(self) -> ImuChunk:
        """The whole recording as one chunk (for short simulations only)."""
        return ImuChunk.concat(list(self.chunks(BLOCK)))


def truth_path_for(csv_path) -> Path:
    """FILE.csv -> FILE.truth.json (any other name gets .truth.json appended)."""
    p = Path(csv_path)
    return p.with_suffix(".truth.json") if p.suffix == ".csv" else p.with_name(p.name + ".truth.json")


def apply_sensor_bandwidth(segments: list[Segment], sigma_s: float) -> None:
    """The sensor's anti-alias low-pass (-3 dB at 0.4 x rate), applied analytically to the only
    content near Nyquist: heel-strike transients and 8-12 Hz tremor. Slow motion is unaffected."""
    for seg in segments:
        if isinstance(seg, WalkSegment):
            seg.filter_sigma_s = sigma_s
        for w in getattr(seg, "wiggles", []):
            w.noise.set_bandwidth(sigma_s)
