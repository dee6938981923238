"""Our own hierarchy spec (kind: hierarchy): loading, validation with key paths."""

import textwrap

import pytest

from arch.errors import SpecError
from arch.registry import arch_kind, list_presets, load_arch

SPEC = textwrap.dedent("""\
    kind: hierarchy
    description: exercise 04 written in our own format
    clock_mhz: 1000
    levels:
      - name: MainMemory
        word_bits: 8
        block_words: 32
        energy_pj: {read: 2048.0, fill: 2048.0, update: 2048.0}
      - name: GlobalBuffer
        fanout: {x: 16}
        fanout_name: PE
        size_words: 262144
        word_bits: 8
        block_words: 8
        energy_pj: {read: 43.353054, fill: 30.878292, update: 30.878292, leak: 0.007972}
      - name: RegisterFile
        size_words: 64
        word_bits: 8
        energy_pj: {read: 0.42564, fill: 0.42564, update: 0.42564, leak: 0.000861}
    compute: {name: MACC, energy_pj: {compute: 0.845}}
    """)


def test_own_hierarchy_loads_through_the_registry(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text(SPEC)
    assert arch_kind(path) == "hierarchy"
    h = load_arch(path)
    assert h.names == ("MainMemory", "GlobalBuffer", "RegisterFile")
    assert [h.instances(i) for i in range(4)] == [1, 16, 16, 16]
    assert h.levels[0].size_words is None and h.levels[2].size_words == 64
    assert h.fanout_names == (("PE", 0),)
    assert h.levels[1].energy("read") == 43.353054 and h.compute.energy("compute") == 0.845


def test_presets_still_load():
    for name in list_presets():
        load_arch(name)


@pytest.mark.parametrize("edit,message", [
    (("size_words: 64", "size_words: -64"), "levels[2].size_words: 'size_words' must be a positive integer, not -64"),
    (("fanout: {x: 16}", "fanout: {x: 16, z: 2}"), "levels[1].fanout: 'fanout' must be a mapping with keys x, y, not {'x': 16, 'z': 2}"),
    (("{compute: 0.845}", "{compute: 0.845, add: 1}"), "compute.energy_pj.add: unknown action (allowed: compute, leak)"),
    (("  - name: RegisterFile", "  - name: GlobalBuffer"), "levels: level name 'GlobalBuffer' is used twice"),
    (("    word_bits: 8\n    block_words: 32", "    word_bits: 8\n    block_words: 32\n    fanout: {x: 2}"),
     "levels[0].fanout: the outermost level has one instance, not 2"),
])
def test_bad_hierarchy_one_line(tmp_path, edit, message):
    path = tmp_path / "h.yaml"
    path.write_text(SPEC.replace(*edit, 1))
    with pytest.raises(SpecError) as err:
        load_arch(path)
    assert str(err.value) == f"{path}: {message}"
