"""Vector layers (GeoPackage, GeoJSON, Shapefile, FlatGeobuf...) read with pyogrio, in batches.

What this module settles, so that the tilers do not have to:

- which of the given files are layers (a Shapefile's .dbf/.shx/.prj/.cpg are its side files);
- the layer's CRS as a short code when there is one: a .prj that GDAL reports without an EPSG code
  (ESRI's "GCS_unknown" on the WGS84 datum) is matched to its EPSG equivalent; `srs` overrides;
- the text encoding: a .dbf whose .cpg says UTF-8 but holds Latin-1 bytes is detected (GDAL hands
  the bytes through, and decoding them fails) and read as Latin-1;
- geometry hygiene: empty geometries and those of another kind than asked (polygons, lines or
  points) are skipped and counted, invalid polygons are repaired with shapely.make_valid and
  counted;
- attribute columns with one null convention: a numpy array of values plus a boolean null mask.

Features are read `batch_size` at a time (pyogrio's skip_features/max_features), so a layer is never
held in memory whole.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from numpy.typing import NDArray
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

# Files that belong to another file of the same name (Shapefile side files, QGIS/ESRI metadata).
SIDE_FILES = {
    ".shx",
    ".dbf",
    ".prj",
    ".cpg",
    ".qix",
    ".sbn",
    ".sbx",
    ".xml",
    ".qmd",
    ".qpj",
    ".fix",
    ".aux",
    ".lic",
    ".txt",
}
POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString", "MultiLineString", "LinearRing", "CircularString", "CompoundCurve")
PUNCTUAL = ("Point", "MultiPoint")
GEOMETRY_KINDS = {"polygon": POLYGONAL, "line": LINEAR, "point": PUNCTUAL}
FALLBACK_ENCODING = "latin1"


class VectorError(ValueError):
    """A vector source that cannot be read as asked; the message names the file and the problem."""


@dataclass(frozen=True)
class Field:
    """One attribute column: its name, the numpy dtype pyogrio reads it as, and its
    EXT_structural_metadata type (STRING, BOOLEAN, INT32, INT64 or FLOAT64)."""

    name: str
    dtype: str
    type: str


@dataclass(frozen=True)
class VectorSource:
    """What is known about one layer of one file before reading its features."""

    path: Path
    layer: str | int
    driver: str
    crs: str  # "EPSG:2154", or WKT when no EPSG code matches
    crs_note: str
    encoding: str | None  # None: as the file declares it
    feature_count: int
    geometry_type: str
    fields: tuple[Field, ...]
    bounds: tuple[float, float, float, float] | None  # minx, miny, maxx, maxy in `crs`

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Column:
    """Attribute values and where they are null (values there are 0, "" or False)."""

    values: NDArray[Any]
    null: NDArray[np.bool_]


@dataclass
class FeatureBatch:
    """`count` consecutive features of a source, from feature number `start` (0-based).

    `geometries` holds shapely geometries of the kind asked (Polygons/MultiPolygons by default),
    None where a feature was skipped."""

    start: int
    count: int
    geometries: NDArray[np.object_]
    columns: dict[str, Column]
    repaired: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def geometry_kind(geometry_type: str) -> str | None:
    """The kind of a geometry type name as GDAL or shapely write it ("3D MultiPolygon",
    "LineString Z", "Point"...): "polygon", "line" or "point"; None for collections and unknown
    types."""
    base = geometry_type.replace("3D ", "").replace(" ZM", "").replace(" Z", "").replace(" M", "")
    for kind, names in GEOMETRY_KINDS.items():
        if base.strip() in names:
            return kind
    return None


# --- which files ---------------------------------------------------------------------------------


def layer_files(paths: Sequence[Path]) -> list[Path]:
    """The files among `paths` that hold layers, side files dropped (order kept, no repeats).

    A lone side file (a .dbf without its .shp) is kept, so that reading it fails with a message
    about that file rather than nothing being imported."""
    paths = [Path(p) for p in paths]
    stems = {p.with_suffix("") for p in paths if p.suffix.lower() not in SIDE_FILES}
    out: list[Path] = []
    for p in paths:
        side = p.suffix.lower() in SIDE_FILES
        if (side and p.with_suffix("") in stems) or p in out:
            continue
        if side and p.suffix.lower() in {".prj", ".cpg", ".xml", ".qmd", ".txt", ".lic"}:
            continue  # never a layer on its own
        out.append(p)
    return out


# --- CRS -----------------------------------------------------------------------------------------


def normalise_crs(crs: Any) -> str:
    """A CRS as "EPSG:code" when one is equivalent (axis order aside), else as WKT.

    Why: ESRI .prj files often carry a well-known CRS under another name ("GCS_unknown" on the
    WGS84 datum); GDAL then reports no code, and every later step would work on a WKT blob with
    "unknown" in it instead of EPSG:4326."""
    c = CRS.from_user_input(crs)
    code = c.to_epsg()
    if code is not None:
        return f"EPSG:{code}"
    for code in (4326, 4258, 4171, 2154):  # WGS84, ETRS89, RGF93, Lambert-93: quick to test
        if CRS.from_epsg(code).equals(c, ignore_axis_order=True):
            return f"EPSG:{code}"
    for match in c.list_authority(min_confidence=25):
        try:
            candidate = CRS.from_authority(match.auth_name, match.code)
        except CRSError:
            continue
        if not candidate.equals(c, ignore_axis_order=True):
            continue
        if match.auth_name == "EPSG":
            return f"EPSG:{match.code}"
        code = candidate.to_epsg()
        if code is not None:  # OGC:CRS84 is EPSG:4326 with longitude first
            return f"EPSG:{code}"
    return c.to_wkt()


def _resolve_crs(path: Path, declared: str | None, srs: str | None) -> tuple[str, str]:
    if srs:
        try:
            crs = normalise_crs(srs)
        except CRSError as exc:
            raise VectorError(f"{path.name}: --srs {srs!r} is not a CRS pyproj knows") from exc
        note = f"CRS {crs} given with --srs"
        if declared:
            note += " (overriding the file's)"
        return crs, note
    if not declared:
        raise VectorError(
            f"{path.name}: the file declares no CRS (no .prj?); give one with --srs, e.g. "
            "--srs EPSG:2154 for Lambert-93"
        )
    try:
        crs = normalise_crs(declared)
    except CRSError as exc:
        raise VectorError(f"{path.name}: its CRS cannot be understood ({exc}); use --srs") from exc
    note = f"CRS {crs} from the file"
    if not declared.upper().startswith("EPSG:") and crs.startswith("EPSG:"):
        name = CRS.from_user_input(declared).name
        note = f"CRS {name!r} of the file recognised as {crs}"
    return crs, note


# --- types and encoding --------------------------------------------------------------------------


def metadata_type(dtype: str) -> str:
    """The EXT_structural_metadata type of a pyogrio column dtype."""
    d = str(dtype)
    if d == "bool":
        return "BOOLEAN"
    if d in ("int8", "int16", "int32", "uint8", "uint16"):
        return "INT32"
    if d.startswith(("int", "uint")):
        return "INT64"
    if d.startswith("float"):
        return "FLOAT64"
    return "STRING"  # object (text), datetimes, dates, times, binary


def _read_info(path: Path, layer: str | int | None, encoding: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"layer": layer, "force_feature_count": True}
    if encoding:
        kwargs["encoding"] = encoding
    return pyogrio.read_info(path, **kwargs)


def _text_fields(info: dict[str, Any]) -> list[str]:
    return [str(n) for n, d in zip(info["fields"], info["dtypes"], strict=True) if d == "object"]


def _dbf_path(path: Path) -> Path | None:
    for suffix in (".dbf", ".DBF", ".Dbf"):
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _needs_fallback(path: Path, info: dict[str, Any]) -> bool:
    """True when a Shapefile's .dbf text is not valid UTF-8 although GDAL was told it is (by the
    .cpg): its records (after the binary header) are all text, so decoding them is the test,
    in 1 MiB steps, without going through GDAL."""
    if str(info.get("encoding") or "").replace("-", "").upper() != "UTF8":
        return False
    dbf = _dbf_path(path)
    if dbf is None:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with dbf.open("rb") as f:
            header = f.read(32)
            if len(header) < 10:
                return False
            f.seek(int.from_bytes(header[8:10], "little"))
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return True
    return False


def _choose_layer(path: Path, layer: str | int | None) -> str | int:
    """The named layer, else the first layer with polygons (a GeoPackage may hold several)."""
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise VectorError(f"{path.name}: not a vector file GDAL can read ({exc})") from exc
    if len(layers) == 0:
        raise VectorError(f"{path.name}: the file holds no layer")
    names = [str(n) for n in layers[:, 0]]
    if layer is not None:
        if isinstance(layer, int) or layer in names:
            return layer
        raise VectorError(f"{path.name}: no layer {layer!r} (layers: {', '.join(names)})")
    for name, gtype in layers:
        if gtype and str(gtype).replace(" Z", "").replace(" M", "") in POLYGONAL:
            return str(name)
    return names[0]


def open_vector(
    path: Path, *, srs: str | None = None, layer: str | int | None = None
) -> VectorSource:
    """Describe one layer of a vector file (CRS, encoding, fields, counts) without reading it.

    Raises VectorError for a missing file, a file GDAL cannot read as vectors, a layer without
    geometries, or a layer without a CRS when no `srs` is given."""
    path = Path(path)
    if not path.is_file():
        raise VectorError(f"{path}: no such file")
    name = _choose_layer(path, layer)
    encoding: str | None = None
    try:
        try:
            info = _read_info(path, name, None)
        except UnicodeDecodeError:
            encoding = FALLBACK_ENCODING
            info = _read_info(path, name, encoding)
        # GDAL hands a .dbf's bytes through as the .cpg says; other formats are UTF-8 by spec
        # (and a wrong batch is retried in read_batches)
        shapefile = str(info.get("driver")) == "ESRI Shapefile"
        if encoding is None and shapefile and _needs_fallback(path, info):
            encoding = FALLBACK_ENCODING
            info = _read_info(path, name, encoding)
    except (DataSourceError, DataLayerError) as exc:
        raise VectorError(f"{path.name}: not a vector file GDAL can read ({exc})") from exc
    if not info.get("geometry_type"):
        raise VectorError(f"{path.name}: layer {name!r} has no geometries (a plain table?)")
    crs, note = _resolve_crs(path, info.get("crs"), srs)
    if encoding:
        declared = info.get("encoding") or "?"
        note += f"; text is not valid {declared} as declared: read as Latin-1"
    fields = tuple(
        Field(str(n), str(d), metadata_type(str(d)))
        for n, d in zip(info["fields"], info["dtypes"], strict=True)
    )
    bounds = info.get("total_bounds")
    return VectorSource(
        path=path,
        layer=name,
        driver=str(info.get("driver") or ""),
        crs=crs,
        crs_note=note,
        encoding=encoding,
        feature_count=int(info["features"]),
        geometry_type=str(info["geometry_type"]),
        fields=fields,
        bounds=tuple(float(v) for v in bounds) if bounds is not None else None,  # type: ignore[arg-type]
    )


# --- features ------------------------------------------------------------------------------------


def _column(values: NDArray[Any], f: Field) -> Column:
    """pyogrio's column in one convention: ints and bools with nulls come back as float + NaN,
    dates as datetime64 with NaT, text as objects with None."""
    n = len(values)
    if f.type in ("INT32", "INT64", "BOOLEAN"):
        v = np.asarray(values)
        null = np.isnan(v) if v.dtype.kind == "f" else np.zeros(n, bool)
        clean = np.where(null, 0, v)
        if f.type == "BOOLEAN":
            return Column(clean.astype(bool), null)
        return Column(clean.astype(np.int32 if f.type == "INT32" else np.int64), null)
    if f.type == "FLOAT64":
        v = np.asarray(values, np.float64)
        null = ~np.isfinite(v)
        return Column(np.where(null, 0.0, v), null)
    v = np.asarray(values)
    if v.dtype.kind == "M":
        null = np.isnat(v)
        text = np.where(null, "", np.datetime_as_string(v)).astype(object)
        return Column(text, null)
    null = np.fromiter((x is None for x in v), bool, count=n)
    text = np.array(
        ["" if x is None else x if isinstance(x, str) else _as_text(x) for x in v], dtype=object
    )
    return Column(text, null)


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _without_empty(geoms: NDArray[np.object_]) -> tuple[NDArray[np.object_], dict[str, int]]:
    """A copy with empty and missing geometries set to None, and their count by reason."""
    out = np.array(geoms, dtype=object)
    skipped: dict[str, int] = {}
    missing = shapely.is_missing(out) | shapely.is_empty(out)
    if missing.any():
        skipped["empty or missing geometry"] = int(missing.sum())
        out[missing] = None
    return out, skipped


def _polygonal(geoms: NDArray[np.object_]) -> tuple[NDArray[np.object_], int, dict[str, int]]:
    """Polygons and multipolygons kept (invalid ones repaired), everything else set to None.

    Returns the geometries, how many were repaired, and how many were skipped, by reason."""
    out, skipped = _without_empty(geoms)
    type_ids = shapely.get_type_id(out)
    # 3 Polygon, 6 MultiPolygon, 7 GeometryCollection (may hold polygons)
    other = (type_ids >= 0) & ~np.isin(type_ids, (3, 6, 7))
    if other.any():
        skipped["not a polygon (points and lines are not extruded)"] = int(other.sum())
        out[other] = None
    kept = ~shapely.is_missing(out)
    invalid = kept & ~shapely.is_valid(out)
    repaired = int(invalid.sum())
    if repaired:
        out[invalid] = shapely.make_valid(out[invalid])
    collections = kept & (shapely.get_type_id(out) == 7)
    for i in np.flatnonzero(collections):
        polys = [p for p in shapely.get_parts(out[i]) if p.geom_type in POLYGONAL]
        parts = [q for p in polys for q in shapely.get_parts(p)]
        out[i] = shapely.MultiPolygon(parts) if parts else None
    lost = collections & shapely.is_missing(out)
    if lost.any():
        skipped["no polygon left after repair"] = int(lost.sum())
    return out, repaired, skipped


def _of_kind(geoms: NDArray[np.object_], kind: str) -> tuple[NDArray[np.object_], dict[str, int]]:
    """Lines or points kept ("line", "point"), everything else set to None; the parts of that
    kind of a GeometryCollection kept as one multi-geometry. Lines and points need no repair:
    they are buffered, and a buffer is valid whatever its input.

    Returns the geometries and how many were skipped, by reason."""
    out, skipped = _without_empty(geoms)
    ids = shapely.get_type_id(out)
    # 0 Point, 1 LineString, 2 LinearRing, 4 MultiPoint, 5 MultiLineString, 7 GeometryCollection
    wanted = (1, 2, 5) if kind == "line" else (0, 4)
    for i in np.flatnonzero(ids == 7):
        parts = [p for p in shapely.get_parts(out[i]) if geometry_kind(p.geom_type) == kind]
        if parts:
            multi = shapely.MultiLineString if kind == "line" else shapely.MultiPoint
            out[i] = multi([q for p in parts for q in shapely.get_parts(p)])
    ids = shapely.get_type_id(out)
    other = (ids >= 0) & ~np.isin(ids, wanted)
    if other.any():
        skipped[f"not a {kind}"] = int(other.sum())
        out[other] = None
    return out, skipped


def read_batches(
    source: VectorSource,
    *,
    batch_size: int = 20_000,
    columns: Sequence[str] | None = None,
    read_geometry: bool = True,
    geometry: str | None = "polygon",
) -> Iterator[FeatureBatch]:
    """The features of `source`, `batch_size` at a time.

    `columns` limits the attributes read (None: all, []: none). `geometry` is the kind of
    geometry kept: "polygon" (filtered and repaired, see _polygonal), "line" or "point" (see
    _of_kind); other geometries become None and are counted in `skipped`. With None, geometries
    are returned as read (None where missing)."""
    if geometry not in (None, *GEOMETRY_KINDS):
        raise ValueError(f"geometry must be one of {', '.join(GEOMETRY_KINDS)} or None")
    wanted = [f for f in source.fields if columns is None or f.name in columns]
    names = [f.name for f in wanted]
    encoding = source.encoding
    for start in range(0, source.feature_count, batch_size):
        kwargs: dict[str, Any] = {
            "layer": source.layer,
            "columns": names,
            "read_geometry": read_geometry,
            "skip_features": start,
            "max_features": batch_size,
        }
        try:
            try:
                meta, _, wkb, values = pyogrio.raw.read(source.path, encoding=encoding, **kwargs)
            except UnicodeDecodeError:
                if encoding == FALLBACK_ENCODING:
                    raise
                encoding = FALLBACK_ENCODING  # undeclared Latin-1 past the first batches
                meta, _, wkb, values = pyogrio.raw.read(source.path, encoding=encoding, **kwargs)
        except (DataSourceError, DataLayerError) as exc:
            raise VectorError(
                f"{source.name}: reading features from {start} failed: {exc}"
            ) from exc
        count = len(values[0]) if values else (len(wkb) if wkb is not None else 0)
        if wkb is not None:
            count = len(wkb)
            geoms = shapely.from_wkb(wkb, on_invalid="ignore")
        else:
            geoms = np.full(count, None, dtype=object)
        repaired, skipped = 0, {}
        if read_geometry and geometry == "polygon":
            geoms, repaired, skipped = _polygonal(geoms)
        elif read_geometry and geometry is not None:
            geoms, skipped = _of_kind(geoms, geometry)
        # pyogrio returns the columns in its own order (not that of `columns`): go by name
        by_name = dict(zip((str(n) for n in meta["fields"]), values, strict=True))
        cols = {f.name: _column(by_name[f.name], f) for f in wanted}
        yield FeatureBatch(start, count, geoms, cols, repaired, skipped)
        if count < batch_size:
            break
