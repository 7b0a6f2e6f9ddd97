"""A variant's new school changes the 15-minute share exactly as a brute-force search says."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from tests.routing.conftest import to_networkx
from twin.projects.access import variant_access
from twin.projects.content import VariantContent
from twin.routing.access import AccessOptions, accessibility
from twin.routing.network import WALK_SPEED_MS, Network


def square(lon: float, lat: float, use: str) -> dict[str, object]:
    d = 0.0001
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {"id": "new", "polygon": ring, "height": 12, "use": use}


def test_a_new_school_serves_exactly_its_walking_neighbourhood(network: Network) -> None:
    today = accessibility(network, "school", AccessOptions(minutes=15))
    places, times = today.places, today.times["school"]
    far = int(np.argmax(np.where(np.isfinite(times), times, -1)))  # the worst-served building
    spot = shapely.point_on_surface(places.geoms[far])
    content = VariantContent.model_validate({"footprints": [square(spot.x, spot.y, "school")]})
    result = variant_access(network, content, "school", AccessOptions(minutes=15))
    assert result.new_amenities == 1 and result.buildings == places.ids.size
    assert result.share_base == pytest.approx(np.mean(times <= 900), abs=1e-4)
    # Brute force: walking time from every building to the new school's node, via networkx.
    graph = to_networkx(network, np.where(network.arcs.walk, network.arcs.walk_s, np.inf))
    x, y = network.frame.to_xy(np.array([spot.x]), np.array([spot.y]))
    node, distance = network.node_index().query(shapely.points(x, y), 300.0)
    back = nx.single_source_dijkstra_path_length(graph.reverse(), int(node[0]), weight="w")
    start = distance[0] / WALK_SPEED_MS
    to_new = np.array([back.get(int(n), np.inf) for n in places.node]) + places.offset_s + start
    expected = np.mean(np.minimum(times, to_new) <= 900)
    assert result.share_variant == pytest.approx(expected, abs=1e-4)
    assert result.share_variant > result.share_base
    offices = VariantContent.model_validate({"footprints": [square(spot.x, spot.y, "office")]})
    same = variant_access(network, offices, "school", AccessOptions(minutes=15))
    assert same.new_amenities == 0 and same.share_variant == same.share_base
