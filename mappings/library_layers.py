"""Transformer and state-space layers beyond attention, as cascade text.

In hardware terms each cascade is the stage list an accelerator runs for one layer: MAC stages
for the 2D array, element-wise and reduction stages (mean, variance, ``rsqrt``, GELU's ``erf``,
a gate's ``exp``) for the 1D array, and, for a selective scan, a recurrence over time that no
amount of parallel hardware can unroll (step ``t+1`` needs the state of step ``t``).

* ``layernorm``: ``Y = (X - mean) * rsqrt(var + eps) * G + B`` over the embedding rank E for
  each token P. The mean is a MAC with the averaging weights ``WM[e] = 1/E`` (an input the
  caller supplies, as a hardware mean does with a constant multiplier); ``eps = 1e-5``.
* ``gelu-mlp``: ``Y = W2 . gelu(W1 . X)`` with the exact GELU ``h/2 * (1 + erf(h/sqrt(2)))``.
* ``gqa``: grouped-query attention, G key/value heads shared by R query heads each, 3-pass
  softmax with deferred division.
* ``mamba-scan``: a Mamba-style selective scan, ``H[t+1] = exp(DT*A) * H[t] + DT*B*X``,
  ``Y[t] = C[t] . H[t+1]`` over the state rank N.
* ``conv-relu-conv``: two 1D convolutions with a ReLU between them; the second reads the
  first's output through a sliding window, so the intermediate rank H is ``P + S - 1``.

Tensor layouts are given in :data:`LAYERS` next to each text.
"""

from __future__ import annotations

from functools import lru_cache

from mappings.einsum import Cascade, CascadeError
from mappings.parse import parse

LAYERNORM = """\
# LayerNorm over E for each token p (WM[e] = 1/E: the averaging weights)
rank E, P
MU[p]  = sum[e] X[e,p] * WM[e]
D[e,p] = X[e,p] - MU[p]
VAR[p] = sum[e] D[e,p] * D[e,p] * WM[e]
R[p]   = rsqrt(VAR[p] + 0.00001)
Y[e,p] = D[e,p] * R[p] * G[e] + B[e]
"""

GELU_MLP = """\
# MLP with exact GELU: Y = W2 . gelu(W1 . X)
rank D, S, P
H[s,p]  = W1[d,s] * X[d,p]
GL[s,p] = H[s,p] * 0.5 * (1 + erf(H[s,p] * 0.7071067811865476))
Y[d,p]  = W2[s,d] * GL[s,p]
"""

GQA = """\
# grouped-query attention: G key/value heads, R query heads per group, 3 passes, deferred division
rank G, R, E, F, M, P
QK[g,r,m,p]  = Q[g,r,e,p] * K[g,e,m]
GM[g,r,p]    = max[m] QK[g,r,m,p]
SN[g,r,m,p]  = exp(QK[g,r,m,p] - GM[g,r,p])
SD[g,r,p]    = sum[m] SN[g,r,m,p]
SNV[g,r,f,p] = SN[g,r,m,p] * V[g,f,m]
AV[g,r,f,p]  = SNV[g,r,f,p] / SD[g,r,p]
"""

MAMBA_SCAN = """\
# Mamba-style selective scan over time T (state N per channel D)
rank T, D, N
iterate t until t >= T
init H[0,d,n] = 0
AB[t,d,n]  = exp(DT[t,d] * A[d,n])
BX[t,d,n]  = DT[t,d] * B[t,n] * X[t,d]
H[t+1,d,n] = AB[t,d,n] * H[t,d,n] + BX[t,d,n]
Y[t,d]     = sum[n] C[t,n] * H[t+1,d,n]
"""

CONV_RELU_CONV = """\
# conv1d -> ReLU -> conv1d; H = P + S - 1 (the second convolution's window)
rank K, C, J, H, P, R, S
O1[k,h] = I[c,h+r] * W1[k,c,r]
R1[k,h] = max(O1[k,h], 0)
O2[j,p] = R1[k,p+s] * W2[j,k,s]
"""

#: name -> (cascade text, tensor layouts)
LAYERS = {
    "layernorm": (LAYERNORM, "X[e,p], WM[e] = 1/E, G[e], B[e] -> Y[e,p]"),
    "gelu-mlp": (GELU_MLP, "X[d,p], W1[d,s], W2[s,d] -> Y[d,p]"),
    "gqa": (GQA, "Q[g,r,e,p], K[g,e,m], V[g,f,m] -> AV[g,r,f,p]"),
    "mamba-scan": (MAMBA_SCAN, "DT[t,d], A[d,n], B[t,n], C[t,n], X[t,d] -> Y[t,d]"),
    "conv-relu-conv": (CONV_RELU_CONV, "I[c,h+r], W1[k,c,r], W2[j,k,s] -> O2[j,p]"),
}


@lru_cache(maxsize=None)
def layer(name: str) -> Cascade:
    """The cascade of layer ``name`` (a key of :data:`LAYERS`).

    Raises
    ------
    CascadeError
        ``name`` is not a layer of the library.
    """
    if name not in LAYERS:
        raise CascadeError(f"'layer' must be one of {', '.join(LAYERS)}, not {name!r}")
    return parse(LAYERS[name][0], name=name)
