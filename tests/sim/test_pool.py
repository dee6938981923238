"""Pool phases and the pool layout in the task graph: validation, read-only columns, totals."""

import numpy as np
import pytest

from arch.errors import SimulationError
from sim.pool import PoolLayout, PoolPhase, TokenQueue
from sim.taskgraph import Phase, Task, TaskGraph

UNITS = {"issue": 2, "port": 1}


def layout(workers=3):
    """Three workers: 0 and 1 share issue slot 0, worker 2 has slot 1; one port for all."""
    return PoolLayout(roles=("issue", "port"), instance_of=[[0, 0, 1][:workers], [0] * workers],
                      rank=list(range(workers)), group_of=[0] * workers, group_names=("core 0",),
                      worker_names=tuple(f"w{k}" for k in range(workers)))


def phase(**kw):
    args = dict(latency=[1.0, 2.0], occupancy={"issue": [3.0, 4.0]}, spread={"port": [1.0, 0.5]}, work=[2.0, 0.0],
                owner=[0, 2], actions={("issue", "op"): 7.0}, energy_pj={("issue", "op"): 14.0})
    args.update(kw)
    return PoolPhase("p", **args)


def test_totals_count_actions_energy_and_busy_cycles():
    q = TokenQueue(wait_cycles=10.0, role="port", instance=0, cycles=0.25)
    ph2 = phase(owner=None, queue=q)
    ordinary = Phase("o", (Task("t", "issue", 5, actions={("issue", "op"): 1}),), 2)
    g = TaskGraph((phase(), ordinary, ph2), UNITS, clock_hz=1e9, pool=layout())
    actions, energy, busy, active = g.totals()
    assert actions == {("issue", "op"): 7.0 + 2 + 7.0} and energy == {("issue", "op"): 28.0}
    # issue: 3 + 4 in each pool phase, 2 x 5 ordinary; port: 1.5 spread in each, 2 tokens of 0.25
    assert busy == {"issue": 7 + 10 + 7, "port": 1.5 + 1.5 + 0.5}
    assert active["port"] == busy["port"] and g.steps() == 2 + 2 + 2


def test_columns_are_read_only():
    ph = phase()
    with pytest.raises(ValueError):
        ph.latency[0] = 5.0
    with pytest.raises(ValueError):
        ph.occupancy["issue"][0] = 5.0
    with pytest.raises(TypeError):
        ph.occupancy["port"] = np.zeros(2)


@pytest.mark.parametrize("kw, message", [
    (dict(latency=[1.0, -2.0]), r"^pool phase 'p': 'latency' must hold finite non-negative numbers$"),
    (dict(occupancy={"issue": [1.0]}), r"^pool phase 'p': 'occupancy\[issue\]' must be a column of 2 entries, not shape \(1,\)$"),
    (dict(queue=TokenQueue(1.0, "port", 0, 1.0)), r"^pool phase 'p': give exactly one of 'owner' \(static\) and 'queue' \(dynamic\)$"),
    (dict(owner=[0, -1]), r"^pool phase 'p': 'owner' must be 2 non-negative worker numbers$"),
])
def test_bad_phase_is_refused(kw, message):
    with pytest.raises(SimulationError, match=message):
        phase(**kw)


@pytest.mark.parametrize("make, message", [
    (lambda: TaskGraph((phase(),), UNITS, 1e9), r"^pool phase 'p': the graph declares no pool layout \('pool'\)$"),
    (lambda: TaskGraph((phase(owner=[0, 3]),), UNITS, 1e9, pool=layout()), r"^pool phase 'p': 'owner' names worker 3 of 3$"),
    (lambda: TaskGraph((phase(occupancy={"dram": [1.0, 1.0]}),), {**UNITS, "dram": 1}, 1e9, pool=layout()),
     r"^pool phase 'p': occupies 'dram', not a role of the pool layout$"),
    (lambda: TaskGraph((), {"issue": 1, "port": 1}, 1e9, pool=layout()), r"^pool layout: instances of 'issue' must lie in \[0, 1\)$"),
    (lambda: TaskGraph((), {"issue": 2}, 1e9, pool=layout()), r"^pool layout: role 'port' is not a unit of the graph$"),
    (lambda: TaskGraph((phase(owner=None, queue=TokenQueue(1.0, "port", 1, 1.0)),), UNITS, 1e9, pool=layout()),
     r"^pool phase 'p': the queue is served by 'port' instance 1, not an instance of a role$"),
])
def test_bad_graph_is_refused(make, message):
    with pytest.raises(SimulationError, match=message):
        make()


def test_bad_queue_is_refused():
    with pytest.raises(SimulationError, match=r"^token queue: 'cycles' must be a finite non-negative number of cycles, not -1.0$"):
        TokenQueue(wait_cycles=1.0, role="port", instance=0, cycles=-1.0)


def test_bad_layout_is_refused():
    with pytest.raises(SimulationError, match=r"^pool layout: 'rank' must be a permutation of the workers$"):
        PoolLayout(roles=("issue",), instance_of=[[0, 0]], rank=[0, 0], group_of=[0, 0], group_names=("c",),
                   worker_names=("a", "b"))
    with pytest.raises(SimulationError, match=r"^pool layout: 'instance_of' must have shape \(1, 2\)"):
        PoolLayout(roles=("issue",), instance_of=[[0]], rank=[0, 1], group_of=[0, 0], group_names=("c",),
                   worker_names=("a", "b"))
