"""The discrete-event engine: a lowered task graph simulated on in-order hardware units.

In hardware terms: compute arrays, DRAM channels and buffer ports (``sim/des/resources``) each
issue their tile tasks in program order; a task starts when its unit is free and every result
it depends on is ready, occupies its unit for ``cycles`` and delivers its result ``latency``
cycles after releasing it. Contention (two tasks on one unit), loop-carried recurrences,
back-pressure from buffer slots (dependencies of distance ``k``), fill and drain all follow
from that rule. Phases are separated by barriers: a phase starts when every result of the
previous one is ready.

The engine runs on a :class:`simpy.Environment`: one SimPy process walks the phases and
advances the environment's clock to each barrier, and every unit is a SimPy resource. Inside a
phase it uses the *compiled* executor: because issue is in order, the order of all decisions is
known before simulating (``sim/des/program.py``) and each task instance costs one max-plus step
(``sim/des/issue.py``) instead of a SimPy process with resource requests; the literal SimPy
model (``sim/des/processes.py``, ``executor="processes"``) gives identical cycles and is kept as
the reference the tests compare against. Large phases are fast-forwarded exactly
(``sim/des/fastforward.py``), and identical phases (same tasks and iteration count) are
simulated once: a phase's duration does not depend on its start time.

Pool phases (tasks holding several resources at once, :mod:`sim.pool`) run in the event loop
of :mod:`sim.des.pool`, on fractional time that is rounded up to a whole cycle where a run of
pool phases ends.

Action counts and energy come from ``TaskGraph.totals()`` (``report_from_totals``), so they are
those of the analytical engine by construction.
"""

from __future__ import annotations

import math

import simpy

from arch.errors import SimulationError
from sim.des.fastforward import (TRACE_LIMIT, Budget, Timeline, periods_per_block, rare_regime,
                                 simulate_phase)
from sim.des.pool import PoolRunner
from sim.des.processes import run_processes
from sim.des.program import PhaseProgram
from sim.des.resources import BufferCapacity, make_units
from sim.report import Report, report_from_totals
from sim.pool import PoolPhase
from sim.taskgraph import TaskGraph

#: Default cap on issued task instances (simulated + verification) of one run (~10 s here).
DEFAULT_BUDGET_STEPS = 10_000_000
#: Default cap on the timeline kept in the Report.
DEFAULT_TIMELINE_LIMIT = 10_000


def phase_key(phase) -> tuple:
    """What the timing of a phase depends on (not its name, actions or energy)."""
    return phase.timing_key()


def minimum_steps(phase, fast_forward: bool, program: PhaseProgram | None = None) -> int:
    """Task instances the engine must issue at least to time ``phase`` (its compiled
    ``program``, when given, tells whether it runs between rare tasks: then at least every
    instance of a rare task is simulated)."""
    total = phase.steps()
    if not fast_forward or not phase.tasks:
        return total
    split = rare_regime(program) if program is not None else None
    if split is not None:
        return sum(t.count(phase.iterations) for t in phase.tasks if split[0] % t.every)
    P = phase.period
    per_block = periods_per_block(P)
    per_period = sum(P // t.every for t in phase.tasks)
    return min(total, 2 * per_block * per_period)


def _compile(graph: TaskGraph, unit_index: dict, fast_forward: bool, budget_steps: int) -> dict:
    """Before simulating: every distinct phase compiled (deadlocks refused) by timing key, and
    the budget checked (:class:`SimulationError` when the run would need more steps)."""
    programs, need = {}, 0
    for ph in graph.phases:
        if isinstance(ph, PoolPhase):   # every task simulated, once
            need += ph.steps()
            continue
        key = phase_key(ph)
        if key not in programs:
            programs[key] = PhaseProgram(ph, unit_index, taps=True)
            need += minimum_steps(ph, fast_forward, programs[key])
        elif not fast_forward:
            need += ph.steps()
    if need > budget_steps:
        what = ("even with fast-forward (two blocks of whole super-periods per distinct phase)" if fast_forward
                else "to simulate every task instance")
        hint = "raise budget_steps or use the analytical engine (--engine analytical)" if fast_forward else \
            "use fast_forward=True or the analytical engine (--engine analytical)"
        raise SimulationError(f"the simulation needs {need} task steps {what}, over the budget of "
                              f"{budget_steps}; {hint}")
    return programs


def _report(graph, cycles, names, timeline, timeline_limit, trace, details, totals, buffers, pool) -> Report:
    """The Report of a finished run (and the trace file, when asked for)."""
    kept = timeline.events if timeline_limit is None else timeline.events[:timeline_limit]
    timeline_out = [(names[u], graph.phases[p].tasks[k].name, s, e) for p, k, u, _i, s, e in kept]
    if trace:
        from sim.des.trace import write_trace
        write_trace(trace, graph, timeline.events, names, timeline.truncated, pool=pool)
    meta_des = dict(phases=details, verified_steps=totals["verified"], timeline_truncated=timeline.truncated or len(kept) < len(timeline.events),
                    buffer_peak_bytes={b: buf.peak_bytes for b, buf in buffers.items()})
    rep = report_from_totals(graph, "des", cycles, simulated_steps=totals["simulated"],
                             extrapolated_steps=totals["extrapolated"], timeline=timeline_out)
    rep.meta["des"] = meta_des
    if pool is not None:
        rep.meta["pool"] = pool.summary()
    return rep


def _pool_step(env, pool, ph, clock, totals, details):
    """Run pool phase ``ph`` from the exact time ``clock[0]`` (fractional cycles) and move the
    SimPy clock to its barrier."""
    t0 = clock[0]
    clock[0] = pool.run(ph, t0)
    totals["simulated"] += ph.steps()
    details.append(dict(phase=ph.name, start=t0, cycles=clock[0] - t0, simulated_steps=ph.steps()))
    yield env.timeout(max(0.0, clock[0] - env.now))


def run(graph: TaskGraph, *, trace: str | None = None, fast_forward: bool = True,
        budget_steps: int = DEFAULT_BUDGET_STEPS, timeline_limit: int | None = DEFAULT_TIMELINE_LIMIT,
        executor: str = "compiled") -> Report:
    """Simulate a lowered task graph; return its Report.

    Parameters
    ----------
    graph : TaskGraph
    trace : str, optional
        Path of a Chrome-trace JSON to write (the simulated part, one track per unit; at most
        ``TRACE_LIMIT`` task instances, the first simulated).
    fast_forward : bool
        Extrapolate each phase once its schedule repeats (exact; see ``fastforward.py``).
    budget_steps : int
        Most task instances the engine may issue; a run that would need more is refused with
        :class:`SimulationError` (before running when that is known in advance).
    timeline_limit : int or None
        Most timeline entries kept in ``Report.timeline`` (None: all simulated ones).
    executor : {"compiled", "processes"}
        ``processes`` runs the literal SimPy model (one process per unit; slow, no
        fast-forward); both give the same cycles.

    Returns
    -------
    Report
        ``engine="des"``; ``cycles`` (integer) includes ``graph.offset_cycles``;
        ``simulated_steps + extrapolated_steps == graph.steps()``; ``timeline`` lists
        ``(unit, task, start_cycle, end_cycle)``; ``meta["des"]`` has per-phase details.
    """
    if executor not in ("compiled", "processes"):
        raise SimulationError(f"'executor' must be 'compiled' or 'processes', not {executor!r}")
    if int(budget_steps) != budget_steps or budget_steps < 1:
        raise SimulationError(f"'budget_steps' must be a positive integer, not {budget_steps!r}")
    if executor == "processes":
        return run_processes(graph, trace=trace, budget_steps=budget_steps, timeline_limit=timeline_limit)
    env = simpy.Environment()
    units = make_units(env, graph)
    buffers = {b: BufferCapacity(env, b, size) for b, size in graph.buffers.items()}
    unit_index = {name: u.index for name, u in units.items()}
    programs = _compile(graph, unit_index, fast_forward, budget_steps)
    budget = Budget(budget_steps)
    timeline = Timeline(TRACE_LIMIT if trace else timeline_limit)
    free = [0] * len(units)
    done, details = {}, []
    totals = dict(simulated=0, extrapolated=0, verified=0)
    pool = PoolRunner(graph, trace=bool(trace)) if graph.pool is not None else None
    clock = [0.0]   # exact time; pool phases end at fractional cycles

    def walk():
        for p, ph in enumerate(graph.phases):
            if isinstance(ph, PoolPhase):
                yield from _pool_step(env, pool, ph, clock, totals, details)
                continue
            clock[0] = math.ceil(clock[0])   # an ordinary phase starts on a whole cycle
            yield env.timeout(max(0.0, clock[0] - env.now))
            key = phase_key(ph)
            t0 = int(clock[0])
            if fast_forward and key in done:  # the same phase again: same duration, nothing simulated
                dur, _ = done[key]
                totals["extrapolated"] += ph.steps()
                details.append(dict(phase=ph.name, start=t0, cycles=dur, repeat_of=done[key][1]))
            else:
                res = simulate_phase(programs[key], free, t0, budget, timeline, p, fast_forward)
                dur = res["end"] - t0
                done[key] = (dur, ph.name)
                totals["simulated"] += res["simulated_steps"]
                totals["extrapolated"] += res["extrapolated_steps"]
                totals["verified"] += res["verified_steps"]
                details.append(dict(phase=ph.name, start=t0, cycles=dur, simulated_steps=res["simulated_steps"],
                                    extrapolated_steps=res["extrapolated_steps"], regime=res["regime"]))
            for buf in buffers.values():
                env.process(buf.hold(ph, dur))
            clock[0] = t0 + dur
            yield env.timeout(dur)

    env.process(walk())
    env.run()
    cycles = math.ceil(clock[0])

    return _report(graph, cycles, list(units), timeline, timeline_limit, trace, details, totals, buffers, pool)
