"""Energy tables: the presets agree with the published figures, derived entries add up."""

import pytest

from arch.energy import ACCELERGY_45NM, HOROWITZ_45NM, energy_pj, exp_as_macs_pj, mac_pj
from arch.errors import SpecError
from arch.registry import load_arch


def test_tables_hold_the_reference_figures():
    # REFERENCE.md section 1 (Accelergy 45 nm) and section 4 (Horowitz, ISSCC 2014).
    assert ACCELERGY_45NM["dram_hbm2_access"].pj == 249.6
    assert ACCELERGY_45NM["glb_row_read"].pj == 484.97 and ACCELERGY_45NM["glb_row_write"].pj == 451.30
    assert ACCELERGY_45NM["fp_mac"].pj == 17.16 and ACCELERGY_45NM["divide"].pj == 36.25
    assert HOROWITZ_45NM["int8_mult"].pj == 0.2 and HOROWITZ_45NM["dram_read_32bit"].pj == 640.0
    assert all(e.source for e in ACCELERGY_45NM.values()) and all(e.source for e in HOROWITZ_45NM.values())


@pytest.mark.parametrize("preset", ["fusemax", "flat", "unfused"])
def test_cloud_presets_use_the_accelergy_table(preset):
    s = load_arch(preset)
    a = ACCELERGY_45NM
    assert s.dram.access_pj == a["dram_hbm2_access"].pj and s.dram.access_bytes == 8
    assert s.storage["glb"].read_pj == a["glb_row_read"].pj and s.storage["glb"].access_bytes == 512
    assert s.storage["glb"].write_pj == a["glb_row_write"].pj
    for unit in ("pe2d", "pe1d"):
        ops = s.compute[unit].operators
        assert ops["mac"].energy_pj == a["fp_mac"].pj
        assert ops["add"].energy_pj == a["fp_add"].pj
        assert ops["max"].energy_pj == a["max"].pj
    assert s.compute["pe1d"].operators["div"].energy_pj == a["divide"].pj
    rf = "fusemax" if preset == "fusemax" else "flat"
    assert s.storage["rf2d"].read_pj == a[f"{rf}_rf2d_read"].pj
    assert s.storage["rf1d"].read_pj == a["rf1d_read" if preset == "fusemax" else "flat_rf1d_read"].pj


def test_fusemax_exp_is_six_macs_and_flat_has_an_exp_unit():
    assert load_arch("fusemax").compute["pe2d"].operators["exp"].energy_pj == pytest.approx(exp_as_macs_pj())
    assert exp_as_macs_pj() == pytest.approx(6 * 17.16)
    assert load_arch("flat").compute["pe1d"].operators["exp"].energy_pj == ACCELERGY_45NM["exp_unit"].pj


def test_systolic_preset_uses_the_horowitz_table():
    s = load_arch("systolic")
    assert s.compute["array"].operators["mac"].energy_pj == pytest.approx(mac_pj("int8", "int32"))
    assert mac_pj("int8", "int32") == pytest.approx(0.2 + 0.1)
    assert s.storage["ifmap_sram"].read_pj == HOROWITZ_45NM["sram_8kb_read_32bit"].pj
    assert s.dram.access_pj / s.dram.access_bytes == pytest.approx(640.0 / 4)


def test_unknown_table_or_action():
    with pytest.raises(SpecError, match=r"^energy: table must be one of accelergy45, horowitz45, not 'tsmc7'$"):
        energy_pj("tsmc7", "fp_mac")
    with pytest.raises(SpecError, match=r"^energy.horowitz45: no action 'int4_mult'"):
        energy_pj("horowitz45", "int4_mult")
