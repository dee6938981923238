"""Caches that cannot go stale: the timing key and the trusted constructors.

Both engines keep results per :meth:`Phase.timing_key`, which is built from the :class:`Task`
fields marked as timing fields. These tests hold that split to the engines themselves:

* every field of :class:`Task` is classified here as timing or not; a field added later fails
  until it is classified;
* perturbing any non-timing field of any task of a random pipeline changes neither engine's
  cycles nor the key (so the key may ignore it); perturbing a timing field changes the key;
* :meth:`Task.trusted`, :meth:`Task.derive` and :meth:`Phase.trusted` build exactly what the
  validating constructors build from the same arguments.
"""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import analytical, des
from sim.taskgraph import TIMING_FIELDS, Dep, Phase, Task, TaskGraph

from .test_maxplus import UNITS, pipelines

#: Fields that only count (actions, energy, utilization) or are checked against capacity; each
#: with a strategy that perturbs it.
NON_TIMING = {
    "actions": st.dictionaries(st.sampled_from([("dram", "read"), ("pe2d", "mac")]), st.integers(0, 10 ** 6)),
    "energy_pj": st.dictionaries(st.sampled_from([("dram", "read"), ("pe2d", "mac")]),
                                 st.floats(0, 1e6, allow_nan=False)),
    "active_pe_cycles": st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),
    "holds": st.dictionaries(st.just("glb"), st.integers(0, 64)),
}
TIMING = {"name", "unit", "cycles", "latency", "deps", "every", "offset"}


def test_every_task_field_is_classified():
    assert {f.name for f in dataclasses.fields(Task)} == TIMING | set(NON_TIMING)
    assert set(TIMING_FIELDS) == TIMING


def _cycles(phase):
    graph = TaskGraph((phase,), UNITS, clock_hz=1e9, buffers={"glb": 1 << 20})
    return analytical.run(graph).cycles, des.run(graph).cycles


@settings(max_examples=60, deadline=None)
@given(st.data(), pipelines(max_iterations=200))
def test_non_timing_fields_change_no_cycles(data, phase):
    before = _cycles(phase)
    k = data.draw(st.integers(0, len(phase.tasks) - 1))
    name = data.draw(st.sampled_from(sorted(NON_TIMING)))
    tasks = list(phase.tasks)
    tasks[k] = dataclasses.replace(tasks[k], **{name: data.draw(NON_TIMING[name])})
    changed = Phase(phase.name, tuple(tasks), phase.iterations)
    assert changed.timing_key() == phase.timing_key()
    assert _cycles(changed) == before


@settings(max_examples=60, deadline=None)
@given(st.data(), pipelines(max_iterations=200))
def test_timing_fields_change_the_key(data, phase):
    k = data.draw(st.integers(0, len(phase.tasks) - 1))
    t = phase.tasks[k]
    name = data.draw(st.sampled_from(sorted(TIMING - {"name", "deps", "every", "offset"})))
    new = {"unit": next(u for u in sorted(UNITS) if u != t.unit), "cycles": t.cycles + 1,
           "latency": t.latency + 1}[name]
    tasks = list(phase.tasks)
    tasks[k] = dataclasses.replace(t, **{name: new})
    assert Phase(phase.name, tuple(tasks), phase.iterations).timing_key() != phase.timing_key()


def _state(obj):
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@settings(max_examples=100, deadline=None)
@given(name=st.text(min_size=1, max_size=4), unit=st.sampled_from(sorted(UNITS)), cycles=st.integers(0, 100),
       latency=st.integers(0, 100), actions=NON_TIMING["actions"], energy=NON_TIMING["energy_pj"],
       active=NON_TIMING["active_pe_cycles"], every=st.integers(1, 4), data=st.data())
def test_trusted_constructors_build_what_the_checked_ones_build(name, unit, cycles, latency, actions, energy,
                                                                  active, every, data):
    checked = Task(name, unit, cycles, latency=latency, actions=actions, energy_pj=energy,
                   active_pe_cycles=active)
    trusted = Task.trusted(name, unit, cycles, latency, checked.actions, checked.energy_pj, active)
    assert _state(trusted) == _state(checked)
    offset = data.draw(st.integers(0, every - 1))
    deps = (Dep("other", 1),)
    assert _state(trusted.derive(deps, every, offset)) == _state(
        Task(name, unit, cycles, latency=latency, deps=deps, actions=actions, energy_pj=energy,
             active_pe_cycles=active, every=every, offset=offset))
    other = Task("other", unit, 1)
    tasks = (trusted.derive(deps, every, offset), other) if name != "other" else (other,)
    assert _state(Phase.trusted("p", tasks, 5)) == _state(Phase("p", tasks, 5))
