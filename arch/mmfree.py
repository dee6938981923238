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

Units: MHz, bits per cycle, cycles, pJ per action (45 nm, Horowitz ISSCC 2014; REFERENCE.md
section 4).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from arch.errors import SpecError

# section -> field -> (type, rule); rules: "pos" > 0, "nonneg" >= 0, "frac" in [0, 1)
_SCHEMA = {
    "unit": {"lanes": (int, "pos"), "act_width": (int, "pos"), "tile_rows": (int, "pos")},
    "dram": {"bits_per_cycle": (int, "pos"), "weight_bits": (int, "pos"), "latency_cycles": (int, "nonneg")},
    "vector": {"lanes": (int, "pos")},
    "sparsity": {"zero_weight_fraction": (float, "frac")},
    "energy_pj": {k: (float, "nonneg") for k in ("add8", "add16", "add32", "fp16_add", "fp16_mult",
                                                 "sram_read_32b", "dram_read_32b")},
}
_TOP = {"kind", "description", "clock_mhz"} | set(_SCHEMA)

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


def _coerce(value, typ):
    """Numbers may arrive as strings from the command line ("16", "2.5e2")."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if typ is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


_RULES = {"pos": (lambda v: v > 0, "a positive {noun}"), "nonneg": (lambda v: v >= 0, "a non-negative {noun}"),
          "frac": (lambda v: 0 <= v < 1, "a number in [0, 1)")}


def validate_mmfree(data: dict) -> list:
    """Every problem of a raw ``kind: mmfree`` mapping as (key path, message); empty if valid."""
    problems = []
    for key in data:
        if key not in _TOP:
            problems.append((str(key), f"unknown key (allowed: {', '.join(sorted(_TOP))})"))
    if not isinstance(data.get("description", ""), str):
        problems.append(("description", f"'description' must be a string, not {data.get('description')!r}"))
    v = _coerce(data.get("clock_mhz"), float)
    if "clock_mhz" not in data:
        problems.append(("clock_mhz", "missing"))
    elif v is None or v <= 0:
        problems.append(("clock_mhz", f"'clock_mhz' must be a positive number, not {data['clock_mhz']!r}"))
    for sec, fields in _SCHEMA.items():
        node = data.get(sec)
        if not isinstance(node, dict):
            problems.append((sec, f"'{sec}' must be a mapping with keys {', '.join(fields)}, not {node!r}"))
            continue
        for key in node:
            if key not in fields:
                problems.append((f"{sec}.{key}", f"unknown key (allowed: {', '.join(fields)})"))
        for key, (typ, rule) in fields.items():
            path = f"{sec}.{key}"
            if key not in node:
                problems.append((path, "missing"))
                continue
            val = _coerce(node[key], typ)
            ok, what = _RULES[rule]
            if val is None or not ok(val):
                noun = "integer" if typ is int else "number"
                problems.append((path, f"'{key}' must be {what.format(noun=noun)}, not {node[key]!r}"))
    unit = data.get("unit")
    if not problems and _coerce(unit["act_width"], int) < 2:
        problems.append(("unit.act_width", f"'act_width' must be an integer >= 2, not {unit['act_width']!r}"))
    return problems


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
    if not isinstance(data, dict):
        raise SpecError([("", f"an mmfree spec must be a mapping, not {type(data).__name__}")], source)
    data = copy.deepcopy(data)
    problems = []
    for key, value in (overrides or {}).items():
        path = SHORT_NAMES.get(key, key)
        parts = path.split(".")
        if parts[0] not in _TOP or parts[0] in ("kind", "description") or (parts[0] in _SCHEMA) != (len(parts) == 2):
            problems.append((key, f"unknown override (short names: {', '.join(sorted(SHORT_NAMES))}; "
                                  "or a key path such as dram.latency_cycles)"))
            continue
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = value
    problems += validate_mmfree(data)
    if problems:
        raise SpecError(problems, source)
    g = lambda sec, key: _coerce(data[sec][key], _SCHEMA[sec][key][0])  # noqa: E731
    name = source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
    return MmfreeSpec(
        name=name,
        description=str(data.get("description", "")),
        clock_mhz=float(_coerce(data["clock_mhz"], float)),
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
