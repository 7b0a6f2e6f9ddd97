"""The local inertial scheme of `scheme.py`, compiled with numba: one fused, parallel sweep.

The numpy reference makes three passes over the grid (face discharges, positivity factors,
continuity) and a dozen temporary arrays; memory traffic, not arithmetic, bounds it. Here the
rows are split into blocks, one per task of a `prange`, and each block walks its rows once,
keeping the unscaled discharges of the last four rows and the positivity factors of the last
three in small ring buffers: row r's continuity needs the faces of rows r-1..r+2 and the
factors of rows r-1..r+1, so the block computes them just ahead of it (the one or two rows on
either side of a block are computed by both neighbours, identically). Each step reads z, h and
the old discharges once and writes the new h and discharges once: about half the traffic of
three passes.

The arithmetic is the reference's, operation for operation and in the same order (including the
division-free x^(-7/3) of `scheme.inv_pow73`), so the two agree to the last bit on every test we
run; only the summation order of the outflow volume differs.

Precision: float64 state. The water level η = h + z sits around 10-2000 m while the gradients
that drive the flow, and the depth one rain step adds, are millimetres or less: in float32
(24-bit mantissa) a 150 m level resolves 15 µm, which breaks the lake-at-rest balance and,
summed over 10⁴ steps, the 0.1 % mass balance. float64 doubles the bytes moved; the measured
cost is in bench/README.md.

State is double-buffered (h → h_new, q → q_new): a block reads its neighbours' rows of h and q
while they are being updated by another thread, so nothing is updated in place.
"""

from __future__ import annotations

import math
import os

import numpy as np

# numba's default OpenMP layer spins at the end of each parallel step; on a machine where other
# processes compete for the cores (CI, a laptop) a descheduled thread then stalls every step:
# on 2 busy cores a 40,000-cell step took 25 ms instead of 1.5. Passive waiting costs little
# here (one parallel region per step, milliseconds long). A value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from numba import get_num_threads, njit, prange, set_num_threads, types  # noqa: F401
    from numba.extending import intrinsic

    AVAILABLE = True
except ImportError:  # pragma: no cover - numba is a dependency; the numpy scheme still runs
    AVAILABLE = False

G = 9.81
INV_CBRT_MAGIC = 0x553EF0FDF3B64400  # see scheme.inv_pow73
THIRD = 1.0 / 3.0
WALL_TEST = 0.5e6  # grid.WALL_TEST: a bed this high is a nodata cell


if AVAILABLE:

    @intrinsic
    def _f64_bits(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.int64))

        return types.int64(types.float64), codegen

    @intrinsic
    def _bits_f64(typingctx, i):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float64))

        return types.float64(types.int64), codegen

    @njit(cache=True, inline="always")
    def _inv_pow73(x):
        r = _bits_f64(INV_CBRT_MAGIC - _f64_bits(x) // 3)
        r = r + r * (1.0 - x * (r * r * r)) * THIRD
        r = r + r * (1.0 - x * (r * r * r)) * THIRD
        r = r + r * (1.0 - x * (r * r * r)) * THIRD
        r = r + r * (1.0 - x * (r * r * r)) * THIRD
        r2 = r * r
        return r2 * r2 * r2 * r

    @njit(cache=True, inline="always")
    def _inertial(q0, qs, hf, slope, n2f, dt, hmin):
        if hf <= hmin:
            return 0.0
        return (qs - G * hf * dt * slope) / (1.0 + G * dt * n2f * abs(q0) * _inv_pow73(hf))

    @njit(cache=True, inline="always")
    def _outflow(q0_out, h_b, eta_b, eta_in, inner_ok, n2b, rd, dt, hmin):
        if h_b <= hmin:
            return 0.0
        slope = ((eta_b - eta_in) if inner_ok else 0.0) * rd
        q = (q0_out - G * h_b * dt * slope) / (1.0 + G * dt * n2b * abs(q0_out) * _inv_pow73(h_b))
        if q < 0.0:
            q = 0.0
        qc = h_b * math.sqrt(G * h_b)
        return qc if q > qc else q

    @njit(cache=True)
    def _faces_x(r, z, h, qx, n2, dt, dx, theta, hmin, open_bc, out):
        """Unscaled discharges of row r's x faces (0..nx) into out."""
        nx = h.shape[1]
        uniform = n2.shape[0] == 1 and n2.shape[1] == 1
        n2u = n2[0, 0]
        w = 0.5 * (1.0 - theta)
        rdx = 1.0 / dx
        for j in range(1, nx):
            el = h[r, j - 1] + z[r, j - 1]
            er = h[r, j] + z[r, j]
            hf = max(el, er) - max(z[r, j - 1], z[r, j])
            n2f = n2u if uniform else 0.5 * (n2[r, j - 1] + n2[r, j])
            q0 = qx[r, j]
            qs = theta * q0 + w * (qx[r, j - 1] + qx[r, j + 1])
            out[j] = _inertial(q0, qs, hf, (er - el) * rdx, n2f, dt, hmin)
        if not open_bc:
            out[0] = 0.0
            out[nx] = 0.0
            return
        iw = 1 if nx > 1 else 0
        ie = nx - 2 if nx > 1 else 0
        out[0] = -_outflow(-qx[r, 0], h[r, 0], h[r, 0] + z[r, 0], h[r, iw] + z[r, iw],
                           nx > 1 and z[r, iw] < WALL_TEST, n2u if uniform else n2[r, 0],
                           rdx, dt, hmin)  # fmt: skip
        out[nx] = _outflow(qx[r, nx], h[r, nx - 1], h[r, nx - 1] + z[r, nx - 1],
                           h[r, ie] + z[r, ie], nx > 1 and z[r, ie] < WALL_TEST,
                           n2u if uniform else n2[r, nx - 1], rdx, dt, hmin)  # fmt: skip

    @njit(cache=True)
    def _faces_y(r, z, h, qy, n2, dt, dy, theta, hmin, open_bc, out):
        """Unscaled discharges of the faces north of row r (r = ny: the south edge)."""
        ny, nx = h.shape
        uniform = n2.shape[0] == 1 and n2.shape[1] == 1
        n2u = n2[0, 0]
        w = 0.5 * (1.0 - theta)
        rdy = 1.0 / dy
        if 0 < r < ny:
            for j in range(nx):
                en = h[r - 1, j] + z[r - 1, j]
                es = h[r, j] + z[r, j]
                hf = max(en, es) - max(z[r - 1, j], z[r, j])
                n2f = n2u if uniform else 0.5 * (n2[r - 1, j] + n2[r, j])
                q0 = qy[r, j]
                qs = theta * q0 + w * (qy[r - 1, j] + qy[r + 1, j])
                out[j] = _inertial(q0, qs, hf, (es - en) * rdy, n2f, dt, hmin)
        elif not open_bc:
            for j in range(nx):
                out[j] = 0.0
        elif r == 0:
            jn = 1 if ny > 1 else 0
            for j in range(nx):
                out[j] = -_outflow(-qy[0, j], h[0, j], h[0, j] + z[0, j], h[jn, j] + z[jn, j],
                                   ny > 1 and z[jn, j] < WALL_TEST,
                                   n2u if uniform else n2[0, j], rdy, dt, hmin)  # fmt: skip
        else:
            js = ny - 2 if ny > 1 else 0
            b = ny - 1
            for j in range(nx):
                out[j] = _outflow(qy[ny, j], h[b, j], h[b, j] + z[b, j], h[js, j] + z[js, j],
                                  ny > 1 and z[js, j] < WALL_TEST,
                                  n2u if uniform else n2[b, j], rdy, dt, hmin)  # fmt: skip

    @njit(cache=True)
    def _factors(r, h, fx, fy_top, fy_bottom, cx, cy, out):
        """Positivity factors of row r's cells from its unscaled face discharges."""
        nx = h.shape[1]
        for j in range(nx):
            o = (max(fx[j + 1], 0.0) + max(-fx[j], 0.0)) * cx
            o += (max(fy_bottom[j], 0.0) + max(-fy_top[j], 0.0)) * cy
            hh = h[r, j]
            out[j] = 1.0 if o <= hh else hh / o

    @njit(parallel=True, cache=True)
    def step(z, valid, n2, h, qx, qy, h_new, qx_new, qy_new, max_depth, arrival, dt, dx, dy,
             theta, hmin, open_bc, rain, t_new, wet, blocks):  # fmt: skip
        """Same contract as `scheme.step` (`valid` unused: walls are found from z), plus the
        number of row blocks to share among the threads."""
        ny, nx = h.shape
        cx = dt / dx
        cy = dt / dy
        nb = max(1, min(ny, blocks))
        blk_max = np.zeros(nb)
        blk_out = np.zeros(nb)
        for b in prange(nb):
            r0 = b * ny // nb
            r1 = (b + 1) * ny // nb
            QX = np.empty((4, nx + 1))  # x faces of rows k, slot k % 4
            QY = np.empty((4, nx))  # faces north of rows k, slot k % 4
            F = np.empty((3, nx))  # factors of rows k, slot k % 3
            ones = np.ones(nx)
            for k in range(max(r0 - 1, 0), min(r0 + 2, ny + 1)):
                if k < ny:
                    _faces_x(k, z, h, qx, n2, dt, dx, theta, hmin, open_bc, QX[k % 4])
                _faces_y(k, z, h, qy, n2, dt, dy, theta, hmin, open_bc, QY[k % 4])
            for k in range(max(r0 - 1, 0), min(r0 + 1, ny)):
                _factors(k, h, QX[k % 4], QY[k % 4], QY[(k + 1) % 4], cx, cy, F[k % 3])
            hm = 0.0
            out = 0.0
            for r in range(r0, r1):
                k = r + 2
                if k < ny:
                    _faces_x(k, z, h, qx, n2, dt, dx, theta, hmin, open_bc, QX[k % 4])
                if k <= ny:
                    _faces_y(k, z, h, qy, n2, dt, dy, theta, hmin, open_bc, QY[k % 4])
                k = r + 1
                if k < ny:
                    _factors(k, h, QX[k % 4], QY[k % 4], QY[(k + 1) % 4], cx, cy, F[k % 3])
                fxr = QX[r % 4]
                fyt = QY[r % 4]
                fyb = QY[(r + 1) % 4]
                fm = F[(r - 1) % 3] if r > 0 else ones
                fc = F[r % 3]
                fp = F[(r + 1) % 3] if r + 1 < ny else ones
                q = fxr[0]
                xl = q * (1.0 if q > 0.0 else fc[0])
                qx_new[r, 0] = xl
                for j in range(nx):
                    q = fxr[j + 1]
                    xr = q * fc[j] if q > 0.0 else q * (fc[j + 1] if j + 1 < nx else 1.0)
                    qx_new[r, j + 1] = xr
                    q = fyt[j]
                    yt = q * (fm[j] if q > 0.0 else fc[j])
                    qy_new[r, j] = yt
                    q = fyb[j]
                    yb = q * (fc[j] if q > 0.0 else fp[j])
                    hn = h[r, j] + cx * (xl - xr)
                    hn += cy * (yt - yb)
                    if rain > 0.0 and z[r, j] < WALL_TEST:
                        hn += rain
                    if hn < 0.0:
                        hn = 0.0
                    h_new[r, j] = hn
                    if hn > max_depth[r, j]:
                        max_depth[r, j] = hn
                    if hn > wet and arrival[r, j] < 0.0:
                        arrival[r, j] = t_new
                    if hn > hm:
                        hm = hn
                    elif hn != hn:
                        hm = np.inf
                    xl = xr
                if open_bc:
                    out += (max(-qx_new[r, 0], 0.0) + max(qx_new[r, nx], 0.0)) * (dt * dy)
                    if r == 0:
                        for j in range(nx):
                            out += max(-qy_new[0, j], 0.0) * (dt * dx)
                if r == ny - 1:
                    for j in range(nx):
                        q = fyb[j]
                        yb = q * (fc[j] if q > 0.0 else 1.0)
                        qy_new[ny, j] = yb
                        if open_bc:
                            out += max(yb, 0.0) * (dt * dx)
            blk_max[b] = hm
            blk_out[b] = out
        return blk_max.max(), blk_out.sum()

    def warm_up() -> None:
        """Compile (or load from numba's cache) the kernel on a tiny grid."""
        z = np.zeros((3, 3))
        h = np.full((3, 3), 0.1)
        valid = np.ones((3, 3), dtype=bool)
        qx, qy = np.zeros((3, 4)), np.zeros((4, 3))
        n2 = np.full((1, 1), 0.03**2)
        md, arr = np.zeros((3, 3)), np.full((3, 3), -1.0)
        step(z, valid, n2, h, qx, qy, h.copy(), qx.copy(), qy.copy(), md, arr, 0.1, 1.0, 1.0,
             0.8, 1e-3, True, 0.0, 0.1, 0.01, 2)  # fmt: skip
