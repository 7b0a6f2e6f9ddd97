"""What a variant changes to the 15-minute city: the share of buildings within a walk of an
amenity, before and with the variant's new buildings of that use (a new school serves its
neighbourhood from the day it opens).

Buildings stand in for homes (OpenStreetMap does not say which buildings are lived in); a
variant's new building counts as an amenity at the walkable node nearest its centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from twin.errors import InputError
from twin.projects.content import VariantContent
from twin.routing.access import (
    AccessOptions,
    amenity_seeds,
    building_places,
    check_minutes,
    nearest_nodes,
    places_within,
)
from twin.routing.network import WALK_SPEED_MS, Network
from twin.routing.planner import MAX_SNAP_M
from twin.routing.search import Seeds, dijkstra

# Which footprint uses serve which accessibility category.
USE_CATEGORY = {"school": "school", "shop": "food", "equipment": "health"}


class NotMeasurable(InputError):
    """The share cannot be measured here: no street network buildings around, no area."""


@dataclass(frozen=True)
class VariantAccess:
    category: str
    minutes: float
    buildings: int
    new_amenities: int
    share_base: float
    share_variant: float


def variant_access(
    network: Network, content: VariantContent, category: str, options: AccessOptions
) -> VariantAccess:
    if category not in set(USE_CATEGORY.values()):
        raise InputError(
            f"category {category!r}: one of {', '.join(sorted(USE_CATEGORY.values()))}"
        )
    minutes = check_minutes(options.minutes)
    places = building_places(network)
    if options.bbox is not None:
        places = places_within(places, options.bbox)
    if not len(places.ids):
        raise NotMeasurable(
            f"the street network ({network.meta.source}) has no buildings in this project's "
            "area: load an OpenStreetMap extract covering it (TWIN_OSM_FILE)"
        )
    base = amenity_seeds(network, category)
    added = _new_amenities(network, content, category)
    cost = np.where(network.arcs.walk, network.arcs.walk_s, np.inf)

    def share(seeds: Seeds) -> float:
        if not len(seeds.nodes):
            return 0.0
        node_s = dijkstra(network, cost, seeds, reverse=True)
        return float(np.mean(node_s[places.node] + places.offset_s <= minutes * 60.0))

    both = Seeds(np.concatenate([base.nodes, added.nodes]), np.concatenate([base.cost, added.cost]))
    return VariantAccess(
        category,
        minutes,
        len(places.ids),
        len(added.nodes),
        round(share(base), 4),
        round(share(both), 4),
    )


def neighbourhood(content: VariantContent, minutes: float) -> tuple[float, float, float, float]:
    """The buildings a variant's new buildings can serve, for a project without an area: those
    within a walk of `minutes` as the crow flies around them."""
    points = [p for f in content.footprints for p in f.polygon]
    if not points:
        raise NotMeasurable("the variant adds no building: give the project an area to measure")
    reach_m = minutes * 60.0 * WALK_SPEED_MS
    lon, lat = np.asarray(points).T
    dlat = reach_m / 111_320.0
    dlon = dlat / max(np.cos(np.radians(lat.mean())), 0.01)
    return (lon.min() - dlon, lat.min() - dlat, lon.max() + dlon, lat.max() + dlat)


def _new_amenities(network: Network, content: VariantContent, category: str) -> Seeds:
    """The variant's footprints of a use serving `category`, at their nearest walkable node
    (those further than the snapping distance from any street are left out)."""
    polygons = [f.polygon for f in content.footprints if USE_CATEGORY.get(f.use) == category]
    if not polygons:
        return Seeds(np.empty(0, np.int64), np.empty(0))
    centres = shapely.centroid(shapely.polygons(polygons))
    x, y = network.frame.to_xy(shapely.get_x(centres), shapely.get_y(centres))
    node, distance = nearest_nodes(network, np.asarray(x), np.asarray(y))
    keep = distance <= MAX_SNAP_M
    return Seeds(node[keep], distance[keep] / WALK_SPEED_MS)
