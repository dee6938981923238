"""The ``mmfree`` accelerator spec: preset facts, overrides, exact messages for bad specs."""

import pytest

from arch.errors import SpecError
from arch.mmfree import mmfree_from_dict
from arch.registry import list_presets, load_arch


def test_preset_carries_the_published_energy_table():
    spec = load_arch("mmfree")
    assert "mmfree" in list_presets()
    # Horowitz, ISSCC 2014, 45 nm (docs/sources.md#horowitz-45nm)
    assert spec.energy_pj == {"add8": 0.03, "add16": 0.05, "add32": 0.1, "fp16_add": 0.4, "fp16_mult": 1.1,
                              "sram_read_32b": 5.0, "dram_read_32b": 640.0}
    assert spec.weight_bits == 2          # ternip packing, 4 weights per byte
    assert spec.act_width == 8            # 8-bit absmax activations
    assert spec.clock_hz == spec.clock_mhz * 1e6


def test_short_overrides_from_the_command_line():
    spec = load_arch("mmfree", {"lanes": "4", "clock_mhz": "60", "dram_bits": "8", "zero_fraction": "0"})
    assert (spec.lanes, spec.clock_mhz, spec.dram_bits_per_cycle, spec.zero_weight_fraction) == (4, 60.0, 8, 0.0)
    assert load_arch("mmfree", {"dram.latency_cycles": 7}).dram_latency_cycles == 7


def test_every_problem_is_reported_with_its_key_path():
    with pytest.raises(SpecError) as e:
        load_arch("mmfree", {"lanes": "0", "zero_fraction": 1, "bogus": 3})
    msg = str(e.value)
    assert msg.endswith("bogus: unknown override (short names: act_width, clock_mhz, dram_bits, dram_latency, lanes, "
                        "tile_rows, vector_lanes, weight_bits, zero_fraction; or a key path such as dram.latency_cycles); "
                        "unit.lanes: 'lanes' must be a positive integer, not '0'; "
                        "sparsity.zero_weight_fraction: 'zero_weight_fraction' must be a number in [0, 1), not 1")


def test_missing_and_unknown_keys():
    with pytest.raises(SpecError) as e:
        mmfree_from_dict({"kind": "mmfree", "clock_mhz": 60, "extra": 1}, source="x.yaml")
    msg = str(e.value)
    assert msg.startswith("x.yaml: extra: unknown key")
    assert "unit: 'unit' must be a mapping with keys lanes, act_width, tile_rows, not None" in msg
    assert "energy_pj: 'energy_pj' must be a mapping" in msg
