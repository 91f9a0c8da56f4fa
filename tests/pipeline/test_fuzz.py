"""The hostile-input benchmark in small (benchmarks/fuzz_pipeline.py, seconds not minutes):
malformed, mutated and random payloads on the imu, status, link and cmd topics of a real
Mosquitto, a share of them on the good device's and user's own topics, interleaved with one
good recording. No crash, no worker error, every message counted exactly once by outcome, and
the good stream's results equal ``spinewise analyze`` of the same file."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]


def load_fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_pipeline", ROOT / "benchmarks" / "fuzz_pipeline.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("own_share,unknown", [(0.0, "reject"), (0.2, "accept")])
def test_garbage_never_crashes_is_all_counted_and_leaves_the_good_stream_equal_to_analyze(
        recording, mqtt_server, tmp_path, own_share, unknown):
    fuzz = load_fuzz()
    rec = fuzz.recording_from_file(recording.path, recording.reference)
    r = fuzz.run_fuzz(rec, mqtt_server.port, tmp_path, messages=2500, seed=7, own_share=own_share,
                      unknown_devices=unknown, max_devices=20, prefix=f"fz{unknown}", settle_s=60)
    st = r.stats
    assert not r.not_settled, r.not_settled
    assert r.crashes == [] and r.worker_errors == 0, (r.crashes, st)
    assert r.delivered_expected == st["messages_in"] == r.accounted, st
    assert r.equal, r.mismatch
    assert r.stored_equal
    assert st["rejected"] > 500 and st.get("coach_errors", 0) == 0
    if unknown == "accept":
        assert st["devices"] <= 20 and st["rejected.device_cap"] > 0     # bounded device table
    else:
        assert st["rejected.unknown_device"] > 0
    # logs summarised: a few lines per reason, not one per payload
    assert r.log_lines["INFO"] + r.log_lines["WARNING"] < 400, r.log_lines
