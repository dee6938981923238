"""The convolution cascades against independent numpy references, with closed-form op counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from mappings import OP_CLASSES, CascadeError, library


def conv1d_loops(i, w, stride, dilation, P):
    """O[k,p] = sum_{c,r} I[c, stride*p + dilation*r] * W[k,c,r], by explicit loops."""
    K, C, R = w.shape
    o = np.zeros((K, P))
    for k in range(K):
        for p in range(P):
            for c in range(C):
                for r in range(R):
                    o[k, p] += i[c, stride * p + dilation * r] * w[k, c, r]
    return o


def windows(i, R, S, stride, dilation):
    """I's R x S windows, [C, P, Q, R, S], via sliding_window_view (dilated, strided)."""
    span_r, span_s = dilation * (R - 1) + 1, dilation * (S - 1) + 1
    v = sliding_window_view(i, (span_r, span_s), axis=(1, 2))
    return v[:, ::stride, ::stride, ::dilation, ::dilation]


def extent(out, taps, stride, dilation):
    """Input extent a window reads: stride*(out-1) + dilation*(taps-1) + 1."""
    return stride * (out - 1) + dilation * (taps - 1) + 1


@settings(max_examples=40, deadline=None)
@given(K=st.integers(1, 3), C=st.integers(1, 3), P=st.integers(1, 5), R=st.integers(1, 3),
       stride=st.integers(1, 3), dilation=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
def test_conv1d_equals_explicit_loops(K, C, P, R, stride, dilation, seed):
    rng = np.random.default_rng(seed)
    i = rng.standard_normal((C, extent(P, R, stride, dilation)))
    w = rng.standard_normal((K, C, R))
    out = library.conv("conv1d", stride, dilation).evaluate({"I": i, "W": w}, ranks={"P": P})
    assert np.allclose(out["O"], conv1d_loops(i, w, stride, dilation, P))
    assert out.op_counts == {"O": {"mac": K * C * P * R}}


@settings(max_examples=40, deadline=None)
@given(K=st.integers(1, 3), C=st.integers(1, 3), P=st.integers(1, 4), Q=st.integers(1, 4),
       R=st.integers(1, 3), S=st.integers(1, 3), stride=st.integers(1, 2),
       dilation=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
def test_conv2d_equals_numpy_on_windows(K, C, P, Q, R, S, stride, dilation, seed):
    rng = np.random.default_rng(seed)
    i = rng.standard_normal((C, extent(P, R, stride, dilation), extent(Q, S, stride, dilation)))
    w = rng.standard_normal((K, C, R, S))
    c = library.conv("conv2d", stride, dilation)
    out = c.evaluate({"I": i, "W": w}, ranks={"P": P, "Q": Q})
    ref = np.einsum("cpqrs,kcrs->kpq", windows(i, R, S, stride, dilation), w)
    assert np.allclose(out["O"], ref)
    macs = K * C * P * Q * R * S
    assert out.op_counts == {"O": {"mac": macs}}
    shape = {"K": K, "C": C, "P": P, "Q": Q, "R": R, "S": S}
    assert c.op_counts(shape) == {**dict.fromkeys(OP_CLASSES, 0), "mac": macs}


@settings(max_examples=40, deadline=None)
@given(C=st.integers(1, 4), P=st.integers(1, 4), Q=st.integers(1, 4), R=st.integers(1, 3),
       S=st.integers(1, 3), stride=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
def test_depthwise_equals_numpy_on_windows(C, P, Q, R, S, stride, seed):
    rng = np.random.default_rng(seed)
    i = rng.standard_normal((C, extent(P, R, stride, 1), extent(Q, S, stride, 1)))
    w = rng.standard_normal((C, R, S))
    out = library.conv("depthwise", stride).evaluate({"I": i, "W": w}, ranks={"P": P, "Q": Q})
    ref = np.einsum("cpqrs,crs->cpq", windows(i, R, S, stride, 1), w)
    assert np.allclose(out["O"], ref)
    assert out.op_counts == {"O": {"mac": C * P * Q * R * S}}


def test_conv_op_counts_at_a_vgg_layer_shape():
    # VGG-16 conv3_1-like: 256 output channels, 128 input channels, 56 x 56 outputs, 3 x 3 taps
    shape = {"K": 256, "C": 128, "P": 56, "Q": 56, "R": 3, "S": 3}
    assert library.conv("conv2d").op_counts(shape)["mac"] == 256 * 128 * 56 * 56 * 3 * 3
    assert library.conv("depthwise").op_counts(shape)["mac"] == 128 * 56 * 56 * 3 * 3


def test_library_conv_text_and_arguments():
    assert library.conv_text("conv2d", stride=2).splitlines()[-1] == \
        "O[k,p,q] = I[c,2*p+r,2*q+s] * W[k,c,r,s]"
    assert library.conv_text("conv1d", dilation=2).splitlines()[-1] == \
        "O[k,p] = I[c,p+2*r] * W[k,c,r]"
    assert library.conv("depthwise").tensor_ranks["W"] == ("C", "R", "S")
    assert library.conv("conv2d") is library.conv("conv2d")
    with pytest.raises(CascadeError, match=r"^'kind' must be one of conv1d, conv2d, depthwise, "
                                           r"not 'conv3d'$"):
        library.conv("conv3d")
    for bad in (0, -1, True, 1.5):
        with pytest.raises(CascadeError,
                           match=rf"^'stride' must be a positive integer, not {bad!r}$"):
            library.conv("conv2d", stride=bad)
