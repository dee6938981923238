"""The ``cascade`` workload family: any cascade, any mapping, on a spatial accelerator.

A design point is a cascade, from a file (``file=C.einsum``, cascade text) or from the library
(``name=NAME``, see :data:`NAMES`), its rank sizes (``RANK=SIZE``, upper-case keys; ``1K``,
``1M`` allowed), and a mapping: ``mapping=M.yaml`` or a shipped mapping's name (the ``--mapping``
flag sets it for every point); without one the mapper (:mod:`mappings.cascade_mapper`)
searches. For the attention cascades ``model=bert,seq_len=16K[,batch=64]`` sets the ranks as
the attention family does (M = P = the sequence length, E = F = the head embedding, batch and
heads as leading ranks B and H; ``M0``, the keys per partition, is the rows of the spec's 2D
array, 256 without one). The architecture's short parameters (``pe_dim``, ``glb_mb``,
``dram_gbps``, ``clock_mhz``) apply to the spec, so a mapping whose sizes follow the spec
(``pe2d.rows``, ``fit(...)``: docs/mapping.md) runs on every array size.

The record holds cycles, energy_pj, dram_bytes, utilization per unit and ``mapping``: the
mapping used, as data; written to a file and passed back with ``--mapping`` it reproduces the
same cycles.

Command line::

    explore --arch fusemax --workload cascade:name=attention-1pass,model=bert,seq_len=16K \\
            --mapping attention-1pass-fused --format json
    explore --arch fusemax --workload cascade:file=scan.einsum,T=4096,D=16 --engine des
    explore --arch fusemax --workload cascade:name=attention-1pass,model=bert,seq_len=4K \
            --mapping fusemax --set pe_dim=128,256,512
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from arch.errors import WorkloadError
from arch.registry import load_arch
from studies.families import record_value
from studies.families.attention import ARCH_KEYS

#: Library cascades by name.
NAMES = ("attention-1pass", "attention-2pass", "attention-3pass", "gemm", "conv1d", "conv2d", "depthwise",
         "layernorm", "gelu-mlp", "gqa", "mamba-scan", "conv-relu-conv")
WORKLOAD_KEYS = {"file", "name", "mapping", "model", "seq_len", "batch", "objective"} | set(ARCH_KEYS)
DEFAULTS = [{"name": "gemm", "M": "256", "N": "256", "K": "256"}]
_RANK = re.compile(r"[A-Z][A-Z0-9]*")


def accepts(key: str) -> bool:
    """Rank sizes are upper-case keys (``M=1024``), accepted besides :data:`WORKLOAD_KEYS`."""
    return bool(_RANK.fullmatch(key))


def with_mapping(workloads: list, mapping: str) -> list:
    """The ``--mapping`` flag: every workload point gets ``mapping``; only cascades and SpGEMM
    (whose kernels are mappings) take one."""
    out = []
    for kind, params in workloads:
        if kind not in ("cascade", "spgemm"):
            raise WorkloadError(f"--mapping {mapping}: only cascade: and spgemm: workloads take a mapping, not {kind}: "
                                f"(its mapping is part of the workload or chosen by its family)")
        out.append((kind, {**params, "mapping": mapping}))
    return out


@lru_cache(maxsize=64)
def _library(name: str):
    from mappings import library
    from mappings.library_layers import LAYERS, layer

    if name.startswith("attention-") and name[len("attention-"):] in ("1pass", "2pass", "3pass"):
        return library.attention(int(name[len("attention-")]))
    if name == "gemm":
        return library.gemm()
    if name in library.CONV_KINDS:
        return library.conv(name)
    if name in LAYERS:
        return layer(name)
    raise WorkloadError(f"cascade: 'name' must be one of {', '.join(NAMES)}, not {name!r}")


def _cascade(params: dict):
    from mappings.parse import parse

    if ("file" in params) == ("name" in params):
        raise WorkloadError("cascade: give exactly one of 'file' (cascade text) or 'name' (a library cascade)")
    if "name" in params:
        return _library(str(params["name"]))
    path = Path(str(params["file"]))
    try:
        text = path.read_text()
    except OSError as err:
        raise WorkloadError(f"cascade: file={path}: cannot read it ({err.strerror})") from None
    return parse(text, name=path.stem)


def _sizes(params: dict, cascade, spec) -> tuple:
    """(cascade, rank sizes): the attention presets, then explicit ``RANK=SIZE`` keys."""
    from mappings.workloads import parse_seq_len, workload

    sizes = {}
    if "model" in params or "seq_len" in params or "batch" in params:
        if not str(params.get("name", "")).startswith("attention-"):
            raise WorkloadError("cascade: 'model', 'seq_len' and 'batch' set the ranks of the attention cascades only")
        wl = workload(params.get("model", "bert"), params.get("seq_len", "1K"), params.get("batch", 64))
        cascade = cascade.batched("B", "H")
        two_d = [u for u in spec.compute.values() if u.ndim == 2]
        sizes = {**wl.attention_shape(), "B": wl.batch, "H": wl.heads, "M0": two_d[0].rows if two_d else 256}
    for k, v in params.items():
        if accepts(k):
            try:
                sizes[k] = parse_seq_len(v)
            except WorkloadError:
                raise WorkloadError(f"cascade: rank size {k}={v!r} must be a positive integer (1K, 1M allowed)") from None
    return cascade, sizes


def _engine(name: str):
    if name == "analytical":
        from sim.analytical import run
        return run
    if name == "des":
        from sim.des import run
        return run
    raise WorkloadError(f"cascade: 'engine' must be analytical or des, not {name!r}")


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One cascade: a record with cycles, seconds, energy_pj, dram_bytes, utilization (unit ->
    fraction), the rank sizes, ``mapping`` (the mapping used, as data) and, when the mapper
    searched, ``mappings_evaluated``, ``mappings_rejected`` and ``search_seconds``."""
    from mappings.cascade_mapping import from_dict, load
    from sim.cascade import cost_group, lower

    unknown = sorted(k for k in params if k not in WORKLOAD_KEYS and not accepts(k))
    if unknown:
        raise WorkloadError(f"cascade: unknown parameter {unknown[0]!r} (accepted: {', '.join(sorted(WORKLOAD_KEYS))}, "
                            f"and RANK=SIZE)")
    spec = load_arch(str(arch), {k: str(params[k]) for k in ARCH_KEYS if k in params})
    cascade, sizes = _sizes(params, _cascade(params), spec)
    extra = {}
    if "mapping" in params:
        mapping = load(params["mapping"]) if isinstance(params["mapping"], str) else from_dict(params["mapping"])
    else:
        from mappings.cascade_mapper import search

        found = search(cascade, sizes, spec, cost_group, params.get("objective", "latency"))
        mapping = found.mapping
        extra = {"mappings_evaluated": found.evaluated, "mappings_rejected": found.rejected,
                 "search_seconds": found.seconds}
    graph = lower(cascade, sizes, mapping, spec)
    run = _engine(engine)
    report = run(graph, trace=trace) if (trace and engine == "des") else run(graph)
    rec = report.record(**{k: record_value(v) if k in ARCH_KEYS else v for k, v in params.items() if k != "mapping"})
    rec.update(cascade=cascade.name, ranks={r: int(v) for r, v in cascade.rank_sizes(sizes).items()},
               mapping=mapping.to_dict(), **extra)
    return rec
