"""The MatMul-free language-model accelerator as a typed, frozen spec (``kind: mmfree``).

In hardware terms: one ternary matrix-vector unit (``rtl/ternary.py``: ``lanes`` lanes of
add/subtract/skip, a registered adder tree and an accumulator; its cycle model is
``sim.ternary``) fed by a weight stream from DRAM of ``dram.bits_per_cycle`` bits per cycle,
ternary weights packed ``dram.weight_bits`` bits each (2: four per byte, as the open ternip
RTL stores them), plus one vector unit of ``vector.lanes`` fp16 lanes that runs the element-wise
work (RMSNorm, activation quantisation, output rescaling, the MLGRU recurrence, the GLU gate).
Weights are streamed in tiles of ``unit.tile_rows`` rows, double-buffered, so a tile's DRAM
transfer overlaps the previous tile's matrix-vector product.

YAML layout::

    kind: mmfree
    description: ...
    clock_mhz: 60
    unit: {lanes, act_width, tile_rows}
    dram: {bits_per_cycle, weight_bits, latency_cycles}
    vector: {lanes}
    sparsity: {zero_weight_fraction}
    energy_pj: {add8, add16, add32, fp16_add, fp16_mult, sram_read_32b, dram_read_32b}

Units: MHz, bits per cycle, cycles, pJ per action (45 nm, Horowitz ISSCC 2014;
docs/sources.md#horowitz-45nm).
"""

from __future__ import annotations

from dataclasses import dataclass

from arch.schema import FlatSchema, spec_name

# section -> field -> (type, rule); rules in arch.schema.RULES ("frac0" is in [0, 1))
_SCHEMA = {
    "unit": {"lanes": (int, "pos"), "act_width": (int, "pos"), "tile_rows": (int, "pos")},
    "dram": {"bits_per_cycle": (int, "pos"), "weight_bits": (int, "pos"), "latency_cycles": (int, "nonneg")},
    "vector": {"lanes": (int, "pos")},
    "sparsity": {"zero_weight_fraction": (float, "frac0")},
    "energy_pj": {k: (float, "nonneg") for k in ("add8", "add16", "add32", "fp16_add", "fp16_mult",
                                                 "sram_read_32b", "dram_read_32b")},
}

#: Short override names (``--set lanes=16``) -> dotted key paths.
SHORT_NAMES = {
    "lanes": "unit.lanes",
    "act_width": "unit.act_width",
    "tile_rows": "unit.tile_rows",
    "dram_bits": "dram.bits_per_cycle",
    "weight_bits": "dram.weight_bits",
    "dram_latency": "dram.latency_cycles",
    "vector_lanes": "vector.lanes",
    "zero_fraction": "sparsity.zero_weight_fraction",
    "clock_mhz": "clock_mhz",
}


# Area of the ternary unit at 45 nm, fitted to ``python -m rtl synth`` (Yosys 0.70 generic cells
# priced as NanGate45 X1 cells, rtl/synth.py) at lanes 1, 4, 16, 64 x max_cols 256, 1024
# (max_rows 8192, int8): area_um2 = 1725.7 + 348.9 lanes + 8.425 buffer_bits, within 1.5 % of
# every synthesised point. ``buffer_bits`` is the activation buffer (kept in flip-flops).
UNIT_AREA_FIT_UM2 = (1725.7, 348.9, 8.425)


def unit_area_um2(lanes: int, buffer_bits: int) -> float:
    """Estimated area (um^2, 45 nm) of a ternary unit with ``lanes`` lanes and an activation
    buffer of ``buffer_bits`` bits (see :data:`UNIT_AREA_FIT_UM2`)."""
    a, b, c = UNIT_AREA_FIT_UM2
    return a + b * lanes + c * buffer_bits


@dataclass(frozen=True)
class MmfreeSpec:
    """A MatMul-free accelerator; flat fields with their units in their names."""

    name: str
    description: str
    clock_mhz: float
    lanes: int
    act_width: int
    tile_rows: int
    dram_bits_per_cycle: int
    weight_bits: int
    dram_latency_cycles: int
    vector_lanes: int
    zero_weight_fraction: float
    energy_pj: dict

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6


#: Caps on the fields that size the model's arrays and integer widths (checked before use).
CAPS = {"unit.lanes": 1 << 16, "unit.act_width": 64, "unit.tile_rows": 1 << 24, "dram.bits_per_cycle": 1 << 20,
        "dram.weight_bits": 64, "dram.latency_cycles": 1 << 30, "vector.lanes": 1 << 16}

SCHEMA = FlatSchema("mmfree", _SCHEMA, SHORT_NAMES, example_path="dram.latency_cycles", caps=CAPS)


def _cross_checks(data: dict) -> list:
    width = data["unit"]["act_width"]
    if int(width) < 2:
        return [("unit.act_width", f"'act_width' must be an integer >= 2, not {width!r}")]
    return []


def mmfree_from_dict(data: dict, source: str = "<dict>", overrides: dict | None = None) -> MmfreeSpec:
    """Validate a ``kind: mmfree`` mapping (after ``overrides``) and build its :class:`MmfreeSpec`.

    Parameters
    ----------
    data : dict
        The parsed YAML document.
    source : str
        File name for messages.
    overrides : dict, optional
        Short names (:data:`SHORT_NAMES`: ``lanes``, ``clock_mhz``, ``dram_bits``, ...) or
        dotted key paths (``dram.latency_cycles``) -> value, applied before validation.

    Raises
    ------
    SpecError
        Listing every problem with its key path.
    """
    data, g = SCHEMA.prepare(data, source, overrides, check=_cross_checks)
    name = spec_name(source)
    return MmfreeSpec(
        name=name,
        description=str(data.get("description", "")),
        clock_mhz=float(g("clock_mhz")),
        lanes=g("unit", "lanes"),
        act_width=g("unit", "act_width"),
        tile_rows=g("unit", "tile_rows"),
        dram_bits_per_cycle=g("dram", "bits_per_cycle"),
        weight_bits=g("dram", "weight_bits"),
        dram_latency_cycles=g("dram", "latency_cycles"),
        vector_lanes=g("vector", "lanes"),
        zero_weight_fraction=g("sparsity", "zero_weight_fraction"),
        energy_pj={k: g("energy_pj", k) for k in _SCHEMA["energy_pj"]},
    )
