"""The layer catalog: public layers need no login; changes need the gis or admin role; a closed
group's layers exist for its members (and admins) only."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from geoalchemy2.shape import to_shape

from twin.api.deps import OptionalUser, RunnerDep, SessionDep, SettingsDep, require_roles
from twin.api.schemas import JobOut, LayerOut, LayerPatch, LayerVersionOut
from twin.catalog import (
    delete_layer,
    get_layer,
    import_target,
    list_layers,
    move_layer,
    parse_bbox,
    rename_layer,
)
from twin.importer import check_srs, parse_height, parse_origin
from twin.models import Layer, LayerVersion, User
from twin.uploads import save_uploads

router = APIRouter(prefix="/layers", tags=["layers"])
EditorUser = Annotated[User, Depends(require_roles("admin", "gis"))]


def tileset_url(version: LayerVersion) -> str:
    return f"/tiles/{version.path}/{version.entry}"


def layer_out(layer: Layer) -> LayerOut:
    current = layer.current
    extent = list(to_shape(layer.extent).bounds) if layer.extent is not None else None
    stats = current.stats if current else {}
    return LayerOut(
        id=layer.id,
        name=layer.name,
        kind=layer.kind,
        description=layer.description,
        public=layer.public,
        group_id=layer.group_id,
        status="ready" if current else "empty",
        source_crs=layer.source_crs,
        extent_wgs84=extent,
        extent_source=stats.get("bounds_source"),
        point_count=stats.get("points"),
        feature_count=stats.get("features"),
        triangle_count=stats.get("triangles"),
        attributes=stats.get("attributes", []),
        draped=bool(stats.get("draped", False)),
        geometry=stats.get("geometry"),
        tileset_url=tileset_url(current) if current else None,
        version=current.number if current else None,
        versions=[
            LayerVersionOut(
                number=v.number,
                status=v.status,
                created_at=v.created_at,
                tileset_url=tileset_url(v),
                stats=v.stats,
            )
            for v in layer.versions
        ],
        created_at=layer.created_at,
        updated_at=layer.updated_at,
    )


@router.get("", response_model=list[LayerOut])
def read_layers(
    session: SessionDep,
    user: OptionalUser,
    bbox: str | None = Query(None, description="west,south,east,north in WGS84 degrees"),
) -> list[LayerOut]:
    bounds = parse_bbox(bbox) if bbox else None
    return [layer_out(layer) for layer in list_layers(session, user, bounds)]


@router.post("", response_model=JobOut, status_code=202)
def import_layer(
    files: Annotated[
        list[UploadFile],
        File(
            description="files of one layer: LAS/LAZ; GeoPackage, GeoJSON, FlatGeobuf, "
            "Shapefile parts; OBJ (+MTL, textures, metadata.xml), PLY, glTF/GLB; GeoTIFF DEM or "
            "orthophoto; or a ZIP of them"
        ),
    ],
    settings: SettingsDep,
    runner: RunnerDep,
    session: SessionDep,
    user: EditorUser,
    name: Annotated[str | None, Form(max_length=200)] = None,
    srs: Annotated[str | None, Form(description="source CRS, e.g. EPSG:2154")] = None,
    layer_id: Annotated[int | None, Form(description="add a version to this layer")] = None,
    height: Annotated[
        str | None, Form(description="vector layers: height field name or metres")
    ] = None,
    origin: Annotated[
        str | None, Form(description="meshes in local coordinates: origin X,Y,Z in `srs`")
    ] = None,
    group_id: Annotated[
        int | None, Form(description="a new layer's closed user group (one you belong to)")
    ] = None,
) -> JobOut:
    """Upload files and import them as a layer in the background; poll the returned job."""
    srs = check_srs(srs)
    import_target(session, user, layer_id, group_id)  # refused now, not after the upload
    folder = str(
        save_uploads(
            [(f.filename or "", f.file) for f in files],
            settings.uploads_dir,
            settings.max_upload_mb,
        )
    )
    params = {
        "paths": [folder],
        "tiles_dir": str(settings.tiles_dir.resolve()),
        "name": name,
        "srs": srs,
        "layer_id": layer_id,
        "height": parse_height(height),
        "origin": parse_origin(origin),
        "user_id": user.id,
        "group_id": group_id,
        "cleanup": folder,
    }
    return JobOut.model_validate(runner.submit("layers.import", params, user_id=user.id))


@router.get("/{layer_id}", response_model=LayerOut)
def read_layer(layer_id: int, session: SessionDep, user: OptionalUser) -> LayerOut:
    return layer_out(get_layer(session, layer_id, user))


@router.patch("/{layer_id}", response_model=LayerOut)
def patch_layer(layer_id: int, body: LayerPatch, session: SessionDep, user: EditorUser) -> LayerOut:
    layer = get_layer(session, layer_id, user)
    if body.name is not None:
        layer = rename_layer(session, layer_id, body.name, user)
    if "group_id" in body.model_fields_set:
        layer = move_layer(session, layer_id, body.group_id, user)
    return layer_out(layer)


@router.delete("/{layer_id}", status_code=204)
def remove_layer(
    layer_id: int, session: SessionDep, settings: SettingsDep, user: EditorUser
) -> Response:
    delete_layer(session, settings.tiles_dir, layer_id, user)
    return Response(status_code=204)
