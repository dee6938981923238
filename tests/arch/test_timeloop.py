"""Timeloop v0.4 architecture files and Accelergy ERTs read into a Hierarchy."""

from pathlib import Path

import pytest

from arch.errors import SpecError
from arch.registry import arch_kind, load_arch
from arch.timeloop import default_energy, load_timeloop_arch, read_ert

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop"
EX04 = DATA / "04-3levelspatial-cp"
ARCH04 = (EX04 / "3levelspatial.arch.yaml").read_text()


def test_exercise_04_levels_match_timeloops_specs():
    """Sizes, block sizes and instances as timeloop-model.stats.txt of exercise 04 (cp) prints
    them in each level's SPECS: MainMemory Size -, Block size 32, Instances 1; GlobalBuffer
    Size 262144, Block size 8, Instances 16 (16*1); RegisterFile Size 64, Block size 1,
    Instances 16; MACC Instances 16."""
    h = load_timeloop_arch(EX04 / "3levelspatial.arch.yaml")
    assert h.names == ("MainMemory", "GlobalBuffer", "RegisterFile")
    assert [lv.size_words for lv in h.levels] == [None, 262144, 64]
    assert [lv.block_words for lv in h.levels] == [32, 8, 1]
    assert [h.instances(i) for i in range(4)] == [1, 16, 16, 16]
    assert h.compute.name == "MACC"
    assert h.clock_mhz == 1000.0  # global_cycle_seconds: 1e-9
    assert h.fanout_names == (("PE", 0),)


def test_ert_energies_per_action():
    """Values of the ERT Timeloop wrote for exercise 04 (ref-output/cp/timeloop-model.ERT.yaml)."""
    ert = read_ert(EX04 / "timeloop-model.ERT.yaml")
    assert dict(ert["GlobalBuffer"]) == {"update": 30.878292, "read": 43.353054, "fill": 30.878292, "leak": 0.007972}
    assert dict(ert["MACC"]) == {"compute": 0.845}
    h = load_timeloop_arch(EX04 / "3levelspatial.arch.yaml", EX04 / "timeloop-model.ERT.yaml")
    assert h.levels[0].energy("read") == 2048.0


def test_default_energies_come_from_the_published_tables():
    # Horowitz ISSCC 2014 (45 nm): DRAM 640 pJ and an 8 KB SRAM 5 pJ per 32-bit read; a block
    # of 32 8-bit words is 8 such reads.
    assert dict(default_energy("DRAM", 8, 32))["read"] == pytest.approx(640 * 8)
    assert dict(default_energy("SRAM", 8, 8))["fill"] == pytest.approx(5 * 2)
    # Horowitz: 8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ.
    assert dict(default_energy("intmac", 8, 1))["compute"] == pytest.approx(0.3)


def test_registry_loads_a_timeloop_file_as_kind_timeloop():
    path = EX04 / "3levelspatial.arch.yaml"
    assert arch_kind(path) == "timeloop"
    assert load_arch(path).names == ("MainMemory", "GlobalBuffer", "RegisterFile")


@pytest.mark.parametrize("edit,message", [
    (("depth: 64", "depth: sixty"),
     "architecture.nodes[4].attributes.depth: 'depth' must be a positive integer, not 'sixty'"),
    (("class: intmac", "class: intmac\n    colour: red"),
     "architecture.nodes[5].colour: unknown key (allowed: area_scale, attributes, class, constraints, "
     "description, enabled, energy_scale, name, nodes, required_actions, spatial, subclass)"),
    (("meshX: 16", "meshX: 0"), "architecture.nodes[2].spatial.meshX: 'meshX' must be a positive integer, not 0"),
    (("version: 0.4", "version: 0.3"), "architecture.version: 'version' must be 0.4, not 0.3"),
    (("width: 64", "width: 60"), "architecture.nodes[3].attributes.width: 'width' must be a multiple of datawidth 8, not 60"),
])
def test_bad_architecture_one_line_naming_file_key_value(tmp_path, edit, message):
    path = tmp_path / "bad.arch.yaml"
    path.write_text(ARCH04.replace(*edit))
    with pytest.raises(SpecError) as err:
        load_timeloop_arch(path)
    assert str(err.value) == f"{path}: {message}"
    assert "\n" not in str(err.value)


def test_ert_without_a_component(tmp_path):
    ert = tmp_path / "ERT.yaml"
    ert.write_text((EX04 / "timeloop-model.ERT.yaml").read_text().replace("RegisterFile[1..16]", "RF[1..16]"))
    with pytest.raises(SpecError) as err:
        load_timeloop_arch(EX04 / "3levelspatial.arch.yaml", ert)
    assert str(err.value) == f"{ert}: ERT.tables: no table for component 'RegisterFile' of {EX04 / '3levelspatial.arch.yaml'}"


def test_compute_must_be_last(tmp_path):
    path = tmp_path / "bad.arch.yaml"
    path.write_text(ARCH04 + "\n  - !Component\n    name: Extra\n    class: SRAM\n    attributes: {depth: 8, datawidth: 8}\n")
    with pytest.raises(SpecError) as err:
        load_timeloop_arch(path)
    assert str(err.value) == f"{path}: architecture.nodes[6]: 'Extra' comes after the compute component 'MACC', which must be last"


def test_tags_on_plain_values_are_refused():
    from arch.yamlio import load_yaml

    with pytest.raises(SpecError) as err:
        load_yaml("a: !ref foo\n", "f.yaml")
    assert str(err.value) == "f.yaml: line 1: tag !ref on a plain value is not supported"
