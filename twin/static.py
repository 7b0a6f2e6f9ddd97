"""Static file serving: the web assets and the tile store.

In production nginx serves the tile store directly (tile bytes should not go through Python);
this is the same behaviour for the embedded default and for tests.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from twin.errors import NotFound
from twin.tile_guard import LayerGroups, cache_control, check_tiles

mimetypes.add_type("model/gltf-binary", ".glb")
mimetypes.add_type("model/gltf+json", ".gltf")
mimetypes.add_type("application/octet-stream", ".b3dm")
mimetypes.add_type("application/octet-stream", ".pnts")
mimetypes.add_type("application/octet-stream", ".subtree")
mimetypes.add_type("application/vnd.quantized-mesh", ".terrain")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("image/webp", ".webp")


class TileFiles(StaticFiles):
    """The tile store at `/tiles/<layer id>/<version key>/...` (and `/tiles/sims/...`).

    Layer versions never change once written, so open layers' files are cacheable forever; a
    closed group's files need a member's bearer token and stay out of shared caches. The database
    and settings come from the app's state at request time: the mount is made before the
    lifespan opens the database.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups = LayerGroups()

    async def get_response(self, path: str, scope: Scope) -> Response:
        group_id = await self._admit(path, scope)
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = cache_control(group_id)
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def _admit(self, path: str, scope: Scope) -> int | None:
        """The group owning the layer `path` is under, once the caller may fetch it. An open
        layer found in memory costs no query and no thread."""
        head = path.split(os.sep, 1)[0]  # `path` is normalised: no "..", OS separators
        if not head.isdigit():
            return None  # simulation results and the rest: as before, by unguessable keys
        hit, group_id = self.groups.cached(int(head))
        if hit and group_id is None:
            return None
        return await run_in_threadpool(self._check, int(head), scope)

    def _check(self, layer_id: int, scope: Scope) -> int | None:
        state = scope["app"].state
        authorization = Headers(scope=scope).get("authorization")
        try:
            with state.db.session() as session:
                group_id = self.groups.lookup(session, layer_id)
                check_tiles(session, state.settings, layer_id, group_id, authorization)
        except NotFound:
            raise HTTPException(status_code=404) from None  # the answer to a missing file
        return group_id
