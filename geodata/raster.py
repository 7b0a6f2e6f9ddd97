"""What every GeoTIFF reader here needs first: a CRS the user typed, and the CRS a file
really has (or a clear refusal), raising the caller's own error type."""

from __future__ import annotations

import rasterio
from pyproj import CRS

HINT = "give one with srs (--srs), e.g. EPSG:2154 for Lambert-93"


def parse_srs(srs: str | None, error: type[ValueError]) -> CRS | None:
    if srs is None:
        return None
    try:
        return CRS.from_user_input(srs)
    except Exception as exc:
        raise error(f"srs {srs!r} is not a CRS pyproj knows ({exc})") from exc


def datum_known(crs: CRS) -> bool:
    """False for GDAL's stand-in when a GeoTIFF names no ellipsoid ("unretrievable - using
    WGS84"): the projection is known but the datum is a guess, off by up to hundreds of metres
    (and heights by tens)."""
    return crs.ellipsoid is not None and "unretrievable" not in crs.ellipsoid.name.lower()


def file_crs(
    path: object, dataset: rasterio.DatasetReader, srs: CRS | None, error: type[ValueError]
) -> CRS:
    """The file's CRS, or `srs` when given; `error` when neither gives a complete one."""
    if srs is not None:
        return srs
    if dataset.crs is None:
        raise error(f"{path}: no coordinate reference system in the file; {HINT}")
    crs = CRS.from_wkt(dataset.crs.to_wkt())
    if not datum_known(crs):
        raise error(
            f"{path}: its CRS ({crs.name!r}) does not say which datum it is on, so neither its "
            f"position nor its heights can be trusted; {HINT}"
        )
    return crs
