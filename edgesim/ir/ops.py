"""The op registry: one enum member per operator kind, each with its static information (after Arm Vela's Op)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from edgesim.ir import attrs as A


class OpClass(Enum):
    """What kind of work an op does, which decides how units and cost models treat it."""

    MAC = "mac"  # multiply-accumulate heavy: convolutions, fully connected, matmul
    ELEMENTWISE = "elementwise"  # one (or few) ops per output element, several inputs
    ACTIVATION = "activation"  # one input, one output, per-element
    POOL = "pool"  # windowed reductions
    REDUCE = "reduce"  # reductions over axes, softmax, normalisations
    DATA = "data"  # copies or re-indexes data without arithmetic (concat, pad, transpose, slice)
    VIEW = "view"  # changes only metadata (reshape): no bytes move on a real runtime
    QUANT = "quant"  # (de/re)quantisation


@dataclass(frozen=True)
class OpInfo:
    op_class: OpClass
    attrs_type: type
    weight_inputs: tuple[int, ...] = ()  # input positions holding trained parameters (weights, bias...)
    num_inputs: tuple[int, int] = (1, 1)  # (min, max); max -1 = variadic
    num_outputs: tuple[int, int] = (1, 1)
    elementwise_ops_per_output: int = 1  # arithmetic ops per output element, for non-MAC ops
    # Every output element is a copy of one input element (or a constant: PAD's value, TRILU's zeros) whose index
    # follows from the output index alone: the output can be cut anywhere, so the tiler cuts a row too long for
    # the local memory along its last axis (a transpose's DMA then gathers each chunk with a stride). Not the
    # gathers and scatters (the source index is data) nor RESIZE (a blend of several elements).
    is_element_copy: bool = False


class OpKind(Enum):
    CONV2D = "CONV2D"
    DEPTHWISE_CONV2D = "DEPTHWISE_CONV2D"
    CONV_TRANSPOSE2D = "CONV_TRANSPOSE2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    MATMUL = "MATMUL"
    ADD = "ADD"
    SUB = "SUB"
    MUL = "MUL"
    DIV = "DIV"
    POW = "POW"
    MAXIMUM = "MAXIMUM"
    MINIMUM = "MINIMUM"
    SQUARED_DIFFERENCE = "SQUARED_DIFFERENCE"
    WHERE = "WHERE"
    EQUAL = "EQUAL"
    LESS = "LESS"
    GREATER = "GREATER"
    RELU = "RELU"
    CLIP = "CLIP"
    LEAKY_RELU = "LEAKY_RELU"
    PRELU = "PRELU"
    SIGMOID = "SIGMOID"
    HARD_SIGMOID = "HARD_SIGMOID"
    HARD_SWISH = "HARD_SWISH"
    TANH = "TANH"
    GELU = "GELU"
    ERF = "ERF"
    SQRT = "SQRT"
    RSQRT = "RSQRT"
    EXP = "EXP"
    LOG = "LOG"
    ABS = "ABS"
    NEG = "NEG"
    MAX_POOL2D = "MAX_POOL2D"
    AVG_POOL2D = "AVG_POOL2D"
    MEAN = "MEAN"
    REDUCE_MAX = "REDUCE_MAX"
    REDUCE_SUM = "REDUCE_SUM"
    SOFTMAX = "SOFTMAX"
    LOG_SOFTMAX = "LOG_SOFTMAX"
    BATCH_NORM = "BATCH_NORM"
    LAYER_NORM = "LAYER_NORM"
    LRN = "LRN"
    RESHAPE = "RESHAPE"
    TRANSPOSE = "TRANSPOSE"
    CONCAT = "CONCAT"
    SPLIT = "SPLIT"
    SLICE = "SLICE"
    PAD = "PAD"
    RESIZE = "RESIZE"
    GATHER = "GATHER"
    EXPAND = "EXPAND"
    CAST = "CAST"
    IDENTITY = "IDENTITY"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    UNARY_MATH = "UNARY_MATH"
    BINARY_MATH = "BINARY_MATH"
    REDUCE_MATH = "REDUCE_MATH"
    ARG_REDUCE = "ARG_REDUCE"
    CUMSUM = "CUMSUM"
    TRILU = "TRILU"
    RMS_NORM = "RMS_NORM"
    GROUP_NORM = "GROUP_NORM"
    GATHER_ELEMENTS = "GATHER_ELEMENTS"
    GATHER_ND = "GATHER_ND"
    SCATTER_ELEMENTS = "SCATTER_ELEMENTS"
    TOPK = "TOPK"
    SCATTER_ND = "SCATTER_ND"
    GRID_SAMPLE = "GRID_SAMPLE"
    NON_MAX_SUPPRESSION = "NON_MAX_SUPPRESSION"
    ROI_ALIGN = "ROI_ALIGN"

    @property
    def info(self) -> OpInfo:
        return self._info  # type: ignore[attr-defined,no-any-return]  # set once below, beside OP_INFO

    @property
    def op_class(self) -> OpClass:
        return self._info.op_class  # type: ignore[attr-defined,no-any-return]


_VAR = -1
_EW2 = (2, 2)

OP_INFO: dict[OpKind, OpInfo] = {
    OpKind.CONV2D: OpInfo(OpClass.MAC, A.ConvAttrs, (1, 2), (2, 3)),
    OpKind.DEPTHWISE_CONV2D: OpInfo(OpClass.MAC, A.ConvAttrs, (1, 2), (2, 3)),
    OpKind.CONV_TRANSPOSE2D: OpInfo(OpClass.MAC, A.ConvAttrs, (1, 2), (2, 3)),
    OpKind.FULLY_CONNECTED: OpInfo(OpClass.MAC, A.FullyConnectedAttrs, (1, 2), (2, 3)),
    OpKind.MATMUL: OpInfo(OpClass.MAC, A.MatMulAttrs, (), (2, 2)),
    OpKind.ADD: OpInfo(OpClass.ELEMENTWISE, A.ElementwiseAttrs, (), (2, _VAR)),
    OpKind.SUB: OpInfo(OpClass.ELEMENTWISE, A.ElementwiseAttrs, (), _EW2),
    OpKind.MUL: OpInfo(OpClass.ELEMENTWISE, A.ElementwiseAttrs, (), _EW2),
    OpKind.DIV: OpInfo(OpClass.ELEMENTWISE, A.ElementwiseAttrs, (), _EW2, elementwise_ops_per_output=4),
    OpKind.POW: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), _EW2, elementwise_ops_per_output=8),
    OpKind.MAXIMUM: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), (2, _VAR)),
    OpKind.MINIMUM: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), (2, _VAR)),
    OpKind.SQUARED_DIFFERENCE: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), _EW2, elementwise_ops_per_output=2),
    OpKind.WHERE: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), (3, 3)),
    # comparisons produce BOOL masks (attention masks in transformer exports)
    OpKind.EQUAL: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), _EW2),
    OpKind.LESS: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), _EW2),
    OpKind.GREATER: OpInfo(OpClass.ELEMENTWISE, A.NoAttrs, (), _EW2),
    OpKind.RELU: OpInfo(OpClass.ACTIVATION, A.NoAttrs),
    OpKind.CLIP: OpInfo(OpClass.ACTIVATION, A.ClipAttrs),
    OpKind.LEAKY_RELU: OpInfo(OpClass.ACTIVATION, A.LeakyReluAttrs, elementwise_ops_per_output=2),
    OpKind.PRELU: OpInfo(OpClass.ACTIVATION, A.NoAttrs, (1,), (2, 2), elementwise_ops_per_output=2),
    OpKind.SIGMOID: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.HARD_SIGMOID: OpInfo(OpClass.ACTIVATION, A.HardSigmoidAttrs, elementwise_ops_per_output=3),
    OpKind.HARD_SWISH: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.TANH: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.GELU: OpInfo(OpClass.ACTIVATION, A.GeluAttrs, elementwise_ops_per_output=8),
    OpKind.ERF: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=6),
    OpKind.SQRT: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.RSQRT: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.EXP: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.LOG: OpInfo(OpClass.ACTIVATION, A.NoAttrs, elementwise_ops_per_output=4),
    OpKind.ABS: OpInfo(OpClass.ACTIVATION, A.NoAttrs),
    OpKind.NEG: OpInfo(OpClass.ACTIVATION, A.NoAttrs),
    OpKind.MAX_POOL2D: OpInfo(OpClass.POOL, A.PoolAttrs, (), (1, 1), (1, 2)),  # values, optional argmax indices
    OpKind.AVG_POOL2D: OpInfo(OpClass.POOL, A.PoolAttrs),
    OpKind.MEAN: OpInfo(OpClass.REDUCE, A.ReduceAttrs),
    OpKind.REDUCE_MAX: OpInfo(OpClass.REDUCE, A.ReduceAttrs),
    OpKind.REDUCE_SUM: OpInfo(OpClass.REDUCE, A.ReduceAttrs),
    OpKind.SOFTMAX: OpInfo(OpClass.REDUCE, A.SoftmaxAttrs, elementwise_ops_per_output=6),
    OpKind.LOG_SOFTMAX: OpInfo(OpClass.REDUCE, A.SoftmaxAttrs, elementwise_ops_per_output=6),
    OpKind.BATCH_NORM: OpInfo(OpClass.ELEMENTWISE, A.BatchNormAttrs, (1, 2, 3, 4), (5, 5), elementwise_ops_per_output=2),
    OpKind.LAYER_NORM: OpInfo(OpClass.REDUCE, A.LayerNormAttrs, (1, 2), (1, 3), elementwise_ops_per_output=8),
    OpKind.LRN: OpInfo(OpClass.REDUCE, A.LRNAttrs, elementwise_ops_per_output=8),
    OpKind.RESHAPE: OpInfo(OpClass.VIEW, A.ReshapeAttrs, (), (1, 2), is_element_copy=True),
    OpKind.TRANSPOSE: OpInfo(OpClass.DATA, A.TransposeAttrs, (), (1, 2), is_element_copy=True),
    OpKind.CONCAT: OpInfo(OpClass.DATA, A.ConcatAttrs, (), (1, _VAR), is_element_copy=True),
    OpKind.SPLIT: OpInfo(OpClass.DATA, A.SplitAttrs, (), (1, 2), (1, _VAR), is_element_copy=True),
    OpKind.SLICE: OpInfo(OpClass.DATA, A.SliceAttrs, (), (1, 5), is_element_copy=True),
    OpKind.PAD: OpInfo(OpClass.DATA, A.PadAttrs, (), (1, 3), is_element_copy=True),
    OpKind.RESIZE: OpInfo(OpClass.DATA, A.ResizeAttrs, (), (1, 4), elementwise_ops_per_output=4),
    OpKind.GATHER: OpInfo(OpClass.DATA, A.GatherAttrs, (0,), (2, 2)),
    OpKind.EXPAND: OpInfo(OpClass.DATA, A.ExpandAttrs, (), (1, 2), is_element_copy=True),
    OpKind.CAST: OpInfo(OpClass.QUANT, A.CastAttrs),
    OpKind.IDENTITY: OpInfo(OpClass.VIEW, A.NoAttrs, is_element_copy=True),
    OpKind.QUANTIZE: OpInfo(OpClass.QUANT, A.QuantizeAttrs, (), (1, 3)),
    OpKind.DEQUANTIZE: OpInfo(OpClass.QUANT, A.QuantizeAttrs, (), (1, 3)),
    # the long tail of ONNX math, one kind per family; per-function work is in ir.work.MATH_OPS_PER_ELEMENT
    OpKind.UNARY_MATH: OpInfo(OpClass.ACTIVATION, A.MathAttrs, elementwise_ops_per_output=4),
    OpKind.BINARY_MATH: OpInfo(OpClass.ELEMENTWISE, A.MathAttrs, (), _EW2),
    OpKind.REDUCE_MATH: OpInfo(OpClass.REDUCE, A.ReduceMathAttrs),
    OpKind.ARG_REDUCE: OpInfo(OpClass.REDUCE, A.ArgReduceAttrs),
    OpKind.CUMSUM: OpInfo(OpClass.REDUCE, A.CumSumAttrs),
    OpKind.TRILU: OpInfo(OpClass.DATA, A.TriluAttrs, is_element_copy=True),
    OpKind.RMS_NORM: OpInfo(OpClass.REDUCE, A.LayerNormAttrs, (1,), (1, 2), elementwise_ops_per_output=6),
    OpKind.GROUP_NORM: OpInfo(OpClass.REDUCE, A.GroupNormAttrs, (1, 2), (3, 3), elementwise_ops_per_output=8),
    OpKind.GATHER_ELEMENTS: OpInfo(OpClass.DATA, A.GatherAttrs, (), (2, 2)),
    OpKind.GATHER_ND: OpInfo(OpClass.DATA, A.GatherNDAttrs, (), (2, 2)),
    OpKind.SCATTER_ELEMENTS: OpInfo(OpClass.DATA, A.ScatterAttrs, (), (3, 3)),
    OpKind.TOPK: OpInfo(OpClass.REDUCE, A.TopKAttrs, (), (1, 1), (2, 2)),
    OpKind.SCATTER_ND: OpInfo(OpClass.DATA, A.ScatterAttrs, (), (3, 3)),
    OpKind.GRID_SAMPLE: OpInfo(OpClass.DATA, A.GridSampleAttrs, (), (2, 2), elementwise_ops_per_output=8),
    OpKind.NON_MAX_SUPPRESSION: OpInfo(OpClass.REDUCE, A.NmsAttrs, (), (2, 2)),
    OpKind.ROI_ALIGN: OpInfo(OpClass.DATA, A.RoiAlignAttrs, (), (3, 3), elementwise_ops_per_output=8),
}

assert set(OP_INFO) == set(OpKind), "every op kind needs its OpInfo"
# Each member carries its info: ops ask for it on every node of every pass, and an enum-keyed dict lookup goes
# through Enum.__hash__ in Python each time.
for _kind, _info in OP_INFO.items():
    _kind._info = _info  # type: ignore[attr-defined]
