"""nginx's `auth_request` for the tile store: nginx serves tile bytes itself and asks this route,
once per layer and token (it caches the answer a few seconds), whether the caller may have them.

Internal: nginx answers it 404 from outside, and it is left out of the OpenAPI document.
"""

from fastapi import APIRouter, Request, Response

from twin.api.deps import SessionDep, SettingsDep
from twin.catalog import layer_group
from twin.tile_guard import cache_control, check_tiles

router = APIRouter(prefix="/tile-access", include_in_schema=False)


@router.get("/{layer_id}", status_code=204)
def tile_access(
    layer_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """204 lets `/tiles/<layer_id>/...` through, with the Cache-Control nginx should send in
    `X-Tile-Cache-Control`; 404 hides the layer (no such layer, or the caller is not in its
    group)."""
    group_id = layer_group(session, layer_id)
    check_tiles(session, settings, layer_id, group_id, request.headers.get("authorization"))
    return Response(status_code=204, headers={"X-Tile-Cache-Control": cache_control(group_id)})
