"""Read LAS/LAZ point clouds (1.2-1.4, COPC read as plain LAZ) in bounded chunks.

Nothing here holds a whole file: `read_info` reads the header only, `iter_chunks` yields at most
`chunk_points` points at a time and can start anywhere (cheaply where `LasInfo.seekable`), so
several processes can share a file.
Every failure names the file it is about and is a `PointCloudError`, a `ValueError`: bad input,
not a bug.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import laspy
import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from geodata.crs import lonlat_bounds

COLOR_DIMENSIONS = ("red", "green", "blue")
# Point formats with RGB (LAS 1.4 R15, table 8): 2, 3, 5, 7, 8, 10.
_COLOR_FORMATS = {2, 3, 5, 7, 8, 10}


class PointCloudError(ValueError):
    """A point-cloud source that cannot be used as given (unreadable, no or wrong CRS...)."""


@dataclass(frozen=True)
class LasInfo:
    """What a LAS/LAZ header says, read without touching the points."""

    path: Path
    version: str
    point_format: int
    point_count: int
    mins: tuple[float, float, float]
    maxs: tuple[float, float, float]
    crs: str | None  # WKT of the CRS found in the file, None when there is none
    crs_note: str  # where the CRS came from, or why none could be used
    has_color: bool
    compressed: bool
    seekable: bool  # False for LAZ with variable-size chunks (COPC): read it start to end


@dataclass
class PointChunk:
    """Up to `chunk_points` points: scaled coordinates (float64) and the kept attributes."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    z: NDArray[np.float64]
    intensity: NDArray[np.uint16]
    classification: NDArray[np.uint8]
    return_number: NDArray[np.uint8]
    number_of_returns: NDArray[np.uint8]
    rgb: NDArray[np.uint16] | None  # (n, 3) as stored: 8 or 16 significant bits

    def __len__(self) -> int:
        return int(self.x.size)


def _open(path: Path) -> laspy.LasReader:
    try:
        return laspy.open(path, laz_backend=laspy.LazBackend.Lazrs)
    except FileNotFoundError as exc:
        raise PointCloudError(f"{path}: no such file") from exc
    except Exception as exc:  # laspy raises LaspyException, struct.error, ValueError...
        raise PointCloudError(f"{path}: not a readable LAS/LAZ file ({exc})") from exc


def _seekable(header: laspy.LasHeader) -> bool:
    """Whether points can be read from the middle of the file.

    laspy 2.7 + lazrs mis-seek in LAZ with variable-size chunks (COPC writes those: chunk size
    0xFFFFFFFF in the laszip VLR), returning points of the wrong chunk; such files are read
    sequentially. Uncompressed LAS and fixed-chunk LAZ (LASzip's default) seek correctly.
    """
    if not header.are_points_compressed:
        return True
    for vlr in header.vlrs:
        if type(vlr).__name__ == "LasZipVlr":
            data = vlr.record_data_bytes()
            return len(data) >= 16 and struct.unpack_from("<I", data, 12)[0] != 0xFFFFFFFF
    return False


def _file_crs(header: laspy.LasHeader) -> tuple[str | None, str]:
    """The CRS of the header's WKT or GeoTIFF-key VLRs as WKT, and a note on how it was found."""
    has_keys = any(type(v).__name__ == "GeoKeyDirectoryVlr" for v in header.vlrs)
    try:
        crs = header.parse_crs()
    except Exception as exc:  # a malformed WKT / key directory
        return None, f"its CRS record cannot be parsed ({exc})"
    if crs is None:
        if has_keys:
            return None, "its GeoTIFF keys define a user-defined CRS that cannot be decoded"
        return None, "it declares no CRS"
    return crs.to_wkt(), "CRS read from the file"


def read_info(path: Path) -> LasInfo:
    """Header facts of one file; PointCloudError if it is not a LAS/LAZ file."""
    path = Path(path)
    with _open(path) as reader:
        h = reader.header
        crs, note = _file_crs(h)
        return LasInfo(
            path=path,
            version=f"{h.version.major}.{h.version.minor}",
            point_format=int(h.point_format.id),
            point_count=int(h.point_count),
            mins=tuple(float(v) for v in h.mins),
            maxs=tuple(float(v) for v in h.maxs),
            crs=crs,
            crs_note=note,
            has_color=int(h.point_format.id) in _COLOR_FORMATS,
            compressed=bool(h.are_points_compressed),
            seekable=_seekable(h),
        )


def _describe(crs: CRS) -> str:
    auth = crs.to_authority(min_confidence=70)
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def resolve_crs(infos: Sequence[LasInfo], srs: str | None = None) -> tuple[str, str]:
    """The one CRS of a set of files as (pyproj input, short name like "EPSG:2154").

    `srs` wins over what files say (for files without, or with a wrong, CRS). Without it, every
    file must carry a CRS and all must be the same, or PointCloudError says which file and why.
    """
    if srs is not None:
        try:
            crs = CRS.from_user_input(srs)
        except Exception as exc:
            raise PointCloudError(f"srs {srs!r} is not a CRS pyproj knows ({exc})") from exc
        return crs.to_wkt(), _describe(crs)
    found: dict[str, list[Path]] = {}
    for info in infos:
        if info.crs is None:
            raise PointCloudError(
                f"{info.path}: no usable coordinate reference system: {info.crs_note}; "
                "give one with --srs (e.g. --srs EPSG:2154 for Lambert-93)"
            )
        found.setdefault(info.crs, []).append(info.path)
    first, *others = (CRS.from_wkt(w) for w in found)
    if any(not first.equals(other, ignore_axis_order=True) for other in others):
        names = "; ".join(
            f"{_describe(CRS.from_wkt(w))} ({', '.join(p.name for p in paths)})"
            for w, paths in found.items()
        )
        raise PointCloudError(
            f"sources are in different CRSs: {names}; import them as separate layers, "
            "or reproject them first"
        )
    wkt = next(iter(found))
    return wkt, _describe(CRS.from_wkt(wkt))


def _area_of_use(crs: CRS):  # -> pyproj AreaOfUse | None
    """The CRS's area of use, or that of the registered CRS it is identical to (a WKT record
    without authority codes has none of its own)."""
    if crs.area_of_use is not None:
        return crs.area_of_use
    try:
        auth = crs.to_authority(min_confidence=90)
        return CRS.from_authority(*auth).area_of_use if auth else None
    except Exception:  # identification is a best effort
        return None


def check_plausible(crs_wkt: str, name: str, infos: Sequence[LasInfo]) -> None:
    """Refuse coordinates that cannot be in the CRS claimed (a wrong CRS record, a wrong --srs).

    Geocentric: points must be near the Earth's surface. Otherwise, the data's footprint must be
    inside the CRS's area of use (with a one-degree margin) once transformed to longitude/latitude.
    """
    crs = CRS.from_wkt(crs_wkt)
    mins = np.min([i.mins for i in infos], axis=0)
    maxs = np.max([i.maxs for i in infos], axis=0)
    where = ", ".join(i.path.name for i in infos[:3]) + ("..." if len(infos) > 3 else "")
    hint = "the file's CRS is probably wrong: give the right one with --srs"
    if crs.is_geocentric:
        corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
        pts = np.where(corners, maxs, mins)
        radius = np.linalg.norm(pts, axis=1)
        if not ((radius > 6.30e6) & (radius < 6.42e6)).all():
            raise PointCloudError(
                f"{where}: CRS {name} is geocentric (ECEF) but the points lie "
                f"{radius.min() / 1000:,.0f}-{radius.max() / 1000:,.0f} km from the Earth's "
                f"centre, not on its surface; {hint}"
            )
        return
    try:
        west, south, east, north = lonlat_bounds(crs_wkt, (mins[0], mins[1], maxs[0], maxs[1]))
    except Exception as exc:
        raise PointCloudError(
            f"{where}: coordinates cannot be located in {name} ({exc}); {hint}"
        ) from exc
    if not all(np.isfinite([west, south, east, north])) or not (-90 <= south <= north <= 90):
        raise PointCloudError(f"{where}: coordinates fall outside the Earth in {name}; {hint}")
    area = _area_of_use(crs.sub_crs_list[0] if crs.is_compound else crs)
    if area is None or area.west > area.east:  # unknown, or across the antimeridian: no check
        return
    margin = 1.0
    if (
        west < area.west - margin
        or east > area.east + margin
        or south < area.south - margin
        or north > area.north + margin
    ):
        raise PointCloudError(
            f"{where}: in {name} the points would lie at {south:.2f}..{north:.2f}N "
            f"{west:.2f}..{east:.2f}E, outside the CRS's area of use ({area.name[:80]}: "
            f"{area.south:.1f}..{area.north:.1f}N {area.west:.1f}..{area.east:.1f}E); {hint}"
        )


def iter_chunks(
    path: Path, *, start: int = 0, count: int | None = None, chunk_points: int = 1_000_000
) -> Iterator[PointChunk]:
    """Points [start, start + count) of a file, at most `chunk_points` at a time.

    LAZ with fixed-size chunks seeks to the compressed chunk holding `start`, so several workers
    can read disjoint ranges of one file; other files (see `LasInfo.seekable`) are read from the
    start, so ranges of those are best avoided.
    """
    path = Path(path)
    with _open(path) as reader:
        total = int(reader.header.point_count)
        end = total if count is None else min(total, start + count)
        dims = set(reader.header.point_format.dimension_names)
        color = all(d in dims for d in COLOR_DIMENSIONS)
        try:
            if start and _seekable(reader.header):
                reader.seek(start)
            elif start:  # cannot seek: read and drop up to `start`
                for skip in range(0, start, chunk_points):
                    reader.read_points(min(chunk_points, start - skip))
            pos = start
            while pos < end:
                pts = reader.read_points(min(chunk_points, end - pos))
                if len(pts) == 0:
                    raise PointCloudError(
                        f"{path}: file ends at point {pos:,} but its header says {total:,}"
                    )
                pos += len(pts)
                yield _chunk(pts, color)
        except PointCloudError:
            raise
        except Exception as exc:  # truncated or corrupt compressed data, I/O errors
            raise PointCloudError(f"{path}: cannot read points ({exc})") from exc


def _chunk(pts: laspy.ScaleAwarePointRecord, color: bool) -> PointChunk:
    rgb = None
    if color:
        rgb = np.empty((len(pts), 3), np.uint16)
        for i, dim in enumerate(COLOR_DIMENSIONS):
            rgb[:, i] = pts[dim]
    return PointChunk(
        x=np.asarray(pts.x, np.float64),
        y=np.asarray(pts.y, np.float64),
        z=np.asarray(pts.z, np.float64),
        intensity=np.asarray(pts.intensity, np.uint16),
        classification=np.asarray(pts.classification, np.uint8),
        return_number=np.asarray(pts.return_number, np.uint8),
        number_of_returns=np.asarray(pts.number_of_returns, np.uint8),
        rgb=rgb,
    )
