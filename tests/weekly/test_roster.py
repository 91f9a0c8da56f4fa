"""``spinewise coach --all``: one line per person, the same figures as the weekly report."""
from __future__ import annotations

import json

from spinewise.cli import main
from spinewise.config import CoachingConfig
from spinewise.weekly import CoachStoreSource, gather
from tests.weekly import week as W


def test_coach_all_lists_every_person(tmp_path, capsys):
    db = tmp_path / "c.sqlite"
    store = W.fill(db)
    cfg = tmp_path / "s.toml"
    cfg.write_text(W.config_text(db))
    assert main(["--config", str(cfg), "coach", "--all", "--at", "2026-11-27T20:00:00+01:00"]) == 0
    text = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in text.splitlines()[4:]}
    assert set(lines) == {"ann", "bob"}
    ann = gather(CoachStoreSource(store, CoachingConfig(timezone=W.TZ)), "ann", W.W48)
    planned = sum(e["planned_sets"] for e in ann.exercises if e["planned_sets"] is not None)
    assert f"{ann.totals['sets']}/{planned}" in lines["ann"] and "4->2" in lines["ann"]
    assert "3.5 h" in lines["ann"] and "none" in lines["ann"]
    assert "YES - 2026-11-26 08:00: pain 6/10 with leg" in lines["bob"] and "1/-" in lines["bob"]
    assert main(["--config", str(cfg), "coach", "--all", "--json", "--at", "2026-11-27T20:00"]) == 0
    rows = {r["user"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ann"]["sets"] == 15 and rows["ann"]["sedentary_h_today"] == 3.5
    assert rows["bob"]["red_flags"] and rows["ann"]["red_flags"] == []
    assert main(["--config", str(cfg), "coach", "--all", "--at", "soon"]) == 2
