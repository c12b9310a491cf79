"""Typed, frozen per-op attributes. Each op kind takes exactly one of these classes (see ``ops.OP_INFO``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Layout(Enum):
    """Activation layout of a spatial op: TFLite graphs are NHWC, ONNX graphs NCHW."""

    NHWC = "NHWC"
    NCHW = "NCHW"

    def spatial_axes(self, rank: int = 4) -> tuple[int, int]:
        return (1, 2) if self is Layout.NHWC else (rank - 2, rank - 1)

    def channel_axis(self, rank: int = 4) -> int:
        return rank - 1 if self is Layout.NHWC else 1


class Activation(Enum):
    """An activation fused into the producing op (TFLite's fused_activation_function, or our fusion pass)."""

    NONE = "none"
    RELU = "relu"
    RELU6 = "relu6"
    RELU_N1_TO_1 = "relu_n1_to_1"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    HARD_SWISH = "hard_swish"
    LEAKY_RELU = "leaky_relu"
    CLIP = "clip"


@dataclass(frozen=True)
class NoAttrs:
    pass


@dataclass(frozen=True)
class Padding:
    """Explicit spatial padding in elements (top, left, bottom, right)."""

    top: int = 0
    left: int = 0
    bottom: int = 0
    right: int = 0

    @property
    def is_zero(self) -> bool:
        return self.top == self.left == self.bottom == self.right == 0


@dataclass(frozen=True)
class ConvAttrs:
    """CONV2D / DEPTHWISE_CONV2D / CONV_TRANSPOSE2D.

    Weights: NHWC graphs use OHWI (TFLite; depthwise 1HW(C*M)); NCHW graphs use OIHW (ONNX; transpose IOHW).
    """

    kernel_hw: tuple[int, int]
    stride_hw: tuple[int, int] = (1, 1)
    dilation_hw: tuple[int, int] = (1, 1)
    padding: Padding = Padding()
    groups: int = 1
    layout: Layout = Layout.NHWC
    activation: Activation = Activation.NONE
    output_padding_hw: tuple[int, int] = (0, 0)  # CONV_TRANSPOSE2D only


@dataclass(frozen=True)
class FullyConnectedAttrs:
    """y = x @ W^T + b with W of shape (out_features, in_features) (TFLite, ONNX Gemm transB=1)."""

    activation: Activation = Activation.NONE
    keep_num_dims: bool = False


@dataclass(frozen=True)
class MatMulAttrs:
    transpose_a: bool = False
    transpose_b: bool = False
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class PoolAttrs:
    kernel_hw: tuple[int, int]
    stride_hw: tuple[int, int] = (1, 1)
    padding: Padding = Padding()
    layout: Layout = Layout.NHWC
    activation: Activation = Activation.NONE
    count_include_pad: bool = False
    ceil_mode: bool = False
    dilation_hw: tuple[int, int] = (1, 1)  # ONNX pools: window taps dilation apart (the window spans (k-1)*d+1)


@dataclass(frozen=True)
class ElementwiseAttrs:
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class ClipAttrs:
    """RELU6, RELU_N1_TO_1 and ONNX Clip: clamp into [min_value, max_value] (None = unbounded)."""

    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class LeakyReluAttrs:
    alpha: float = 0.01


@dataclass(frozen=True)
class HardSigmoidAttrs:
    alpha: float = 0.2
    beta: float = 0.5


@dataclass(frozen=True)
class GeluAttrs:
    approximate: str = "none"  # "none" (erf) or "tanh"


@dataclass(frozen=True)
class ReduceAttrs:
    """MEAN / REDUCE_MAX / REDUCE_SUM / GLOBAL_AVG_POOL over ``axes`` (normalised to non-negative)."""

    axes: tuple[int, ...]
    keepdims: bool = True


@dataclass(frozen=True)
class SoftmaxAttrs:
    axis: int = -1
    beta: float = 1.0


@dataclass(frozen=True)
class ReshapeAttrs:
    new_shape: tuple[int, ...]


@dataclass(frozen=True)
class TransposeAttrs:
    perm: tuple[int, ...]


@dataclass(frozen=True)
class ConcatAttrs:
    axis: int
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class SplitAttrs:
    axis: int
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class SliceAttrs:
    """Strided slice with fully resolved (non-negative, clamped) begin/end/step per axis."""

    begin: tuple[int, ...]
    end: tuple[int, ...]
    step: tuple[int, ...]


@dataclass(frozen=True)
class PadAttrs:
    """Per-axis (before, after) padding; mode constant/reflect/edge."""

    pads: tuple[tuple[int, int], ...]
    mode: str = "constant"
    constant_value: float = 0.0


@dataclass(frozen=True)
class QuantizeAttrs:
    """QUANTIZE / DEQUANTIZE / REQUANTIZE: the quantization is on the tensors themselves.

    ``dynamic``: the scale and zero point are computed at run time from the data (ONNX DynamicQuantizeLinear);
    the output tensor's QuantParams are then a placeholder, and value-level executors pass real values through."""

    axis: int | None = None
    dynamic: bool = False


@dataclass(frozen=True)
class BatchNormAttrs:
    epsilon: float = 1e-5
    layout: Layout = Layout.NCHW


@dataclass(frozen=True)
class LayerNormAttrs:
    axis: int = -1
    epsilon: float = 1e-5


@dataclass(frozen=True)
class LRNAttrs:
    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    bias: float = 1.0
    layout: Layout = Layout.NCHW


@dataclass(frozen=True)
class ResizeAttrs:
    """Output spatial size is fixed at import; mode nearest/linear/cubic.

    ``coordinate_mode`` "" keeps TFLite's semantics (from align_corners / half_pixel_centers); ONNX graphs name
    their coordinate_transformation_mode and nearest_mode, and give ``scales_hw`` when the model states scales
    (ONNX maps coordinates with the stated scale, not output/input)."""

    out_hw: tuple[int, int]
    mode: str = "nearest"
    layout: Layout = Layout.NCHW
    align_corners: bool = False
    half_pixel_centers: bool = False
    coordinate_mode: str = ""
    nearest_mode: str = "floor"
    scales_hw: tuple[float, float] | None = None
    cubic_coeff_a: float = -0.75  # cubic mode: the kernel's A (ONNX default; TensorFlow uses -0.5)
    exclude_outside: bool = False  # cubic mode: taps outside the input get weight 0, the rest renormalised
    antialias: bool = False  # linear/cubic downscaling: the kernel is stretched by 1/scale (a low-pass filter)
    # coordinate_mode "tf_crop_and_resize": the (start_h, start_w, end_h, end_w) window of the input, in
    # normalised coordinates, that is resized; output points falling outside the input get extrapolation_value
    roi_hw: tuple[float, float, float, float] | None = None
    extrapolation_value: float = 0.0


@dataclass(frozen=True)
class GatherAttrs:
    axis: int = 0


@dataclass(frozen=True)
class CastAttrs:
    to: str = "fp32"
    # float8 targets: clamp out-of-range values to the largest finite value (ONNX Cast-19 default) instead of
    # mapping them to inf/NaN; e8m0 targets: how a value between two powers of two rounds (up, down, nearest)
    saturate: bool = True
    round_mode: str = "up"


@dataclass(frozen=True)
class ExpandAttrs:
    shape: tuple[int, ...]


@dataclass(frozen=True)
class MathAttrs:
    """UNARY_MATH / BINARY_MATH: ``fn`` names the ONNX function (sin, elu, softplus, mod, and, ...); alpha/beta/
    gamma carry its parameters (Elu alpha, Selu alpha/gamma, Shrink lambd/bias, Mod fmod)."""

    fn: str
    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0


@dataclass(frozen=True)
class ReduceMathAttrs:
    """REDUCE_MATH over ``axes``: fn min / prod / l1 / l2 / log_sum / log_sum_exp / sum_square."""

    axes: tuple[int, ...]
    keepdims: bool = True
    fn: str = "min"


@dataclass(frozen=True)
class ArgReduceAttrs:
    """ARG_REDUCE: index of the max (fn "max") or min along ``axis`` (int64 output)."""

    axis: int
    keepdims: bool = True
    select_last_index: bool = False
    fn: str = "max"


@dataclass(frozen=True)
class CumSumAttrs:
    """CUMSUM (or the cumulative product when ``product``) along ``axis``."""

    axis: int
    exclusive: bool = False
    reverse: bool = False
    product: bool = False


@dataclass(frozen=True)
class TriluAttrs:
    """Keep the upper (or lower) triangle of the last two axes, diagonal offset ``k``."""

    upper: bool = True
    k: int = 0


@dataclass(frozen=True)
class GatherNDAttrs:
    batch_dims: int = 0


@dataclass(frozen=True)
class ScatterAttrs:
    """SCATTER_ELEMENTS: write updates at indices along ``axis``; reduction none/add/mul/max/min."""

    axis: int = 0
    reduction: str = "none"


@dataclass(frozen=True)
class TopKAttrs:
    """TOPK: the k largest (or smallest) along ``axis``, values then int64 indices, ties to the lower index."""

    axis: int
    k: int
    largest: bool = True


@dataclass(frozen=True)
class NmsAttrs:
    """NON_MAX_SUPPRESSION (ONNX NonMaxSuppression): boxes (B, N, 4), scores (B, C, N) -> int64 rows (batch,
    class, box) of the boxes kept per class, best score first, greedy over IoU > ``iou_threshold``.

    The number of rows is known only at run time: the IR output shape is its upper bound,
    B * C * min(max_boxes_per_class, N) rows (what a static-shape runtime allocates); executors return the rows
    actually selected."""

    max_boxes_per_class: int
    iou_threshold: float = 0.0
    score_threshold: float | None = None  # keep only scores strictly above it (None: no score filter)
    center_point_box: bool = False  # boxes as (x_center, y_center, width, height) instead of (y1, x1, y2, x2)


@dataclass(frozen=True)
class RoiAlignAttrs:
    """ROI_ALIGN (ONNX RoiAlign, NCHW): each roi (x1, y1, x2, y2, scaled by ``spatial_scale``) of its batch item is
    cut into ``output_hw`` bins, each the average (or ONNX's max) of sampling_ratio^2 bilinear samples (0: an
    adaptive ceil(roi size / bins) per axis); ``half_pixel`` shifts coordinates by -0.5 (opset 16's default)."""

    output_hw: tuple[int, int]
    sampling_ratio: int = 0
    spatial_scale: float = 1.0
    mode: str = "avg"
    half_pixel: bool = True


@dataclass(frozen=True)
class GridSampleAttrs:
    """GRID_SAMPLE (NCHW or NCDHW): mode nearest/linear/cubic, padding_mode zeros/border/reflection."""

    mode: str = "linear"
    padding_mode: str = "zeros"
    align_corners: bool = False


@dataclass(frozen=True)
class GroupNormAttrs:
    """GROUP_NORM over (channels of a group, spatial) per sample; InstanceNormalization is groups == channels.
    Scale and bias are per channel (NCHW)."""

    groups: int
    epsilon: float = 1e-5

