"""The 1-pass attention cascade on FuseMax-style hardware: FuseMax, +Architecture, +Cascade.

In hardware terms (FuseMax, Nayak et al., MICRO 2024, arXiv 2406.10491;
docs/sources.md#fusemax-mapping): the mapping ``for b,h: for p2: for m1: for p1: parallel_for p0, m0`` lays a
``M0 x P0`` tile of scores on the 2D array (M0 = P0 = its rows). A *tile step* here is one
``m1`` for a block of ``P1`` query tiles; ``P1`` is as large as the global buffer allows
(Q, the running max, denominator and numerator of ``P1 * P0`` queries, plus the K/V tile
buffers), rounded down to a divisor of ``P / P0``; K and V stream from DRAM once per block,
i.e. ``P / (P1 * P0)`` times per head.

The three configurations differ only in binding and scheduling, which is the point of the
paper's ablation:

``fusemax`` (+Binding)
    2D array: BQK, LM, SLN, SLD, SLNV; 1D array: RM, PRM, SPD, RD, SPNV, RNV, AV. Epochs are
    software-pipelined: the 2D array's SLN/SLD/SLNV of step ``k`` run after BQK/LM of step
    ``k + 1`` (stage 1), which hides the reduction of LM down the array's columns (latency =
    rows) and the 1D array's RM; the 1D array's updates of step ``k`` overlap the 2D array's
    BQK of step ``k + 1``.
``architecture`` (+Architecture)
    The same binding on the same hardware, naively scheduled: one query tile at a time
    (``for p1: for m1``), every tile's SLN waiting for its own LM -> RM round trip; K and V
    stream once per query tile unless a head's K and V fit the buffer.
``cascade`` (+Cascade)
    FLAT hardware: only BQK and SLNV on the 2D array (it has no exp); LM, RM, SLN, SLD and the
    running updates on the 1D array, BQK and SLN tiles staged through the global buffer.

Per-Einsum op counts come from the cascade (:func:`mappings.library.attention`, 1 pass,
deferred division); cycles from the spec's operators (:mod:`sim.attention.hw`).
"""

from __future__ import annotations

from arch.errors import MappingError
from mappings import library
from sim.attention.hw import DRAM, dram_cost, einsum_cost, glb_traffic
from sim.attention.pipeline import Step, pipeline

TILE_2D = ("BQK", "LM", "SLN", "SLD", "SLNV")
BINDING_2D = {"fusemax": TILE_2D, "architecture": TILE_2D, "cascade": ("BQK", "SLNV")}
KV_BUFFERS = 3


def _largest_divisor_at_most(n: int, cap: int) -> int:
    best = 1
    for d in range(1, int(n ** 0.5) + 1):
        if n % d == 0:
            for c in (d, n // d):
                if best < c <= cap:
                    best = c
    return best


def block_p_tiles(hw, wl, staged_tiles: bool) -> int:
    """P1: query tiles per block that the global buffer holds (FuseMax's mapping)."""
    pd, E, F, w = hw.pd, wl.model.e, wl.model.f, hw.word_bytes
    pt = -(-wl.seq_len // pd)
    kv = KV_BUFFERS * pd * (E + F) * w
    # per query: Q (E), RM, RD (1 each), RNV (F); 2 Q blocks in flight; staged BQK/SLN rows
    per_p = (2 * E + 2 + F + (2 * pd if staged_tiles else 0)) * w
    cap = (hw.glb.size_bytes - kv) // (per_p * pd)
    if cap < 1:
        raise MappingError(f"global buffer '{hw.glb.name}' ({hw.glb.size_bytes} bytes) is smaller "
                           f"than one tile's working set ({kv + per_p * pd} bytes)")
    return _largest_divisor_at_most(pt, cap)


def _per_tile_counts(wl, pd: int) -> dict:
    """Op counts of each Einsum for one M0 x P0 tile (AV: for one P0 query tile)."""
    c = library.attention(passes=1, deferred_division=True)
    shape = {"M": pd, "P": pd, "E": wl.model.e, "F": wl.model.f, "M0": pd}
    return c.op_counts(shape, per_einsum=True)


def lower(hw, wl, config: str) -> list:
    """Phases of the 1-pass cascade for ``config`` in {fusemax, architecture, cascade}."""
    pd, E, F, w = hw.pd, wl.model.e, wl.model.f, hw.word_bytes
    u2, u1 = hw.u2d, hw.u1d
    pt = -(-wl.seq_len // pd)          # query tiles (P padded to a multiple of P0)
    m1 = -(-wl.seq_len // pd)          # key tiles M1
    naive = config == "architecture"
    on2d = BINDING_2D[config]
    staged = config == "cascade"
    p1 = 1 if naive else block_p_tiles(hw, wl, staged)
    counts = _per_tile_counts(wl, pd)
    kv_tile = pd * (E + F) * w
    if naive:
        fits = wl.seq_len * (E + F) * w + 2 * pd * (E + F + 2) * w <= hw.glb.size_bytes
        kv_bytes = kv_tile / pt if fits else kv_tile    # K, V once per head, or once per tile
    else:
        kv_bytes = kv_tile
    n_tiles = wl.instances * (pt // p1) * m1

    def comp(name, extra_glb=(0, 0)):
        unit = u2 if name in on2d else u1
        lanes = pd * pd if name in TILE_2D or unit is u2 else pd
        cost = einsum_cost(hw, unit, name, {op: n * p1 for op, n in counts[name].items()}, lanes)
        if unit is u2 and name in ("LM", "SLD", "SLNV"):
            cost.latency += u2.rows      # reduction down the columns into the 1D array
        if extra_glb != (0, 0):
            glb_traffic(hw, cost, read_words=extra_glb[0] * p1, write_words=extra_glb[1] * p1)
        return cost, unit.name

    tile = pd * pd
    glb = {"BQK": (pd * E + pd * E, tile if staged else 0),   # Q and BK rows into the array
           "SLNV": (pd * F + (tile if staged else 0), 0)}      # BV rows (and staged SLN)
    if staged:
        glb.update({"LM": (tile, 0), "SLN": (tile, tile), "SLD": (tile, 0)})
    every = m1                       # the division and store close each query block
    last = every - 1
    head = ["BQK", "LM", "RM", "PRM"] + (["SLN", "SLD", "SPD", "RD"] if staged else [])
    steps = []

    def add(name, unit, cost, deps, stage, ev=1, off=0):
        steps.append(Step(name, unit, cost, tuple(deps), stage, ev, off))

    st = (lambda e: 0) if naive else (lambda e: 0 if e in head else 1)
    q_every = m1
    add("ld_q", DRAM, dram_cost(hw, read_bytes=p1 * pd * E * w), [("BQK", q_every)], 0, q_every, 0)
    add("ld_kv", DRAM, dram_cost(hw, read_bytes=kv_bytes), [("SLNV", KV_BUFFERS)], 0)
    deps = {
        "BQK": [("ld_q", 0), ("ld_kv", 0)],
        "LM": [("BQK", 0)],
        "RM": [("LM", 0), ("RM", 1)],
        "PRM": [("RM", 0)],
        "SLN": [("RM", 0), ("BQK", 0)],
        "SLD": [("SLN", 0)],
        "SLNV": [("SLN", 0), ("ld_kv", 0)],
        "SPD": [("PRM", 0), ("RD", 1)],
        "RD": [("SLD", 0), ("SPD", 0)],
        "SPNV": [("PRM", 0), ("RNV", 1)],
        "RNV": [("SLNV", 0), ("SPNV", 0)],
    }
    if staged:   # 1D: LM, RM, PRM, SLN, SLD, SPD, RD (stage 0); 2D: BQK, then SLNV (stage 1)
        seq = ["BQK", "SPNV", "LM", "RM", "PRM", "SLN", "SLD", "SPD", "RD", "SLNV", "RNV"]
    elif naive:
        seq = ["BQK", "LM", "RM", "PRM", "SLN", "SLD", "SLNV", "SPD", "RD", "SPNV", "RNV"]
    else:        # 2D: BQK, LM | SLN, SLD, SLNV;  1D: RM, PRM | SPD, SPNV, RD, RNV
        seq = ["BQK", "LM", "RM", "PRM", "SLN", "SLD", "SLNV", "SPD", "SPNV", "RD", "RNV"]
    for e in seq:
        cost, unit = comp(e, glb.get(e, (0, 0)))
        add(e, unit, cost, deps[e], st(e))
    av_counts = {op: n * p1 for op, n in counts["AV"].items()}     # F * P0 divides per tile
    av = einsum_cost(hw, u1, "AV", av_counts, pd)
    glb_traffic(hw, av, write_words=p1 * pd * F)
    add("AV", u1.name, av, [("RNV", 0), ("RD", 0)], st("AV"), every, last)
    # the store trails the division by two stages so that it never holds up the in-order DRAM queue
    add("st_av", DRAM, dram_cost(hw, write_bytes=p1 * pd * F * w), [("AV", 0)], st("AV") + 2, every, last)
    return pipeline(f"attention.{config}", steps, n_tiles)


def describe(hw, wl, config: str) -> dict:
    """The mapping decisions, for records and docs: P1, K/V passes over DRAM."""
    pt = -(-wl.seq_len // hw.pd)
    p1 = 1 if config == "architecture" else block_p_tiles(hw, wl, config == "cascade")
    return {"p1_tiles": p1, "kv_dram_passes": pt // p1 if config != "architecture" else None}


__all__ = ["lower", "describe", "block_p_tiles"]
