"""Shared helpers for the daily signal tests: fixture recordings and their truth."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinewise.recording import read_all

SIM = Path(__file__).resolve().parents[2] / "fixtures" / "sim"


def fixture_path(name: str) -> Path:
    path = SIM / f"{name}.csv"
    if not path.exists():
        pytest.fail(f"missing committed fixture {path}")
    return path


@pytest.fixture(scope="session")
def office_25hz():
    path = fixture_path("office_snippet_25hz_random")
    return read_all(path), json.loads(path.with_suffix(".truth.json").read_text())


@pytest.fixture(scope="session")
def office_accel_only():
    path = fixture_path("office_snippet_52hz_accel_only")
    return read_all(path), json.loads(path.with_suffix(".truth.json").read_text())
