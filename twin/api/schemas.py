"""API shapes (pydantic), kept apart from the database models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "gis", "planner", "public", "device"]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: Role
    active: bool
    created_at: datetime


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    role: Role
    password: str = Field(min_length=8, max_length=256)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    status: str
    progress: float
    message: str
    error: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    cancel_requested: bool
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class LayerVersionOut(BaseModel):
    number: int
    status: str
    created_at: datetime
    tileset_url: str
    stats: dict[str, Any]


class LayerOut(BaseModel):
    id: int
    name: str
    kind: str
    description: str
    public: bool
    group_id: int | None = Field(
        description="the closed user group that owns the layer: only its members (and admins) "
        "see it, whatever `public` says"
    )
    status: str
    source_crs: str | None
    extent_wgs84: list[float] | None = Field(description="[west, south, east, north] degrees")
    extent_source: list[float] | None = Field(
        description="[minx, miny, minz, maxx, maxy, maxz] in the source CRS, when known"
    )
    point_count: int | None
    feature_count: int | None
    triangle_count: int | None = Field(description="meshes and terrain: triangles")
    attributes: list[dict[str, Any]] = Field(description="attribute schema: name and type")
    draped: bool = Field(description="vector features draped on the ground (classification)")
    geometry: str | None = Field(description="vector layers: polygon, line or point")
    tileset_url: str | None
    version: int | None
    versions: list[LayerVersionOut]
    created_at: datetime
    updated_at: datetime


class LayerPatch(BaseModel):
    """Only the fields sent change; `group_id: null` takes the layer out of its group."""

    name: str | None = Field(None, min_length=1, max_length=200)
    group_id: int | None = Field(None, description="move the layer into this closed group")


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    spatial: str
    version: str
    mqtt: Literal["off", "connected", "disconnected"] = Field(
        description="MQTT ingest: off (no TWIN_MQTT_URL), connected, or retrying"
    )


class FloodIn(BaseModel):
    """A flood scenario on a terrain layer; which fields count depends on `mode`."""

    layer_id: int = Field(description="the terrain layer whose DEM the water runs on")
    version: int | None = Field(None, description="its version number; default: the current")
    name: str | None = Field(None, max_length=200, description="default: from the scenario")
    mode: Literal["rain", "river", "sea", "bathtub"]
    duration_s: float | None = Field(None, description="simulated time (all but bathtub)")
    output_every_s: float | None = Field(None, description="a frame every so many seconds")
    manning: float | None = Field(None, description="Manning's n, default 0.035")
    rain_mm_h: float | None = Field(None, description="rain: intensity over the whole DEM")
    rain_duration_s: float | None = Field(None, description="rain: stops after (default: never)")
    lon: float | None = Field(None, description="river: inflow point; bathtub: seed (WGS84)")
    lat: float | None = None
    peak_m3s: float | None = Field(None, description="river: peak discharge")
    hydrograph: Literal["triangle", "constant"] = "triangle"
    time_to_peak_s: float | None = Field(None, description="river, triangle: default duration/4")
    sea_level_m: float | None = Field(None, description="sea: level held on low edge cells")
    level_m: float | None = Field(None, description="bathtub: water level (the DEM's heights)")


class SimFrameOut(BaseModel):
    t_s: float
    url: str = Field(description="transparent PNG to drape on `image_bounds`")
    raster_url: str = Field(description="the depth GeoTIFF on the DEM's grid")
    flooded_area_m2: float
    max_depth_m: float
    volume_m3: float


class SimResultOut(BaseModel):
    id: str
    kind: str
    name: str
    status: str
    error: str | None
    params: dict[str, Any]
    summary: dict[str, Any] | None = Field(description="result.json once succeeded")
    layer_id: int | None
    user: str | None
    job_id: str | None
    created_at: datetime
    files_url: str = Field(description="folder of the result's files (rasters, images)")
    frames: list[SimFrameOut]
    image_bounds: list[float] | None = Field(description="[west, south, east, north] degrees")
    max_depth_url: str | None
