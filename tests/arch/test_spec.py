"""Spatial specs: presets load with the published figures; bad specs fail with key path and reason."""

import copy
import textwrap

import pytest

from arch.errors import SpecError
from arch.registry import list_presets, load_arch
from arch.spec import SpatialSpec, spatial_from_dict

GOOD = {
    "kind": "spatial",
    "description": "tiny",
    "clock_mhz": 500,
    "word_bits": 16,
    "compute": {
        "pe2d": {"shape": [4, 8], "operators": {"mac": {"cycles": 1, "energy_pj": 1.0}}},
        "pe1d": {"shape": [4], "operators": {"div": {"cycles": 1, "latency_cycles": 4, "energy_pj": 2.0}}},
    },
    "storage": {
        "glb": {"size_bytes": 1024, "read_pj": 10.0, "write_pj": 12.0, "access_bytes": 8},
        "rf": {"size_bytes": 8, "read_pj": 0.5, "write_pj": 0.6, "per_pe_of": "pe2d"},
    },
    "dram": {"bw_bytes_per_s": 1e9, "access_bytes": 8, "access_pj": 100.0},
}


def bad(**changes):
    """GOOD with dotted-path changes (value None deletes the key)."""
    d = copy.deepcopy(GOOD)
    for path, value in changes.items():
        keys = path.split("__")
        node = d
        for k in keys[:-1]:
            node = node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return d


def message(data, overrides=None):
    with pytest.raises(SpecError) as err:
        spatial_from_dict(data, source="t.yaml", overrides=overrides)
    return str(err.value)


def test_presets_are_listed_and_load():
    names = list_presets()
    for n in ("fusemax", "flat", "flat-edge", "unfused", "systolic"):
        assert n in names and names[n]
        assert isinstance(load_arch(n), SpatialSpec)


def test_fusemax_preset_carries_the_published_figures():
    s = load_arch("fusemax")
    # docs/sources.md#fusemax-arch, FuseMax cloud configuration.
    assert s.compute["pe2d"].shape == (256, 256)
    assert s.compute["pe1d"].shape == (256,)
    assert s.clock_hz == 940e6
    assert s.dram.bw_bytes_per_s == 400 * 2**30
    assert s.storage["glb"].size_bytes == 16 * 2**20 and s.storage["glb"].banks == 32
    assert s.storage["glb"].words == 8 * 2**20  # 16-bit words
    assert s.storage["rf2d"].words == 10 and s.storage["rf1d"].words == 32
    assert s.compute["pe2d"].operators["mac"].energy_pj == 17.16
    assert s.compute["pe2d"].operators["exp"].cycles == 6  # 6 sequential MACs
    assert s.compute["pe2d"].operators["exp"].energy_pj == pytest.approx(6 * 17.16)
    assert s.compute["pe1d"].operators["div"].latency_cycles == 4
    assert not s.compute["pe2d"].supports("div")
    assert s.dram.access_pj == 249.6 and s.dram.access_bytes == 8


def test_flat_presets():
    cloud, edge = load_arch("flat"), load_arch("flat-edge")
    assert cloud.storage["glb"].size_bytes == 32 * 2**20 and cloud.storage["glb"].banks == 4
    assert cloud.compute["pe1d"].operators["exp"].cycles == 1
    assert cloud.compute["pe1d"].operators["exp"].energy_pj == 94.65
    assert cloud.storage["rf2d"].words == 4
    assert edge.compute["pe2d"].shape == (32, 32)
    assert edge.storage["glb"].size_bytes == 512 * 1024
    assert edge.dram.bw_bytes_per_s == 50 * 2**30


def test_overrides_by_short_name_and_path():
    s = load_arch("fusemax", {"pe_dim": "64", "glb_mb": "2", "dram_gbps": "100", "clock_mhz": "1000"})
    assert s.compute["pe2d"].shape == (64, 64) and s.compute["pe1d"].shape == (64,)
    assert s.storage["glb"].size_bytes == 2 * 2**20
    assert s.dram.bw_bytes_per_s == 100 * 2**30
    assert s.clock_mhz == 1000
    t = load_arch("systolic", {"rows": "8", "cols": 16, "dataflow": "is", "storage.ifmap_sram.size_bytes": "4096"})
    assert t.compute["array"].shape == (8, 16) and t.compute["array"].dataflow == "is"
    assert t.storage["ifmap_sram"].size_bytes == 4096


def test_from_str_and_yaml_duplicate_keys():
    text = textwrap.dedent("""\
        kind: spatial
        clock_mhz: 100
        clock_mhz: 200
        """)
    with pytest.raises(SpecError, match=r"^<string>: clock_mhz: duplicate key \(line 3; first at line 2\)$"):
        SpatialSpec.from_str(text)


@pytest.mark.parametrize(
    "data, overrides, expected",
    [
        (bad(storage__glb__size_bytes=-5), None, "t.yaml: storage.glb.size_bytes: must be a positive integer, not -5"),
        (bad(compute__pe2d__operators={"sqrtx": {"cycles": 1, "energy_pj": 1}}), None,
         "t.yaml: compute.pe2d.operators.sqrtx: unknown operator (known: mac, mul, add, sub, max, min, exp, div, cmp, copy, sqrt, rsqrt, tanh, erf)"),
        (bad(storage__rf__per_pe_of="pe3d"), None, "t.yaml: storage.rf.per_pe_of: must name a compute unit (pe2d, pe1d), not 'pe3d'"),
        (bad(compute__pe2d__shape=[4, 0]), None, "t.yaml: compute.pe2d.shape[1]: must be a positive integer, not 0"),
        (bad(compute__pe2d__shape=[4, 4, 4]), None, "t.yaml: compute.pe2d.shape: must be [rows, cols] or [n], not [4, 4, 4]"),
        (bad(compute__pe1d__dataflow="os"), None, "t.yaml: compute.pe1d.dataflow: only a 2D array has a dataflow"),
        (bad(compute__pe2d__dataflow="rs"), None, "t.yaml: compute.pe2d.dataflow: must be one of os, ws, is, not 'rs'"),
        (bad(clock_mhz=0), None, "t.yaml: clock_mhz: must be a positive number, not 0"),
        (bad(clock_mhz=True), None, "t.yaml: clock_mhz: must be a positive number, not True"),
        (bad(dram=None), None, "t.yaml: dram: missing required key"),
        (bad(dram__bw_bytes_per_s=-1), None, "t.yaml: dram.bw_bytes_per_s: must be a positive number, not -1"),
        (bad(storage__glb__colour="red"), None,
         "t.yaml: storage.glb.colour: unknown key (allowed: access_bytes, area_mm2, banks, bw_bytes_per_cycle, "
         "per_pe_of, ports, read_pj, size_bytes, word_bits, write_pj)"),
        (bad(compute={}), None, "t.yaml: compute: must name at least one compute unit; "
         "storage.rf.per_pe_of: must name a compute unit (none defined), not 'pe2d'"),
        (bad(compute__pe1d__operators__div__latency_cycles=0), None,
         "t.yaml: compute.pe1d.operators.div.latency_cycles: must be a positive integer, not 0"),
        (bad(compute__pe1d__operators__div__cycles=2, compute__pe1d__operators__div__latency_cycles=1), None,
         "t.yaml: compute.pe1d.operators.div.latency_cycles: must be >= cycles (2), not 1"),
        (GOOD, {"glb_mb": "-1"}, "t.yaml: overrides.glb_mb: must be a positive number, not '-1'"),
        (GOOD, {"pe_size": "4"}, "t.yaml: overrides.pe_size: unknown parameter (use a dotted key path, or one of "
         "clock_mhz, cols, dataflow, dram_gbps, glb_mb, pe_dim, rows)"),
        (GOOD, {"storage.l3.size_bytes": "4"}, "t.yaml: storage.l3.size_bytes: no such key 'storage.l3' to override"),
        (GOOD, {"pe_dim": "0"}, "t.yaml: compute.pe2d.shape[0]: must be a positive integer, not 0; "
         "compute.pe2d.shape[1]: must be a positive integer, not 0; compute.pe1d.shape[0]: must be a positive integer, not 0"),
    ],
)
def test_invalid_specs_name_key_path_and_reason(data, overrides, expected):
    assert message(data, overrides) == expected


def test_all_problems_are_collected():
    err = message(bad(storage__glb__size_bytes=-5, storage__glb__read_pj="x", clock_mhz=-1))
    assert err == ("t.yaml: clock_mhz: must be a positive number, not -1; "
                   "storage.glb.size_bytes: must be a positive integer, not -5; "
                   "storage.glb.read_pj: must be a non-negative number, not 'x'")


def test_missing_unit_is_named():
    s = spatial_from_dict(GOOD)
    with pytest.raises(SpecError, match=r"^<dict>: compute.pe9: no such compute unit \(units: pe2d, pe1d\)$"):
        s.unit("pe9")


def test_rows_override_needs_one_2d_unit():
    data = bad(compute__pe2d=None, storage__rf=None)
    assert message(data, {"rows": 8}) == "t.yaml: overrides.rows: needs exactly one 2D compute unit, the spec has 0"


def test_derived_quantities():
    s = spatial_from_dict(GOOD)
    assert s.compute["pe2d"].pes == 32
    assert s.storage["glb"].read_pj_per_byte == 10.0 / 8
    assert s.storage["rf"].access_bytes == 2  # defaults to one 16-bit word
    assert s.dram.bw_bytes_per_cycle(s.clock_hz) == 2.0  # 1e9 B/s at 500 MHz
    assert s.dram.pj_per_byte == 12.5


def test_the_annotated_example_in_the_docs_is_a_valid_spec():
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "spec.md").read_text()
    section = text.split("## The spec format, annotated", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    s = SpatialSpec.from_str(example, source="docs/spec.md")
    assert s.compute["pe2d"].dataflow == "os" and s.compute["pe1d"].operators["div"].latency_cycles == 4
    assert s.storage["glb"].bw_bytes_per_cycle == 1024 and s.storage["rf2d"].per_pe_of == "pe2d"
