"""Routing profiles: what a route minimises.

Every profile costs an arc

    cost = length × (1 + Σ wᵢ · factorᵢ)

with weights wᵢ ≥ 0 and the factors of `twin.routing.scores` (each 0 good … 1 bad). A weight
of 2 on noise makes a metre beside a 75 dB(A) road cost as much as three quiet metres, so a
quiet route may be up to three times longer where that avoids the noise. `shortest` has no
weight: its cost is the length, and its route is the shortest path on the network. Since every
cost is at least the length, the same length-based A* bounds serve every profile.

Custom weights (`noise=2,green=1`) replace or add to a profile's own; the `custom` profile is
`shortest` plus the weights given. `bike` routes on the arcs cyclists may ride, in their
allowed direction, at cycling speed; the others walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import shapely
from numpy.typing import NDArray

from twin.errors import InputError
from twin.routing.network import Network
from twin.routing.scores import FACTORS, ArcEnvironment

Mode = Literal["walk", "bike"]
MAX_WEIGHT = 100.0


@dataclass(frozen=True)
class Profile:
    name: str
    weights: Mapping[str, float] = field(default_factory=dict)
    mode: Mode = "walk"
    description: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "mode": self.mode,
            "weights": dict(self.weights),
            "description": self.description,
        }


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("shortest", {}, "walk", "the shortest walkable path"),
        Profile("quiet", {"noise": 4.0}, "walk", "away from traffic noise"),
        Profile("clean", {"air": 4.0, "traffic": 1.0}, "walk", "low NO2 and PM10"),
        Profile("green", {"green": 3.0}, "walk", "through parks and under trees"),
        Profile("cool", {"shade": 3.0, "green": 0.5}, "walk", "in the shade at that hour"),
        Profile(
            "school",
            {"traffic": 4.0, "air": 1.0, "noise": 1.0, "unlit": 0.5},
            "walk",
            "for children: away from traffic, fumes and dark streets",
        ),
        Profile("bike", {"slope": 4.0, "traffic": 2.0}, "bike", "flat and away from traffic"),
        Profile("custom", {}, "walk", "the shortest path plus the weights given"),
    )
}


def resolve(name: str, weights: str | Mapping[str, float] | None = None) -> Profile:
    """The profile called `name`, with `weights` (text `noise=2,green=1` or a mapping) replacing
    or adding to its own; a clear `InputError` for an unknown name or factor."""
    profile = PROFILES.get(name)
    if profile is None:
        raise InputError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    extra = parse_weights(weights) if isinstance(weights, str) else dict(weights or {})
    for factor, value in extra.items():
        _check(factor, value)
    if name == "custom" and not extra:
        raise InputError(
            f"profile 'custom' needs weights, e.g. noise=2,green=1 (factors: {', '.join(FACTORS)})"
        )
    if not extra:
        return profile
    return replace(profile, weights={**profile.weights, **extra})


def parse_weights(text: str) -> dict[str, float]:
    """`noise=2,green=1` → {"noise": 2.0, "green": 1.0}."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        factor, sep, value = item.partition("=")
        try:
            out[factor.strip()] = float(value) if sep else float("nan")
        except ValueError:
            raise InputError(f"weight {item!r}: expected FACTOR=NUMBER") from None
        _check(factor.strip(), out[factor.strip()])
    return out


def _check(factor: str, value: float) -> None:
    if factor not in FACTORS:
        raise InputError(f"unknown factor {factor!r}: choose among {', '.join(FACTORS)}")
    if not (0.0 <= value <= MAX_WEIGHT):
        raise InputError(f"weight of {factor} must be a number from 0 to {MAX_WEIGHT:g}")


def arc_costs(
    env: ArcEnvironment,
    profile: Profile,
    *,
    avoid: NDArray[np.object_] | None = None,
) -> NDArray[np.float64]:
    """length × (1 + Σ wᵢ·factorᵢ) per arc; inf where the profile's mode may not go or the arc
    crosses an `avoid` polygon (WGS84)."""
    net = env.network
    arcs = net.arcs
    multiplier = np.ones(arcs.tail.size)
    for factor, weight in profile.weights.items():
        if weight:
            multiplier += weight * env.factor(factor)
    cost = arcs.length * multiplier
    allowed = arcs.bike if profile.mode == "bike" else arcs.walk
    cost[~allowed] = np.inf
    if avoid is not None and len(avoid):
        cost[blocked_arcs(net, avoid)] = np.inf
    return cost


def blocked_arcs(network: Network, polygons: NDArray[np.object_]) -> NDArray[np.int64]:
    """Arcs whose segment touches any of the polygons (WGS84): both arcs of each edge."""
    shapes = network.frame.project(np.asarray(polygons, dtype=object))
    edges = shapely.STRtree(network.edge_lines).query(shapes, predicate="intersects")[1]
    edges = np.unique(edges)
    return np.concatenate([2 * edges, 2 * edges + 1])
