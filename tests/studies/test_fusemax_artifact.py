"""The ladder's mapping files point by point against the published FuseMax artifact.

Expected values: the artifact's own per-point results, pinned unchanged in
tests/data/fusemax_artifact/ (FPSG-UIUC/micro24-fusemax-artifact at f543beb,
workspace/outputs/pregenerated/results/attn-*.csv; provenance in its SOURCES.md). Target
(issue #11): every configuration, model and length within 5% of the published latency and
10% of the published energy, on both engines.
"""

import math

import pytest

from mappings.workloads import MODELS, SEQ_LENS
from studies import fusemax_artifact as fa

LATENCY_TOLERANCE = 0.05
ENERGY_TOLERANCE = 0.10


@pytest.mark.parametrize("engine", ["analytical", "des"])
@pytest.mark.parametrize("config", fa.CONFIGS)
def test_every_point_within_tolerance_of_the_artifact(config, engine):
    rows = fa.ratios(config, engine)
    assert len(rows) == len(MODELS) * len(SEQ_LENS) == 24
    for model, L, latency, energy in rows:
        assert latency == pytest.approx(1.0, abs=LATENCY_TOLERANCE), f"{config} {model} {L} latency {latency:.3f}"
        assert energy == pytest.approx(1.0, abs=ENERGY_TOLERANCE), f"{config} {model} {L} energy {energy:.3f}"


def test_pinned_results_are_read_as_published():
    # attn-binding.csv, row "BERT,1K": latency 0.002013140425531915 s (1,892,352 cycles at
    # 940 MHz), energy 1950645149855.2659 pJ
    seconds, pj = fa.artifact("fusemax")[("bert", "1K")]
    assert seconds * 940e6 == pytest.approx(1892352) and pj == pytest.approx(1950645149855.2659)
    assert len(fa.artifact("architecture")) == 24


def test_summary_finds_the_point_furthest_from_one():
    rows = [("bert", "1K", 1.02, 0.97), ("xlm", "1M", 0.96, 1.01)]
    s = fa.summary(rows)
    assert s["latency"] == (0.96, 1.02, "xlm:1M", 0.96)
    assert s["energy"] == (0.97, 1.01, "bert:1K", 0.97)
    assert abs(math.log(0.97)) > abs(math.log(1.01))


def test_main_prints_one_row_per_config_and_engine(capsys):
    assert fa.main(["--configs", "cascade", "--models", "bert", "--seq-lens", "1K", "--engines", "analytical,des"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["config", "engine", "latency"]
    assert [r.split()[:2] for r in rows] == [["cascade", "analytical"], ["cascade", "des"]]


def test_unknown_config_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        fa.main(["--configs", "flash"])
    assert err.value.code == 2
    assert "--configs: 'flash' is not one of unfused, flat, cascade, architecture, fusemax" in capsys.readouterr().err
