"""Per-action energy tables, each figure with its published source.

In hardware terms: what one action of a component costs at a technology node, in pJ: one MAC
in a PE, one read of a buffer row, one DRAM access. The presets (``arch/presets/*.yaml``) copy
these figures next to a comment naming the source; ``tests/arch/test_energy.py`` checks that they
still agree with the tables here, so that one edit cannot make them drift apart.

Two tables:

- :data:`ACCELERGY_45NM`: the Accelergy 45 nm figures published with the FuseMax artifact
  (Nayak et al., MICRO 2024), used by the FuseMax, FLAT and unfused presets (docs/sources.md#fusemax-energy).
- :data:`HOROWITZ_45NM`: M. Horowitz, "Computing's energy problem (and what we can do about
  it)", ISSCC 2014, 45 nm figures, used by the systolic preset (docs/sources.md#horowitz-45nm).

Units: pJ per action; the action's size is in the entry (``per``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from arch.errors import SpecError


@dataclass(frozen=True)
class EnergyEntry:
    """One published per-action energy.

    Attributes
    ----------
    pj : float
        Energy of one action (pJ).
    per : str
        What one action is (``"64-bit access"``, ``"operation"``, ``"512-byte row"``).
    source : str
        Where the figure was published.
    """

    pj: float
    per: str
    source: str


_ACC = "Accelergy 45 nm, FuseMax artifact (Nayak et al., MICRO 2024)"
_HOR = "Horowitz, ISSCC 2014, 45 nm"
_CACTI = ("CACTI 7 (HewlettPackard/cacti), 45 nm, with the FuseMax artifact's Accelergy CACTI "
          "plug-in configuration (accelergy-cacti-plug-in default_cfg.cfg)")

ACCELERGY_45NM = MappingProxyType({
    "dram_hbm2_access": EnergyEntry(249.6, "64-bit access", _ACC),
    # The artifact's shipped ERT (inputs/yamls/area_energy/outputs-2d-{flat,fusemax}/ERT*.yaml)
    # prices a 32 MB global buffer of 64-bit rows (depth 4194304 x width 64, its
    # flattened_architecture_verbose.yaml): 484.97 pJ per 8-byte read, not per 256-value row.
    "glb_64bit_read": EnergyEntry(484.97, "8-byte read, 32 MB SRAM of 64-bit rows", _ACC),
    "glb_64bit_write": EnergyEntry(451.30, "8-byte write, 32 MB SRAM of 64-bit rows", _ACC),
    # The buffers the artifact's energy runs use (accel_{flat,fusemax}/accel-top-2d-path.yaml:
    # 4096-bit rows, FLAT depth 65536 = 32 MB, FuseMax depth 32768 = 16 MB), priced as its
    # Accelergy CACTI plug-in prices them: CACTI 7, 45 nm, the plug-in's default_cfg.cfg
    # (itrs-lstp cells, leakage-weighted objective), one read-write port, one bank (the
    # smartbuffer_SRAM class passes neither n_banks nor n_rdwr_ports to CACTI).
    "glb32mb_row_read": EnergyEntry(23854.6, "512-byte row read, 32 MB SRAM", _CACTI),
    "glb32mb_row_write": EnergyEntry(27097.5, "512-byte row write, 32 MB SRAM", _CACTI),
    "glb16mb_row_read": EnergyEntry(12512.7, "512-byte row read, 16 MB SRAM", _CACTI),
    "glb16mb_row_write": EnergyEntry(15751.4, "512-byte row write, 16 MB SRAM", _CACTI),
    "glb512kb_row64_read": EnergyEntry(274.521, "64-byte row read, 512 KB SRAM", _CACTI),
    "glb512kb_row64_write": EnergyEntry(333.304, "64-byte row write, 512 KB SRAM", _CACTI),
    "fusemax_rf2d_read": EnergyEntry(0.653, "word read, 10-entry 2D PE register file", _ACC),
    "fusemax_rf2d_write": EnergyEntry(0.570, "word write, 10-entry 2D PE register file", _ACC),
    "flat_rf2d_read": EnergyEntry(0.292, "word read, 4-entry FLAT 2D register file", _ACC),
    "flat_rf2d_write": EnergyEntry(0.225, "word write, 4-entry FLAT 2D register file", _ACC),
    "flat_rf1d_read": EnergyEntry(0.385, "word read, 16-entry FLAT 1D register file", _ACC),
    "flat_rf1d_write": EnergyEntry(0.336, "word write, 16-entry FLAT 1D register file", _ACC),
    "rf1d_read": EnergyEntry(2.19, "word read, 32-entry 1D register file", _ACC),
    "rf1d_write": EnergyEntry(1.91, "word write, 32-entry 1D register file", _ACC),
    "fp_mac": EnergyEntry(17.16, "floating-point MAC", _ACC),
    "fp_add": EnergyEntry(8.34, "floating-point add", _ACC),
    "max": EnergyEntry(0.028, "max", _ACC),
    "exp_unit": EnergyEntry(94.65, "exp (FLAT 1D array's exp unit)", _ACC),
    "divide": EnergyEntry(36.25, "divide", _ACC),
})

HOROWITZ_45NM = MappingProxyType({
    "int8_add": EnergyEntry(0.03, "8-bit integer add", _HOR),
    "int16_add": EnergyEntry(0.05, "16-bit integer add", _HOR),
    "int32_add": EnergyEntry(0.1, "32-bit integer add", _HOR),
    "int8_mult": EnergyEntry(0.2, "8-bit integer multiply", _HOR),
    "int32_mult": EnergyEntry(3.1, "32-bit integer multiply", _HOR),
    "fp16_add": EnergyEntry(0.4, "16-bit floating-point add", _HOR),
    "fp16_mult": EnergyEntry(1.1, "16-bit floating-point multiply", _HOR),
    "fp32_add": EnergyEntry(0.9, "32-bit floating-point add", _HOR),
    "fp32_mult": EnergyEntry(3.7, "32-bit floating-point multiply", _HOR),
    "sram_8kb_read_32bit": EnergyEntry(5.0, "32-bit read of an 8 KB SRAM", _HOR),
    "dram_read_32bit": EnergyEntry(640.0, "32-bit DRAM read", _HOR),
})

TABLES = MappingProxyType({"accelergy45": ACCELERGY_45NM, "horowitz45": HOROWITZ_45NM})


def energy_pj(table: str, action: str) -> float:
    """The pJ of ``action`` in ``table`` (``accelergy45`` or ``horowitz45``)."""
    if table not in TABLES:
        raise SpecError([("energy", f"table must be one of {', '.join(TABLES)}, not {table!r}")])
    entries = TABLES[table]
    if action not in entries:
        raise SpecError([(f"energy.{table}", f"no action {action!r} (actions: {', '.join(entries)})")])
    return entries[action].pj


def mac_pj(mult: str, add: str) -> float:
    """A MAC as one multiply plus one add of the Horowitz table (``mac_pj("int8", "int32")``).

    This is how the systolic preset's 0.3 pJ int8 MAC with a 32-bit accumulator is derived.
    """
    return energy_pj("horowitz45", f"{mult}_mult") + energy_pj("horowitz45", f"{add}_add")


def exp_as_macs_pj(macs: int = 6) -> float:
    """FuseMax's exp without an exp unit: ``macs`` sequential MACs (5th-order Taylor: 6)."""
    return macs * ACCELERGY_45NM["fp_mac"].pj
