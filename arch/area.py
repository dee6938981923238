"""Per-component silicon area of a spatial spec, from standard-cell and bit-cell areas at 45 nm.

In hardware terms: a PE is a multiplier, an adder, an accumulator register and a few pipeline
registers; a register file is flip-flops; a buffer is SRAM bit cells plus periphery. The model
counts cells and multiplies by published cell areas, so that a sweep of array sizes (16^2 ...
512^2 PEs) can be plotted against area on a latency-area Pareto front. It is a first-order
model for *relative* comparisons; where a spec gives ``area_mm2`` for a component, that figure
wins.

Sources and assumptions (every constant below carries one):

- Standard cells: NanGate FreePDK45 Open Cell Library, X1 drive (row height 1.4 um): full adder
  ``FA_X1`` 4.256 um^2, ``AND2_X1`` 1.064 um^2, ``MUX2_X1`` 1.862 um^2, ``DFF_X1`` 4.522 um^2.
- SRAM: Intel 45 nm 6T bit cell, 0.346 um^2 (Mistry et al., IEDM 2007); array efficiency
  (bit cells over macro area) 0.7 is an assumption typical of compiled SRAM macros.
- An ``n x m``-bit array multiplier is ``n*m`` AND gates and ``n*m`` full adders (an upper bound
  on a Booth/Wallace design); an ``n``-bit adder is ``n`` full adders (ripple carry); a register
  is one flip-flop per bit. A floating-point MAC adds two alignment/normalisation barrel shifters
  of ``w log2 w`` multiplexers; exponent logic is neglected (assumption).
- A PE's operators share one datapath: the area of a PE is its widest operator's datapath plus
  its accumulator and two operand registers (assumption), plus one divider for a unit with
  ``div`` (an array divider: ``w^2`` full adders, assumption).

Units: um^2 for cells, mm^2 for components (1 mm^2 = 1e6 um^2).
"""

from __future__ import annotations

import math

FA_UM2 = 4.256          # NanGate FreePDK45 OCL FA_X1
AND2_UM2 = 1.064        # NanGate FreePDK45 OCL AND2_X1
MUX2_UM2 = 1.862        # NanGate FreePDK45 OCL MUX2_X1
DFF_UM2 = 4.522         # NanGate FreePDK45 OCL DFF_X1
SRAM_BIT_UM2 = 0.346    # Intel 45 nm 6T SRAM bit cell (Mistry et al., IEDM 2007)
SRAM_EFFICIENCY = 0.7   # assumption: bit-cell area / macro area of a compiled SRAM
UM2_PER_MM2 = 1e6


def multiplier_um2(a_bits: int, b_bits: int) -> float:
    """Array multiplier: a*b AND gates and a*b full adders (um^2)."""
    return a_bits * b_bits * (AND2_UM2 + FA_UM2)


def adder_um2(bits: int) -> float:
    """Ripple-carry adder: one full adder per bit (um^2)."""
    return bits * FA_UM2


def register_um2(bits: int) -> float:
    """One flip-flop per bit (um^2)."""
    return bits * DFF_UM2


def shifter_um2(bits: int) -> float:
    """Barrel shifter: bits * ceil(log2 bits) 2:1 multiplexers (um^2)."""
    return bits * max(1, math.ceil(math.log2(bits))) * MUX2_UM2


def mac_um2(word_bits: int, floating: bool) -> float:
    """One MAC datapath with its accumulator and operand registers (um^2).

    Integer: ``w x w`` multiplier, ``4w``-bit accumulate adder and register (int8 -> 32-bit
    accumulator, as TPU-like arrays keep). Floating point: mantissa multiplier (11 x 11 bits for
    16-bit words, 24 x 24 for 32-bit), two ``2w``-bit shifters, a ``2w``-bit adder and register.
    """
    w = word_bits
    operands = register_um2(2 * w)
    if not floating:
        return multiplier_um2(w, w) + adder_um2(4 * w) + register_um2(4 * w) + operands
    mant = {16: 11, 32: 24, 64: 53}.get(w, max(1, w * 2 // 3))
    return multiplier_um2(mant, mant) + 2 * shifter_um2(2 * w) + adder_um2(2 * w) + register_um2(2 * w) + operands


def sram_um2(size_bytes: int) -> float:
    """SRAM macro: bit cells over array efficiency (um^2)."""
    return size_bytes * 8 * SRAM_BIT_UM2 / SRAM_EFFICIENCY


def pe_um2(unit, word_bits: int) -> float:
    """Area of one PE of a compute unit (um^2): a floating-point datapath for words of 16 bits
    and more, an integer one below (assumption), plus an array divider when it has ``div``."""
    floating = word_bits >= 16
    area = mac_um2(word_bits, floating)
    if unit.supports("div"):
        area += word_bits * word_bits * FA_UM2
    return area


def area_mm2(spec) -> dict:
    """Area per component (mm^2): every compute unit (all its PEs) and every storage level
    (all its instances: one, or one per PE of ``per_pe_of``)."""
    out = {}
    for name, unit in spec.compute.items():
        if unit.area_mm2 is not None:
            out[name] = float(unit.area_mm2)
        else:
            out[name] = unit.pes * pe_um2(unit, spec.word_bits) / UM2_PER_MM2
    for name, level in spec.storage.items():
        if level.area_mm2 is not None:
            out[name] = float(level.area_mm2)
            continue
        instances = spec.compute[level.per_pe_of].pes if level.per_pe_of else 1
        # Small per-PE register files are flip-flops; shared buffers are SRAM macros.
        per = register_um2(level.size_bytes * 8) if level.per_pe_of else sram_um2(level.size_bytes)
        out[name] = instances * per / UM2_PER_MM2
    return out


def total_area_mm2(spec) -> float:
    """Sum of :func:`area_mm2` (mm^2); wires, clock tree and I/O are not modelled."""
    return float(sum(area_mm2(spec).values()))
