"""The ``mmfree`` family on the explore protocol."""

import pytest

from arch.errors import AccelError
from studies.families import mmfree


def test_record_has_tokens_per_second_energy_and_power():
    rec = mmfree.evaluate("mmfree", {"model": "370M", "lanes": "16", "clock_mhz": "60"}, "analytical")
    assert rec["workload"] == "mmfree" and rec["model"] == "370M" and rec["lanes"] == 16
    assert rec["tokens_per_s"] == pytest.approx(60e6 / rec["cycles"])
    assert rec["energy_per_token_pj"] == pytest.approx(rec["energy_pj"])
    assert rec["power_w"] == pytest.approx(rec["energy_pj"] * 1e-12 * rec["tokens_per_s"])
    assert rec["weights"] == 308_281_344
    assert set(rec["utilization"]) == {"dram", "ternary", "vector"}


def test_des_is_never_faster_and_agrees_on_energy():
    a = mmfree.evaluate("mmfree", {"model": "370M", "layers": "2"}, "analytical")
    d = mmfree.evaluate("mmfree", {"model": "370M", "layers": "2"}, "des")
    assert d["cycles"] >= a["cycles"]
    assert d["energy_pj"] == pytest.approx(a["energy_pj"])


def test_defaults_are_the_three_published_sizes():
    assert [p["model"] for p in mmfree.DEFAULTS] == ["370M", "1.3B", "2.7B"]
    assert {"lanes", "clock_mhz", "model", "tokens"} <= mmfree.WORKLOAD_KEYS


@pytest.mark.parametrize("params, message", [
    ({"model": "370M", "lanez": "4"}, "mmfree: unknown parameter 'lanez'"),
    ({"model": "9B"}, "mmfree: 'model' must be one of 370M, 1.3B, 2.7B, not '9B'"),
    ({"model": "370M", "tokens": "-1"}, "mmfree: 'tokens' must be a positive integer, not '-1'"),
])
def test_bad_parameters(params, message):
    with pytest.raises(AccelError) as e:
        mmfree.evaluate("mmfree", params, "analytical")
    assert str(e.value).startswith(message)


def test_refuses_a_spec_of_another_kind():
    with pytest.raises(AccelError, match="^mmfree: 'arch' must be a spec of kind mmfree, not 'piuma'"):
        mmfree.evaluate("piuma", {"model": "370M"}, "analytical")
