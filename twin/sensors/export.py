"""One-file exports of a sensor's history and of the alert archive, streamed in chunks so a
year of readings never sits in memory.

CSV carries two time columns: `time_utc` (ISO 8601, for programs) and `time_local`
(`YYYY-MM-DD HH:MM:SS`, Europe/Paris, which spreadsheets read as a date). `sep=";"` gives the
French spreadsheet convention: `;` between fields and a decimal comma.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from twin.db import Database
from twin.errors import InputError
from twin.sensors.models import Quantity, Sensor
from twin.sensors.query import (
    LOCAL_ZONE,
    MEAN_DIGITS,
    iso,
    iter_chunks,
    raw_rows,
    rollup_rows,
)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
}
ALERT_FIELDS = (
    "id", "sensor_id", "quantity", "kind", "status", "message", "value",
    "observed_at", "opened_at", "acknowledged_at", "acknowledged_by", "closed_at",
)  # fmt: skip


def local_time(t: int) -> str:
    local = datetime.fromtimestamp(t / 1000, UTC).astimezone(LOCAL_ZONE)
    return local.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class SeriesExport:
    """What to export: quantities of one sensor, raw or aggregated, over [start, end)."""

    db: Database
    sensor: Sensor
    quantities: list[Quantity]
    aggregate: str = "raw"
    start: int | None = None
    end: int | None = None
    sep: str = ","

    def points(self, q: Quantity) -> Iterator[tuple[int, dict[str, float | int]]]:
        """(time, values) per raw reading or rollup bucket, from a connection of its own (the
        request's session is gone by the time a streamed body is sent)."""
        with self.db.engine.connect() as conn:
            if self.aggregate == "raw":
                streaming = conn.execution_options(stream_results=True)
                for batch in iter_chunks(raw_rows(streaming, q.id, self.start, self.end)):
                    for t, v in batch:
                        yield t, {"value": v}
            else:
                rows = rollup_rows(conn, q.id, self.aggregate, self.start, self.end)
                for batch in iter_chunks(rows):
                    for s, n, total, lo, hi in batch:
                        mean = round(total / n, MEAN_DIGITS)
                        yield s, {"mean": mean, "min": lo, "max": hi, "count": n}


def _columns(aggregate: str) -> tuple[str, ...]:
    return ("value",) if aggregate == "raw" else ("mean", "min", "max", "count")


class _CsvLine:
    """csv.writer into a string, one row at a time."""

    def __init__(self, sep: str) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, delimiter=sep, lineterminator="\r\n")

    def __call__(self, row: list[Any]) -> str:
        self.writer.writerow(row)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


def _number(sep: str) -> Callable[[float | int], str]:
    if sep == ";":
        return lambda v: repr(v).replace(".", ",") if isinstance(v, float) else str(v)
    return lambda v: repr(v) if isinstance(v, float) else str(v)


def export_series(job: SeriesExport, fmt: str) -> Iterator[str]:
    """The chosen format as a stream of text chunks."""
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if job.sep not in (",", ";"):
        raise InputError("sep is ',' or ';'")
    return {"csv": _csv, "json": _json, "geojson": _geojson, "kml": _kml}[fmt](job)


def _csv(job: SeriesExport) -> Iterator[str]:
    line, num = _CsvLine(job.sep), _number(job.sep)
    cols, sensor = _columns(job.aggregate), job.sensor
    yield "\ufeff" + line(["sensor", "name", "quantity", "unit", "time_utc", "time_local", *cols])
    for q in job.quantities:
        chunk: list[str] = []
        for t, values in job.points(q):
            row = [sensor.id, sensor.name, q.name, q.unit, iso(t), local_time(t)]
            chunk.append(line(row + [num(values[c]) for c in cols]))
            if len(chunk) >= 2_000:
                yield "".join(chunk)
                chunk = []
        yield "".join(chunk)


def _json(job: SeriesExport) -> Iterator[str]:
    sensor = job.sensor
    head = {"sensor": sensor.id, "name": sensor.name, "type": sensor.type}
    head["aggregate"] = job.aggregate
    yield json.dumps(head)[:-1] + ', "series": ['
    for i, q in enumerate(job.quantities):
        yield ("," if i else "") + json.dumps({"quantity": q.name, "unit": q.unit})[:-1]
        yield ', "points": ['
        first = True
        for t, values in job.points(q):
            yield ("" if first else ",") + json.dumps({"time": iso(t), **values})
            first = False
        yield "]}"
    yield "]}\n"


def _geojson(job: SeriesExport) -> Iterator[str]:
    sensor = job.sensor
    coords = [sensor.lon, sensor.lat] + ([sensor.z] if sensor.z is not None else [])
    geometry = json.dumps({"type": "Point", "coordinates": coords})
    yield '{"type": "FeatureCollection", "features": ['
    first = True
    for q in job.quantities:
        for t, values in job.points(q):
            props = {"sensor": sensor.id, "name": sensor.name, "quantity": q.name, "unit": q.unit}
            props |= {"time": iso(t), **values}
            yield ("" if first else ",") + (
                f'{{"type": "Feature", "geometry": {geometry}, "properties": {json.dumps(props)}}}'
            )
            first = False
    yield "]}\n"


def _kml(job: SeriesExport) -> Iterator[str]:
    """One Placemark per reading with a TimeStamp, so Google Earth's time slider plays them."""
    sensor = job.sensor
    point = f"{sensor.lon!r},{sensor.lat!r}" + (f",{sensor.z!r}" if sensor.z is not None else "")
    mode = "absolute" if sensor.z is not None else "clampToGround"
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<name>{escape(sensor.name)} ({escape(sensor.id)})</name>"
    )
    for q in job.quantities:
        for t, values in job.points(q):
            main = values.get("value", values.get("mean"))
            data = "".join(
                f'<Data name="{k}"><value>{v}</value></Data>'
                for k, v in {"quantity": escape(q.name), "unit": escape(q.unit), **values}.items()
            )
            yield (
                f"<Placemark><name>{escape(q.name)} {main:g} {escape(q.unit)}</name>"
                f"<TimeStamp><when>{iso(t)}</when></TimeStamp>"
                f"<ExtendedData>{data}</ExtendedData>"
                f"<Point><altitudeMode>{mode}</altitudeMode>"
                f"<coordinates>{point}</coordinates></Point></Placemark>"
            )
    yield "</Document></kml>\n"


def export_alerts(alerts: list[dict[str, Any]], fmt: str, sep: str = ",") -> Iterator[str]:
    """The alert archive as CSV (with local-time columns) or JSON."""
    if fmt == "json":
        yield json.dumps(alerts, indent=1) + "\n"
        return
    if fmt != "csv":
        raise InputError("alerts export as csv or json")
    line = _CsvLine(sep)
    yield "\ufeff" + line([*ALERT_FIELDS, "opened_local"])
    for a in alerts:
        opened = datetime.fromisoformat(a["opened_at"]).astimezone(LOCAL_ZONE)
        yield line(
            [a[f] if a[f] is not None else "" for f in ALERT_FIELDS]
            + [opened.strftime("%Y-%m-%d %H:%M:%S")]
        )
