"""Shortest-path kernels on CSR arrays, compiled with numba.

Costs are per arc (`cost[a]`, `inf` where the arc may not be used) so every profile, and every
penalty used to find alternatives, is just another array over the same graph. Searches start
from seeds: nodes with an initial cost, which is how a point in the middle of an edge (its two
end nodes, at the cost of the part of the edge to each) or a set of amenities (a multi-source
search) enters the search.

- `shortest`: A* with ALT potentials (landmarks, see `Landmarks`) and the straight line, both
  lower bounds on length, hence on any profile's cost since every profile costs at least the
  length; stops when the smallest key reaches the best cost found; returns the best path.
- `dijkstra`: one-directional multi-source Dijkstra up to a cost limit, forwards (costs from
  the seeds) or backwards (costs to them), with the seed each node was reached from.

Both use a binary heap with lazy deletion (a node may be pushed again with a lower cost; stale
entries are skipped when popped).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from twin.routing.network import Csr, Network, label_components

_CACHE_LOCK = threading.Lock()
ACTIVE_LANDMARKS = 8  # landmarks a query evaluates, chosen among all for its two ends


@dataclass(frozen=True)
class Seeds:
    """Where a search starts (or ends): nodes and the cost already spent to reach them."""

    nodes: NDArray[np.int64]
    cost: NDArray[np.float64]


@dataclass(frozen=True)
class Path:
    """The best path: its cost, its arcs in order, and the seed nodes at both ends."""

    cost: float
    arcs: NDArray[np.int64]
    first: int  # source seed node the path leaves from
    last: int  # target seed node it arrives at


@dataclass(frozen=True)
class Landmarks:
    """Costs from a few far-apart nodes to every node on a symmetric lower bound of a cost
    array (each edge at the cheaper of its two arcs): by the triangle inequality,
    |d(L, t) − d(L, v)| bounds the cost from v to t, for this cost and any cost above it (the
    penalised costs of alternatives). What makes A* fast here (ALT)."""

    dist: NDArray[np.float64]  # (nodes, landmarks), inf where not connected


def landmarks_for(network: Network, cost: NDArray, count: int = 16) -> Landmarks:
    """The landmarks of a cost array: computed once (some tens of milliseconds), then kept
    for the last few cost arrays seen (profiles, hours, live readings)."""
    cache: OrderedDict[bytes, Landmarks] = network.__dict__.setdefault("_landmarks", OrderedDict())
    key = hashlib.sha1(np.ascontiguousarray(cost, np.float64)).digest()  # ~0.3 ms a city
    with _CACHE_LOCK:
        found = cache.get(key)
    if found is None:
        lower = np.minimum(cost[0::2], cost[1::2]).repeat(2)
        found = _choose_landmarks(network, lower, count)
    with _CACHE_LOCK:  # server threads share the cache
        cache[key] = found
        cache.move_to_end(key)
        while len(cache) > 8:
            cache.popitem(last=False)
    return found


def _choose_landmarks(network: Network, lower: NDArray, count: int) -> Landmarks:
    """Each landmark the node farthest from those chosen so far, the first the farthest
    from a node of the largest part the cost connects."""
    csr, head = network.csr, network.arcs.head
    n = csr.out_ptr.size - 1
    label = label_components(csr.out_ptr, csr.out_arc, head, np.isfinite(lower), n)
    sizes = np.bincount(label[label >= 0])
    dist = np.full((n, count), np.inf)
    if not sizes.size:
        return Landmarks(dist)
    start = int(np.flatnonzero(label == np.argmax(sizes))[0])
    nearest = _reach(csr, head, lower, start)
    for m in range(count):
        seed = int(np.argmax(np.where(np.isfinite(nearest), nearest, -1.0)))
        dist[:, m] = _reach(csr, head, lower, seed)
        nearest = dist[:, m] if m == 0 else np.minimum(nearest, dist[:, m])
    return Landmarks(dist)


def _reach(csr: Csr, head: NDArray, cost: NDArray, start: int) -> NDArray[np.float64]:
    return _dijkstra(csr.out_ptr, csr.out_arc, head, cost, np.array([start]), np.zeros(1), np.inf)


def shortest(
    network: Network, cost: NDArray, src: Seeds, dst: Seeds, *, bounds: Landmarks | None = None
) -> Path | None:
    """The least-cost path from any source seed to any target seed, or None if there is none.
    A* with the landmarks of `cost` (or `bounds`, those of a cost no higher) and the straight
    line, which bounds every profile's cost since each costs at least the length."""
    lm = bounds if bounds is not None else landmarks_for(network, cost)
    a, n, c = network.arcs, network.nodes, network.csr
    best, arcs, first, last = _astar(
        c.out_ptr,
        c.out_arc,
        a.tail,
        a.head,
        cost,
        n.x,
        n.y,
        lm.dist,
        src.nodes,
        src.cost,
        dst.nodes,
        dst.cost,
    )
    if not np.isfinite(best):
        return None
    return Path(float(best), arcs, int(first), int(last))


def dijkstra(
    network: Network, cost: NDArray, seeds: Seeds, *, limit: float = np.inf, reverse: bool = False
) -> NDArray[np.float64]:
    """Costs from the seeds (or, `reverse`, to them) to every node, up to `limit` (inf
    beyond, and where no seed reaches)."""
    c, a = network.csr, network.arcs
    if reverse:
        ptr, arcs, other = c.in_ptr, c.in_arc, a.tail
    else:
        ptr, arcs, other = c.out_ptr, c.out_arc, a.head
    return _dijkstra(ptr, arcs, other, cost, seeds.nodes, seeds.cost, limit)


@njit(cache=True, inline="always")
def _push(keys, items, size, key, item):  # pragma: no cover - compiled
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        items[i] = items[parent]
        i = parent
    keys[i] = key
    items[i] = item
    return size + 1


@njit(cache=True, inline="always")
def _pop(keys, items, size):  # pragma: no cover - compiled
    """Remove the top (read it from keys[0], items[0] before calling); returns the new size."""
    size -= 1
    key = keys[size]
    item = items[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i] = keys[child]
        items[i] = items[child]
        i = child
    keys[i] = key
    items[i] = item
    return size


@njit(cache=True)
def _astar(
    out_ptr, out_arc, tail, head, cost, x, y, lm, src, src_cost, dst, dst_cost
):  # pragma: no cover - compiled
    n = out_ptr.size - 1
    g = np.full(n, np.inf)
    h = np.full(n, -1.0)
    pred = np.full(n, -1, np.int64)
    goal = np.full(n, np.inf)  # extra cost from a target seed to the end point
    for j in range(dst.size):
        goal[dst[j]] = min(goal[dst[j]], dst_cost[j])
    cap = cost.size + src.size + 1
    keys = np.empty(cap)
    items = np.empty(cap, np.int64)
    size = 0
    best = np.inf
    last = -1
    active = (
        _best_landmarks(lm, src[0], dst[0], ACTIVE_LANDMARKS)
        if src.size and dst.size
        else np.zeros(0, np.int64)
    )
    for i in range(src.size):
        s = src[i]
        if src_cost[i] < g[s]:
            g[s] = src_cost[i]
            if h[s] < 0:
                h[s] = _potential(s, x, y, lm, active, dst, dst_cost)
            size = _push(keys, items, size, g[s] + h[s], s)
            if g[s] + goal[s] < best:
                best = g[s] + goal[s]
                last = s
    while size > 0 and keys[0] < best:
        key = keys[0]
        u = items[0]
        size = _pop(keys, items, size)
        if key > g[u] + h[u]:
            continue  # stale: u was pushed again with a lower cost
        for k in range(out_ptr[u], out_ptr[u + 1]):
            a = out_arc[k]
            c = g[u] + cost[a]
            v = head[a]
            if c < g[v]:
                g[v] = c
                pred[v] = a
                if h[v] < 0:
                    h[v] = _potential(v, x, y, lm, active, dst, dst_cost)
                size = _push(keys, items, size, c + h[v], v)
                if c + goal[v] < best:
                    best = c + goal[v]
                    last = v
    if last < 0:
        return np.inf, np.empty(0, np.int64), -1, -1
    arcs = _unwind(pred, tail, last)
    first = last if arcs.size == 0 else tail[arcs[0]]
    return best, arcs, first, last


@njit(cache=True)
def _potential(v, x, y, lm, active, dst, dst_cost):  # pragma: no cover - compiled
    """A lower bound on the cost from v to the end point: over the target seeds, the least of
    (seed cost + a bound on the length from v to the seed), the bound being the straight line
    or the `active` landmarks' triangle inequality, whichever is larger. Comparisons with NaN
    (a landmark reaching neither node) are false, so such a landmark is ignored; one reaching
    only one of them gives inf: v cannot reach that seed at all."""
    best = np.inf
    for j in range(dst.size):
        t = dst[j]
        bound = np.hypot(x[v] - x[t], y[v] - y[t])
        for m in active:
            d = abs(lm[t, m] - lm[v, m])
            if d > bound:
                bound = d
        best = min(best, bound + dst_cost[j])
    return best


@njit(cache=True)
def _best_landmarks(lm, s, t, count):  # pragma: no cover - compiled
    """The `count` landmarks that bound the length from s to t the most: they usually bound the
    nodes between best too, and evaluating a few instead of all makes each node cheaper."""
    bounds = np.empty(lm.shape[1])
    for m in range(lm.shape[1]):
        d = abs(lm[t, m] - lm[s, m])
        bounds[m] = d if d == d else -1.0  # NaN: useless here
    return np.argsort(-bounds)[: min(count, lm.shape[1])]


@njit(cache=True)
def _unwind(pred, tail, last):  # pragma: no cover - compiled
    """The arcs that led to `last`, in order."""
    count = 0
    node = last
    while pred[node] >= 0:
        count += 1
        node = tail[pred[node]]
    out = np.empty(count, np.int64)
    node = last
    for i in range(count - 1, -1, -1):
        out[i] = pred[node]
        node = tail[pred[node]]
    return out


@njit(cache=True)
def _dijkstra(ptr, arcs, other, cost, seeds, seed_cost, limit):  # pragma: no cover - compiled
    n = ptr.size - 1
    dist = np.full(n, np.inf)
    cap = cost.size + seeds.size + 1
    keys = np.empty(cap)
    items = np.empty(cap, np.int64)
    size = 0
    for i in range(seeds.size):
        s = seeds[i]
        if seed_cost[i] < dist[s] and seed_cost[i] <= limit:
            dist[s] = seed_cost[i]
            size = _push(keys, items, size, seed_cost[i], s)
    while size > 0:
        key = keys[0]
        u = items[0]
        size = _pop(keys, items, size)
        if key > dist[u]:
            continue
        for k in range(ptr[u], ptr[u + 1]):
            a = arcs[k]
            c = key + cost[a]
            v = other[a]
            if c < dist[v] and c <= limit:
                dist[v] = c
                size = _push(keys, items, size, c, v)
    return dist
