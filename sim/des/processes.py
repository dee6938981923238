"""The literal SimPy model of a task graph: one SimPy process per hardware unit.

Each unit's process walks its tasks in program order (iteration by iteration, and within an
iteration in the order of ``Phase.tasks``); before each instance it waits on the SimPy events of
the instances it depends on, then requests its unit (a ``simpy.Resource`` of capacity one,
``sim/des/resources/base.py``), holds it for ``cycles``, and triggers its own ready event
``latency`` cycles after releasing it. A phase ends when the ready events of its last instances
have fired (the barrier).

This is the model the compiled executor of ``sim/des/engine.py`` must agree with; it costs a
few SimPy events per task instance (tens of thousands of instances per second), so it has no
fast-forward and refuses graphs over its budget.
"""

from __future__ import annotations

import simpy

from arch.errors import SimulationError
from sim.des.fastforward import TRACE_LIMIT, Timeline
from sim.des.program import PhaseProgram
from sim.des.resources import make_units
from sim.report import Report, report_from_totals


def run_processes(graph, *, trace=None, budget_steps: int, timeline_limit=None) -> Report:
    """Simulate ``graph`` with one SimPy process per unit (see the module docstring)."""
    if graph.pool is not None:
        raise SimulationError("executor 'processes' has no model of pool phases; use 'compiled'")
    steps = graph.steps()
    if steps > budget_steps:
        raise SimulationError(f"the simulation needs {steps} task steps to simulate every task instance, "
                              f"over the budget of {budget_steps}; use the compiled executor with "
                              f"fast_forward=True or the analytical engine (--engine analytical)")
    env = simpy.Environment()
    units = make_units(env, graph)
    index = {name: u.index for name, u in units.items()}
    for ph in graph.phases:  # refuses deadlocks before anything runs
        PhaseProgram(ph, index)
    timeline = Timeline(TRACE_LIMIT if trace else timeline_limit)

    def phase_process(p, ph):
        tasks, n = ph.tasks, ph.iterations
        by_name = {t.name: k for k, t in enumerate(tasks)}
        ready = {}

        def event(k, q):
            ev = ready.get((k, q))
            if ev is None:
                ev = ready[(k, q)] = env.event()
            return ev

        def fire(ev):
            ev.succeed()

        def unit_process(unit, mine):
            res = units[unit]
            for i in range(n):
                for k in mine:
                    t = tasks[k]
                    if i % t.every != t.offset:
                        continue
                    for d in t.deps:
                        j = by_name[d.task]
                        q = (i - d.distance - tasks[j].offset) // tasks[j].every
                        if q >= 0:
                            ev = event(j, q)
                            if ev.callbacks is not None:  # not yet processed
                                yield ev
                    start = env.now
                    yield from res.occupy(t.cycles)
                    if timeline.room():
                        timeline.events.append((p, k, res.index, i, int(start), int(env.now)))
                    mine_ready = event(k, (i - t.offset) // t.every)
                    if t.latency:
                        env.timeout(t.latency).callbacks.append(lambda _e, ev=mine_ready: fire(ev))
                    else:
                        fire(mine_ready)

        order = {}
        for k, t in enumerate(tasks):
            order.setdefault(t.unit, []).append(k)
        procs = [env.process(unit_process(u, mine)) for u, mine in order.items()]
        yield env.all_of(procs)
        last = [event(k, t.count(n) - 1) for k, t in enumerate(tasks) if t.count(n)]
        yield env.all_of(last)

    def walk():
        for p, ph in enumerate(graph.phases):
            yield env.process(phase_process(p, ph))

    env.process(walk())
    env.run()
    names = list(units)
    if trace:
        from sim.des.trace import write_trace
        write_trace(trace, graph, timeline.events, names, timeline.truncated)
    kept = timeline.events if timeline_limit is None else timeline.events[:timeline_limit]
    rep = report_from_totals(graph, "des", int(env.now), simulated_steps=steps, extrapolated_steps=0,
                             timeline=[(names[u], graph.phases[p].tasks[k].name, s, e) for p, k, u, _i, s, e in kept])
    rep.meta["des"] = dict(executor="processes", busy_cycles_observed={n: u.busy_cycles for n, u in units.items()})
    return rep
