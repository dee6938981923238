"""FLAT: the 3-pass attention cascade fused at row-block granularity (Kao et al., ASPLOS 2023).

In hardware terms, as FuseMax models FLAT (REFERENCE.md section 1): the 2D array computes
``QK`` for a block of ``R`` queries against all ``M`` keys (the array's columns hold the
queries, so ``R < P0`` leaves columns idle), the 1D array with its dedicated exp unit makes
three passes over each block (``GM`` max, then ``SN``/``SD`` exp and sum, then ``A`` divide,
one cycle per element per Einsum), and the 2D array multiplies ``A`` by ``V``. Blocks are
software-pipelined: QK of block ``i`` overlaps the softmax of block ``i - 1`` and AV of block
``i - 2``, so three blocks of ``R x M`` scores live in the global buffer.

When a block does not fit, FLAT's choice is between shrinking ``R`` (fewer busy columns on
the 2D array) and spilling: QK leaves the 2D array to DRAM while the 1D array takes its max
in passing, the second pass reads QK back and writes SN, the third reads SN back and feeds
the division straight into AV (4 words of DRAM traffic per score). :func:`choose_blocking`
takes whichever has the lower bound on time (the largest on-chip ``R`` on ties), as FLAT's
own mapper would. K and V stream from DRAM once per block.

Block-level tasks stand for the tile streams inside a block; their buffers are the three
score blocks (on chip) and a few tiles (spilled), which is what the capacity check counts.
"""

from __future__ import annotations

from arch.errors import MappingError
from mappings import library
from sim.attention.hw import DRAM, dram_cost, einsum_cost, glb_traffic
from sim.attention.pipeline import Step, pipeline

SOFTMAX_1D = ("GM", "SN", "SD", "A")


def _bound_per_query(hw, wl, rows: int, spill: bool) -> float:
    """Lower bound on cycles per query for a blocking: max of 2D, 1D and DRAM time."""
    M, E, F, w, pd = wl.seq_len, wl.model.e, wl.model.f, hw.word_bytes, hw.pd
    t2d = M * (E + F) / pd / rows
    t1d = 4 * M / hw.u1d.pes
    dram = (M * (E + F) * w / rows + (E + F) * w + (4 * M * w if spill else 0)) / hw.bw_bytes_per_cycle
    return max(t2d, t1d, dram)


def choose_blocking(hw, wl) -> tuple:
    """(R query rows per block, spill?) with the lowest time bound (see the module docstring)."""
    M, E, F, w, pd = wl.seq_len, wl.model.e, wl.model.f, hw.word_bytes, hw.pd
    stream = 4 * pd * (E + F) * w                      # K/V/Q tile buffers
    best = None
    r = pd
    while r >= 1:
        if 3 * r * M * w + stream <= hw.glb.size_bytes:
            t = _bound_per_query(hw, wl, r, False)
            if best is None or t < best[0] - 1e-12:
                best = (t, r, False)
        r //= 2
    t = _bound_per_query(hw, wl, pd, True)
    if best is None or t < best[0] - 1e-12:
        best = (t, pd, True)
    if stream + 4 * pd * pd * w > hw.glb.size_bytes:
        raise MappingError(f"global buffer '{hw.glb.name}' ({hw.glb.size_bytes} bytes) is smaller "
                           f"than FLAT's tile buffers ({stream + 4 * pd * pd * w} bytes)")
    return best[1], best[2]


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
    qk = comp("QK", u2, lanes2d, rd=M * E + (M // pd) * r * E, wr=score * onchip, rows_latency=True)
    gm = comp("GM", u1, u1.pes, rd=score * onchip)
    sn = comp("SN", u1, u1.pes, rd=score, wr=score)
    sd = comp("SD", u1, u1.pes, rd=score)
    a = comp("A", u1, u1.pes, rd=score, wr=score * onchip)
    av = comp("AV", u2, lanes2d, rd=score + M * F, wr=r * F, rows_latency=True)
    ld_q = dram_cost(hw, read_bytes=r * E * w)
    ld_k = dram_cost(hw, read_bytes=M * E * w)
    ld_v = dram_cost(hw, read_bytes=M * F * w)
    st_av = dram_cost(hw, write_bytes=r * F * w)
    S = Step
    if not spill:
        # stage: 0 loads | 1 QK, GM | 2 SN, SD, V load | 3 A, AV | 4 store AV
        steps = [
            S("st_av", DRAM, st_av, (("AV", 0),), 4),
            S("ld_v", DRAM, ld_v, (("AV", 2),), 2),
            S("ld_q", DRAM, ld_q, (("QK", 2),), 0),
            S("ld_k", DRAM, ld_k, (("QK", 2),), 0),
            S("A", u1.name, a, (("SD", 0),), 3),
            S("SN", u1.name, sn, (("GM", 0),), 2),
            S("SD", u1.name, sd, (("SN", 0),), 2),
            S("QK", u2.name, qk, (("ld_q", 0), ("ld_k", 0), ("AV", 3)), 1),
            S("AV", u2.name, av, (("A", 0), ("ld_v", 0)), 3),
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
