"""The linear layers of an encoder layer as tiled GEMMs on the 2D array.

In hardware terms: ``OUT[t,n] = sum_k IN[t,k] * W[k,n]`` is cut into ``P0 x P0`` output
tiles held in the 2D array's PEs (output stationary) while ``K`` streams through, one MAC per
PE per cycle. The weights stay in the global buffer: all of ``W`` when it fits in half the
buffer, else column panels of ``W`` that do, with ``IN`` read once per panel (a ``P0 x K``
input panel serves a row of output tiles and is loaded two tiles ahead into a second buffer).
Each output tile is written to DRAM once. Loads, compute and stores of consecutive tiles
overlap (software pipelining); each GEMM ends in a barrier. FLAT and FuseMax run these layers the same way on
their 2D arrays (FuseMax, MICRO 2024, end-to-end evaluation), so they differ only in their
buffer sizes and register-file energies here.
"""

from __future__ import annotations

from mappings import library
from sim.attention.hw import DRAM, dram_cost, einsum_cost, glb_traffic
from sim.attention.pipeline import Step, pipeline


def panel_tiles(hw, g) -> int:
    """Output-tile columns per weight panel that half the global buffer holds (>= 1)."""
    pd, w = hw.pd, hw.word_bytes
    nt = -(-g.n // pd)
    cap = int((hw.glb.size_bytes / 2) // (g.k * pd * w))
    return max(1, min(nt, cap))


def lower_gemm(hw, g) -> list:
    """Phases of one GEMM (:class:`mappings.workloads.Gemm`)."""
    pd, w, u2 = hw.pd, hw.word_bytes, hw.u2d
    tt, nt = -(-g.tokens // pd), -(-g.n // pd)
    nb = panel_tiles(hw, g)
    panels = -(-nt // nb)
    counts = library.gemm().op_counts({"M": pd, "N": pd, "K": g.k}, per_einsum=True)["Z"]
    mm = einsum_cost(hw, u2, g.name, counts, pd * pd)
    mm.latency += u2.rows
    glb_traffic(hw, mm, read_words=2 * pd * g.k, write_words=pd * pd)
    n_tiles = panels * tt * nb
    w_bytes_per_tile = g.k * g.n * w / n_tiles          # each weight panel streamed in once
    # stages: 0 input panel and weight slice loads (two tiles ahead) | 2 MACs | 3 output store.
    # DRAM order within a step: the loads (issued two tiles ahead of their use), then the store
    # of a tile finished a step earlier; four output buffers let a panel burst delay a store
    # without stalling the array.
    steps = [
        Step("ld_w", DRAM, dram_cost(hw, read_bytes=w_bytes_per_tile), (("mm", 4),), 0),
        # the panel's buffer is free once the last tile of the panel before the previous one is
        # done: two panel buffers, three when a panel serves a single tile
        Step("ld_in", DRAM, dram_cost(hw, read_bytes=pd * g.k * w), (("mm", nb + 1 if nb >= 2 else 3),), 0, nb, 0),
        Step("st_out", DRAM, dram_cost(hw, write_bytes=pd * pd * w), (("mm", 0),), 3),
        Step("mm", u2.name, mm, (("ld_in", 0), ("ld_w", 0), ("st_out", 4)), 2),
    ]
    return pipeline(f"linear.{g.name}", steps, n_tiles)


def lower(hw, gemms) -> list:
    """Phases of a list of GEMMs run one after the other."""
    out = []
    for g in gemms:
        out += lower_gemm(hw, g)
    return out
