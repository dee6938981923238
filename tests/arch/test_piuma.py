"""The piuma spec: published structure, overrides by short name, every problem with its key path."""

import pytest

from arch.errors import SpecError
from arch.piuma import PiumaSpec, piuma_from_dict
from arch.registry import PRESET_DIR, list_presets, load_arch
from arch.yamlio import load_yaml_file


def raw():
    return load_yaml_file(PRESET_DIR / "piuma.yaml")


def test_preset_matches_published_structure():
    s = load_arch("piuma")
    assert isinstance(s, PiumaSpec)
    # PIUMA: 8 cores per die, 66 threads per core (4 x 16 + 2), 4 MB scratchpad, 8-byte access
    assert (s.cores, s.threads_per_core, s.threads) == (8, 66, 528)
    assert s.spad_bytes_per_core == 4 * 2**20 and s.dram_access_bytes == 8 == s.spad_access_bytes
    # eight DDR4-3200 channels, 8 x 25.6e9 B/s = 204.8e9 B/s, at 1 GHz: 204.8 bytes per cycle
    assert s.dram_bw_bytes_per_cycle == pytest.approx(204.8, rel=1e-12)
    assert s.net_link_bytes_per_cycle == pytest.approx(64.0, rel=1e-12)
    # 3/4 of 4 MiB over 66 threads
    assert s.table_bytes_per_thread == int(4 * 2**20 * 0.75) // 66
    assert "piuma" in list_presets() and list_presets()["piuma"].startswith("PIUMA-like")


def test_short_and_dotted_overrides():
    s = load_arch("piuma", {"cores": "16", "threads": 8, "dram_gbps": "51.2", "spad_kb": 1024, "network.latency_cycles": 10})
    assert (s.cores, s.threads_per_mtp, s.threads_per_core) == (16, 8, 4 * 8 + 2)
    # GB = 2^30 bytes: 51.2 x 2^30 B/s at 1 GHz
    assert s.dram_bw_bytes_per_cycle == pytest.approx(51.2 * 1.073741824) and s.spad_bytes_per_core == 2**20
    assert s.net_latency_cycles == 10


def test_every_problem_reported_with_its_key_path():
    d = raw()
    d["core"]["count"] = 0
    d["dram"]["gbps"] = "fast"
    d["scratchpad"]["table_fraction"] = 1.5
    d["colour"] = "blue"
    del d["atomics"]["latency_cycles"]
    with pytest.raises(SpecError) as err:
        piuma_from_dict(d, "m.yaml")
    probs = dict(err.value.problems)
    assert probs["core.count"] == "'count' must be a positive integer, not 0"
    assert probs["dram.gbps"] == "'gbps' must be a positive number, not 'fast'"
    assert probs["scratchpad.table_fraction"] == "'table_fraction' must be a number in (0, 1], not 1.5"
    assert probs["colour"].startswith("unknown key (allowed: ")
    assert probs["atomics.latency_cycles"] == "missing"
    assert str(err.value).startswith("m.yaml: ")


def test_unknown_override_and_unknown_section_key():
    with pytest.raises(SpecError, match=r"bogus: unknown override \(short names: "):
        load_arch("piuma", {"bogus": 1})
    d = raw()
    d["dram"]["channels"] = 4
    with pytest.raises(SpecError, match=r"dram.channels: unknown key \(allowed: gbps, access_bytes, latency_cycles\)"):
        piuma_from_dict(d, "m.yaml")


def test_at_least_one_pipeline():
    with pytest.raises(SpecError, match=r"core: 'mtp \+ stp' must be at least 1 pipeline per core, not 0"):
        load_arch("piuma", {"mtp": 0, "stp": 0})


def test_sourced_energies_follow_the_project_tables():
    from arch.energy import energy_pj, mac_pj
    e = load_arch("piuma").energy_pj
    # one 64-bit DRAM access: Accelergy 45 nm (FuseMax artifact)
    assert e["dram_access"] == energy_pj("accelergy45", "dram_hbm2_access") == 249.6
    # 64-bit multiply-add: twice Horowitz's 32-bit FP multiply + add (3.7 + 0.9)
    assert e["flop"] == pytest.approx(2 * mac_pj("fp32", "fp32"))
    # 8-byte scratchpad access: twice Horowitz's 32-bit read of an 8 KB SRAM
    assert e["spad_access"] == pytest.approx(2 * energy_pj("horowitz45", "sram_8kb_read_32bit"))


@pytest.mark.parametrize("gbps", [0.5, 100, 400])
def test_dram_gbps_means_the_same_on_every_preset(gbps):
    # one meaning: GB = 2^30 bytes (1,073,741,824), on the spatial presets and on piuma alike
    spatial = load_arch("fusemax", {"dram_gbps": gbps, "clock_mhz": 1000})
    piuma = load_arch("piuma", {"dram_gbps": gbps, "clock_mhz": 1000})
    assert spatial.dram.bw_bytes_per_s == pytest.approx(gbps * 1_073_741_824, rel=1e-12)
    assert piuma.dram_bw_bytes_per_cycle * piuma.clock_hz == pytest.approx(spatial.dram.bw_bytes_per_s, rel=1e-12)


def test_mechanism_switches_and_cache_geometry():
    s = load_arch("piuma")
    assert (s.cache_bytes_per_core, s.cache_ways, s.cache_line_bytes, s.cache_policy) == (96 * 1024, 4, 64, "lru")
    assert (s.cache_gathers, s.smash_windows, s.dma_requests_in_flight) == (False, True, 8)
    t = load_arch("piuma", {"cache_policy": "fifo", "cache_gathers": "1", "windows": 0, "dma_in_flight": 2,
                            "cache_kb": 32, "cache_ways": 8, "cache_line": 128})
    assert (t.cache_policy, t.cache_gathers, t.smash_windows, t.dma_requests_in_flight) == ("fifo", True, False, 2)
    assert (t.cache_bytes_per_core, t.cache_ways, t.cache_line_bytes) == (32 * 1024, 8, 128)


def test_bad_mechanism_values_each_with_its_key_path():
    d = raw()
    d["cache"]["policy"] = "random"
    d["cache"]["line_bytes"] = 48
    d["smash"]["windows"] = 2
    d["dma"]["requests_in_flight"] = 0
    with pytest.raises(SpecError) as err:
        piuma_from_dict(d, "m.yaml")
    probs = dict(err.value.problems)
    assert probs["cache.policy"] == "'policy' must be one of lru, fifo, not 'random'"
    assert probs["dma.requests_in_flight"] == "'requests_in_flight' must be a positive integer, not 0"
    with pytest.raises(SpecError) as err:
        load_arch("piuma", {"windows": 2, "cache_line": 48})
    probs = dict(err.value.problems)
    assert probs["smash.windows"] == "'windows' must be 0 or 1, not 2"
    assert probs["cache.line_bytes"] == "'line_bytes' must be a power of two, not 48"
    d = raw()
    del d["cache"]["policy"]
    with pytest.raises(SpecError, match=r"cache.policy: missing"):
        piuma_from_dict(d, "m.yaml")
