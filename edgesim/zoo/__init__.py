"""The model zoo: published architectures built by name as float32 NCHW IR graphs with seeded weights.

``build("mobilenet_v3_large", kernel_sizes=[...], expand_ratios=[...], depths=[...])`` builds a subnet of the
once-for-all MobileNetV3 space; every builder takes ``resolution`` and ``num_classes``, or ``input_shape``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from edgesim.errors import EdgesimError, ModelError, did_you_mean
from edgesim.ir.graph import Graph
from edgesim.zoo import bert, classic, cnn, detection, vit, yolo, yolo_tasks
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
    "vit_small": (vit.vit_small, (224, 224), 1000, 3),
    "vit_base": (vit.vit_base, (224, 224), 1000, 3),
    "squeezenet1_1": (cnn.squeezenet, (224, 224), 1000, 3),  # torchvision's name for the zoo's "squeezenet"
    "resnet34": (classic.resnet34, (224, 224), 1000, 3),
    "efficientnet_b0": (classic.efficientnet_b0, (224, 224), 1000, 3),
    "densenet121": (classic.densenet121, (224, 224), 1000, 3),
    "inception_v1": (classic.inception_v1, (224, 224), 1000, 3),
    "inception_v3": (classic.inception_v3, (299, 299), 1000, 3),
    # Detectors: default num_classes is the published COCO head (TF OD API counts the background class; YOLO
    # and EfficientDet do not). YOLO/EfficientDet decode and NMS are host post-processing (yolo.py, detection.py);
    # the SSDs end in their published decode + NMS (ssd_post.py; postprocess=0 leaves it off).
    "yolov5n": (yolo.yolov5n, (640, 640), 80, 3),
    "yolov5s": (yolo.yolov5s, (640, 640), 80, 3),
    "yolov5m": (yolo.yolov5m, (640, 640), 80, 3),
    "yolov8n": (yolo.yolov8n, (640, 640), 80, 3),
    "yolov8s": (yolo.yolov8s, (640, 640), 80, 3),
    "yolov8m": (yolo.yolov8m, (640, 640), 80, 3),
    "yolo11n": (yolo.yolo11n, (640, 640), 80, 3),
    "yolo11s": (yolo.yolo11s, (640, 640), 80, 3),
    "yolo11m": (yolo.yolo11m, (640, 640), 80, 3),
    # Pose (COCO keypoints: one class, person) and instance segmentation: keypoint decode and mask assembly are
    # host post-processing too (yolo_tasks.py); the seg graphs end in the heads and the stride-4 prototypes.
    "yolov8n_pose": (yolo_tasks.yolov8n_pose, (640, 640), 1, 3),
    "yolov8s_pose": (yolo_tasks.yolov8s_pose, (640, 640), 1, 3),
    "yolov8m_pose": (yolo_tasks.yolov8m_pose, (640, 640), 1, 3),
    "yolov8n_seg": (yolo_tasks.yolov8n_seg, (640, 640), 80, 3),
    "yolov8s_seg": (yolo_tasks.yolov8s_seg, (640, 640), 80, 3),
    "yolov8m_seg": (yolo_tasks.yolov8m_seg, (640, 640), 80, 3),
    "yolov5n_seg": (yolo_tasks.yolov5n_seg, (640, 640), 80, 3),
    "yolov5s_seg": (yolo_tasks.yolov5s_seg, (640, 640), 80, 3),
    "yolov5m_seg": (yolo_tasks.yolov5m_seg, (640, 640), 80, 3),
    "yolov3_tiny": (yolo.yolov3_tiny, (416, 416), 80, 3),  # OpenVINO yolo-v3-tiny-tf runs 416x416
    "ssd_mobilenet_v1": (detection.ssd_mobilenet_v1, (300, 300), 91, 3),
    "ssd_mobilenet_v2": (detection.ssd_mobilenet_v2, (300, 300), 91, 3),
    "ssd_mobilenet_v2_coco": (detection.ssd_mobilenet_v2_coco, (300, 300), 91, 3),
    "deeplabv3_mobilenet_v2": (detection.deeplabv3_mobilenet_v2, (513, 513), 21, 3),  # PASCAL VOC classes
    "deeplabv3plus_mobilenet": (detection.deeplabv3plus_mobilenet, (513, 513), 21, 3),
    "efficientdet_d0": (detection.efficientdet_d0, (512, 512), 90, 3),
}


# Sequence models: name -> (builder taking seq_len, default sequence length). Input shape (1, SEQ) token ids.
_SEQ_MODELS: dict[str, tuple[_Builder, int]] = {
    "bert_base": (bert.bert_base, 128),  # OpenVINO's bert-base-cased benchmark runs 128 tokens
    "distilbert": (bert.distilbert, 384),  # Qualcomm AI Hub runs the BERT family at 384 tokens
    "mobilebert": (bert.mobilebert, 384),
}


def names() -> list[str]:
    """Names accepted by ``build``."""
    return sorted([*_MODELS, *_SEQ_MODELS])


def is_sequence_model(name: str) -> bool:
    """True for the token-id models (input shape 1xSEQ) rather than images (1xCxHxW)."""
    return name in _SEQ_MODELS


def _build_sequence(name: str, choices: dict[str, Any]) -> Graph:
    builder, default_seq = _SEQ_MODELS[name]
    input_shape = choices.pop("input_shape", None)
    seq = choices.pop("seq_len", None)
    for key in choices:
        raise EdgesimError(f"{name} has no option '{key}'; options: input_shape, seq_len", field=key)
    if input_shape is not None:
        try:
            shape = tuple(int(d) for d in input_shape)
        except (TypeError, ValueError):
            raise EdgesimError(f"must be (1, SEQ), got {input_shape!r}", field="input_shape") from None
        if len(shape) != 2 or shape[0] != 1 or shape[1] <= 0:
            raise EdgesimError(f"{name} takes token ids of shape 1xSEQ (e.g. 1x128), got "
                               f"{'x'.join(str(d) for d in shape)}", field="input_shape")
        seq = shape[1]
    if seq is None:
        seq = default_seq
    if isinstance(seq, bool) or not isinstance(seq, int) or seq <= 0:
        raise EdgesimError(f"must be a positive integer, got {seq!r}", field="seq_len")
    return builder(seq)  # the loader verifies


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


def language_model_error(name: str) -> ModelError:
    """A language model (a GGUF file, a bundled LLM config's name) asked of a CNN door: sent to `edgesim llm`."""
    return ModelError(f"'{name}' is a language model: ask `edgesim llm {name} --hw BOARD` (tokens/s, prefill, "
                      "memory fit)")


def _unknown_model(name: str) -> EdgesimError:
    from edgesim.files import bundled_models, language_model_names

    if name in language_model_names():  # every door that builds or checks a zoo name (run, sweep, the API) says so
        return language_model_error(name)

    # A name that is no zoo model may be a bundled model file typed without its suffix, or a typo.
    hint = did_you_mean(name, [*names(), *(p.name for p in bundled_models())])
    return EdgesimError(f"unknown model '{name}': not a model file and not a zoo model{hint} (zoo models: "
                        f"{', '.join(names())}; 'edgesim models' lists the bundled files too)")


def _options(name: str) -> list[str]:
    if name in _SEQ_MODELS:
        return ["input_shape", "seq_len"]
    builder = _MODELS[name][0]
    return ["resolution", "num_classes", "input_shape",
            *(p for p in inspect.signature(builder).parameters if p not in ("input_shape", "num_classes"))]


def check_choices(name: str, choices: dict[str, Any]) -> None:
    """Refuse an unknown zoo name or an option its builder does not take, without building it (a sweep checks
    every model of its spec before its first point)."""
    if name not in _MODELS and name not in _SEQ_MODELS:
        raise _unknown_model(name)
    opts = _options(name)
    for key in choices:
        if key not in opts:
            raise EdgesimError(f"{name} has no option '{key}'; options: {', '.join(opts)}", field=key)


def build(name: str, **choices: Any) -> Graph:
    """Build the zoo model ``name``; ``choices`` are ``resolution``, ``num_classes``, ``input_shape`` and the
    model's own options (``alpha`` for MobileNet V1/V2, OFA ``kernel_sizes``/``expand_ratios``/``depths`` for
    mobilenet_v3_large). Sequence models (BERT family) take ``input_shape=(1, SEQ)`` or ``seq_len`` instead.
    Raises EdgesimError for unknown names or invalid choices."""
    if name in _SEQ_MODELS:
        return _build_sequence(name, dict(choices))
    if name not in _MODELS:
        raise _unknown_model(name)
    builder, default_hw, default_classes, channels = _MODELS[name]
    resolution = choices.pop("resolution", None)
    input_shape = choices.pop("input_shape", None)
    num_classes = choices.pop("num_classes", default_classes)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise EdgesimError(f"must be a positive integer, got {num_classes!r}", field="num_classes")
    check_choices(name, choices)
    shape = _input_shape(name, default_hw, channels, resolution, input_shape)
    try:
        graph = builder(shape, num_classes, **choices)
    except EdgesimError:
        raise
    except (ValueError, ZeroDivisionError) as e:
        raise EdgesimError(f"cannot build {name} for input {shape}: {e}") from None
    # The builder infers every output shape as it adds a node; the loader verifies the graph once more.
    return graph


__all__ = ["Choice", "SearchSpace", "Stage", "build", "check_choices", "is_sequence_model", "names", "search_space", "search_spaces"]
