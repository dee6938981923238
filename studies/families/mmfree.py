"""The ``mmfree`` workload family: token decoding of a MatMul-free LM on the ternary accelerator.

One design point is a model size on an ``mmfree`` spec (``arch.mmfree``), lowered by
:mod:`sim.mmfree` and costed by the analytical engine or the DES. The record adds
``tokens_per_s``, ``energy_per_token_pj``, ``power_w`` (energy per token x tokens per second),
the model shape, the weights streamed per token, and ``area_mm2``: the ternary unit with its
activation buffer, from the synthesised RTL (``arch.mmfree.unit_area_um2``; the vector unit,
weight buffers and DRAM interface are not included).

Command line::

    explore --arch mmfree --set lanes=4,16,64 --set clock_mhz=60,200
    explore --arch mmfree --workload mmfree:model=2.7B --engine des --format json
"""

from __future__ import annotations

from arch.errors import WorkloadError
from arch.mmfree import SHORT_NAMES
from arch.registry import load_arch
from studies.families import engine_run, int_param, require_kind

MODEL_KEYS = ("model", "layers", "d", "tokens")
ARCH_KEYS = tuple(sorted(SHORT_NAMES))
WORKLOAD_KEYS = set(MODEL_KEYS) | set(ARCH_KEYS)
DEFAULTS = [{"model": "370M"}, {"model": "1.3B"}, {"model": "2.7B"}]


#: Caps: the lowering repeats one layer's phases ``layers x tokens`` times.
MAX_LAYERS, MAX_D, MAX_TOKENS, MAX_LAYER_STEPS = 1 << 10, 1 << 16, 1 << 12, 1 << 14


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One design point; see the module docstring for the record's keys."""
    from sim.mmfree import lower, model_shape, unit_area_mm2

    unknown = sorted(set(params) - WORKLOAD_KEYS)
    if unknown:
        raise WorkloadError(f"mmfree: unknown parameter {unknown[0]!r} (accepted: {', '.join(sorted(WORKLOAD_KEYS))})")
    require_kind("mmfree", arch, "mmfree")
    model = params.get("model")
    if model is None and not ("layers" in params and "d" in params):
        model = "370M"
    shape = model_shape(None if model is None else str(model),
                        layers=int_param("mmfree", params, "layers", hi=MAX_LAYERS),
                        d=int_param("mmfree", params, "d", hi=MAX_D))
    tokens = int_param("mmfree", params, "tokens", 1, hi=MAX_TOKENS)
    if shape.layers * tokens > MAX_LAYER_STEPS:
        raise WorkloadError(f"mmfree: 'layers x tokens' must be at most {MAX_LAYER_STEPS}, not {shape.layers * tokens}")
    spec = load_arch(arch, {k: params[k] for k in ARCH_KEYS if k in params})
    graph = lower(spec, shape, tokens=tokens)
    run = engine_run(engine, "mmfree")
    report = run(graph, trace=trace) if (trace is not None and engine == "des") else run(graph)
    rec = report.record(**{k: params[k] for k in params})
    per_token_pj = report.energy_pj / tokens
    tokens_per_s = tokens / report.seconds
    rec.update(
        arch=str(arch), workload="mmfree", model=model or "custom", layers=shape.layers, d=shape.d,
        glu_width=shape.glu_width, tokens=tokens, lanes=spec.lanes, clock_mhz=spec.clock_mhz,
        dram_bits_per_cycle=spec.dram_bits_per_cycle, weights=shape.weights,
        tokens_per_s=tokens_per_s, energy_per_token_pj=per_token_pj,
        power_w=per_token_pj * 1e-12 * tokens_per_s, area_mm2=unit_area_mm2(spec, shape),
    )
    return rec
