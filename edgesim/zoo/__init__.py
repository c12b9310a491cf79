"""The model zoo: published architectures built by name as float32 NCHW IR graphs with seeded weights.

``build("mobilenet_v3_large", kernel_sizes=[...], expand_ratios=[...], depths=[...])`` builds a subnet of the
once-for-all MobileNetV3 space; every builder takes ``resolution`` and ``num_classes``, or ``input_shape``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from edgesim.errors import EdgesimError, did_you_mean
from edgesim.ir.graph import Graph
from edgesim.zoo import cnn, vit
from edgesim.zoo.spaces import Choice, SearchSpace, Stage, search_space, search_spaces

# name -> (builder, default input height/width, default number of classes, input channels)
_Builder = Callable[..., Graph]
_MODELS: dict[str, tuple[_Builder, tuple[int, int], int, int]] = {
    "mobilenet_v1": (cnn.mobilenet_v1, (224, 224), 1000, 3),
    "mobilenet_v2": (cnn.mobilenet_v2, (224, 224), 1000, 3),
    "mobilenet_v3_small": (cnn.mobilenet_v3_small, (224, 224), 1000, 3),
    "mobilenet_v3_large": (cnn.mobilenet_v3_large, (224, 224), 1000, 3),
    "resnet8": (cnn.resnet8, (32, 32), 10, 3),
    "resnet18": (cnn.resnet18, (224, 224), 1000, 3),
    "resnet50": (cnn.resnet50, (224, 224), 1000, 3),
    "efficientnet_lite0": (cnn.efficientnet_lite0, (224, 224), 1000, 3),
    "squeezenet": (cnn.squeezenet, (224, 224), 1000, 3),
    "squeezenet1_0": (cnn.squeezenet1_0, (224, 224), 1000, 3),
    "ds_cnn": (cnn.ds_cnn, (49, 10), 12, 1),
    "vit_tiny": (vit.vit_tiny, (224, 224), 1000, 3),
}


def names() -> list[str]:
    """Names accepted by ``build``."""
    return sorted(_MODELS)


def _input_shape(name: str, default_hw: tuple[int, int], channels: int, resolution: Any,
                 input_shape: Any) -> tuple[int, int, int, int]:
    if input_shape is not None:
        try:
            shape = tuple(int(d) for d in input_shape)
        except (TypeError, ValueError):
            raise EdgesimError(f"must be a tuple of 4 integers, got {input_shape!r}", field="input_shape") from None
        if len(shape) != 4 or any(d <= 0 for d in shape):
            raise EdgesimError(f"must be (1, C, H, W) with positive sizes, got {shape}", field="input_shape")
        if shape[0] != 1 or shape[1] != channels:
            raise EdgesimError(f"{name} takes input (1, {channels}, H, W), got {shape}", field="input_shape")
        return (1, channels, shape[2], shape[3])
    if resolution is None:
        return (1, channels, *default_hw)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution <= 0:
        raise EdgesimError(f"must be a positive integer, got {resolution!r}", field="resolution")
    if default_hw[0] != default_hw[1]:
        # Non-square inputs (DS-CNN's 49x10 spectrogram) scale their height; the width stays the feature count.
        return (1, channels, resolution, default_hw[1])
    return (1, channels, resolution, resolution)


def build(name: str, **choices: Any) -> Graph:
    """Build the zoo model ``name``; ``choices`` are ``resolution``, ``num_classes``, ``input_shape`` and the
    model's own options (``alpha`` for MobileNet V1/V2, OFA ``kernel_sizes``/``expand_ratios``/``depths`` for
    mobilenet_v3_large). Raises EdgesimError for unknown names or invalid choices."""
    if name not in _MODELS:
        from edgesim.files import bundled_models

        # A name that is no zoo model may be a bundled model file typed without its suffix, or a typo.
        hint = did_you_mean(name, [*names(), *(p.name for p in bundled_models())])
        raise EdgesimError(f"unknown model '{name}': not a model file and not a zoo model{hint} (zoo models: "
                           f"{', '.join(names())}; 'edgesim models' lists the bundled files too)")
    builder, default_hw, default_classes, channels = _MODELS[name]
    resolution = choices.pop("resolution", None)
    input_shape = choices.pop("input_shape", None)
    num_classes = choices.pop("num_classes", default_classes)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise EdgesimError(f"must be a positive integer, got {num_classes!r}", field="num_classes")
    accepted = [p for p in inspect.signature(builder).parameters if p not in ("input_shape", "num_classes")]
    for key in choices:
        if key not in accepted:
            opts = ", ".join(["resolution", "num_classes", "input_shape", *accepted])
            raise EdgesimError(f"{name} has no option '{key}'; options: {opts}", field=key)
    shape = _input_shape(name, default_hw, channels, resolution, input_shape)
    try:
        graph = builder(shape, num_classes, **choices)
    except EdgesimError:
        raise
    except (ValueError, ZeroDivisionError) as e:
        raise EdgesimError(f"cannot build {name} for input {shape}: {e}") from None
    # The builder infers every output shape as it adds a node; the loader verifies the graph once more.
    return graph


__all__ = ["Choice", "SearchSpace", "Stage", "build", "names", "search_space", "search_spaces"]
