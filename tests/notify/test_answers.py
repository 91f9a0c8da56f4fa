"""Button events from the sensor as coach commands."""
from __future__ import annotations

import json

import pytest

from spinewise.coaching.commands import parse
from spinewise.notify.answers import button_command


@pytest.mark.parametrize("taps, command", [(1, "done"), (2, "snooze")])
def test_one_tap_is_done_and_a_double_tap_a_snooze_the_coach_accepts(taps, command):
    payload = button_command("clip", {"kind": "button", "t_s": 1767225600.25, "data": {"taps": taps}})
    cmd = parse(payload)
    assert cmd.cmd == command and cmd.id == f"button:{command}:clip:1767225600.250"
    assert json.loads(payload)["v"] == 1


@pytest.mark.parametrize("doc", [
    {"t_s": 1.0, "data": {"taps": 0}}, {"t_s": 1.0, "data": {"taps": 3}},
    {"t_s": 1.0, "data": {"taps": 1.0}}, {"t_s": 1.0, "data": {"taps": True}},
    {"t_s": 1.0, "data": {"taps": "2"}}, {"t_s": 1.0}, {"t_s": float("nan"), "data": {"taps": 2}},
    {"t_s": "now", "data": {"taps": 2}}, {"data": {"taps": 2}}, {"t_s": 1.0, "data": [2]},
])
def test_anything_else_is_ignored(doc):
    assert button_command("clip", doc) is None
