"""Graph IR: typed tensors, an op registry, graphs, shape inference and verification."""

from edgesim.ir.attrs import Activation, Layout, Padding
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OP_INFO, OpClass, OpInfo, OpKind
from edgesim.ir.shape_infer import infer_shapes
from edgesim.ir.tensor import QuantParams, Tensor
from edgesim.ir.verify import verify_graph

__all__ = [
    "OP_INFO",
    "Activation",
    "DType",
    "Graph",
    "Layout",
    "Node",
    "OpClass",
    "OpInfo",
    "OpKind",
    "Padding",
    "QuantParams",
    "Tensor",
    "infer_shapes",
    "verify_graph",
]
