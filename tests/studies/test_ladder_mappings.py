"""The side-by-side script of the ladder's mapping files and the hand-written lowerings."""

import pytest

from studies import ladder_mappings


def test_main_prints_ratios_and_lowering_times(capsys):
    assert ladder_mappings.main(["--configs", "fusemax", "--models", "bert", "--seq-lens", "1K",
                                 "--engines", "analytical"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["config", "engine", "cycles"]
    config, engine, c_min, c_max, e_min, e_max, t_hand, t_map = row.split()
    assert (config, engine) == ("fusemax", "analytical")
    # one point: min = max; the file reproduces the hand-written cycles
    assert float(c_min) == float(c_max) == pytest.approx(1.0, abs=1e-3)
    assert 1.0 <= float(e_min) <= 1.10
    assert float(t_hand) > 0 and float(t_map) > 0


def test_unknown_config_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        ladder_mappings.main(["--configs", "flat"])
    assert err.value.code == 2
    assert "--configs: 'flat' is not a shipped mapping" in capsys.readouterr().err
