"""Plain-NumPy references for the Numba kernels: vectorised, written independently of the loop kernels.

They exist to test the Numba kernels (property tests) and to document the arithmetic; they are slow-ish on big
convolutions and are not used by the executor.
"""

from __future__ import annotations

import numpy as np

_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def _c_div(a: np.ndarray, d: int) -> np.ndarray:
    """C++ integer division (truncates toward zero) on int64 arrays."""
    q = np.abs(a) // d
    return np.where(a >= 0, q, -q)


def mbqm(x: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int, single_rounding: bool) -> np.ndarray:
    """Vectorised MultiplyByQuantizedMultiplier over broadcastable int arrays (int64 result)."""
    x = np.asarray(x, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if single_rounding:
        total = 31 - shift
        return (x * mult + (np.int64(1) << (total - 1))) >> total
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    xs = (((x << left) + (1 << 31)) % (1 << 32)) - (1 << 31)  # int32 wrap of the left shift
    ab = xs * mult
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = _c_div(ab + nudge, 1 << 31)
    high = np.where((xs == _I32_MIN) & (mult == _I32_MIN), _I32_MAX, high)
    mask = (np.int64(1) << right) - 1
    rem = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (rem > threshold)


def conv2d(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, in_zp: int, mult: np.ndarray, shift: np.ndarray,
    out_zp: int, stride: tuple[int, int], dilation: tuple[int, int], pad_tl: tuple[int, int],
    out_hw: tuple[int, int], groups: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    """Grouped NHWC/OHWI conv by explicit zero-point padding and a per-tap einsum."""
    nb, in_h, in_w, _ = x.shape
    n_out, kh, kw, ig = w.shape
    oh, ow = out_hw
    need_h = (oh - 1) * stride[0] + (kh - 1) * dilation[0] + 1
    need_w = (ow - 1) * stride[1] + (kw - 1) * dilation[1] + 1
    xc = x.astype(np.int64) - in_zp
    pad_b = max(need_h - in_h - pad_tl[0], 0)
    pad_r = max(need_w - in_w - pad_tl[1], 0)
    xp = np.pad(xc, ((0, 0), (pad_tl[0], pad_b), (pad_tl[1], pad_r), (0, 0)))
    per_group = n_out // groups
    acc = np.zeros((nb, oh, ow, n_out), dtype=np.int64)
    wl = w.astype(np.int64)
    for g in range(groups):
        xs_g = xp[..., g * ig:(g + 1) * ig]
        w_g = wl[g * per_group:(g + 1) * per_group]
        for ky in range(kh):
            for kx in range(kw):
                y0, x0 = ky * dilation[0], kx * dilation[1]
                patch = xs_g[:, y0:y0 + (oh - 1) * stride[0] + 1:stride[0], x0:x0 + (ow - 1) * stride[1] + 1:stride[1]]
                acc[..., g * per_group:(g + 1) * per_group] += np.einsum("nhwc,oc->nhwo", patch, w_g[:, ky, kx, :])
    acc += bias.astype(np.int64)
    y = mbqm(acc, mult, shift, single_rounding) + out_zp
    return np.clip(y, act[0], act[1]).astype(np.int8)


def fully_connected(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray, in_zp: int, w_zp: int, mult: np.ndarray, shift: np.ndarray,
    out_zp: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    acc = (x.astype(np.int64) - in_zp) @ (w.astype(np.int64) - w_zp).T + bias.astype(np.int64)
    y = mbqm(acc, mult, shift, single_rounding) + out_zp
    return np.clip(y, act[0], act[1]).astype(np.int8)


def add(
    a: np.ndarray, b: np.ndarray, a_zp: int, b_zp: int, out_zp: int, left_shift: int, a_mult: int, a_shift: int,
    b_mult: int, b_shift: int, out_mult: int, out_shift: int, act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    ra = mbqm((a.astype(np.int64) - a_zp) << left_shift, a_mult, a_shift, single_rounding)
    rb = mbqm((b.astype(np.int64) - b_zp) << left_shift, b_mult, b_shift, single_rounding)
    y = mbqm(ra + rb, out_mult, out_shift, single_rounding) + out_zp
    return np.clip(y, act[0], act[1]).astype(np.int8)


def mul(
    a: np.ndarray, b: np.ndarray, a_zp: int, b_zp: int, out_zp: int, mult: int, shift: int,
    act: tuple[int, int], single_rounding: bool,
) -> np.ndarray:
    p = (a.astype(np.int64) - a_zp) * (b.astype(np.int64) - b_zp)
    return np.clip(mbqm(p, mult, shift, single_rounding) + out_zp, act[0], act[1]).astype(np.int8)


def pool2d(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pad_tl: tuple[int, int],
    out_hw: tuple[int, int], is_max: bool, act: tuple[int, int],
) -> np.ndarray:
    nb, in_h, in_w, ch = x.shape
    out = np.empty((nb, out_hw[0], out_hw[1], ch), dtype=np.int8)
    xl = x.astype(np.int64)
    for oy in range(out_hw[0]):
        y0 = oy * stride[0] - pad_tl[0]
        ys = slice(max(y0, 0), min(y0 + kernel[0], in_h))
        for ox in range(out_hw[1]):
            x0 = ox * stride[1] - pad_tl[1]
            xs = slice(max(x0, 0), min(x0 + kernel[1], in_w))
            win = xl[:, ys, xs, :]
            count = win.shape[1] * win.shape[2]
            if is_max:
                v = win.max(axis=(1, 2)) if count else np.full((nb, ch), -128)
            elif count == 0:
                v = np.zeros((nb, ch), dtype=np.int64)
            else:
                s = win.sum(axis=(1, 2))
                v = _c_div(np.where(s > 0, s + count // 2, s - count // 2), count)
            out[:, oy, ox, :] = np.clip(v, act[0], act[1])
    return out


def mean_hw(x: np.ndarray, in_zp: int, out_zp: int, mult: int, shift: int, single_rounding: bool) -> np.ndarray:
    n = x.shape[1] * x.shape[2]
    s = (x.astype(np.int64) - in_zp).sum(axis=(1, 2))
    r = mbqm(s, mult, shift, single_rounding)
    r = _c_div(np.where(r > 0, r + n // 2, r - n // 2), n) + out_zp
    return np.clip(r, -128, 127).astype(np.int8)


def softmax(x2d: np.ndarray, table: np.ndarray, out_scale: float, out_zp: int) -> np.ndarray:
    idx = 255 - x2d.max(axis=1, keepdims=True).astype(np.int64) + x2d.astype(np.int64)
    e = table[idx]
    # float32 running sum in index order, as the C++ loop does
    sums = np.zeros(x2d.shape[0], dtype=np.float32)
    for j in range(x2d.shape[1]):
        sums = (sums + e[:, j]).astype(np.float32)
    inv = (np.float32(1.0) / (sums * np.float32(out_scale)).astype(np.float32)).astype(np.float32)
    p = (e * inv[:, None]).astype(np.float32)
    q = np.floor(p.astype(np.float64) + 0.5).astype(np.int64) + out_zp
    return np.clip(q, -128, 127).astype(np.int8)
