"""The side-by-side script of the ladder's mapping files and the hand-written lowerings."""

import pytest

from studies import ladder_mappings


def test_main_prints_ratios_and_lowering_times(capsys):
    assert ladder_mappings.main(["--configs", "fusemax", "--models", "bert", "--seq-lens", "1K",
                                 "--engines", "analytical"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["config", "engine", "cycles"]
    config, engine, c_min, c_max, e_min, e_max, t_hand, t_map, refused = row.split()
    assert (config, engine, refused) == ("fusemax", "analytical", "-")
    # one point: min = max; the file reproduces the hand-written cycles
    assert float(c_min) == float(c_max) == pytest.approx(1.0, abs=1e-3)
    assert 1.0 <= float(e_min) <= 1.10
    assert float(t_hand) > 0 and float(t_map) > 0


def test_unknown_config_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        ladder_mappings.main(["--configs", "nope"])
    assert err.value.code == 2
    assert "--configs: 'nope' is not a shipped mapping" in capsys.readouterr().err


def test_points_a_file_cannot_run_are_listed(capsys):
    # flat.yaml holds two blocks of 64 x M scores: 2 x 64 x 256K x 2 bytes is the whole 32 MB
    # buffer at 256K tokens, so that point is refused and listed
    assert ladder_mappings.main(["--configs", "flat", "--models", "bert", "--seq-lens", "1K,256K",
                                 "--engines", "analytical"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split()[-1] == "bert:256K"
