"""Numba conv/depthwise/FC kernels (int8 and packed int4) equal their NumPy references on random problems."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.kernels import mac, reference
from edgesim.kernels.requant import quantize_multipliers


def _multipliers(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return quantize_multipliers(rng.uniform(1e-4, 0.02, size=n))


@st.composite
def conv_problem(draw: st.DrawFn) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    depthwise = draw(st.booleans())
    c = draw(st.integers(1, 6))
    if depthwise:
        groups, ig, n_out = c, 1, c * draw(st.integers(1, 3))
    else:
        groups = draw(st.sampled_from([1, 1, 2]))
        c = c * groups
        ig, n_out = c // groups, groups * draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(kh * dh, 12)), draw(st.integers(kw * dw, 12))
    pt, pl = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    oh = (h + 2 * pt - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w + 2 * pl - ((kw - 1) * dw + 1)) // sw + 1
    lo = draw(st.integers(-128, 0))
    return dict(
        x=rng.integers(-128, 128, size=(draw(st.integers(1, 2)), h, w, c), dtype=np.int8),
        w=rng.integers(-127, 128, size=(n_out, kh, kw, ig), dtype=np.int8),
        bias=rng.integers(-5000, 5000, size=n_out).astype(np.int32),
        in_zp=int(rng.integers(-128, 128)), out_zp=int(rng.integers(-20, 20)),
        mult_shift=_multipliers(rng, n_out), stride=(sh, sw), dilation=(dh, dw), pad_tl=(pt, pl),
        out_hw=(oh, ow), groups=groups, act=(lo, draw(st.integers(lo, 127))),
    )


@settings(max_examples=40, deadline=None)
@given(conv_problem(), st.booleans())
def test_conv2d_int8_and_int4_equal_reference(p: dict, single: bool) -> None:
    mult, shift = p["mult_shift"]
    args = (p["bias"], p["in_zp"], mult, shift, p["out_zp"], p["stride"], p["dilation"], p["pad_tl"], p["out_hw"],
            p["groups"], p["act"], single)
    want = reference.conv2d(p["x"], p["w"], *args)
    got = mac.conv2d_int8(p["x"], p["w"], *args)
    np.testing.assert_array_equal(got, want)
    w4 = np.clip(p["w"], -8, 7).astype(np.int8)
    got4 = mac.conv2d_int4(p["x"], mac.pack_int4(w4), w4.shape, *args)
    np.testing.assert_array_equal(got4, reference.conv2d(p["x"], w4, *args))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 20), st.integers(1, 70), st.integers(1, 40), st.booleans())
def test_fully_connected_int8_and_int4_equal_reference(seed: int, m: int, k: int, n: int, single: bool) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(m, k), dtype=np.int8)
    w = rng.integers(-128, 128, size=(n, k), dtype=np.int8)
    bias = rng.integers(-10000, 10000, size=n).astype(np.int32)
    mult, shift = _multipliers(rng, n)
    in_zp, w_zp = int(rng.integers(-128, 128)), int(rng.integers(-3, 3))
    args = (bias, in_zp, w_zp, mult, shift, 4, (-128, 127), single)
    np.testing.assert_array_equal(mac.fully_connected_int8(x, w, *args), reference.fully_connected(x, w, *args))
    w4 = np.clip(w, -8, 7).astype(np.int8)
    got4 = mac.fully_connected_int4(x, mac.pack_int4(w4), n, *args)
    np.testing.assert_array_equal(got4, reference.fully_connected(x, w4, *args))


def test_conv_known_value() -> None:
    # 1x1 conv, multiplier exactly 0.5 and no right shift: SaturatingRoundingDoublingHighMul rounds ties upward
    x = np.array([[[[3], [-3], [5]]]], dtype=np.int8)
    w = np.array([[[[1]]]], dtype=np.int8)
    mult, shift = np.array([1 << 30], dtype=np.int32), np.array([0], dtype=np.int32)
    y = mac.conv2d_int8(x, w, np.zeros(1, np.int32), 0, mult, shift, 0, (1, 1), (1, 1), (0, 0), (1, 3), 1,
                        (-128, 127), False)
    assert y.ravel().tolist() == [2, -1, 3]  # 1.5 -> 2, -1.5 -> -1, 2.5 -> 3


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-8, 7), min_size=0, max_size=33))
def test_int4_pack_roundtrip_low_nibble_first(values: list[int]) -> None:
    arr = np.array(values, dtype=np.int8)
    packed = mac.pack_int4(arr)
    assert packed.size == (len(values) + 1) // 2
    if len(values) >= 2:
        assert packed[0] & 0xF == values[0] & 0xF
        assert packed[0] >> 4 == values[1] & 0xF
    np.testing.assert_array_equal(mac.unpack_int4(packed, len(values)), arr)


def test_fc_weights_are_packed_once_and_an_in_place_edit_is_seen() -> None:
    from edgesim.kernels import mac as mac_mod

    rng = np.random.default_rng(7)
    w = rng.integers(-128, 128, size=(40, 64), dtype=np.int8)
    x = rng.integers(-128, 128, size=(3, 64), dtype=np.int8)
    mult = np.full(40, 1 << 30, dtype=np.int32)
    shift = np.full(40, -8, dtype=np.int32)
    bias = np.zeros(40, dtype=np.int32)
    args = (bias, 0, 0, mult, shift, 0, (-128, 127), False)
    first = mac_mod.fully_connected_int8(x, w, *args)
    packed = mac_mod.packed_weights_nk(w, w)
    assert mac_mod.packed_weights_nk(w, w) is packed  # cached: the same object, no repacking
    w[:, 0] = -w[:, 0] // 2 + 3  # edit the weights in place: the cache must not serve the old packing
    second = mac_mod.fully_connected_int8(x, w, *args)
    fresh = mac_mod.fully_connected_int8(x, w.copy(), *args)
    assert np.array_equal(second, fresh)
    assert not np.array_equal(first, second)
