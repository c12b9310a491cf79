"""Index arithmetic of the RESIZE op: where each output position samples the input (ONNX
coordinate_transformation_mode and nearest_mode, or TFLite's align_corners / half_pixel_centers). Shared by the
float executor and the integer kernels so both sample the same pixels."""

from __future__ import annotations

import numpy as np

from edgesim.errors import UnsupportedOpError
from edgesim.ir import attrs as A

Arr = np.ndarray


def source_coords(out_len: int, in_len: int, scale: float, mode: str,
                  roi: tuple[float, float] = (0.0, 1.0)) -> Arr:
    """Input coordinate of every output position (ONNX coordinate_transformation_mode; ``roi`` is the
    (start, end) window of tf_crop_and_resize)."""
    x = np.arange(out_len, dtype=np.float64)
    if mode == "tf_crop_and_resize":
        span = (roi[1] - roi[0]) * (in_len - 1)
        resized = in_len * scale
        rel = x * span / (resized - 1) if resized > 1 else np.full(out_len, span / 2)
        return rel + roi[0] * (in_len - 1)
    if mode == "align_corners":
        # ONNX measures the resized length as in_len * scale (unfloored) when the model states scales
        resized = in_len * scale
        return x * (in_len - 1) / (resized - 1) if resized > 1 else np.zeros(out_len)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.full(out_len, -0.5)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        # centres the sampled window when the output length was rounded from in_len * scale
        offset = in_len / 2 * (1 - out_len / (in_len * scale))
        return offset + (x + 0.5) / scale - 0.5
    raise UnsupportedOpError(f"resize coordinate mode {mode}")


def tflite_mode(a: A.ResizeAttrs) -> tuple[str, str]:
    """TFLite's resize semantics as (coordinate mode, nearest rounding)."""
    if a.align_corners:
        return "align_corners", "round_prefer_ceil"
    if a.half_pixel_centers:
        return ("tf_half_pixel_for_nn", "floor") if a.mode == "nearest" else ("half_pixel", "floor")
    return "asymmetric", "floor"


def nearest_index(coord: Arr, rounding: str, in_len: int) -> Arr:
    if rounding == "round_prefer_floor":
        idx = np.ceil(coord - 0.5)
    elif rounding == "round_prefer_ceil":
        idx = np.floor(coord + 0.5)
    elif rounding == "ceil":
        idx = np.ceil(coord)
    else:
        idx = np.floor(coord)
    return np.clip(idx, 0, in_len - 1).astype(np.int64)


def nearest_indices(a: A.ResizeAttrs, in_hw: tuple[int, int]) -> tuple[Arr, Arr]:
    """Source row and column of every output pixel of a nearest-neighbour resize."""
    coord_mode, rounding = (a.coordinate_mode, a.nearest_mode) if a.coordinate_mode else tflite_mode(a)
    out = []
    for k in range(2):
        in_len, out_len = in_hw[k], a.out_hw[k]
        scale = a.scales_hw[k] if a.scales_hw is not None else out_len / in_len
        if coord_mode == "tf_crop_and_resize":
            raise UnsupportedOpError("integer resize with tf_crop_and_resize (extrapolated points)")
        out.append(nearest_index(source_coords(out_len, in_len, scale, coord_mode), rounding, in_len))
    return out[0], out[1]
