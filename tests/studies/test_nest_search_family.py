"""``explore --workload timeloop:problem=...`` without ``mapping=``: the hierarchy mapper searches.

The record must be the counting model's record of the mapping the mapper returns (run here
through the library, independently of the command line), carry that mapping as data, and bad
search parameters must end in one line and exit status 2.
"""

import json
from pathlib import Path

from arch.timeloop import load_timeloop_arch
from mappings.nest_mapper import as_data, search
from mappings.timeloop import read_problem
from sim.nest import evaluate
from sim.nest_bounds import NestCost
from studies.cli import main

CASE = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "02-2level-tiled"
ARCH, PROB, ERT = CASE / "2level.arch.yaml", CASE / "conv1d+oc.prob.yaml", CASE / "timeloop-model.ERT.yaml"


def test_search_record(capsys):
    assert main(["--arch", str(ARCH), "--workload", f"timeloop:problem={PROB},ert={ERT},objective=energy",
                 "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    h = load_timeloop_arch(ARCH, ERT)
    shape = read_problem(PROB)
    found = search(h, shape, NestCost(h, shape), "energy")
    want = evaluate(h, shape, found.best)
    assert rec["mapping"] == as_data(found.best)
    assert (rec["cycles"], rec["energy_pj"], rec["computes"]) == (want.cycles, want.energy_pj, 32 * 3 * 16)
    assert rec["accesses"] == want.accesses
    assert rec["search"]["objective"] == "energy" and rec["search"]["complete"] is True
    # the searched mapping is no worse than the exercise's own tiled mapping (Timeloop's
    # reference total for it: 5162.30 fJ per compute x 1536 computes, timeloop-model.stats.txt)
    assert rec["energy_pj"] <= 5162.30e-3 * 1536


def test_search_parameters_refused(capsys):
    w = f"timeloop:problem={PROB},objective=speed"
    assert main(["--arch", str(ARCH), "--workload", w]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("'objective' must be one of latency, energy, edp, not 'speed'") and "\n" not in err
    w = f"timeloop:problem={PROB},mapping={CASE / 'conv1d+oc-2level-os-tiled.map.yaml'},objective=edp"
    assert main(["--arch", str(ARCH), "--workload", w]) == 2
    assert capsys.readouterr().err.strip().endswith("'objective' is for a search; it cannot go with 'mapping'")
    w = f"timeloop:problem={PROB},time_limit=soon"
    assert main(["--arch", str(ARCH), "--workload", w]) == 2
    assert capsys.readouterr().err.strip().endswith("'time_limit' must be a positive number of seconds, not 'soon'")
