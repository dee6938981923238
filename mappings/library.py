"""The cascade library: GEMM, convolutions and the attention cascades of FuseMax, as cascade text.

In hardware terms each function returns the stage list an accelerator must execute for one
workload: GEMM is one MAC stage; a convolution is one MAC stage whose input is read through a
sliding window (``I[c,p+r]``: output position plus filter tap, times the stride, plus the
filter tap times the dilation); attention is QK, a softmax split into max, exp, sum and divide
stages, and AV, arranged in one of the three families FuseMax (Nayak et al., MICRO 2024,
arXiv 2406.10491, section on the taxonomy of attention cascades; docs/sources.md#fusemax-cascades) distinguishes by the number
of passes over the key/value sequence rank M:

* 3 passes (PyTorch, TensorFlow, FLAT): a global max, then the sum of exponentials, then the
  normalised scores are multiplied by V;
* 2 passes (TileFlow): per partition of M a local max, numerator and denominator, then a
  correction of each partition by ``exp(LM - GM)`` once the global max is known;
* 1 pass (FlashAttention family, FuseMax): running max, denominator and numerator updated
  partition by partition, corrected by ``PRM = exp(RM[m1] - RM[m1+1])``.

Division deferral divides once per output element (``F*P`` divisions) instead of once per
score (``M*P``); it is the published form of the 2-pass and 1-pass cascades. It changes the
structure, so :meth:`Cascade.passes` reports what it implies: deferring the division of the
3-pass cascade lets ``SN*V`` accumulate in the second pass (2 passes), and *not* deferring it
in the 2-pass cascade needs the complete denominator before any score is divided (3 passes).

Tensor layouts: ``Q[e,p]``, ``K[e,m]``, ``V[f,m]``, ``AV[f,p]`` (E = F = embedding, P = query
length, M = key/value length); with ``batch=True`` every tensor has leading ranks ``B, H``.
Convolutions use Timeloop's rank names: input ``I[c,h,w]``, weights ``W[k,c,r,s]`` (depthwise
``W[c,r,s]``), output ``O[k,p,q]``; K output channels, C input channels, P x Q output
positions, R x S filter taps.
"""

from __future__ import annotations

from functools import lru_cache

from mappings.einsum import Cascade, CascadeError
from mappings.parse import parse

GEMM = """\
# GEMM: one MAC stage
rank M, N, K
Z[m,n] = A[m,k] * B[k,n]
"""

_THREE_PASS = """\
rank E, F, M, P
QK[m,p] = Q[e,p] * K[e,m]                 # pass 1
GM[p]   = max[m] QK[m,p]
SN[m,p] = exp(QK[m,p] - GM[p])            # pass 2
SD[p]   = sum[m] SN[m,p]
"""
_THREE_PASS_DIVIDE = """\
A[m,p]  = SN[m,p] / SD[p]                 # pass 3
AV[f,p] = A[m,p] * V[f,m]
"""
_THREE_PASS_DEFER = """\
SNV[f,p] = SN[m,p] * V[f,m]               # still pass 2
AV[f,p]  = SNV[f,p] / SD[p]
"""

_TWO_PASS = """\
rank E, F, M, P
partition M into M1, M0                   # m = m1*M0 + m0
BQK[m1,m0,p] = Q[e,p] * K[e,m1*M0+m0]     # pass 1: per partition
LM[m1,p]     = max[m0] BQK[m1,m0,p]
SLN[m1,m0,p] = exp(BQK[m1,m0,p] - LM[m1,p])
SLD[m1,p]    = sum[m0] SLN[m1,m0,p]
"""
_TWO_PASS_DEFER = """\
SLNV[f,m1,p] = SLN[m1,m0,p] * V[f,m1*M0+m0]
GM[p]        = max[m1] LM[m1,p]
PRM[m1,p]    = exp(LM[m1,p] - GM[p])      # pass 2: correct each partition
SD[p]        = SLD[m1,p] * PRM[m1,p]
SNV[f,p]     = SLNV[f,m1,p] * PRM[m1,p]
AV[f,p]      = SNV[f,p] / SD[p]
"""
_TWO_PASS_DIVIDE = """\
GM[p]        = max[m1] LM[m1,p]
PRM[m1,p]    = exp(LM[m1,p] - GM[p])      # pass 2
SD[p]        = SLD[m1,p] * PRM[m1,p]
A[m1,m0,p]   = SLN[m1,m0,p] * PRM[m1,p] / SD[p]   # pass 3
AV[f,p]      = A[m1,m0,p] * V[f,m1*M0+m0]
"""

_ONE_PASS = """\
rank E, F, M, P
partition M into M1, M0                   # m = m1*M0 + m0
iterate m1 until m1 >= M1
init RM[0,p] = -inf
init RD[0,p] = 0
{init}
BQK[m1,m0,p] = Q[e,p] * K[e,m1*M0+m0]
LM[m1,p]     = max[m0] BQK[m1,m0,p]
RM[m1+1,p]   = max(RM[m1,p], LM[m1,p])    # running max
SLN[m1,m0,p] = exp(BQK[m1,m0,p] - RM[m1+1,p])
SLD[m1,p]    = sum[m0] SLN[m1,m0,p]
SLNV[f,m1,p] = SLN[m1,m0,p] * V[f,m1*M0+m0]
PRM[m1,p]    = exp(RM[m1,p] - RM[m1+1,p]) # correction of the previous partitions
SPD[m1,p]    = RD[m1,p] * PRM[m1,p];  RD[m1+1,p] = SLD[m1,p] + SPD[m1,p]
"""
_ONE_PASS_DEFER = """\
SPNV[f,m1,p]  = RNV[f,m1,p] * PRM[m1,p]
RNV[f,m1+1,p] = SLNV[f,m1,p] + SPNV[f,m1,p]
AV[f,p]       = RNV[f,M1,p] / RD[M1,p]
"""
_ONE_PASS_DIVIDE = """\
SPNV[f,m1,p]  = RO[f,m1,p] * SPD[m1,p]    # un-normalise the previous output and correct it
RO[f,m1+1,p]  = (SLNV[f,m1,p] + SPNV[f,m1,p]) / RD[m1+1,p]
AV[f,p]       = RO[f,M1,p]
"""

#: The published division form of each family (FuseMax's cascades).
DEFAULT_DEFERRAL = {3: False, 2: True, 1: True}


def attention_text(passes: int = 1, deferred_division: bool | None = None) -> str:
    """Cascade text of an attention cascade (see :func:`attention`)."""
    if passes not in (1, 2, 3) or isinstance(passes, bool):
        raise CascadeError(f"'passes' must be 1, 2 or 3, not {passes!r}")
    if deferred_division is None:
        deferred_division = DEFAULT_DEFERRAL[passes]
    if not isinstance(deferred_division, bool):
        raise CascadeError(f"'deferred_division' must be True, False or None, not "
                           f"{deferred_division!r}")
    head = f"# {passes}-pass attention, division {'deferred' if deferred_division else 'per score'}\n"
    if passes == 3:
        return head + _THREE_PASS + (_THREE_PASS_DEFER if deferred_division else _THREE_PASS_DIVIDE)
    if passes == 2:
        return head + _TWO_PASS + (_TWO_PASS_DEFER if deferred_division else _TWO_PASS_DIVIDE)
    init = "init RNV[f,0,p] = 0" if deferred_division else "init RO[f,0,p] = 0"
    return head + _ONE_PASS.format(init=init) + (_ONE_PASS_DEFER if deferred_division
                                                 else _ONE_PASS_DIVIDE)


def attention(passes: int = 1, deferred_division: bool | None = None, *,
              batch: bool = False) -> Cascade:
    """An attention cascade ``AV = softmax(K^T Q)`` applied to ``V``, per query column.

    Parameters
    ----------
    passes : {1, 2, 3}
        The cascade family (FuseMax's taxonomy).
    deferred_division : bool, optional
        Divide once per output (``AV = SNV / SD``) instead of once per score. Default: the
        published form of the family (3-pass: per score; 2- and 1-pass: deferred).
    batch : bool
        Add leading batch and head ranks ``B, H`` to every tensor (``Q[b,h,e,p]``).

    Returns
    -------
    Cascade
        Inputs ``Q[e,p]``, ``K[e,m]``, ``V[f,m]``; output ``AV[f,p]``; the 2- and 1-pass
        cascades partition M into M1, M0 (give ``M0`` in ``ranks``).
    """
    attention_text(passes, deferred_division)  # validates the arguments
    d = DEFAULT_DEFERRAL[passes] if deferred_division is None else deferred_division
    return _attention(passes, d, bool(batch))


@lru_cache(maxsize=None)
def _attention(passes: int, deferred: bool, batch: bool) -> Cascade:
    c = parse(attention_text(passes, deferred),
              name=f"attention-{passes}pass" + ("-deferred" if deferred else ""))
    return c.batched("B", "H") if batch else c


@lru_cache(maxsize=None)
def gemm() -> Cascade:
    """GEMM ``Z[m,n] = sum_k A[m,k] * B[k,n]`` (inputs ``A[m,k]``, ``B[k,n]``).

    Batched GEMMs: evaluate with extra leading axes on A and B, or use ``gemm().batched("G")``.
    """
    return parse(GEMM, name="gemm")


#: The convolutions :func:`conv` writes.
CONV_KINDS = ("conv1d", "conv2d", "depthwise")


def _window(out: str, tap: str, stride: int, dilation: int) -> str:
    """Index of a sliding-window input axis: ``stride*out + dilation*tap``."""
    return "+".join(f"{k}*{v}" if k != 1 else v for k, v in ((stride, out), (dilation, tap)))


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CascadeError(f"{name!r} must be a positive integer, not {value!r}")
    return value


def conv_text(kind: str = "conv2d", stride: int = 1, dilation: int = 1) -> str:
    """Cascade text of a convolution (see :func:`conv`)."""
    if kind not in CONV_KINDS:
        raise CascadeError(f"'kind' must be one of {', '.join(CONV_KINDS)}, not {kind!r}")
    st, dl = _positive("stride", stride), _positive("dilation", dilation)
    head = f"# {kind}, stride {st}, dilation {dl}\n"
    h, w = _window("p", "r", st, dl), _window("q", "s", st, dl)
    if kind == "conv1d":
        return head + f"rank K, C, P, R\nO[k,p] = I[c,{h}] * W[k,c,r]\n"
    if kind == "conv2d":
        return head + f"rank K, C, P, Q, R, S\nO[k,p,q] = I[c,{h},{w}] * W[k,c,r,s]\n"
    return head + f"rank C, P, Q, R, S\nO[c,p,q] = I[c,{h},{w}] * W[c,r,s]\n"


def conv(kind: str = "conv2d", stride: int = 1, dilation: int = 1) -> Cascade:
    """A convolution layer as one Einsum (no padding: every window lies inside the input).

    Parameters
    ----------
    kind : {"conv1d", "conv2d", "depthwise"}
        ``O[k,p] = I[c,p+r] * W[k,c,r]``; ``O[k,p,q] = I[c,p+r,q+s] * W[k,c,r,s]``;
        depthwise ``O[c,p,q] = I[c,p+r,q+s] * W[c,r,s]`` (one filter per channel).
    stride, dilation : int
        Positive integers: ``I[c,2*p+r,...]`` for stride 2, ``I[c,p+2*r,...]`` for dilation 2.

    Returns
    -------
    Cascade
        Inputs ``I`` and ``W``, output ``O``. The input's spatial extent is derived,
        ``stride*(P-1) + dilation*(R-1) + 1`` (likewise with Q, S); give ``P`` (and ``Q``) in
        ``ranks`` when evaluating. MACs are the product of the iteration ranks
        (``K*C*P*Q*R*S``; depthwise ``C*P*Q*R*S``).
    """
    conv_text(kind, stride, dilation)  # validates the arguments
    return _conv(kind, stride, dilation)


@lru_cache(maxsize=None)
def _conv(kind: str, stride: int, dilation: int) -> Cascade:
    return parse(conv_text(kind, stride, dilation),
                 name=f"{kind}" + (f"-stride{stride}" if stride != 1 else "")
                 + (f"-dilation{dilation}" if dilation != 1 else ""))
