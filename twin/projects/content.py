"""What a variant changes over the base scene, checked on the way in, and its indicators.

Coordinates are WGS84 degrees `[lon, lat]`, as the browser draws them. Areas and lengths are
geodesic (pyproj's `Geod` on WGS84), so they are right anywhere without choosing a projection.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyproj import Geod
from shapely.geometry import LineString, Polygon
from shapely.validation import explain_validity

GEOD = Geod(ellps="WGS84")
STOREY_M = 3.0  # floors assumed from the height when a footprint does not give them
USES = ("housing", "school", "office", "shop", "equipment", "other")
MAX_ITEMS = 5_000
MAX_POINTS = 2_000
MAX_HIDDEN = 50_000

Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]
LonLat = tuple[Lon, Lat]
ItemId = Annotated[str, Field(min_length=1, max_length=40)]
Name = Annotated[str, Field(max_length=200)]
# Where an item's ground is, in ellipsoidal metres (as Cesium places things), when the scene has
# no terrain there but its buildings stand at their real altitude; None: on the terrain.
Base = Annotated[float, Field(ge=-500, le=9_000)] | None


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not be saved silently and then ignored."""

    model_config = ConfigDict(extra="forbid")


def _ring(points: list[tuple[float, float]], what: str) -> Polygon:
    """A valid simple polygon, or an error saying where it goes wrong."""
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len(set(points)) < 3:
        raise ValueError(f"{what} needs at least 3 distinct points")
    polygon = Polygon(points)
    if not polygon.is_valid:
        reason = explain_validity(polygon)
        match = re.search(r"\[([-\d.e]+) ([-\d.e]+)\]", reason)
        near = f" near {float(match[1]):.6f},{float(match[2]):.6f}" if match else ""
        kind = "self-intersects" if "intersection" in reason.lower() else "is invalid"
        raise ValueError(f"{what} {kind}{near} ({reason.split('[')[0].strip()})")
    if polygon.area == 0:
        raise ValueError(f"{what} has no area")
    return polygon


class Footprint(Strict):
    """A proposed building: a footprint extruded to `height` metres above the ground."""

    id: ItemId
    name: Name = ""
    polygon: Annotated[list[LonLat], Field(min_length=3, max_length=MAX_POINTS)]
    height: Annotated[float, Field(gt=0, le=400)]
    use: Literal[USES] = "other"  # type: ignore[valid-type]
    floors: Annotated[int, Field(ge=1, le=150)] | None = None
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None  # None: by use
    base: Base = None

    @model_validator(mode="after")
    def _valid(self) -> Footprint:
        _ring(list(self.polygon), f"footprint {self.name or self.id!r}: polygon")
        return self

    def area_m2(self) -> float:
        lons, lats = zip(*self.polygon, strict=True)
        return abs(GEOD.polygon_area_perimeter(lons, lats)[0])

    def storeys(self) -> int:
        return self.floors or max(1, round(self.height / STOREY_M))


class Tree(Strict):
    id: ItemId
    lon: Lon
    lat: Lat
    height: Annotated[float, Field(gt=0, le=60)] = 8.0
    crown: Annotated[float, Field(gt=0, le=40)] = 5.0
    base: Base = None


class Path(Strict):
    id: ItemId
    name: Name = ""
    line: Annotated[list[LonLat], Field(min_length=2, max_length=MAX_POINTS)]
    width: Annotated[float, Field(gt=0, le=50)] = 3.0

    @field_validator("line")
    @classmethod
    def _not_degenerate(cls, line: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if LineString(line).length == 0:
            raise ValueError("path has no length (all its points are the same)")
        return line

    def length_m(self) -> float:
        lons, lats = zip(*self.line, strict=True)
        return float(GEOD.line_length(lons, lats))


class ModelPlacement(Strict):
    """A proposed model (an uploaded GLB asset of the project) placed in the scene."""

    id: ItemId
    asset: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    name: Name = ""
    lon: Lon
    lat: Lat
    height: Annotated[float, Field(ge=-100, le=1000)] = 0.0  # metres above the ground
    heading: Annotated[float, Field(ge=-360, le=360)] = 0.0
    scale: Annotated[float, Field(gt=0, le=100)] = 1.0
    base: Base = None


class Hidden(Strict):
    """Existing features hidden: those of `layer_id` whose `property` is one of `values`."""

    layer_id: int
    property: Annotated[str, Field(min_length=1, max_length=100)]
    values: Annotated[list[str | int], Field(max_length=MAX_HIDDEN)]


class Clip(Strict):
    """A polygon cut out of a layer (the photogrammetry mesh under a proposed building)."""

    id: ItemId
    layer_id: int | None = None
    polygon: Annotated[list[LonLat], Field(min_length=3, max_length=MAX_POINTS)]

    @model_validator(mode="after")
    def _valid(self) -> Clip:
        _ring(list(self.polygon), f"clip {self.id!r}: polygon")
        return self


class LayerState(Strict):
    layer_id: int
    visible: bool = True
    style: dict[str, Any] = Field(default_factory=dict)

    @field_validator("style")
    @classmethod
    def _small(cls, style: dict[str, Any]) -> dict[str, Any]:
        if len(str(style)) > 4_000:
            raise ValueError("style is larger than 4,000 characters")
        return style


class Camera(Strict):
    """A camera in degrees and metres (ellipsoidal height), as Cesium's `setView` takes it."""

    lon: Lon
    lat: Lat
    height: Annotated[float, Field(ge=-500, le=50_000_000)]
    heading: float = 0.0
    pitch: Annotated[float, Field(ge=-90, le=90)] = -35.0
    roll: float = 0.0

    @field_validator("heading", "roll")
    @classmethod
    def _turn(cls, angle: float) -> float:
        """-180 <= angle < 180: a camera told to roll to 360 would spin a full turn on its way."""
        return (angle + 180.0) % 360.0 - 180.0


Indicator = float | int | str


class ResultRef(Strict):
    """A simulation result attached to the variant, with the indicators it brings."""

    kind: Literal["flood", "route", "access"]
    ref: Annotated[str, Field(max_length=100)] = ""
    name: Name = ""
    indicators: dict[Annotated[str, Field(max_length=60)], Indicator] = Field(default_factory=dict)

    @field_validator("indicators")
    @classmethod
    def _few(cls, indicators: dict[str, Indicator]) -> dict[str, Indicator]:
        if len(indicators) > 50:
            raise ValueError("at most 50 indicators per result")
        return indicators


class VariantContent(Strict):
    footprints: Annotated[list[Footprint], Field(max_length=MAX_ITEMS)] = []
    trees: Annotated[list[Tree], Field(max_length=MAX_ITEMS)] = []
    paths: Annotated[list[Path], Field(max_length=MAX_ITEMS)] = []
    models: Annotated[list[ModelPlacement], Field(max_length=MAX_ITEMS)] = []
    hidden: Annotated[list[Hidden], Field(max_length=100)] = []
    clips: Annotated[list[Clip], Field(max_length=MAX_ITEMS)] = []
    layers: Annotated[list[LayerState], Field(max_length=500)] = []
    camera: Camera | None = None
    results: Annotated[list[ResultRef], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> VariantContent:
        for field in ("footprints", "trees", "paths", "models", "clips"):
            seen: set[str] = set()
            for item in getattr(self, field):
                if item.id in seen:
                    raise ValueError(f"{field}: id {item.id!r} is used twice")
                seen.add(item.id)
        if sum(len(h.values) for h in self.hidden) > MAX_HIDDEN:
            raise ValueError(f"hidden: more than {MAX_HIDDEN:,} features in all")
        return self


def indicators(content: VariantContent) -> dict[str, Indicator]:
    """What a variant changes, in the figures elected officials compare; attached results add
    theirs (summed when two results give the same one)."""
    areas = [f.area_m2() for f in content.footprints]
    figures: dict[str, Indicator] = {
        "buildings_added": len(content.footprints),
        "footprint_area_m2": round(sum(areas), 1),
        "floor_area_m2": round(
            sum(a * f.storeys() for a, f in zip(areas, content.footprints, strict=True)), 1
        ),
        "height_max_m": max((f.height for f in content.footprints), default=0.0),
        "trees_added": len(content.trees),
        "path_length_m": round(sum(p.length_m() for p in content.paths), 1),
        "features_hidden": sum(len(h.values) for h in content.hidden),
        "models_placed": len(content.models),
    }
    for result in content.results:
        for key, value in result.indicators.items():
            previous = figures.get(key)
            both_numbers = isinstance(value, int | float) and isinstance(previous, int | float)
            figures[key] = previous + value if both_numbers else value  # type: ignore[operator]
    return figures
