"""FLAT: the 3-pass attention cascade fused at row-block granularity (Kao et al., ASPLOS 2023).

In hardware terms, as FuseMax models FLAT (docs/sources.md#flat-arch): the 2D array computes
``QK`` for a block of ``R`` queries against all ``M`` keys (the array's columns hold the
queries, so ``R < P0`` leaves columns idle), the 1D array with its dedicated exp unit makes
three passes over each block (``GM`` max, then ``SN``/``SD`` exp and sum, then ``A`` divide,
one cycle per element per Einsum), and the 2D array multiplies ``A`` by ``V``. Blocks are
software-pipelined: QK and the max pass of block ``i`` overlap the last two passes and AV of
block ``i - 1``, so two blocks of ``R x M`` scores live in the global buffer.

When a block does not fit, FLAT's choice is between shrinking ``R`` (fewer busy columns on
the 2D array) and spilling: QK leaves the 2D array to DRAM while the 1D array takes its max
in passing, the second pass reads QK back and writes SN, the third reads SN back and feeds
the division straight into AV (4 words of DRAM traffic per score). K and V stream from DRAM
once per block, so larger blocks save traffic. :func:`choose_blocking` takes the blocking with
the lowest bound on time and, among equals, the least DRAM traffic, as FLAT's own mapper
would.

Block-level tasks stand for the tile streams inside a block; their buffers are the two
score blocks (on chip) and a few tiles (spilled), which is what the capacity check counts.
"""

from __future__ import annotations

from arch.errors import MappingError
from mappings import library
from sim.attention.hw import DRAM, dram_cost, einsum_cost, glb_traffic
from sim.attention.pipeline import Step, pipeline

SOFTMAX_1D = ("GM", "SN", "SD", "A")


def _per_query(hw, wl, rows: int, spill: bool) -> tuple:
    """(lower bound on cycles, DRAM bytes) per query for a blocking of ``rows`` queries."""
    M, E, F, w, pd = wl.seq_len, wl.model.e, wl.model.f, hw.word_bytes, hw.pd
    t2d = M * (E + F) / pd / min(rows, pd)
    t1d = 4 * M / hw.u1d.pes
    nbytes = M * (E + F) * w / rows + (E + F) * w + (4 * M * w if spill else 0)
    return max(t2d, t1d, nbytes / hw.bw_bytes_per_cycle), nbytes


def choose_blocking(hw, wl) -> tuple:
    """(R query rows per block, spill?): the least time bound, then the least DRAM traffic.

    On chip, two blocks of ``R x M`` scores must fit; spilled, only a block's Q and its AV
    accumulators (``R x (E + F)`` words, double-buffered) stay on chip, so ``R`` may grow past
    ``P0`` to read K and V fewer times. ``R`` runs over ``P0`` times the divisors of the number
    of query tiles and, on chip, over ``P0 / 2^k`` down to 1.
    """
    M, E, F, w, pd = wl.seq_len, wl.model.e, wl.model.f, hw.word_bytes, hw.pd
    stream = 4 * pd * (E + F) * w                      # K/V/Q tile buffers
    if stream + 4 * pd * pd * w > hw.glb.size_bytes:
        raise MappingError(f"global buffer '{hw.glb.name}' ({hw.glb.size_bytes} bytes) is smaller "
                           f"than FLAT's tile buffers ({stream + 4 * pd * pd * w} bytes)")
    pt = -(-wl.seq_len // pd)
    sizes = [pd * d for d in range(1, pt + 1) if pt % d == 0] + [pd >> k for k in range(1, 64) if pd >> k >= 1]
    cands = []
    for r in sizes:
        block_io = 2 * r * (E + F) * w
        if 2 * r * M * w + block_io + stream <= hw.glb.size_bytes:
            cands.append((*_per_query(hw, wl, r, False), r, False))
        if r >= pd and block_io + stream <= hw.glb.size_bytes:
            cands.append((*_per_query(hw, wl, r, True), r, True))
    t_best = min(c[0] for c in cands)
    near = [c for c in cands if c[0] <= t_best * (1 + 1e-9)]
    _, _, r, spill = min(near, key=lambda c: (c[1], c[3], -c[2]))
    return r, spill


def describe(hw, wl) -> dict:
    r, spill = choose_blocking(hw, wl)
    return {"block_rows": r, "spill": spill}


def lower(hw, wl) -> list:
    """Phases of FLAT's fused 3-pass attention."""
    r, spill = choose_blocking(hw, wl)
    M, E, F, w, pd = wl.seq_len, wl.model.e, wl.model.f, hw.word_bytes, hw.pd
    u2, u1 = hw.u2d, hw.u1d
    c = library.attention(passes=3, deferred_division=False)
    counts = c.op_counts({"M": M, "P": r, "E": E, "F": F}, per_einsum=True)
    n_blocks = wl.instances * -(-wl.seq_len // r)
    score = M * r                                       # scores in one block
    lanes2d = pd * min(r, pd)

    def comp(name, unit, lanes, rd=0, wr=0, rows_latency=False):
        cost = einsum_cost(hw, unit, name, counts[name], lanes)
        if rows_latency:
            cost.latency += u2.rows
        glb_traffic(hw, cost, read_words=rd, write_words=wr)
        return cost

    onchip = 0 if spill else 1
    col_tiles = -(-r // pd)                             # K and V enter the array once per column tile
    qk = comp("QK", u2, lanes2d, rd=M * E * col_tiles + (M // pd) * r * E, wr=score * onchip, rows_latency=True)
    gm = comp("GM", u1, u1.pes, rd=score * onchip)
    sn = comp("SN", u1, u1.pes, rd=score, wr=score)
    sd = comp("SD", u1, u1.pes, rd=score)
    a = comp("A", u1, u1.pes, rd=score, wr=score * onchip)
    av = comp("AV", u2, lanes2d, rd=score + M * F * col_tiles, wr=r * F, rows_latency=True)
    ld_q = dram_cost(hw, read_bytes=r * E * w)
    ld_k = dram_cost(hw, read_bytes=M * E * w)
    ld_v = dram_cost(hw, read_bytes=M * F * w)
    st_av = dram_cost(hw, write_bytes=r * F * w)
    S = Step
    if not spill:
        # stage: 0 Q, K loads | 1 QK, GM, V load | 2 SN, SD, A, AV | 3 store AV; a block's
        # scores live from QK to AV: two blocks in the buffer
        steps = [
            S("st_av", DRAM, st_av, (("AV", 0),), 3),
            S("ld_v", DRAM, ld_v, (("AV", 2),), 1),
            S("ld_q", DRAM, ld_q, (("QK", 2),), 0),
            S("ld_k", DRAM, ld_k, (("QK", 2),), 0),
            S("SN", u1.name, sn, (("GM", 0),), 2),
            S("SD", u1.name, sd, (("SN", 0),), 2),
            S("A", u1.name, a, (("SD", 0),), 2),
            S("QK", u2.name, qk, (("ld_q", 0), ("ld_k", 0), ("AV", 2)), 1),
            S("AV", u2.name, av, (("A", 0), ("ld_v", 0)), 2),
            S("GM", u1.name, gm, (("QK", 0),), 1),
        ]
    else:
        st_qk = dram_cost(hw, write_bytes=score * w)
        ld_qk = dram_cost(hw, read_bytes=score * w)
        st_sn = dram_cost(hw, write_bytes=score * w)
        ld_sn = dram_cost(hw, read_bytes=score * w)
        # stage: 0 loads | 1 QK, GM | 2 store QK | 3 load QK | 4 SN, SD | 5 store SN
        #        6 load SN, V | 7 A, AV | 8 store AV
        steps = [
            S("st_av", DRAM, st_av, (("AV", 0),), 8),
            S("st_sn", DRAM, st_sn, (("SN", 0),), 5),
            S("st_qk", DRAM, st_qk, (("QK", 0),), 2),
            S("ld_sn", DRAM, ld_sn, (("st_sn", 0), ("A", 2)), 6),
            S("ld_v", DRAM, ld_v, (("AV", 2),), 6),
            S("ld_qk", DRAM, ld_qk, (("st_qk", 0), ("SN", 2)), 3),
            S("ld_q", DRAM, ld_q, (("QK", 2),), 0),
            S("ld_k", DRAM, ld_k, (("QK", 2),), 0),
            S("A", u1.name, a, (("ld_sn", 0),), 7),
            S("SN", u1.name, sn, (("ld_qk", 0), ("GM", 0), ("st_sn", 2)), 4),
            S("SD", u1.name, sd, (("SN", 0),), 4),
            S("QK", u2.name, qk, (("ld_q", 0), ("ld_k", 0), ("st_qk", 2)), 1),
            S("AV", u2.name, av, (("A", 0), ("ld_v", 0)), 7),
            S("GM", u1.name, gm, (("QK", 0),), 1),
        ]
    return pipeline("attention.flat", steps, n_blocks)
