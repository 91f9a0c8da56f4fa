"""Office day through the real Analyzer -> CoachService vs the truth-based nudges.

Run: .venv/bin/python benchmarks/coach_office_day.py   (about 2 minutes per simulated day)
"""
import sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.coaching helpers
from datetime import datetime
from spinewise.sim import simulate
from spinewise.signal.analyzer import Analyzer
from spinewise.config import Config, CoachingConfig
from spinewise.coaching import CoachService, CoachStore
from tests.coaching.test_office_day import minute_table, expected_nudges

for seed in (1, 2):
    s = simulate("office_day", seed=seed, rate_hz=50)
    truth = s.truth
    t0 = datetime.fromisoformat(truth["start_utc"].replace("Z", "+00:00")).timestamp()
    cfg = Config(coaching=CoachingConfig(timezone="UTC"))
    svc = CoachService(cfg, CoachStore(), t0_epoch_s=t0)
    an = Analyzer(device_id="sim")
    got, t = [], time.time()
    for chunk in s.chunks(4096):
        for o in svc.on_events("u", an.update(chunk)):
            if o.event is not None and o.event.kind == "nudge":
                got.append(o.event.t_s - t0)
    for o in svc.on_events("u", an.finish()):
        if o.event is not None and o.event.kind == "nudge":
            got.append(o.event.t_s - t0)
    want = expected_nudges(truth, minute_table(truth), cfg.coaching, t0)
    print(f"seed {seed}: analyzer nudges (min) {[round(x/60,1) for x in got]}  truth {[round(x/60,1) for x in want]}  ({time.time()-t:.0f} s)", flush=True)
