"""Exports: one file per request, in formats real clients open (csv module, json, XML)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

from fastapi.testclient import TestClient

from tests.twin.sensors.conftest import post

READINGS = [
    ["noise-aix-01", "LAeq", "2026-01-15T08:00:00Z", 54.25],
    ["noise-aix-01", "LAeq", "2026-01-15T08:15:00Z", 57.5],
    ["noise-aix-01", "LAmax", "2026-01-15T08:15:00Z", 71.0],
    ["noise-aix-01", "LAeq", "2026-07-15T20:00:00Z", 60.0],  # summer: UTC+2 locally
]


def _export(client: TestClient, **params: Any) -> Any:
    r = client.get("/api/v1/sensors/noise-aix-01/export", params=params)
    assert r.status_code == 200, r.text
    return r


def test_csv_has_iso_and_spreadsheet_dates(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    post(client, auth["device"], READINGS)
    r = _export(client, format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="noise-aix-01_all_raw.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read UTF-8 names right
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["quantity"], x["time_utc"], x["time_local"], x["value"]) for x in rows] == [
        ("LAeq", "2026-01-15T08:00:00.000Z", "2026-01-15 09:00:00", "54.25"),
        ("LAeq", "2026-01-15T08:15:00.000Z", "2026-01-15 09:15:00", "57.5"),
        ("LAeq", "2026-07-15T20:00:00.000Z", "2026-07-15 22:00:00", "60.0"),
        ("LAmax", "2026-01-15T08:15:00.000Z", "2026-01-15 09:15:00", "71.0"),
    ]
    assert rows[0]["name"] == "Aix cours Mirabeau" and rows[0]["unit"] == "dB(A)"


def test_french_csv_uses_semicolons_and_decimal_commas(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    post(client, auth["device"], READINGS)
    text = _export(client, format="csv", sep=";", quantity="LAeq", end="2026-02-01").text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["sensor", "name", "quantity"]
    assert [r[-1] for r in rows[1:]] == ["54,25", "57,5"]


def test_aggregated_json_geojson_and_kml(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    post(client, auth["device"], READINGS)
    body = json.loads(_export(client, format="json", aggregate="hour", quantity="LAeq").text)
    assert body["sensor"] == "noise-aix-01" and body["aggregate"] == "hour"
    [series] = body["series"]
    assert series["unit"] == "dB(A)"
    assert series["points"][0] == {
        "time": "2026-01-15T08:00:00.000Z",
        "mean": 55.875,
        "min": 54.25,
        "max": 57.5,
        "count": 2,
    }
    geo = json.loads(_export(client, format="geojson").text)
    assert len(geo["features"]) == 4
    assert geo["features"][0]["geometry"]["coordinates"] == [5.4474, 43.5263, 178.0]
    assert geo["features"][0]["properties"]["value"] == 54.25
    r = _export(client, format="kml", quantity="LAmax")
    assert r.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.fromstring(r.content)
    [mark] = root.findall(".//k:Placemark", ns)
    assert mark.find("k:TimeStamp/k:when", ns).text == "2026-01-15T08:15:00.000Z"  # type: ignore[union-attr]
    assert mark.find(".//k:coordinates", ns).text == "5.4474,43.5263,178.0"  # type: ignore[union-attr]


def test_bad_export_requests_are_4xx(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    r = client.get("/api/v1/sensors/noise-aix-01/export", params={"format": "xlsx"})
    assert r.status_code == 400 and "xlsx" in r.json()["detail"]
    r = client.get("/api/v1/sensors/noise-aix-01/export", params={"sep": "|"})
    assert r.status_code == 400
    r = client.get("/api/v1/sensors/noise-aix-01/export", params={"quantity": "NO2"})
    assert r.status_code == 400 and "no quantity 'NO2'" in r.json()["detail"]
