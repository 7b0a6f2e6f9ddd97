"""A small real set-up: sensors placed where the metropolis has them, readings sent over the
real HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

NOISE = {
    "id": "noise-aix-01",
    "name": "Aix cours Mirabeau",
    "type": "NoiseLevelObserved",
    "quantities": [{"name": "LAeq", "unit": "dB(A)"}, {"name": "LAmax", "unit": "dB(A)"}],
    "location": {"lon": 5.4474, "lat": 43.5263, "z": 178.0},
    "zone": "Aix-en-Provence",
    "commissioned_at": "2024-03-01T09:00:00+01:00",
    "photos": ["https://example.org/noise-aix-01.jpg"],
    "mounting": "lamp post, 4 m",
}
RIVER = {
    "id": "river-touloubre-01",
    "name": "Touloubre at Saint-Chamas",
    "type": "WaterObserved",
    "quantities": [{"name": "level", "unit": "m"}],
    "location": {"lon": 5.035, "lat": 43.548},
    "zone": "Saint-Chamas",
}
WEATHER = {
    "id": "weather-marseille-01",
    "name": "Marseille Longchamp",
    "type": "WeatherObserved",
    "quantities": [{"name": "temperature", "unit": "°C"}],
    "location": {"lon": 5.3947, "lat": 43.3046, "z": 70.0},
    "zone": "Marseille",
}


@pytest.fixture
def sensors(client: TestClient, auth: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    for spec in (NOISE, RIVER, WEATHER):
        r = client.post("/api/v1/sensors", json=spec, headers=auth["gis"])
        assert r.status_code == 201, r.text
    return {"noise": NOISE, "river": RIVER, "weather": WEATHER}


def post(client: TestClient, headers: dict[str, str], items: list[Any]) -> dict[str, Any]:
    r = client.post("/api/v1/observations", json=items, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]
