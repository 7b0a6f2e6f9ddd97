"""The metropolis's sensor set-up and plausible readings for it, for the demo, tests and load.

The set-up follows what Aix-Marseille-Provence runs: about ten noise sites, a hundred waste
drop-off points with fill-level sensors, water level and quality on the Touloubre and the
Cadière, six bike and pedestrian counters, street-lighting cabinets and candelabra, air-quality
and weather stations, placed in the real communes and along the real rivers (coordinates
approximate, to a few hundred metres).

Readings are deterministic functions of time (seeded by sensor id), so a back-fill and a live
feed agree, and tests can rely on them: daily and weekly cycles, rain events that raise the
rivers and wash turbidity into them, bins that fill and are emptied on collection rounds,
counters by hour and weekday, lights on between sunset and sunrise, occasional outliers, and a
few sensors that drop out for a while.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from twin.sensors.schemas import Location, QuantityIn, SensorIn

DAY = 86_400.0
HOUR = 3_600.0

# Commune centres (lon, lat, ground height m NGF-IGN69), approximate.
COMMUNES = {
    "Marseille": (5.3698, 43.2965, 40.0),
    "Aix-en-Provence": (5.4474, 43.5297, 175.0),
    "Aubagne": (5.5708, 43.2927, 105.0),
    "Martigues": (5.0476, 43.4045, 5.0),
    "Salon-de-Provence": (5.0973, 43.6403, 80.0),
    "Vitrolles": (5.2486, 43.4600, 120.0),
    "Marignane": (5.2146, 43.4160, 10.0),
    "La Ciotat": (5.6046, 43.1748, 10.0),
    "Istres": (4.9894, 43.5150, 20.0),
    "Gardanne": (5.4693, 43.4548, 200.0),
    "Pertuis": (5.5016, 43.6940, 245.0),
    "Miramas": (5.0019, 43.5823, 40.0),
    "Allauch": (5.4822, 43.3367, 200.0),
    "Les Pennes-Mirabeau": (5.3100, 43.4100, 150.0),
    "Berre-l'Étang": (5.1686, 43.4806, 10.0),
    "Cassis": (5.5385, 43.2148, 10.0),
    "Trets": (5.6847, 43.4475, 250.0),
    "Saint-Chamas": (5.0350, 43.5500, 10.0),
    "Fos-sur-Mer": (4.9448, 43.4377, 5.0),
    "Venelles": (5.4822, 43.5986, 330.0),
}
# River courses, upstream to downstream (lon, lat, bed height m).
RIVERS = {
    "Touloubre": [(5.4780, 43.5750, 260.0), (5.3650, 43.6000, 170.0), (5.2300, 43.6050, 110.0),
                  (5.1300, 43.5850, 60.0), (5.0550, 43.5580, 10.0)],
    "Cadière": [(5.3400, 43.4250, 140.0), (5.2850, 43.4380, 60.0), (5.2400, 43.4300, 25.0),
                (5.2050, 43.4320, 3.0)],
}  # fmt: skip


@dataclass(frozen=True)
class Simulated:
    """A sensor of the set-up and how its readings behave."""

    spec: SensorIn
    kind: str  # noise, waste, level, quality, bike, pedestrian, cabinet, lamp, air, weather
    seed: int

    @property
    def id(self) -> str:
        return self.spec.id


def _seed(text: str) -> int:
    return zlib.crc32(text.encode())


def _near(lon: float, lat: float, seed: int, metres: float) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    dx, dy = rng.uniform(-metres, metres, 2)
    return lon + dx / (111_320 * math.cos(math.radians(lat))), lat + dy / 110_540


def _along(course: list[tuple[float, float, float]], f: float) -> tuple[float, float, float]:
    """The point at fraction f of a polyline (by vertex index, good enough for placing)."""
    x = f * (len(course) - 1)
    i = min(int(x), len(course) - 2)
    a, b, w = course[i], course[i + 1], x - i
    return tuple(a[k] + (b[k] - a[k]) * w for k in range(3))  # type: ignore[return-value]


def _sensor(
    sid: str,
    name: str,
    kind: str,
    type_: str,
    quantities: list[tuple[str, str]],
    where: tuple[float, float, float],
    zone: str,
    height: float = 3.0,
) -> Simulated:
    return Simulated(
        SensorIn(
            id=sid,
            name=name,
            type=type_,
            quantities=[QuantityIn(name=n, unit=u) for n, u in quantities],
            location=Location(lon=round(where[0], 6), lat=round(where[1], 6),
                              z=round(where[2] + height, 1)),
            zone=zone,
            commissioned_at=datetime(2023, 1, 1 + _seed(sid) % 28, tzinfo=UTC),
            description=f"simulated {kind} sensor",
        ),
        kind,
        _seed(sid),
    )  # fmt: skip


def metropolis_setup() -> list[Simulated]:
    """The whole set-up: 10 noise, 100 waste, 10 river, 6 counters, 32 lighting, 6 air, 5
    weather sensors."""
    out: list[Simulated] = []
    names = list(COMMUNES)
    for i in range(10):
        commune = names[i % 6]
        lon, lat, z = COMMUNES[commune]
        lon, lat = _near(lon, lat, _seed(f"noise{i}"), 800)
        out.append(_sensor(f"noise-{i + 1:02d}", f"Noise {commune} {i + 1}", "noise",
                           "NoiseLevelObserved", [("LAeq", "dB(A)"), ("LAmax", "dB(A)")],
                           (lon, lat, z), commune, 4.0))  # fmt: skip
    for i in range(100):
        commune = names[i % len(names)]
        lon, lat, z = COMMUNES[commune]
        lon, lat = _near(lon, lat, _seed(f"waste{i}"), 1500)
        out.append(_sensor(f"waste-{i + 1:03d}", f"Drop-off point {commune} {i + 1}", "waste",
                           "WasteContainer", [("fillingLevel", "%")], (lon, lat, z), commune,
                           1.5))  # fmt: skip
    for river, course in RIVERS.items():
        slug = river.lower().replace("è", "e")
        for j, f in enumerate((0.25, 0.6, 0.95)):
            out.append(_sensor(f"river-{slug}-level-{j + 1}", f"{river} level {j + 1}", "level",
                               "WaterObserved", [("height", "m"), ("flow", "m3/s")],
                               _along(course, f), river, 0.0))  # fmt: skip
        for j, f in enumerate((0.4, 0.9)):
            out.append(_sensor(f"river-{slug}-quality-{j + 1}", f"{river} quality {j + 1}",
                               "quality", "WaterQualityObserved",
                               [("temperature", "°C"), ("O2", "mg/L"), ("conductivity", "µS/cm"),
                                ("turbidity", "NTU")], _along(course, f), river, 0.0))  # fmt: skip
    for i, commune in enumerate(["Marseille", "Aix-en-Provence", "Aubagne"]):
        lon, lat, z = COMMUNES[commune]
        for kind, type_, label in (
            ("bike", "TrafficFlowObserved", "Bike"),
            ("pedestrian", "CrowdFlowObserved", "Pedestrian"),
        ):
            p = _near(lon, lat, _seed(f"{kind}{i}"), 600)
            out.append(_sensor(f"{kind}-counter-{i + 1}", f"{label} counter {commune}", kind,
                               type_, [("intensity", "count")], (*p, z), commune,
                               1.0))  # fmt: skip
    for i in range(8):
        commune = names[(i * 3) % len(names)]
        lon, lat, z = COMMUNES[commune]
        p = _near(lon, lat, _seed(f"cabinet{i}"), 500)
        out.append(_sensor(f"light-cabinet-{i + 1}", f"Lighting cabinet {commune}", "cabinet",
                           "StreetlightControlCabinet", [("power", "W")], (*p, z), commune,
                           1.0))  # fmt: skip
        for j in range(3):
            q = _near(p[0], p[1], _seed(f"lamp{i}-{j}"), 150)
            out.append(_sensor(f"light-{i + 1}-{j + 1}", f"Candelabrum {commune} {i + 1}.{j + 1}",
                               "lamp", "Streetlight", [("power", "W")], (*q, z), commune,
                               8.0))  # fmt: skip
    for i, commune in enumerate(["Marseille", "Marseille", "Aix-en-Provence", "Martigues",
                                 "Fos-sur-Mer", "Aubagne"]):  # fmt: skip
        lon, lat, z = COMMUNES[commune]
        p = _near(lon, lat, _seed(f"air{i}"), 1200)
        out.append(_sensor(f"air-{i + 1:02d}", f"Air quality {commune} {i + 1}", "air",
                           "AirQualityObserved", [("NO2", "µg/m3"), ("PM10", "µg/m3"),
                                                  ("PM2.5", "µg/m3"), ("O3", "µg/m3")],
                           (*p, z), commune, 3.0))  # fmt: skip
    for i, commune in enumerate(["Marseille", "Aix-en-Provence", "Salon-de-Provence",
                                 "Istres", "La Ciotat"]):  # fmt: skip
        lon, lat, z = COMMUNES[commune]
        p = _near(lon, lat, _seed(f"weather{i}"), 900)
        out.append(_sensor(f"weather-{i + 1:02d}", f"Weather {commune}", "weather",
                           "WeatherObserved", [("temperature", "°C"), ("relativeHumidity", "%"),
                                               ("precipitation", "mm/h")], (*p, z), commune,
                           2.0))  # fmt: skip
    return out


# --- time behaviour --------------------------------------------------------------------------

F = NDArray[np.float64]


def _local_hours(t: F) -> F:
    """Hours of the local clock (CET/CEST approximated by UTC+1/+2 from April to October)."""
    month = ((t / DAY / 30.44) % 12).astype(int)  # 0 = January, approximate
    offset = np.where((month >= 3) & (month <= 9), 2.0, 1.0)
    return ((t / HOUR) + offset) % 24


def _weekday(t: F) -> F:
    return ((t // DAY) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday


def _day_of_year(t: F) -> F:
    return (t / DAY) % 365.2425


def rain(t: F) -> F:
    """Rain intensity (mm/h): showers on about one day in six, heavier in autumn."""
    day = np.floor(t / DAY).astype(np.int64)
    rng_hash = (day * 2654435761) % 1000 / 1000.0  # deterministic per day
    wet = rng_hash < 0.17
    autumn = 1.0 + 1.5 * np.exp(-(((_day_of_year(t) - 290) / 40) ** 2))
    hour = (t % DAY) / HOUR
    peak = 6 + (rng_hash * 97 % 1) * 12
    shape = np.exp(-(((hour - peak) / 2.0) ** 2))
    return np.where(wet, (4 + 20 * rng_hash) * autumn * shape, 0.0)


def _recent_rain(t: F) -> F:
    """Rain of the past day with an exponential recession (what a small river answers to)."""
    lags = np.arange(0, 24 * 3600, 1800.0)
    weights = np.exp(-lags / (8 * HOUR))
    return sum(w * rain(t - lag) for w, lag in zip(weights, lags, strict=True)) / weights.sum()


def _daylight(t: F, lat: float = 43.4) -> F:
    """1 between sunrise and sunset, else 0 (solar declination formula, solar time ≈ UTC+0.36 h)."""
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + _day_of_year(t)) / 365)
    half = np.degrees(np.arccos(np.clip(-np.tan(np.radians(lat)) * np.tan(decl), -1, 1))) / 15
    solar = ((t % DAY) / HOUR + 0.36) % 24
    return ((solar > 12 - half) & (solar < 12 + half)).astype(float)


def _temperature(t: F) -> F:
    season = 15.5 - 8.5 * np.cos(2 * np.pi * (_day_of_year(t) - 20) / 365)
    daily = 5.0 * np.cos(2 * np.pi * (_local_hours(t) - 15) / 24)
    return season + daily - 0.3 * rain(t)


def _noise(rng: np.random.Generator, n: int, scale: float) -> F:
    return rng.normal(0, scale, n)


def readings(sim: Simulated, t: F) -> dict[str, F]:
    """Values of every quantity of `sim` at epoch seconds `t`; NaN where the sensor is silent."""
    rng = np.random.default_rng([sim.seed, int(t[0]) if len(t) else 0])
    n = len(t)
    h, wd = _local_hours(t), _weekday(t)
    weekend = wd >= 5
    out: dict[str, F]
    if sim.kind == "noise":
        base = 48 + 14 * np.clip(np.sin(np.pi * (h - 6) / 16), 0, None) - 4 * weekend
        rush = 5 * (np.exp(-(((h - 8.5) / 1.2) ** 2)) + np.exp(-(((h - 18) / 1.5) ** 2)))
        laeq = base + rush * (~weekend) + (sim.seed % 7) + _noise(rng, n, 1.5)
        spikes = rng.random(n) < 0.003  # an outlier now and then (a horn, a truck)
        laeq = np.where(spikes, laeq + 35, laeq)
        out = {"LAeq": laeq, "LAmax": laeq + 12 + np.abs(_noise(rng, n, 4))}
    elif sim.kind == "waste":
        rate = 0.25 + (sim.seed % 100) / 160  # % per hour
        period = (3 + sim.seed % 4) * DAY  # collection round every 3 to 6 days, at 06:00
        phase = (t - 5 * HOUR + (sim.seed % 97) * DAY / 97) % period
        out = {"fillingLevel": np.clip(rate * phase / HOUR + 3, 0, 100)}
    elif sim.kind == "level":
        wet = _recent_rain(t)
        scale = 1.0 + (sim.seed % 5) / 10
        out = {"height": scale * (0.35 + 0.12 * wet) + _noise(rng, n, 0.005),
               "flow": scale * (0.8 + 1.9 * wet)}  # fmt: skip
    elif sim.kind == "quality":
        wet = _recent_rain(t)
        water = 0.6 * _temperature(t) + 5
        out = {"temperature": water, "O2": 14.6 - 0.32 * water + _noise(rng, n, 0.1),
               "conductivity": 650 - 25 * wet + _noise(rng, n, 5),
               "turbidity": 4 + 9 * wet + _noise(rng, n, 0.3).clip(0)}  # fmt: skip
    elif sim.kind in ("bike", "pedestrian"):
        weekday_shape = np.exp(-(((h - 8.3) / 1.0) ** 2)) + np.exp(-(((h - 17.8) / 1.3) ** 2))
        weekend_shape = np.exp(-(((h - 15) / 3.0) ** 2))
        peak = 90 if sim.kind == "bike" else 260
        mean = peak * np.where(weekend, 0.7 * weekend_shape, weekday_shape) + 2
        mean = mean * np.where(rain(t) > 1, 0.4, 1.0)
        out = {"intensity": rng.poisson(mean).astype(float)}
    elif sim.kind in ("cabinet", "lamp"):
        night = 1 - _daylight(t)
        dimmed = np.where((h >= 0) & (h < 5), 0.5, 1.0)  # dimmed from midnight to 05:00
        full = 3_600.0 if sim.kind == "cabinet" else 110.0
        out = {"power": night * dimmed * full * (1 + _noise(rng, n, 0.01))}
    elif sim.kind == "air":
        traffic = np.exp(-(((h - 8.5) / 1.5) ** 2)) + np.exp(-(((h - 18.5) / 2) ** 2))
        industry = 12.0 if "Fos" in sim.spec.zone or "Martigues" in sim.spec.zone else 0.0
        no2 = 18 + 30 * traffic * (~weekend) + industry + _noise(rng, n, 3)
        pm10 = 16 + 6 * traffic + industry / 2 + _noise(rng, n, 2) - 2 * (rain(t) > 1)
        sun = np.clip(np.sin(np.pi * (h - 8) / 12), 0, None)
        out = {"NO2": no2.clip(1), "PM10": pm10.clip(1), "PM2.5": (0.6 * pm10).clip(1),
               "O3": (45 + 55 * sun - 0.4 * no2).clip(1)}  # fmt: skip
    elif sim.kind == "weather":
        temp = _temperature(t) + (sim.seed % 5) / 5 + _noise(rng, n, 0.2)
        humid = (70 - 1.8 * (temp - 15) + 3 * rain(t)).clip(15, 100)
        out = {"temperature": temp, "relativeHumidity": humid, "precipitation": rain(t)}
    else:  # pragma: no cover - every kind above is built by metropolis_setup
        raise ValueError(f"unknown simulated kind {sim.kind!r}")
    if sim.seed % 37 == 0:  # a few sensors drop out: two hours of silence a day
        silent = ((t / HOUR + sim.seed % 24) % 24) < 2
        out = {k: np.where(silent, np.nan, v) for k, v in out.items()}
    return {k: np.round(v, 2) for k, v in out.items()}


def observations(sims: list[Simulated], t: F) -> list[list[object]]:
    """Compact rows [sensor, quantity, time, value] for every sensor at times `t`."""
    stamps = [datetime.fromtimestamp(x, UTC).isoformat().replace("+00:00", "Z") for x in t]
    rows: list[list[object]] = []
    for sim in sims:
        for quantity, values in readings(sim, t).items():
            rows.extend(
                [sim.id, quantity, stamps[i], float(v)]
                for i, v in enumerate(values)
                if not math.isnan(v)
            )
    return rows


DEFAULT_RULES = [
    {"name": "no data for 30 minutes", "kind": "silent", "sensor_type": t, "minutes": 30}
    for t in ("NoiseLevelObserved", "WaterObserved", "AirQualityObserved", "WeatherObserved")
] + [
    {"name": "noise above 80 dB(A)", "kind": "above", "sensor_type": "NoiseLevelObserved",
     "quantity": "LAeq", "threshold": 80},
    {"name": "bin nearly full", "kind": "above", "sensor_type": "WasteContainer",
     "quantity": "fillingLevel", "threshold": 90},
    {"name": "river rising fast", "kind": "rate", "sensor_type": "WaterObserved",
     "quantity": "height", "threshold": 0.05},  # 3 m/h: a flash flood, not sensor noise
    {"name": "NO2 hourly limit", "kind": "above", "sensor_type": "AirQualityObserved",
     "quantity": "NO2", "threshold": 200},
]  # fmt: skip
