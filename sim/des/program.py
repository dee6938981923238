"""Compiling one phase into issue programs: the order in which the hardware's in-order units
issue their tile tasks, iteration by iteration.

Every unit issues its tasks in program order (``sim/taskgraph.py``), so the only freedom a
discrete-event simulation has is *when* each instance starts: as soon as its unit is free and
every instance it depends on has delivered its result. The order in which the instances can be
decided is therefore fixed in advance. This module computes it once per phase:

* for every residue ``r`` of the iteration modulo the super-period ``P`` (lcm of ``every``),
  the tasks that run, in an order that respects both the same-iteration data dependencies and
  each unit's program order (a topological order; none exists when a unit would wait on a task
  queued behind it on the same unit: a deadlock, refused here before simulation);
* for every dependency of every op, *how many instances back* in the producer's history its
  target lies. In the steady state that number depends only on ``r``, never on the super-period
  index, which is what lets one compiled program serve all ``10^9`` iterations of a phase and
  what makes its timing a time-invariant max-plus system (the basis of fast-forward).

Residues with the same *signature* (each task's position ``(r - offset) % every`` in its guard
cycle, clipped at the longest distance anything waits on that task) have the same program, so
a super-period of 4096 with a prologue and an epilogue compiles to a handful of programs.

An op is ``(history, unit index, cycles, latency, deps, task index)`` with ``deps`` a tuple of
``(producer history, negative index)``; a history is a Python list of the producer's
result-ready times (cycles), newest last, pre-filled with the phase start so that a dependency
on an instance before the first one (a met dependency) reads the phase start.
"""

from __future__ import annotations

from arch.errors import SimulationError
from sim.taskgraph import Phase

#: Above this super-period, programs are built on demand instead of all up front.
EAGER_PERIOD = 1 << 16


class PhaseProgram:
    """The compiled issue order of one phase.

    Parameters
    ----------
    phase : Phase
    unit_index : dict
        Unit name -> position in the engine's ``free`` list (cycles at which the unit is free).
    """

    def __init__(self, phase: Phase, unit_index: dict):
        self.phase = phase
        self.tasks = phase.tasks
        self.period = phase.period
        self.n = phase.iterations
        self.unit_index = unit_index
        self.task_index = {t.name: k for k, t in enumerate(self.tasks)}
        self.live_tasks = [k for k, t in enumerate(self.tasks) if t.count(self.n) > 0]
        self.units = sorted({unit_index[self.tasks[k].unit] for k in self.live_tasks})
        self.histories = [[] for _ in self.tasks]
        self._orders = {}   # live-set key -> order of task indices (checked for deadlock)
        self._raw = {}      # signature -> list of (task idx, ((dep task idx, back), ...))
        self.depth = [1] * len(self.tasks)  # history entries each task must keep
        self._programs = {}  # residue -> program
        self._bound = {}     # signature -> program
        # A residue's program depends on each task's position in its own guard cycle,
        # (r - offset) % every, only up to the longest distance anything waits on it.
        clip = [1] * len(self.tasks)
        for t in self.tasks:
            for d in t.deps:
                j = self.task_index[d.task]
                clip[j] = max(clip[j], d.distance)
        self._sig_terms = [(t.offset, t.every, clip[k]) for k, t in enumerate(self.tasks)]
        if self.period <= EAGER_PERIOD:
            # Every residue compiled (and checked for deadlock) before anything is simulated.
            sigs = {}
            for r in range(min(self.period, self.n)):
                sig = self._signature(r)
                sigs[r] = sig
                if sig not in self._raw:
                    self._raw[sig] = self._compile(r)
            self._finish(sigs)
        else:
            # Huge super-period: a safe history depth (ceil(distance / every) + 1 instances
            # back at most), programs and their deadlock check built when first issued.
            for t in self.tasks:
                for d in t.deps:
                    j = self.task_index[d.task]
                    self.depth[j] = max(self.depth[j], d.distance // self.tasks[j].every + 2)

    # ----------------------------------------------------------------------------- compiling
    def _live(self, r: int) -> tuple:
        return tuple(k for k, t in enumerate(self.tasks) if r % t.every == t.offset)

    def _order(self, live: tuple) -> list:
        """Topological order of one iteration's tasks (deps of distance 0 and unit order)."""
        order = self._orders.get(live)
        if order is not None:
            return order
        tasks = self.tasks
        live_set = set(live)
        succ = {k: [] for k in live}
        indeg = {k: 0 for k in live}
        last_on_unit = {}
        for k in live:  # program order on every unit: previous task of the unit -> k
            u = tasks[k].unit
            if u in last_on_unit:
                succ[last_on_unit[u]].append(k)
                indeg[k] += 1
            last_on_unit[u] = k
            for d in tasks[k].deps:
                j = self.task_index[d.task]
                if d.distance == 0 and j in live_set:
                    succ[j].append(k)
                    indeg[k] += 1
        ready = [k for k in live if indeg[k] == 0]
        order = []
        while ready:
            k = min(ready)  # stable: program order among the ready ones
            ready.remove(k)
            order.append(k)
            for s in succ[k]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
        if len(order) != len(live):
            stuck = [tasks[k].name for k in live if k not in order]
            raise SimulationError(
                f"phase {self.phase.name!r}: deadlock, a unit would wait on a task queued behind "
                f"it in its own program order (same-iteration dependencies and unit order form a "
                f"cycle among {stuck}); reorder Phase.tasks or change the binding")
        self._orders[live] = order
        return order

    def _compile(self, r: int) -> list:
        """Ops of residue ``r`` with the steady-state 'instances back' of every dependency."""
        tasks = self.tasks
        big = self.period * (2 + max((d.distance for t in tasks for d in t.deps), default=0) // self.period + 1)
        i = big + r  # an iteration far from the phase start with residue r
        done_here = set()
        out = []
        for k in self._order(self._live(r)):
            deps = []
            for d in tasks[k].deps:
                j = self.task_index[d.task]
                p = tasks[j]
                before = p.count(i) + (1 if j in done_here else 0)  # instances already issued
                target = (i - d.distance - p.offset) // p.every     # index of the awaited one
                back = before - 1 - target
                if back < 0:
                    raise SimulationError(f"phase {self.phase.name!r}: task {tasks[k].name!r} would depend on a later instance of {p.name!r}")
                if back + 1 > self.depth[j]:
                    self.depth[j] = back + 1
                deps.append((j, back))
            done_here.add(k)
            out.append((k, tuple(deps)))
        return out

    def _signature(self, r: int) -> tuple:
        return tuple(min((r - o) % e, c) for o, e, c in self._sig_terms)

    def _finish(self, sigs):
        for sig, raw in self._raw.items():
            self._bound[sig] = self._bind(raw)
        for r, sig in sigs.items():
            self._programs[r] = self._bound[sig]

    def _bind(self, raw) -> tuple:
        tasks, h, ui = self.tasks, self.histories, self.unit_index
        ops = []
        for k, deps in raw:
            t = tasks[k]
            ops.append((h[k], ui[t.unit], t.cycles, t.latency,
                        tuple((h[j], -1 - back) for j, back in deps), k))
        return tuple(ops)

    def program(self, r: int) -> tuple:
        """The ops of an iteration with residue ``r`` (built on demand for huge periods)."""
        prog = self._programs.get(r)
        if prog is None:
            sig = self._signature(r)
            prog = self._bound.get(sig)
            if prog is None:
                prog = self._bound[sig] = self._bind(self._compile(r))
            if len(self._programs) < EAGER_PERIOD:
                self._programs[r] = prog
        return prog

    def programs(self, start: int, stop: int):
        """Programs of iterations ``start .. stop-1`` in order."""
        P = self.period
        for i in range(start, stop):
            yield self.program(i % P)

    def ops_per_period(self) -> int:
        """Task instances in one super-period."""
        return sum(self.period // self.tasks[k].every for k in range(len(self.tasks)))

    def reset(self, t0: int):
        """Empty every history and pre-fill it with the phase start ``t0``."""
        for k, hist in enumerate(self.histories):
            hist[:] = [t0] * self.depth[k]

    def trim(self):
        """Drop history entries no dependency can reach any more."""
        for k, hist in enumerate(self.histories):
            d = self.depth[k]
            if len(hist) > d:
                del hist[:-d]
