"""The simulated set-up is the metropolis's, its readings behave like the real ones, and the
command line feeds it into a real database."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from twin.db import Database
from twin.demo import load_demo_sensors
from twin.migrate import prepare
from twin.sensors.models import AlertRule, Observation, Sensor
from twin.sensors.simulator import metropolis_setup, rain, readings

# Aix-Marseille-Provence, with a margin (west, south, east, north).
METROPOLIS = (4.85, 43.12, 5.85, 43.78)


def test_setup_matches_the_metropolis() -> None:
    sims = metropolis_setup()
    kinds = Counter(s.kind for s in sims)
    assert kinds["noise"] == 10 and kinds["waste"] == 100
    assert kinds["bike"] + kinds["pedestrian"] == 6
    assert {s.spec.zone for s in sims if s.kind in ("level", "quality")} == {
        "Touloubre",
        "Cadière",
    }
    assert kinds["cabinet"] > 0 and kinds["lamp"] > 0 and kinds["air"] > 0 and kinds["weather"] > 0
    assert len({s.id for s in sims}) == len(sims)
    w, s_, e, n = METROPOLIS
    for sim in sims:
        loc = sim.spec.location
        assert w < loc.lon < e and s_ < loc.lat < n, sim.id


def _week() -> np.ndarray:
    start = datetime(2026, 10, 5, tzinfo=UTC).timestamp()  # a Monday in autumn
    return np.arange(start, start + 7 * 86_400, 900.0)


def test_readings_follow_the_cycles() -> None:
    sims = {s.kind: s for s in metropolis_setup()}
    t = _week()
    hours = ((t % 86_400) / 3_600 + 2) % 24  # CEST
    noise = readings(sims["noise"], t)["LAeq"]
    night, day = noise[(hours >= 1) & (hours < 4)], noise[(hours >= 10) & (hours < 17)]
    assert np.nanmedian(day) > np.nanmedian(night) + 8
    lamp = readings(sims["lamp"], t)["power"]
    assert np.all(lamp[(hours > 11) & (hours < 15)] == 0)
    assert np.all(lamp[(hours > 21) & (hours < 23)] > 50)
    fill = readings(sims["waste"], t)["fillingLevel"]
    assert (np.diff(fill) < -10).sum() >= 1  # emptied on a collection round
    assert fill.min() >= 0 and fill.max() <= 100
    level = readings(sims["level"], t)["height"]
    wet = rain(t) > 0
    if wet.any():  # rain raises the river within the day
        assert level.max() > np.median(level) + 0.05


def test_cli_simulate_feeds_the_database(db_url: str, tmp_path: Path) -> None:
    env = {"TWIN_DATA_DIR": str(tmp_path / "var"), "TWIN_DATABASE_URL": db_url, "PATH": ""}
    cmd = [sys.executable, "-m", "twin.cli", "sensors", "simulate", "--direct",
           "--backfill-days", "0.25", "--rounds", "1", "--interval", "0.1"]  # fmt: skip
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "169 sensors (169 new)" in r.stderr and "readings back-filled" in r.stderr
    db = Database(db_url)
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Sensor)) == 169
            assert s.scalar(select(func.count()).select_from(AlertRule)) >= 4
            count = s.scalar(select(func.count()).select_from(Observation)) or 0
        assert count > 169 * 20
    finally:
        db.dispose()
    again = [*cmd[:-4], "--rounds", "0"]
    r = subprocess.run(again, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "169 sensors (0 new)" in r.stderr


def test_simulate_needs_a_token_over_http(tmp_path: Path) -> None:
    env = {"TWIN_DATA_DIR": str(tmp_path / "var"), "PATH": ""}
    cmd = [sys.executable, "-m", "twin.cli", "sensors", "simulate", "--rounds", "0"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--token" in r.stderr and "Traceback" not in r.stderr


def test_demo_sensors_are_idempotent(tmp_path: Path) -> None:
    days = 0.1
    db = Database(f"sqlite:///{tmp_path / 'twin.sqlite'}")
    try:
        prepare(db)
        new, stored = load_demo_sensors(db, days)
        assert new == 169 and stored > 0
        again, _ = load_demo_sensors(db, days)
        assert again == 0
    finally:
        db.dispose()
