"""ONNX ops defined as functions (SwiGLU, CausalConvWithState, NegativeLogLikelihoodLoss, ...): an op with no
handler of its own is replaced by its function body from the onnx schema, so it imports as the ops it is made of.

The expansion is onnx's own (``function_expand_helper``, what onnx uses to write its ``*_expanded`` node tests);
context-dependent function bodies are built for the node's attributes and input types, which ONNX shape inference
supplies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import FunctionProto, ModelProto, NodeProto, TypeProto

_MAX_DEPTH = 4  # function bodies may call further function ops


_INFERENCE_VALUE_LIMIT = 1024


def without_large_initializers(model: ModelProto) -> ModelProto:
    """``model`` for ONNX shape inference: initializers above the limit become typed inputs (their values are
    not needed, and copying them is what costs)."""
    big = [t for t in model.graph.initializer if int(np.prod(t.dims, dtype=np.int64)) > _INFERENCE_VALUE_LIMIT]
    if not big:
        return model
    slim = ModelProto()  # built field by field: CopyFrom would copy the weights we leave out
    slim.ir_version, slim.producer_name = model.ir_version, model.producer_name
    slim.opset_import.extend(model.opset_import)
    slim.functions.extend(model.functions)
    g = slim.graph
    g.name = model.graph.name
    g.node.extend(model.graph.node)
    big_names = {t.name for t in big}
    g.initializer.extend(t for t in model.graph.initializer if t.name not in big_names)
    g.input.extend(model.graph.input)
    declared = {vi.name for vi in model.graph.input}
    g.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                   for t in big if t.name not in declared)
    g.output.extend(model.graph.output)
    g.value_info.extend(model.graph.value_info)
    return slim


def _body(node: NodeProto, opset: int, types_of: Callable[[], dict[str, TypeProto]]) -> list[NodeProto] | None:
    """The nodes of ``node``'s function body at ``opset`` (None: the op is no function, or a type is unknown)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None
    fp = FunctionProto()
    # older onnx releases lack the per-version accessors: their ops then simply stay unexpanded
    plain = [v for v in getattr(schema, "function_opset_versions", []) if v <= opset]
    dependent = [v for v in getattr(schema, "context_dependent_function_opset_versions", []) if v <= opset]
    if plain and (not dependent or max(plain) >= max(dependent)):  # the newest definition at this opset
        fp.ParseFromString(schema.get_function_with_opset_version(max(plain)))  # type: ignore[attr-defined]
    elif dependent:
        types = types_of()
        if any(i and i not in types for i in node.input):
            return None
        in_types = [types[i].SerializeToString() if i else TypeProto().SerializeToString() for i in node.input]
        build = schema.get_context_dependent_function_with_opset_version  # type: ignore[attr-defined]
        fp.ParseFromString(build(max(dependent), node.SerializeToString(), in_types))
    else:
        return None
    try:  # not a stable onnx API: without it the op is refused as unsupported, as before function expansion
        from onnx.backend.test.case.node import function_expand_helper
    except ImportError:
        return None

    call = NodeProto()
    call.CopyFrom(node)
    given = {a.name for a in call.attribute}
    call.attribute.extend(a.default_value for k, a in schema.attributes.items()
                          if k not in given and a.default_value.name)  # defaults the body may refer to
    prefix = f"{node.name or node.op_type}__fn_"
    return list(function_expand_helper(call, fp, prefix))


def _types(model: ModelProto) -> dict[str, TypeProto]:
    try:
        inferred = onnx.shape_inference.infer_shapes(without_large_initializers(model), strict_mode=False)
    except Exception:  # noqa: BLE001 - without types only the plain (not context-dependent) bodies expand
        inferred = model
    g = inferred.graph
    out = {vi.name: vi.type for vi in list(g.value_info) + list(g.input) + list(g.output)}
    for t in g.initializer:
        out.setdefault(t.name, onnx.helper.make_tensor_type_proto(t.data_type, list(t.dims)))
    return out


def expand_functions(model: ModelProto, handled: Callable[[NodeProto], bool], opset: int) -> ModelProto:
    """``model`` (changed in place) with every default-domain node that ``handled`` rejects replaced by its
    function body, if it has one (the rest stay, for the importer to list as unsupported)."""
    for _ in range(_MAX_DEPTH):
        if not _expand_once(model, handled, opset):
            break
    return model


def _expand_once(model: ModelProto, handled: Callable[[NodeProto], bool], opset: int) -> bool:
    todo = {k for k, n in enumerate(model.graph.node) if n.domain in ("", "ai.onnx") and not handled(n)}
    if not todo:
        return False
    cache: list[dict[str, TypeProto]] = []

    def types_of() -> dict[str, TypeProto]:  # shape inference only if a context-dependent body needs it
        if not cache:
            cache.append(_types(model))
        return cache[0]

    nodes: list[NodeProto] = []
    changed = False
    for k, n in enumerate(model.graph.node):
        body = _body(n, opset, types_of) if k in todo else None
        changed |= body is not None
        if body is None:  # kept: copied, as clearing the field below detaches its elements
            body = [NodeProto()]
            body[0].CopyFrom(n)
        nodes.extend(body)
    if changed:
        model.graph.ClearField("node")  # in place: a copy would duplicate the weights
        model.graph.node.extend(nodes)
    return changed
