"""GRID_SAMPLE for the float executor (ONNX GridSample, 2-D and 3-D): every output point samples the input at a
normalised grid location with nearest, linear or cubic (Keys, A = -0.75) taps; taps outside the input read zero,
the border pixel, or the reflected pixel. Follows onnx's reference implementation step by step, vectorised.
"""

from __future__ import annotations

import itertools

import numpy as np

from edgesim.errors import UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node

Arr = np.ndarray


def _reflect(x: Arr, lo: float, hi: float) -> Arr:
    """Reflect by the nearer border until within [lo, hi] (onnx's _gs_reflect)."""
    rng = hi - lo
    below, above = x < lo, x > hi
    d_lo, d_hi = lo - x, x - hi
    n_lo, n_hi = np.floor(d_lo / rng), np.floor(d_hi / rng)
    r_lo, r_hi = d_lo - n_lo * rng, d_hi - n_hi * rng
    out = np.where(below, np.where(n_lo % 2 == 0, lo + r_lo, hi - r_lo), x)
    return np.where(above, np.where(n_hi % 2 == 0, hi - r_hi, lo + r_hi), out)


def _cubic(t: Arr) -> list[Arr]:
    a = -0.75

    def far(d: Arr) -> Arr:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    def near(d: Arr) -> Arr:
        return ((a + 2) * d - (a + 3)) * d * d + 1

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _taps(x: Arr, mode: str) -> list[tuple[Arr, Arr]]:
    """(index, weight) pairs along one axis for every output point."""
    if mode == "nearest":
        return [(x.astype(np.int64), np.ones_like(x))]
    x0 = np.floor(x)
    t = x - x0
    if mode == "linear":
        return [(x0.astype(np.int64), 1 - t), (x0.astype(np.int64) + 1, t)]
    return [(x0.astype(np.int64) + k - 1, w) for k, w in enumerate(_cubic(t))]


def _fetch_index(i: Arr, dim: int, lo: float, hi: float, padding: str) -> tuple[Arr, Arr]:
    """(valid index, in-range mask) of integer tap positions under the padding mode."""
    if padding == "zeros":
        return np.clip(i, 0, dim - 1), (i >= 0) & (i < dim)
    if padding == "border":
        return np.clip(i, 0, dim - 1), np.ones(i.shape, bool)
    r = np.trunc(_reflect(i.astype(np.float64), lo, hi)).astype(np.int64)
    return np.clip(r, 0, dim - 1), np.ones(i.shape, bool)


def grid_sample(node: Node, ins: list[Arr | None], graph: Graph) -> Arr:
    a: A.GridSampleAttrs = node.attrs
    x, grid = ins[0], ins[1]
    assert x is not None and grid is not None
    if a.mode not in ("nearest", "linear", "cubic") or a.padding_mode not in ("zeros", "border", "reflection"):
        raise UnsupportedOpError(f"GridSample mode {a.mode} / padding {a.padding_mode}", node=node.name)
    dims = x.shape[2:]
    nd = len(dims)
    n, c = x.shape[:2]
    out_sp = grid.shape[1:-1]
    g = grid.astype(np.float64).reshape(n, -1, nd)[:, :, ::-1]  # grid lists (x, y[, z]); axes run (.., H, W)
    per_axis = []
    for k, dim in enumerate(dims):
        lo, hi = (0.0, dim - 1.0) if a.align_corners else (-0.5, dim - 0.5)
        v = (g[:, :, k] + 1) / 2 * (dim - 1) if a.align_corners else ((g[:, :, k] + 1) * dim - 1) / 2
        if a.mode == "nearest":
            v = np.rint(v)
        out_of = (v < lo) | (v > hi)
        if a.padding_mode == "border":
            v = np.where(out_of, np.clip(v, 0, dim - 1), v)
        elif a.padding_mode == "reflection":
            v = np.where(out_of, _reflect(v, lo, hi), v)
        per_axis.append([(*_fetch_index(i, dim, lo, hi, a.padding_mode), w) for i, w in _taps(v, a.mode)])
    flat = x.astype(np.float64).reshape(n, c, -1)
    strides = np.cumprod((1,) + dims[::-1])[::-1][1:]
    y = np.zeros((n, c, g.shape[1]))
    for combo in itertools.product(*per_axis):
        points = g.shape[1]
        lin = np.zeros((n, points), np.int64)
        for (idx, _, _), stride in zip(combo, strides, strict=True):
            lin = lin + idx * int(stride)
        weight = np.prod([w * m for _, m, w in combo], axis=0)
        vals = np.take_along_axis(flat, np.broadcast_to(lin[:, None, :], (n, c, points)), axis=2)
        y += vals * weight[:, None, :]
    return y.reshape((n, c) + tuple(out_sp)).astype(np.float32)
