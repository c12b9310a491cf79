"""The sensitivity/interval re-costing of one unit (pipeline.interval_remap) costs each op at the precision the mapper
costed it at."""

from __future__ import annotations

from edgesim.api import sensitivity
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run


def test_a_w8a16_qnn_model_with_converted_float_ops_has_a_sensitivity() -> None:
    """QNN's converter quantizes an fp32 LAYER_NORM's params, so the mapper costs it at int16 on the HTP, which has
    no fp32 rate; the re-costing used the op's unconverted fp32 and asserted: 'edgesim report vit_small --hw
    snapdragon-x-elite --runtime qnn --quant int16' exited 3 (found by benchmarks/fuzz_npu_matrix.py's doors)."""
    opts = TransformOptions(quant=QuantPreset("int16"), calibration="fixed", accuracy=False)
    result = run(RunSpec("vit_small", "snapdragon-x-elite", "qnn", transform=opts))
    assert sensitivity(result).parameters
