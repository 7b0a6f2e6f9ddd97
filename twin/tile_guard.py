"""Who may fetch a layer's tile files: the one rule behind both tile servers.

The app's own `/tiles` mount (embedded default, tests) and nginx in production (through its
`auth_request` to `/tile-access/<layer id>`) ask the same question: a closed group's layer is
fetched by its members and admins only, with the caller's bearer token; every other layer's
tiles by anyone (its row is public or not, tile URLs hold an unguessable version key, as today).
"""

from __future__ import annotations

from time import monotonic

from sqlalchemy.orm import Session

from twin.auth import user_from_token
from twin.catalog import layer_group
from twin.config import Settings
from twin.errors import AuthenticationError, NotFound
from twin.groups import sees_group
from twin.models import User

OPEN_CACHE = "public, max-age=31536000, immutable"  # versions never change once written
# A group's tiles must not sit in shared caches; a browser may keep them a while.
GROUP_CACHE = "private, max-age=3600"


def cache_control(group_id: int | None) -> str:
    return OPEN_CACHE if group_id is None else GROUP_CACHE


def bearer_user(session: Session, settings: Settings, authorization: str | None) -> User | None:
    """The user an Authorization header names. No token, or a bad or expired one, fetches tiles
    as anyone does: open layers' tiles still load, a group's answer 404 as if missing."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return user_from_token(session, token.strip(), settings)
    except AuthenticationError:
        return None


def check_tiles(
    session: Session,
    settings: Settings,
    layer_id: int,
    group_id: int | None,
    authorization: str | None,
) -> None:
    """NotFound unless the caller may fetch the tiles of a layer owned by `group_id`."""
    if group_id is not None and not sees_group(
        session, bearer_user(session, settings, authorization), group_id
    ):
        raise NotFound(f"layer {layer_id} not found")


class LayerGroups:
    """layer id -> the group that owns it, remembered for `ttl` seconds, so that an open layer's
    tile costs no database query; a layer moved into a group is closed within `ttl` seconds.
    Unknown ids are not remembered: a layer being published is served as soon as it exists."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._known: dict[int, tuple[float, int | None]] = {}

    def cached(self, layer_id: int) -> tuple[bool, int | None]:
        """(hit, group id) from memory only."""
        entry = self._known.get(layer_id)
        if entry is None or entry[0] < monotonic():
            return False, None
        return True, entry[1]

    def lookup(self, session: Session, layer_id: int) -> int | None:
        """The layer's group from the database (NotFound for no such layer), remembered."""
        group_id = layer_group(session, layer_id)
        self._known[layer_id] = (monotonic() + self.ttl, group_id)
        return group_id
