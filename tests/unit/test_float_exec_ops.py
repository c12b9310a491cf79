"""The float reference executor's elementwise math (edgesim.passes.float_exec_math)."""

from __future__ import annotations

import warnings

import numpy as np

from edgesim.passes.float_exec_math import sigmoid


def test_sigmoid_saturates_to_zero_without_an_overflow_warning() -> None:
    """A YOLO head's large negative logits overflowed e^-x on every float run (a RuntimeWarning in the suite); the
    result, exactly 0, was right, and every value is the same as before."""
    x = np.array([-1000.0, -100.0, -88.0, -1.0, 0.0, 1.0, 40.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sigmoid(x)
    with np.errstate(over="ignore"):
        assert np.array_equal(y, 1.0 / (1.0 + np.exp(-x)))
    assert y[0] == 0.0 and y[4] == 0.5
