"""Systolic GEMM timing and SRAM traffic against SCALE-Sim 3, the peer tool.

Golden values: SCALE-Sim 3.0.0 (``pip install scalesim "numpy<2.4"`` in its own venv), run as
``python -m scalesim.scale -c scale.cfg -t gemm.csv -l layout.csv -p OUT -i gemm`` with the
shipped ``configs/scale.cfg`` (64 KB ifmap/filter/ofmap SRAMs, MemoryBanks 1, Bandwidth 10,
``InterfaceBandwidth: CALC``), ``ArrayHeight``/``ArrayWidth``/``Dataflow`` set per row, a one-row
topology ``Layer, M, N, K,`` and a one-row layout CSV (custom layouts off). Columns: dataflow,
rows R, cols C, M, N, K, then from ``COMPUTE_REPORT.csv`` "Total Cycles" and from
``DETAILED_ACCESS_REPORT.csv`` "SRAM IFMAP Reads", "SRAM Filter Reads", "SRAM OFMAP Writes".
Stall cycles were 0 in every run. ``studies/systolic_vs_scalesim.py`` reruns them.
"""

import math

import pytest

from arch.errors import SpecError, WorkloadError
from arch.registry import load_arch
from sim.analytical import run
from sim.systolic import gemm_cycles, lower_gemm, sram_accesses

# (dataflow, R, C, M, N, K, total cycles, ifmap reads, filter reads, ofmap writes): SCALE-Sim 3.0.0
SCALESIM = [
    ("is", 1, 1, 3, 4, 5, 74, 15,60,60),
    ("is", 12, 20, 45, 31, 77, 1532, 3465,7161,9765),
    ("is", 16, 32, 100, 1, 37, 755, 3700,148,300),
    ("is", 16, 64, 17, 250, 64, 1375, 1088,16000,17000),
    ("is", 32, 16, 17, 250, 64, 1311, 1088,32000,8500),
    ("is", 32, 32, 1, 512, 64, 1211, 64,32768,1024),
    ("is", 32, 32, 256, 128, 256, 14207, 65536,262144,262144),
    ("is", 4, 8, 1, 7, 3, 20, 3,21,7),
    ("is", 5, 3, 10, 11, 12, 263, 120,528,330),
    ("is", 64, 8, 200, 30, 1, 4099, 200,750,6000),
    ("is", 7, 13, 33, 65, 20, 809, 660,3900,6435),
    ("is", 8, 4, 1, 1, 1, 18, 1,1,1),
    ("os", 1, 1, 3, 4, 5, 59, 60,60,36),
    ("os", 12, 20, 45, 31, 77, 855, 6930,9548,1651),
    ("os", 16, 32, 100, 1, 37, 580, 3700,259,436),
    ("os", 16, 64, 17, 250, 64, 1135, 4352,32000,4890),
    ("os", 32, 16, 17, 250, 64, 1759, 17408,16000,5018),
    ("os", 32, 32, 1, 512, 64, 2015, 1024,32768,1536),
    ("os", 32, 32, 256, 128, 256, 10175, 262144,262144,34816),
    ("os", 4, 8, 1, 7, 3, 12, 3,21,19),
    ("os", 5, 3, 10, 11, 12, 143, 480,264,174),
    ("os", 64, 8, 200, 30, 1, 1135, 800,120,7152),
    ("os", 7, 13, 33, 65, 20, 949, 3300,6500,2645),
    ("os", 8, 4, 1, 1, 1, 10, 1,1,13),
    ("ws", 1, 1, 3, 4, 5, 79, 60,20,60),
    ("ws", 12, 20, 45, 31, 77, 1217, 6930,2387,9765),
    ("ws", 16, 32, 100, 1, 37, 485, 3700,37,300),
    ("ws", 16, 64, 17, 250, 64, 1775, 4352,16000,17000),
    ("ws", 32, 16, 17, 250, 64, 3039, 17408,16000,8500),
    ("ws", 32, 32, 1, 512, 64, 3039, 1024,32768,1024),
    ("ws", 32, 32, 256, 128, 256, 11199, 262144,32768,262144),
    ("ws", 4, 8, 1, 7, 3, 14, 3,21,7),
    ("ws", 5, 3, 10, 11, 12, 251, 480,132,330),
    ("ws", 64, 8, 200, 30, 1, 1335, 800,30,6000),
    ("ws", 7, 13, 33, 65, 20, 869, 3300,1300,6435),
    ("ws", 8, 4, 1, 1, 1, 18, 1,1,1),
    # second batch: 1-row and 3-column arrays, K=1000 on 2 x 2, 48 x 40
    ("is", 1, 64, 50, 70, 90, 12059, 4500, 6300, 315000),
    ("os", 1, 64, 50, 70, 90, 15299, 9000, 315000, 10000),
    ("ws", 1, 64, 50, 70, 90, 20519, 9000, 6300, 315000),
    ("is", 100, 3, 7, 500, 301, 8411, 2107, 451500, 14000),
    ("os", 100, 3, 7, 500, 301, 67133, 351869, 150500, 20701),
    ("ws", 100, 3, 7, 500, 301, 138943, 351869, 150500, 14000),
    ("is", 2, 2, 1, 1, 1000, 2499, 1000, 1000, 500),
    ("os", 2, 2, 1, 1, 1000, 1001, 1000, 1000, 5),
    ("ws", 2, 2, 1, 1, 1000, 2499, 1000, 1000, 500),
    ("is", 48, 40, 96, 80, 47, 641, 4512, 11280, 7680),
    ("os", 48, 40, 96, 80, 47, 531, 9024, 7520, 8032),
    ("ws", 48, 40, 96, 80, 47, 459, 9024, 3760, 7680),
]


@pytest.mark.parametrize("df,R,C,M,N,K,cycles,ifr,flr,ofw", SCALESIM)
def test_cycles_equal_scalesim_total_cycles(df, R, C, M, N, K, cycles, ifr, flr, ofw):
    spec = load_arch("systolic", {"rows": R, "cols": C, "dataflow": df})
    report = run(lower_gemm(spec, M, N, K))
    assert report.cycles == cycles
    assert gemm_cycles(M, N, K, R, C, df) == cycles


@pytest.mark.parametrize("df,R,C,M,N,K,cycles,ifr,flr,ofw", SCALESIM)
def test_sram_accesses_equal_scalesim(df, R, C, M, N, K, cycles, ifr, flr, ofw):
    acc = sram_accesses(M, N, K, R, C, df)
    assert acc["ifmap_reads"] == ifr
    assert acc["filter_reads"] == flr
    if df == "os":
        # SCALE-Sim's os counter adds R + C per fold on top of the words its trace writes.
        folds = math.ceil(M / R) * math.ceil(N / C)
        assert acc["ofmap_writes"] + folds * (R + C) == ofw
    else:
        assert acc["ofmap_writes"] == ofw


def test_reference_examples():
    # docs/sources.md#scalesim-examples: 32 x 32, M=256, N=128, K=256, CALC mode.
    assert gemm_cycles(256, 128, 256, 32, 32, "ws") == 11199
    assert gemm_cycles(256, 128, 256, 32, 32, "os") == 10175
    assert gemm_cycles(256, 128, 256, 32, 32, "is") == 14207


def test_report_counts_macs_energy_and_utilization():
    spec = load_arch("systolic", {"rows": 7, "cols": 13, "dataflow": "ws"})
    M, N, K = 33, 65, 20
    r = run(lower_gemm(spec, M, N, K))
    assert r.actions[("array", "mac")] == M * N * K
    assert r.utilization["array"] == pytest.approx(M * N * K / (7 * 13 * 869))
    # Energy by hand from the preset's figures (0.3 pJ per MAC, 5 pJ per 1-byte SRAM access,
    # 640 pJ per 4-byte DRAM access) and the SCALE-Sim access counts of this point.
    sram = 3300 + 1300 + 6435
    dram_bytes = M * K + K * N + M * N
    assert r.energy_pj == pytest.approx(M * N * K * 0.3 + sram * 5.0 + dram_bytes * 160.0)
    assert r.dram_bytes == dram_bytes


def test_bad_dimensions_name_the_rank():
    spec = load_arch("systolic")
    with pytest.raises(WorkloadError, match=r"^gemm: 'M' must be a positive integer, not 0$"):
        lower_gemm(spec, 0, 4, 4)
    with pytest.raises(SpecError, match=r"^dataflow: must be one of os, ws, is, not 'xs'$"):
        gemm_cycles(4, 4, 4, 2, 2, "xs")


def test_spec_without_operand_srams_is_refused():
    spec = load_arch("fusemax")
    with pytest.raises(SpecError) as err:
        lower_gemm(spec, 4, 4, 4, unit="pe2d", dataflow="os")
    assert "storage.ifmap_sram: missing storage level" in str(err.value)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_dram_limited_mode_is_a_roofline(df):
    M, N, K = 256, 128, 256
    calc = gemm_cycles(M, N, K, 16, 16, df)
    for gbps in (0.01, 1, 10, 1e3, 1e6):
        spec = load_arch("systolic", {"dram_gbps": gbps, "rows": 16, "cols": 16, "dataflow": df})
        limited = run(lower_gemm(spec, M, N, K, dram_limited=True))
        free = run(lower_gemm(spec, M, N, K))
        dram_cycles = (M * K + K * N + M * N) / spec.dram.bw_bytes_per_cycle(spec.clock_hz)  # 1-byte words
        assert limited.energy_pj == pytest.approx(free.energy_pj)  # same actions, only timing differs
        assert limited.dram_bytes == free.dram_bytes == M * K + K * N + M * N
        assert limited.cycles >= max(calc, dram_cycles)
        if gbps <= 0.01:  # starved: the time is the traffic over the bandwidth
            assert limited.cycles == pytest.approx(dram_cycles, rel=0.01)
        if gbps >= 1e3:  # unlimited in effect: SCALE-Sim's CALC figure, plus the first load
            assert limited.cycles - calc <= 1
