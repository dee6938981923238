"""Transformer model workloads: the attention layers and encoder layers FuseMax evaluates.

In hardware terms a workload here is the shape of the tensors one encoder layer feeds an
accelerator: a batch of ``B`` sequences of ``L`` tokens, ``H`` heads of query/key embedding
``E`` and value embedding ``F``, a model width ``D`` and a feed-forward width ``S``. Attention
alone is ``B * H`` independent cascades over M = P = L (keys = queries: an encoder); one
encoder layer adds the linear layers around it (Q, K and V projections, the output projection
and the two feed-forward GEMMs).

The four models and the batch size are those of FuseMax (Nayak et al., MICRO 2024,
arXiv 2406.10491, evaluation section; docs/sources.md#fusemax-workloads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arch.errors import WorkloadError
from arch.numbers import parse_int


@dataclass(frozen=True)
class Model:
    """One transformer's layer dimensions.

    Attributes
    ----------
    name : str
        Short name used on the command line (``bert``, ``trxl``, ``t5``, ``xlm``).
    title : str
        Name as the paper prints it.
    d_model : int
        Model width D (elements).
    e : int
        Query/key embedding per head E (elements); the value embedding F equals it.
    heads : int
        Attention heads H.
    ffn : int
        Feed-forward hidden width S (elements).
    """

    name: str
    title: str
    d_model: int
    e: int
    heads: int
    ffn: int

    @property
    def f(self) -> int:
        """Value embedding per head F (elements); E = F in every model here."""
        return self.e


# FuseMax, MICRO 2024, evaluation workloads (docs/sources.md#fusemax-workloads): d_model, E = F, heads, FFN.
MODELS = {
    "bert": Model("bert", "BERT-Base", d_model=768, e=64, heads=12, ffn=3072),
    "trxl": Model("trxl", "TrXL", d_model=1024, e=64, heads=16, ffn=4096),
    "t5": Model("t5", "T5-small", d_model=512, e=64, heads=8, ffn=2048),
    "xlm": Model("xlm", "XLM", d_model=2048, e=128, heads=16, ffn=8192),
}
_ALIASES = {"bert-base": "bert", "t5-small": "t5", "transformer-xl": "trxl"}

#: Batch size of every FuseMax workload (docs/sources.md#fusemax-workloads).
BATCH = 64
#: The sequence lengths of the paper's figures (1K .. 1M tokens).
SEQ_LENS = ("1K", "4K", "16K", "64K", "256K", "1M")
#: Upper bound accepted for a sequence length (tokens): 2^26, well past the paper's 1M.
MAX_SEQ_LEN = 1 << 26
MAX_BATCH = 1 << 16

_SEQ_RE = re.compile(r"([0-9]{1,9})([kKmM]?)\Z", re.ASCII)


def model(name) -> Model:
    """The model called ``name`` (case-insensitive); :class:`WorkloadError` if unknown."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in MODELS:
        raise WorkloadError(f"'model' must be one of {', '.join(MODELS)}, not {name!r}")
    return MODELS[key]


def parse_seq_len(value) -> int:
    """Tokens in a sequence: ``"1K"`` -> 1024, ``"1M"`` -> 1048576, ``"4096"`` -> 4096.

    K and M are binary (2^10, 2^20), as the paper's lengths are powers of two.
    """
    if isinstance(value, bool):
        raise WorkloadError(f"'seq_len' must be a positive integer or 1K..1M, not {value!r}")
    if isinstance(value, int):
        n = value
    else:
        m = _SEQ_RE.match(str(value))
        if not m:
            raise WorkloadError(f"'seq_len' must be a positive integer or 1K..1M, not {value!r}")
        n = int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20}[m.group(2).lower()]
    if n < 1 or n > MAX_SEQ_LEN:
        raise WorkloadError(f"'seq_len' must be between 1 and {MAX_SEQ_LEN} tokens, not {value!r}")
    return n


def format_seq_len(n: int) -> str:
    """1024 -> "1K", 1048576 -> "1M", 1000 -> "1000"."""
    if n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n % (1 << 10) == 0:
        return f"{n >> 10}K"
    return str(n)


def parse_batch(value) -> int:
    """A positive batch size (at most :data:`MAX_BATCH`) from an int or a command-line string
    (strictly, :func:`arch.numbers.parse_int`)."""
    return parse_int(value, "batch", 1, MAX_BATCH)


@dataclass(frozen=True)
class Gemm:
    """One linear layer of an encoder: ``OUT[t,n] = sum_k IN[t,k] * W[k,n]`` over T tokens."""

    name: str
    tokens: int
    k: int
    n: int

    @property
    def macs(self) -> int:
        return self.tokens * self.k * self.n


@dataclass(frozen=True)
class Workload:
    """One encoder layer of ``model`` on ``batch`` sequences of ``seq_len`` tokens."""

    model: Model
    seq_len: int
    batch: int = BATCH

    @property
    def heads(self) -> int:
        return self.model.heads

    @property
    def instances(self) -> int:
        """Independent attention cascades: batch * heads."""
        return self.batch * self.model.heads

    def attention_shape(self) -> dict:
        """Rank sizes of one attention cascade (one batch element, one head): M = P = L."""
        return {"M": self.seq_len, "P": self.seq_len, "E": self.model.e, "F": self.model.f}

    def linear_layers(self) -> list:
        """The GEMMs of the layer around attention, in execution order (before, after)."""
        m, t = self.model, self.batch * self.seq_len
        hd = m.heads * m.e
        before = [Gemm("Qproj", t, m.d_model, hd), Gemm("Kproj", t, m.d_model, hd),
                  Gemm("Vproj", t, m.d_model, m.heads * m.f)]
        after = [Gemm("Oproj", t, m.heads * m.f, m.d_model), Gemm("FFN1", t, m.d_model, m.ffn),
                 Gemm("FFN2", t, m.ffn, m.d_model)]
        return before, after

    def attention_macs(self) -> int:
        """MACs of QK and AV over the whole batch (for roofline checks)."""
        L, m = self.seq_len, self.model
        return self.instances * L * L * (m.e + m.f)


def workload(model_name, seq_len, batch=BATCH) -> Workload:
    """Build a :class:`Workload` from command-line style values (strings allowed)."""
    return Workload(model(model_name), parse_seq_len(seq_len), parse_batch(batch))
