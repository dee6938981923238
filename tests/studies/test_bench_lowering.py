"""``python -m studies.bench_lowering``: its flags, its table, and the swap of packages that
times a reference checkout in the same process."""

import sys

import pytest

from studies import bench_lowering


def test_prints_a_row_per_rung(capsys):
    assert bench_lowering.main(["--configs", "fusemax", "--repeat", "1"]) == 0
    head, row = capsys.readouterr().out.splitlines()
    assert head.split() == ["config", "files", "ms", "calls"]
    assert row.split()[0] == "fusemax" and float(row.split()[1]) > 0 and float(row.split()[2]) > 0


def test_first_lowers_each_point_after_forgetting(monkeypatch, capsys):
    # --first: before every timed point, every cache forgotten and the warm-up point lowered
    seen = []
    monkeypatch.setattr(bench_lowering, "forget", lambda: seen.append("forget"))
    lower, spec, workload = bench_lowering._files_path("fusemax")
    monkeypatch.setattr(bench_lowering, "_files_path",
                        lambda config: ((lambda s, wl: seen.append((wl.seq_len, wl.batch)) or lower(s, wl)), spec, workload))
    monkeypatch.setattr(bench_lowering, "points", lambda: [("bert", "1K"), ("xlm", "4K")])
    assert bench_lowering.main(["--configs", "fusemax", "--repeat", "1", "--first"]) == 0
    warm = (1024, 1)
    # per round: the round's warm-up, then each point after forgetting and the warm-up again
    assert seen == 2 * ["forget", warm, "forget", warm, (1024, 64), "forget", warm, (4096, 64)]


def test_forget_clears_what_a_lowering_keeps():
    from mappings import cascade_passes

    lower, spec, workload = bench_lowering._files_path("fusemax")
    lower(spec, workload("bert", 1024, 1))
    assert cascade_passes.passes.cache_info().currsize > 0
    bench_lowering.forget()
    assert cascade_passes.passes.cache_info().currsize == 0


@pytest.mark.parametrize("argv,message", [
    (["--configs", "flat,quick"], "--configs: 'quick' is not a rung of the ladder"),
    (["--repeat", "0"], "--repeat: must be an integer >= 1, not 0"),
    (["--ref", "/nonexistent"], "--ref: '/nonexistent' is not a checkout with sim/attention/"),
])
def test_bad_flags_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        bench_lowering.main(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_checkout_swaps_its_packages_in_and_ours_back(tmp_path):
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "__init__.py").write_text("ORIGIN = 'checkout'\n")
    import sim
    import sim.cascade  # noqa: F401  (a submodule that must come back too)

    ours = sys.modules["sim"]
    checkout = bench_lowering.Checkout(tmp_path)
    for _ in range(2):   # imported once, swapped in again
        with checkout.active():
            import sim as theirs

            assert theirs.ORIGIN == "checkout"
            assert "sim.cascade" not in sys.modules
        assert sys.modules["sim"] is ours and sim is ours
        assert sys.modules["sim.cascade"].__name__ == "sim.cascade"
    assert checkout.modules["sim"] is theirs
