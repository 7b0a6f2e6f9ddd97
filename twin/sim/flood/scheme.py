"""The local inertial scheme in plain numpy: the reference the compiled kernel must match, and
the fallback where numba is missing.

Local inertial shallow water (Bates, Horritt & Fewtrell 2010, J. Hydrol. 387) with the
θ-weighting of de Almeida, Bates, Freer & Souvignet 2012 (Water Resour. Res. 48): the momentum
equation without its advection term, solved for the unit discharge q (m²/s) on each cell face

    q⁺ = [θ q + (1−θ)/2 (q₋ + q₊) − g h_f Δt ∂η/∂x] / [1 + g Δt n² |q| / h_f^(7/3)]

where q₋, q₊ are the neighbouring faces' discharges along the same direction, η = h + z the water
level, h_f = max(η_i, η_j) − max(z_i, z_j) the flow depth across the face (wetting and drying:
q⁺ = 0 when h_f ≤ h_min), n Manning's coefficient (face value: mean of the two cells' n², the
friction term semi-implicit). Then continuity h⁺ = h + Δt/Δx (q_w − q_e) + Δt/Δy (q_n − q_s) +
rain·Δt. Arrays: h (ny, nx) depths; qx (ny, nx+1) discharge through the west face of column j
(positive eastwards, faces 0 and nx on the domain edge); qy (ny+1, nx) through the north face of
row i (positive southwards, i.e. along increasing row).

Positivity: before continuity, every cell's outgoing fluxes are scaled by
f = min(1, h / (Δt Σ outflow / area)), so no cell gives more water than it holds; the factor of a
face is its donor cell's. This keeps depths >= 0 and mass exact (each face's flux is added to one
cell and taken from the other), where clipping negative depths would create water.

Open edges (free outflow): the water-surface slope across the edge face is extrapolated from the
interior (η_ghost = 2η_b − η_in, zero gradient of the slope), the same inertial update gives the
outward discharge, which is clipped to [0, h√(gh)] (no inflow, at most critical flow). Closed
edges and nodata cells (bed at WALL_Z) carry no flux.

`step` chains the three passes below; `kernel.py` compiles the same arithmetic with numba into
one fused sweep, operation for operation and in the same order, so the two agree to the last bit
(only the summation order of the outflow volume differs).
"""

from __future__ import annotations

import numpy as np

G = 9.81
#: Bit pattern from which int64 arithmetic gives a first guess of x^(-1/3) within 3.5 %.
INV_CBRT_MAGIC = 0x553EF0FDF3B64400
THIRD = 1.0 / 3.0


def inv_pow73(x):
    """x^(-7/3) for x > 0, the friction term's depth factor, without pow or division: a
    bit-pattern first guess of r = x^(-1/3), four Newton steps r += r(1 − x r³)/3 (relative
    error < 1e-15 over 1e-6..1e6), then r⁷. `x ** (7/3)` is a libm call and a division, the
    largest cost of a face update; the compiled kernel does exactly these operations."""
    r = (INV_CBRT_MAGIC - x.view(np.int64) // 3).view(np.float64)
    for _ in range(4):
        r = r + r * (1.0 - x * (r * r * r)) * THIRD
    r2 = r * r
    return r2 * r2 * r2 * r


def _inertial(q0, qs, hf, slope, n2f, dt, hmin):
    wet = hf > hmin
    hs = np.where(wet, hf, 1.0)
    q = (qs - G * hs * dt * slope) / (1.0 + G * dt * n2f * np.abs(q0) * inv_pow73(hs))
    return np.where(wet, q, 0.0)


def _outflow(q0_out, h_b, eta_b, eta_in, inner_ok, n2b, rd, dt, hmin):
    """Outward unit discharge (>= 0) through an open edge face of the boundary cells `_b`."""
    wet = h_b > hmin
    hs = np.where(wet, h_b, 1.0)
    slope = np.where(inner_ok, eta_b - eta_in, 0.0) * rd
    q = (q0_out - G * hs * dt * slope) / (1.0 + G * dt * n2b * np.abs(q0_out) * inv_pow73(hs))
    q = np.minimum(np.maximum(q, 0.0), hs * np.sqrt(G * hs))
    return np.where(wet, q, 0.0)


def momentum(z, h, qx, qy, qxn, qyn, n2, wall, dt, dx, dy, theta, hmin, open_bc):
    """New face discharges qxn, qyn from depths h and the previous discharges qx, qy."""
    ny, nx = h.shape
    eta = h + z
    w = 0.5 * (1.0 - theta)
    uniform = n2.shape[0] == 1 and n2.shape[1] == 1
    if nx > 1:
        el, er = eta[:, :-1], eta[:, 1:]
        hf = np.maximum(el, er) - np.maximum(z[:, :-1], z[:, 1:])
        n2f = n2[0, 0] if uniform else 0.5 * (n2[:, :-1] + n2[:, 1:])
        q0 = qx[:, 1:-1]
        qs = theta * q0 + w * (qx[:, :-2] + qx[:, 2:])
        qxn[:, 1:-1] = _inertial(q0, qs, hf, (er - el) * (1.0 / dx), n2f, dt, hmin)
    if ny > 1:
        en, es = eta[:-1, :], eta[1:, :]
        hf = np.maximum(en, es) - np.maximum(z[:-1, :], z[1:, :])
        n2f = n2[0, 0] if uniform else 0.5 * (n2[:-1, :] + n2[1:, :])
        q0 = qy[1:-1, :]
        qs = theta * q0 + w * (qy[:-2, :] + qy[2:, :])
        qyn[1:-1, :] = _inertial(q0, qs, hf, (es - en) * (1.0 / dy), n2f, dt, hmin)
    if not open_bc:
        qxn[:, 0] = qxn[:, -1] = 0.0
        qyn[0, :] = qyn[-1, :] = 0.0
        return
    nw = n2[0, 0] if uniform else n2[:, 0]
    ne = n2[0, 0] if uniform else n2[:, -1]
    nn = n2[0, 0] if uniform else n2[0, :]
    ns = n2[0, 0] if uniform else n2[-1, :]
    ok_x = nx > 1
    ok_y = ny > 1
    iw, ie = min(1, nx - 1), max(nx - 2, 0)
    jn, js = min(1, ny - 1), max(ny - 2, 0)
    qxn[:, 0] = -_outflow(
        -qx[:, 0], h[:, 0], eta[:, 0], eta[:, iw], ok_x & ~wall[:, iw], nw, 1.0 / dx, dt, hmin
    )
    qxn[:, -1] = _outflow(
        qx[:, -1], h[:, -1], eta[:, -1], eta[:, ie], ok_x & ~wall[:, ie], ne, 1.0 / dx, dt, hmin
    )
    qyn[0, :] = -_outflow(
        -qy[0, :], h[0, :], eta[0, :], eta[jn, :], ok_y & ~wall[jn, :], nn, 1.0 / dy, dt, hmin
    )
    qyn[-1, :] = _outflow(
        qy[-1, :], h[-1, :], eta[-1, :], eta[js, :], ok_y & ~wall[js, :], ns, 1.0 / dy, dt, hmin
    )


def limit(h, qxn, qyn, f, dt, dx, dy):
    """f = share of each cell's outgoing fluxes it can afford this step (1 = all of them)."""
    out = (np.maximum(qxn[:, 1:], 0.0) + np.maximum(-qxn[:, :-1], 0.0)) * (dt / dx)
    out += (np.maximum(qyn[1:, :], 0.0) + np.maximum(-qyn[:-1, :], 0.0)) * (dt / dy)
    f[...] = np.where(out <= h, 1.0, h / np.where(out > 0.0, out, 1.0))


def continuity(
    h, qxn, qyn, f, qx, qy, valid, dt, dx, dy, rain, t_new, wet, max_depth, arrival, open_bc
):
    """Scale the new fluxes by their donor's f into qx, qy, update h in place (plus rain on data
    cells), the max depth and the arrival time. Returns (the largest depth now, the volume in m³
    that left through the open edges)."""
    ny, nx = h.shape
    fx = np.ones((ny, nx + 2))
    fx[:, 1:-1] = f
    np.multiply(qxn, np.where(qxn > 0.0, fx[:, :-1], fx[:, 1:]), out=qx)
    fy = np.ones((ny + 2, nx))
    fy[1:-1, :] = f
    np.multiply(qyn, np.where(qyn > 0.0, fy[:-1, :], fy[1:, :]), out=qy)
    hn = h + (dt / dx) * (qx[:, :-1] - qx[:, 1:])
    hn += (dt / dy) * (qy[:-1, :] - qy[1:, :])
    if rain > 0.0:
        hn[valid] += rain
    np.maximum(hn, 0.0, out=h)
    np.maximum(max_depth, h, out=max_depth)
    arrival[(arrival < 0.0) & (h > wet)] = t_new
    out = 0.0
    if open_bc:
        out = (np.maximum(-qx[:, 0], 0.0).sum() + np.maximum(qx[:, -1], 0.0).sum()) * dt * dy + (
            np.maximum(-qy[0, :], 0.0).sum() + np.maximum(qy[-1, :], 0.0).sum()
        ) * (dt * dx)
    return float(h.max()), float(out)


def step(z, valid, n2, h, qx, qy, h_new, qx_new, qy_new, max_depth, arrival, dt, dx, dy, theta,
         hmin, open_bc, rain, t_new, wet, blocks=1):  # fmt: skip
    """One time step from (h, qx, qy) into (h_new, qx_new, qy_new); updates max_depth and
    arrival in place. Returns (largest depth, volume out through the edges in m³). `blocks` is
    the compiled kernel's (row blocks for its threads); unused here."""
    momentum(z, h, qx, qy, qx_new, qy_new, n2, ~valid, dt, dx, dy, theta, hmin, open_bc)
    f = np.empty_like(h)
    limit(h, qx_new, qy_new, f, dt, dx, dy)
    h_new[...] = h
    return continuity(h_new, qx_new, qy_new, f, qx_new, qy_new, valid, dt, dx, dy, rain, t_new,
                      wet, max_depth, arrival, open_bc)  # fmt: skip
