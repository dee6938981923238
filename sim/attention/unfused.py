"""The unfused baseline: QK, softmax and AV as three kernels that meet in DRAM.

In hardware terms (FuseMax's "Unfused" baseline, docs/sources.md#flat-arch): the 2D array
computes ``QK`` tile by tile (``M0 x P0`` scores, the K reduction in the PEs) and writes every
score to DRAM; the 1D array then reads a block of query rows back, runs the 3-pass softmax on
it in the global buffer (``GM``, ``SN``, ``SD``, ``A``, one cycle per element per Einsum) and
writes ``A`` to DRAM; finally the 2D array reads ``A`` and ``V`` tile by tile for ``AV``.
Each kernel is software-pipelined on its own (load, compute, store of consecutive tiles
overlap); kernels are separated by barriers. K (or V) is read from DRAM once per block of as
many query tiles as half the global buffer holds (:func:`query_block_tiles`).
"""

from __future__ import annotations

from arch.errors import MappingError
from mappings import library
from sim.attention.hw import DRAM, dram_cost, einsum_cost, glb_traffic
from sim.attention.pipeline import Step, pipeline


def softmax_rows(hw, wl) -> int:
    """Query rows per softmax block: the largest power of two up to P0 whose two blocks fit."""
    M, w = wl.seq_len, hw.word_bytes
    r = hw.pd
    while r >= 1:
        if 2 * r * M * w <= hw.glb.size_bytes:
            return r
        r //= 2
    raise MappingError(f"global buffer '{hw.glb.name}' ({hw.glb.size_bytes} bytes) cannot hold two "
                       f"softmax rows of {M} scores")


def query_block_tiles(hw, wl) -> int:
    """Query tiles per block in the QK and AV kernels: their Q (or AV) fits half the buffer."""
    pd, w = hw.pd, hw.word_bytes
    pt = -(-wl.seq_len // pd)
    cap = int((hw.glb.size_bytes / 2) // (pd * max(wl.model.e, wl.model.f) * w))
    if cap < 1:
        raise MappingError(f"global buffer '{hw.glb.name}' ({hw.glb.size_bytes} bytes) cannot hold "
                           f"one query tile's Q")
    return max(d for d in range(1, min(pt, cap) + 1) if pt % d == 0)


def lower(hw, wl) -> list:
    """Phases of the unfused baseline: QK kernel, softmax kernel, AV kernel.

    The QK and AV kernels loop ``for p-block: for m-tile: for p-tile in block``: a block's Q
    (or its AV accumulators) stays in the buffer, each K (or V) tile is read once per block,
    and the block's Q loads and AV stores are streamed evenly over its tiles.
    """
    M, E, F, w, pd = wl.seq_len, wl.model.e, wl.model.f, hw.word_bytes, hw.pd
    u2, u1 = hw.u2d, hw.u1d
    pt = mt = -(-M // pd)
    rq = query_block_tiles(hw, wl)
    n_tiles = wl.instances * pt * mt
    c3 = library.attention(passes=3, deferred_division=False)
    tile_counts = c3.op_counts({"M": pd, "P": pd, "E": E, "F": F}, per_einsum=True)

    S = Step
    qk = einsum_cost(hw, u2, "QK", tile_counts["QK"], pd * pd)
    qk.latency += u2.rows
    glb_traffic(hw, qk, read_words=2 * pd * E, write_words=pd * pd)
    # DRAM order within a step: the loads the next tile needs, then the store of a tile
    # finished two steps earlier (its scores drain out of the array over 256 cycles). Tile
    # buffers: four QK outputs, three A inputs, so that neither the drain latency nor the
    # in-order DRAM queue stalls the array (the DES then meets the analytical bound)
    qk_steps = [
        S("ld_q", DRAM, dram_cost(hw, read_bytes=pd * E * w / mt), (("QK", 2),), 0),
        S("ld_k", DRAM, dram_cost(hw, read_bytes=pd * E * w), (("QK", 2 * rq),), 0, rq, 0),
        S("st_qk", DRAM, dram_cost(hw, write_bytes=pd * pd * w), (("QK", 0),), 3),
        S("QK", u2.name, qk, (("ld_q", 0), ("ld_k", 0), ("st_qk", 4)), 1),
    ]
    r = softmax_rows(hw, wl)
    sm_counts = c3.op_counts({"M": M, "P": r, "E": E, "F": F}, per_einsum=True)
    score = M * r

    def sm(name, rd, wr):
        cost = einsum_cost(hw, u1, name, sm_counts[name], u1.pes)
        return glb_traffic(hw, cost, read_words=rd, write_words=wr)

    sm_steps = [
        S("st_a", DRAM, dram_cost(hw, write_bytes=score * w), (("A", 0),), 2),
        S("ld_qk", DRAM, dram_cost(hw, read_bytes=score * w), (("st_a", 2),), 0),
        S("GM", u1.name, sm("GM", score, 0), (("ld_qk", 0),), 1),
        S("SN", u1.name, sm("SN", score, score), (("GM", 0),), 1),
        S("SD", u1.name, sm("SD", score, 0), (("SN", 0),), 1),
        S("A", u1.name, sm("A", score, score), (("SD", 0),), 1),
    ]
    av = einsum_cost(hw, u2, "AV", tile_counts["AV"], pd * pd)
    av.latency += u2.rows
    glb_traffic(hw, av, read_words=pd * pd + pd * F, write_words=0)
    av_steps = [
        S("ld_a", DRAM, dram_cost(hw, read_bytes=pd * pd * w), (("AV", 3),), 0),
        S("ld_v", DRAM, dram_cost(hw, read_bytes=pd * F * w), (("AV", 2 * rq),), 0, rq, 0),
        S("st_av", DRAM, dram_cost(hw, write_bytes=pd * F * w / mt), (("AV", 0),), 3),
        S("AV", u2.name, av, (("ld_a", 0), ("ld_v", 0)), 1),
    ]
    n_blocks = wl.instances * -(-wl.seq_len // r)
    return (pipeline("attention.unfused.qk", qk_steps, n_tiles)
            + pipeline("attention.unfused.softmax", sm_steps, n_blocks)
            + pipeline("attention.unfused.av", av_steps, n_tiles))
