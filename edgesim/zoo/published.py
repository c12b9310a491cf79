"""Published MAC and parameter counts of the issue-17 zoo networks, each with its source.

The builders never read these: ``tests/unit/test_zoo_networks.py`` checks every built graph against them (within
3%) and ``benchmarks/bench_zoo.py`` prints both side by side into ``docs/zoo.md``. Ultralytics, Darknet, Open Model
Zoo and Hailo publish FLOPs/OPS = 2 x multiply-adds, so those are halved here; torchvision's "GFLOPS", timm's
GMACs and the EfficientNet/EfficientDet/MobileNet papers' FLOPs/MAdds are multiply-adds already.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

M, G = 1e6, 1e9


@dataclass(frozen=True)
class PublishedCount:
    macs: float | None  # multiply-accumulates at the reference input (None: no usable published figure)
    params: float | None
    source: str
    options: tuple[tuple[str, int], ...] = ()  # zoo.build options of the published configuration


_ULTRA = "docs.ultralytics.com/models/{} table at 640 (FLOPs = 2 x MACs)"
_TV = "torchvision classification table (GFLOPS column = multiply-adds), params"
_POSE = "docs.ultralytics.com/tasks/pose table at 640 (FLOPs = 2 x MACs)"
_SEG = ("docs.ultralytics.com/tasks/segment table at 640 (FLOPs = 2 x MACs), less 3x the Proto ConvTranspose2d's "
        "MACs: the table's thop counted that layer per output pixel, 4x its real MACs (zoo/published.py)")
_V5_SEG = "github.com/ultralytics/yolov5 README segmentation table (v7.0) at 640 (FLOPs = 2 x MACs)"


def _thop_deconv_excess_macs(proto_channels: int) -> float:
    """What the YOLOv8-seg table counts beyond the real MACs of Proto's 2x2/2 ConvTranspose2d at 640 (80x80 in).

    Ultralytics' FLOPs come from thop, whose conv rule at the time was output elements x C_in x kh x kw for every
    convolution (thop's calculate_conv2d_flops; ultralytics-thop later added a ``transpose`` branch counting input
    elements instead). For a stride-2 transposed conv the output has 4x the input's pixels, so the table counts 4x
    its real MACs: 3 x (80*80 * 2*2 * npr * npr) too many. Derived, not fitted: with it removed every built graph
    is within 0.3% (without, -4.7..-5.9%); yolov5's Proto upsamples with nn.Upsample and needs no such term."""
    return 3.0 * 80 * 80 * 2 * 2 * proto_channels * proto_channels

PUBLISHED = MappingProxyType({
    "yolov5n": PublishedCount(4.5 / 2 * G, 1.9 * M, _ULTRA.format("yolov5") + ", v7.0 weights"),
    "yolov5s": PublishedCount(16.5 / 2 * G, 7.2 * M, _ULTRA.format("yolov5") + ", v7.0 weights"),
    "yolov5m": PublishedCount(49.0 / 2 * G, 21.2 * M, _ULTRA.format("yolov5") + ", v7.0 weights"),
    "yolov8n": PublishedCount(8.7 / 2 * G, 3.2 * M, _ULTRA.format("yolov8")),
    "yolov8s": PublishedCount(28.6 / 2 * G, 11.2 * M, _ULTRA.format("yolov8")),
    "yolov8m": PublishedCount(78.9 / 2 * G, 25.9 * M, _ULTRA.format("yolov8")),
    "yolo11n": PublishedCount(6.5 / 2 * G, 2.6 * M, _ULTRA.format("yolo11")),
    "yolo11s": PublishedCount(21.5 / 2 * G, 9.4 * M, _ULTRA.format("yolo11")),
    "yolo11m": PublishedCount(68.0 / 2 * G, 20.1 * M, _ULTRA.format("yolo11")),
    "yolov8n_pose": PublishedCount(9.2 / 2 * G, 3.3 * M, _POSE),
    "yolov8s_pose": PublishedCount(30.2 / 2 * G, 11.6 * M, _POSE),
    "yolov8m_pose": PublishedCount(81.0 / 2 * G, 26.4 * M, _POSE),
    "yolov8n_seg": PublishedCount(12.6 / 2 * G - _thop_deconv_excess_macs(64), 3.4 * M, _SEG),  # npr 256 x 0.25
    "yolov8s_seg": PublishedCount(42.6 / 2 * G - _thop_deconv_excess_macs(128), 11.8 * M, _SEG),
    "yolov8m_seg": PublishedCount(110.2 / 2 * G - _thop_deconv_excess_macs(192), 27.3 * M, _SEG),
    "yolov5n_seg": PublishedCount(7.1 / 2 * G, 2.0 * M, _V5_SEG),
    "yolov5s_seg": PublishedCount(26.4 / 2 * G, 7.6 * M, _V5_SEG),
    "yolov5m_seg": PublishedCount(70.8 / 2 * G, 22.0 * M, _V5_SEG),
    "yolov3_tiny": PublishedCount(5.582 / 2 * G, 8.848 * M,
                                  "Open Model Zoo yolo-v3-tiny-tf at 416: 5.582 GFLOPs, 8.848 MParams"),
    "ssd_mobilenet_v1": PublishedCount(2.494 / 2 * G, 6.807 * M,
                                       "Open Model Zoo ssd_mobilenet_v1_coco at 300: 2.494 GFLOPs, 6.807 MParams",
                                       options=(("postprocess", 0),)),  # heads only: decode/NMS add no MACs
    "ssd_mobilenet_v2": PublishedCount(1.52 / 2 * G, 4.46 * M,
                                       "hailo_model_zoo ssd_mobilenet_v2 (SSDLite head): 1.52 GOPS, 4.46 M params "
                                       "(OMZ ssdlite_mobilenet_v2: 1.525 GFLOPs, 4.475 MParams)",
                                       options=(("postprocess", 0),)),
    "ssd_mobilenet_v2_coco": PublishedCount(3.775 / 2 * G, 16.818 * M,
                                            "Open Model Zoo ssd_mobilenet_v2_coco at 300: 3.775 GFLOPs, 16.818 MParams",
                                            options=(("postprocess", 0),)),
    "deeplabv3_mobilenet_v2": PublishedCount(2.75 * G, 2.11 * M,
                                             "Sandler et al. 2018 Table 7: Mobile DeepLabv3, OS 16, no ASPP, 513x513: "
                                             "2.75 B MAdds, 2.11 M params", options=(("output_stride", 16),)),
    # No published MAC count: the test counts the ASPP and decoder MACs from the layer sizes instead.
    "deeplabv3plus_mobilenet": PublishedCount(None, 5.80 * M, "Qualcomm AI Hub DeepLabV3-Plus-MobileNet model card: "
                                                              "5.80 M params"),
    "efficientdet_d0": PublishedCount(2.5 * G, 3.9 * M, "Tan et al. 2020 Table 2: D0 at 512, 2.5 B FLOPs (MAdds), "
                                                        "3.9 M params (OMZ efficientdet-d0-tf: 2.54, 3.9)",
                                      options=(("postprocess", 0),)),  # heads only: decode/NMS add no MACs
    "resnet34": PublishedCount(3.66 * G, 21.798 * M, _TV),
    "efficientnet_b0": PublishedCount(0.39 * G, 5.289 * M, _TV + "; Tan & Le 2019 Table 2: 0.39 B FLOPs, 5.3 M"),
    "densenet121": PublishedCount(2.83 * G, 7.979 * M, _TV),
    "inception_v1": PublishedCount(1.50 * G, 6.625 * M, _TV + " (googlenet, eval mode: no aux heads)"),
    "inception_v3": PublishedCount(5.71 * G, 23.9 * M, _TV + " at 299; params without aux heads: Keras "
                                                             "applications table, 23.9 M"),
    "squeezenet1_1": PublishedCount(0.35 * G, 1.235 * M, _TV),
    "vit_small": PublishedCount(4.6 * G, 22.05 * M, "timm vit_small_patch16_224: 4.6 GMACs, 22.1 M params"),
    "vit_base": PublishedCount(17.56 * G, 86.567 * M, _TV + " (vit_b_16)"),
    "bert_base": PublishedCount(22.5 / 2 * G, 110 * M, "Sun et al. 2020 (MobileBERT) Table 4: BERT-base 22.5 B FLOPs "
                                                       "at 128 tokens; Devlin et al. 2019: 110 M params", options=(("seq_len", 128),)),
    "distilbert": PublishedCount(22.5 / 4 * G, 66 * M, "Sanh et al. 2019 Table 3: 66 M params; half of BERT-base's "
                                                       "layers, so half its 22.5 B FLOPs at 128 tokens", options=(("seq_len", 128),)),
    # The paper's 5.7 B FLOPs is 6% above twice the MACs its own Table 1 sizes give; the test counts MACs from those
    # sizes instead.
    "mobilebert": PublishedCount(None, 25.3 * M, "Sun et al. 2020 Table 4: 25.3 M params", options=(("seq_len", 128),)),
})
