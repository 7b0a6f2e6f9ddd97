"""Static file serving: the web assets and the tile store.

In production nginx serves the tile store directly (tile bytes should not go through Python);
this is the same behaviour for the embedded default and for tests.
"""

from __future__ import annotations

import mimetypes

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

mimetypes.add_type("model/gltf-binary", ".glb")
mimetypes.add_type("model/gltf+json", ".gltf")
mimetypes.add_type("application/octet-stream", ".b3dm")
mimetypes.add_type("application/octet-stream", ".pnts")
mimetypes.add_type("application/octet-stream", ".subtree")
mimetypes.add_type("application/vnd.quantized-mesh", ".terrain")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("image/webp", ".webp")


class TileFiles(StaticFiles):
    """Layer versions never change once written, so their files are cacheable forever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response
