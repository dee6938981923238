"""Area model: cell counts by hand, monotone in array size, spec figures win."""

import pytest

from arch.area import area_mm2, mac_um2, sram_um2, total_area_mm2
from arch.registry import load_arch


def test_int8_mac_by_cell_count():
    # 8x8 array multiplier (64 AND2 + 64 FA), 32-bit ripple adder (32 FA), 32-bit accumulator
    # and two 8-bit operand registers (48 DFF), NanGate FreePDK45 X1 cell areas in um^2.
    expected = 64 * (1.064 + 4.256) + 32 * 4.256 + 48 * 4.522
    assert mac_um2(8, floating=False) == pytest.approx(expected)


def test_sram_by_bit_cells():
    # 64 KB of Intel 45 nm 0.346 um^2 bit cells at 70 % array efficiency.
    assert sram_um2(65536) == pytest.approx(65536 * 8 * 0.346 / 0.7)


def test_systolic_area_components():
    s = load_arch("systolic")
    a = area_mm2(s)
    assert set(a) == {"array", "ifmap_sram", "filter_sram", "ofmap_sram"}
    assert a["array"] == pytest.approx(32 * 32 * mac_um2(8, False) / 1e6)
    assert a["ifmap_sram"] == pytest.approx(sram_um2(65536) / 1e6)


def test_area_grows_with_array_size_and_pe_area_is_quadratic():
    sizes = [16, 32, 64, 128, 256, 512]
    totals = [total_area_mm2(load_arch("systolic", {"rows": d, "cols": d})) for d in sizes]
    assert all(a < b for a, b in zip(totals, totals[1:]))
    arr = [area_mm2(load_arch("systolic", {"rows": d, "cols": d}))["array"] for d in (16, 32)]
    assert arr[1] == pytest.approx(4 * arr[0])


def test_per_pe_register_files_scale_with_pes_and_spec_area_wins():
    s = load_arch("fusemax")
    a = area_mm2(s)
    assert a["rf2d"] == pytest.approx(256 * 256 * 20 * 8 * 4.522 / 1e6)  # 10 x 16-bit flip-flops per PE
    s2 = load_arch("fusemax", {"compute.pe2d.area_mm2": 50.0, "storage.glb.area_mm2": "12.5"})
    a2 = area_mm2(s2)
    assert a2["pe2d"] == 50.0 and a2["glb"] == 12.5
