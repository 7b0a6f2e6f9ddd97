"""The layer catalog: public layers need no login; changes need the gis or admin role."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from geoalchemy2.shape import to_shape

from twin.api.deps import OptionalUser, SessionDep, SettingsDep, require_roles
from twin.api.schemas import LayerOut, LayerPatch, LayerVersionOut
from twin.catalog import delete_layer, get_layer, list_layers, parse_bbox, rename_layer
from twin.models import Layer, LayerVersion, User

router = APIRouter(prefix="/layers", tags=["layers"])
EditorUser = Annotated[User, Depends(require_roles("admin", "gis"))]


def tileset_url(version: LayerVersion) -> str:
    return f"/tiles/{version.path}/{version.entry}"


def layer_out(layer: Layer) -> LayerOut:
    current = layer.current
    extent = list(to_shape(layer.extent).bounds) if layer.extent is not None else None
    return LayerOut(
        id=layer.id,
        name=layer.name,
        kind=layer.kind,
        description=layer.description,
        public=layer.public,
        status="ready" if current else "empty",
        source_crs=layer.source_crs,
        extent_wgs84=extent,
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


@router.get("/{layer_id}", response_model=LayerOut)
def read_layer(layer_id: int, session: SessionDep, user: OptionalUser) -> LayerOut:
    return layer_out(get_layer(session, layer_id, user))


@router.patch("/{layer_id}", response_model=LayerOut)
def patch_layer(layer_id: int, body: LayerPatch, session: SessionDep, user: EditorUser) -> LayerOut:
    return layer_out(rename_layer(session, layer_id, body.name, user))


@router.delete("/{layer_id}", status_code=204)
def remove_layer(
    layer_id: int, session: SessionDep, settings: SettingsDep, user: EditorUser
) -> Response:
    delete_layer(session, settings.tiles_dir, layer_id, user)
    return Response(status_code=204)
