"""The layers beyond attention (LayerNorm, GELU MLP, GQA, selective scan, conv-ReLU-conv)
evaluated by the cascade evaluator against direct numpy/scipy formulas, and their op counts
against closed forms derived here."""

import math

import numpy as np
import pytest
import scipy.special

from mappings import parse
from mappings.einsum import CascadeError
from mappings.library_layers import LAYERS, layer

RNG = np.random.default_rng(7)


def test_new_unary_ops_match_numpy():
    c = parse("rank N\nA[n] = sqrt(X[n])\nB[n] = rsqrt(X[n])\nT[n] = tanh(X[n])\nE[n] = erf(X[n])")
    x = RNG.uniform(0.1, 3.0, 9)
    out = c.evaluate({"X": x})
    np.testing.assert_allclose(out["A"], np.sqrt(x))
    np.testing.assert_allclose(out["B"], 1 / np.sqrt(x))
    np.testing.assert_allclose(out["T"], np.tanh(x))
    np.testing.assert_allclose(out["E"], [math.erf(v) for v in x])
    assert c.op_counts({"N": 9}, per_einsum=True)["E"]["erf"] == 9


def test_layernorm_matches_numpy():
    E, P = 12, 5
    x, g, b = RNG.normal(size=(E, P)), RNG.normal(size=E), RNG.normal(size=E)
    out = layer("layernorm").evaluate({"X": x, "WM": np.full(E, 1 / E), "G": g, "B": b})
    mu, var = x.mean(axis=0), x.var(axis=0)
    ref = (x - mu) / np.sqrt(var + 1e-5) * g[:, None] + b[:, None]
    np.testing.assert_allclose(out["Y"], ref, rtol=1e-10)
    counts = layer("layernorm").op_counts({"E": E, "P": P})
    assert counts["rsqrt"] == P                      # one per token
    assert counts["mac"] == 2 * E * P                # mean and variance


def test_gelu_mlp_matches_scipy():
    D, S, P = 6, 10, 4
    x, w1, w2 = RNG.normal(size=(D, P)), RNG.normal(size=(D, S)), RNG.normal(size=(S, D))
    out = layer("gelu-mlp").evaluate({"X": x, "W1": w1, "W2": w2})
    h = w1.T @ x
    gelu = h * 0.5 * (1 + scipy.special.erf(h / np.sqrt(2)))
    np.testing.assert_allclose(out["Y"], w2.T @ gelu, rtol=1e-10)
    assert layer("gelu-mlp").op_counts({"D": D, "S": S, "P": P})["mac"] == 2 * D * S * P


def test_gqa_matches_softmax_per_group():
    G, R, E, F, M, P = 2, 3, 4, 5, 7, 6
    q, k, v = RNG.normal(size=(G, R, E, P)), RNG.normal(size=(G, E, M)), RNG.normal(size=(G, F, M))
    out = layer("gqa").evaluate({"Q": q, "K": k, "V": v})
    for g in range(G):
        for r in range(R):
            s = k[g].T @ q[g, r]                      # [M, P]
            a = np.exp(s - s.max(axis=0)) / np.exp(s - s.max(axis=0)).sum(axis=0)
            np.testing.assert_allclose(out["AV"][g, r], v[g] @ a, rtol=1e-10)


def test_mamba_scan_matches_a_python_loop():
    T, D, N = 9, 3, 4
    dt, a = RNG.uniform(0.01, 0.2, (T, D)), -RNG.uniform(0.5, 2, (D, N))
    b, c, x = RNG.normal(size=(T, N)), RNG.normal(size=(T, N)), RNG.normal(size=(T, D))
    out = layer("mamba-scan").evaluate({"DT": dt, "A": a, "B": b, "C": c, "X": x})
    h = np.zeros((D, N))
    for t in range(T):
        h = np.exp(dt[t][:, None] * a) * h + dt[t][:, None] * b[t][None, :] * x[t][:, None]
        np.testing.assert_allclose(out["Y"][t], h @ c[t], rtol=1e-10)


def test_conv_relu_conv_matches_sliding_windows():
    K, C, J, P, R, S = 3, 2, 4, 6, 3, 2
    H = P + S - 1
    i = RNG.normal(size=(C, H + R - 1))
    w1, w2 = RNG.normal(size=(K, C, R)), RNG.normal(size=(J, K, S))
    out = layer("conv-relu-conv").evaluate({"I": i, "W1": w1, "W2": w2}, ranks={"H": H, "P": P})
    o1 = np.array([[sum(w1[k, c, r] * i[c, h + r] for c in range(C) for r in range(R))
                    for h in range(H)] for k in range(K)])
    r1 = np.maximum(o1, 0)
    o2 = np.array([[sum(w2[j, k, s] * r1[k, p + s] for k in range(K) for s in range(S))
                    for p in range(P)] for j in range(J)])
    np.testing.assert_allclose(out["O2"], o2, rtol=1e-10)


def test_every_layer_parses_and_unknown_name_is_one_line():
    for name in LAYERS:
        assert layer(name).einsums
    with pytest.raises(CascadeError, match="'layer' must be one of .*, not 'nope'"):
        layer("nope")
