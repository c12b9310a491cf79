"""A minimal TFLite flatbuffer -> IR loader for the bit-exactness test (ops of the MLPerf Tiny models only).

It exists so the kernels are checked independently of the project's importer; tensors are named ``t<index>``
so they map one to one onto the interpreter's tensor indices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tflite

from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor

_BO = tflite.BuiltinOperator
_TYPES = {tflite.TensorType.INT8: DType.INT8, tflite.TensorType.INT32: DType.INT32,
          tflite.TensorType.FLOAT32: DType.FP32, tflite.TensorType.UINT8: DType.UINT8}
_ACT = {0: A.Activation.NONE, 1: A.Activation.RELU, 2: A.Activation.RELU_N1_TO_1, 3: A.Activation.RELU6}


def _same_pad(in_size: int, k: int, stride: int, dil: int, out_size: int) -> int:
    eff = (k - 1) * dil + 1
    return max((out_size - 1) * stride + eff - in_size, 0) // 2


def load(path: Path) -> Graph:
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    sg = model.Subgraphs(0)
    tensors: dict[str, Tensor] = {}
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        dt = _TYPES[t.Type()]
        q = t.Quantization()
        qp = None
        if q is not None and q.ScaleLength() > 0:
            scales = tuple(float(s) for s in q.ScaleAsNumpy())
            zps = tuple(int(z) for z in q.ZeroPointAsNumpy())
            qp = QuantParams(scales, zps, q.QuantizedDimension() if len(scales) > 1 else None)
        buf = model.Buffers(t.Buffer())
        data = None
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if buf is not None and buf.DataLength() > 0:
            data = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dt.numpy()).reshape(shape)
        tensors[f"t{i}"] = Tensor(f"t{i}", shape, dt, qp, data)
    nodes = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        ins = tuple(f"t{j}" if j >= 0 else "" for j in op.InputsAsNumpy())
        outs = tuple(f"t{j}" for j in op.OutputsAsNumpy())
        x_shape, y_shape = tensors[ins[0]].shape, tensors[outs[0]].shape
        opts_tab = op.BuiltinOptions()
        if code in (_BO.CONV_2D, _BO.DEPTHWISE_CONV_2D):
            o = tflite.Conv2DOptions() if code == _BO.CONV_2D else tflite.DepthwiseConv2DOptions()
            o.Init(opts_tab.Bytes, opts_tab.Pos)
            w_shape = tensors[ins[1]].shape
            k = (w_shape[1], w_shape[2])
            s, d = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
            pad = A.Padding()
            if o.Padding() == tflite.Padding.SAME:
                pad = A.Padding(_same_pad(x_shape[1], k[0], s[0], d[0], y_shape[1]),
                                _same_pad(x_shape[2], k[1], s[1], d[1], y_shape[2]))
            kind = OpKind.CONV2D if code == _BO.CONV_2D else OpKind.DEPTHWISE_CONV2D
            attrs: object = A.ConvAttrs(k, s, d, pad, activation=_ACT[o.FusedActivationFunction()])
        elif code == _BO.FULLY_CONNECTED:
            o = tflite.FullyConnectedOptions()
            o.Init(opts_tab.Bytes, opts_tab.Pos)
            kind, attrs = OpKind.FULLY_CONNECTED, A.FullyConnectedAttrs(_ACT[o.FusedActivationFunction()])
        elif code == _BO.AVERAGE_POOL_2D:
            o = tflite.Pool2DOptions()
            o.Init(opts_tab.Bytes, opts_tab.Pos)
            k, s = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
            pad = A.Padding()
            if o.Padding() == tflite.Padding.SAME:
                pad = A.Padding(_same_pad(x_shape[1], k[0], s[0], 1, y_shape[1]),
                                _same_pad(x_shape[2], k[1], s[1], 1, y_shape[2]))
            kind = OpKind.AVG_POOL2D
            attrs = A.PoolAttrs(k, s, pad, activation=_ACT[o.FusedActivationFunction()])
        elif code == _BO.ADD:
            o = tflite.AddOptions()
            o.Init(opts_tab.Bytes, opts_tab.Pos)
            kind, attrs = OpKind.ADD, A.ElementwiseAttrs(_ACT[o.FusedActivationFunction()])
        elif code == _BO.RESHAPE:
            kind, attrs, ins = OpKind.RESHAPE, A.ReshapeAttrs(y_shape), ins[:1]
        elif code == _BO.SOFTMAX:
            o = tflite.SoftmaxOptions()
            o.Init(opts_tab.Bytes, opts_tab.Pos)
            kind, attrs = OpKind.SOFTMAX, A.SoftmaxAttrs(-1, float(o.Beta()))
        else:
            raise NotImplementedError(f"test loader: builtin op {code}")
        nodes.append(Node(f"op{i}", kind, ins, outs, attrs))
    inputs = [f"t{j}" for j in sg.InputsAsNumpy()]
    outputs = [f"t{j}" for j in sg.OutputsAsNumpy()]
    return Graph.build(path.stem, nodes, tensors, inputs, outputs, "tflite")
