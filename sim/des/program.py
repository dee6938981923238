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

*Taps* (``taps=True``, what the discrete-event engine asks for). A rare task that waits on a
frequent one far back (a weight panel loaded once per ``every = 262,144`` tiles that must wait
for the tile that last read the buffer it overwrites: distance ``every``) would make the
frequent task keep ``distance`` ready times. When the consumer's ``every`` is a multiple of the
producer's, every instance of the consumer awaits a producer instance at one fixed residue
modulo the consumer's ``every``; the producer's op at those iterations also appends its ready
time to a history of its own (a tap, kept a few entries deep), and the consumer reads the tap.
Same values, so the same cycles; the state the fast-forward compares stays small.
"""

from __future__ import annotations

import math

import numpy as np

from arch.errors import SimulationError
from sim.taskgraph import Phase

#: Above this super-period, programs are built on demand instead of all up front.
EAGER_PERIOD = 1 << 16
#: A dependency reaching at least this many producer instances back is read through a tap.
TAP_BACK = 16


def count_in(iterations: int, offset: int, every: int) -> int:
    """Iterations ``i < iterations`` with ``i % every == offset``."""
    return 0 if iterations <= offset else (iterations - 1 - offset) // every + 1


class _Tee:
    """A producer's history and its taps: ``append`` writes the ready time to each."""

    __slots__ = ("lists",)

    def __init__(self, lists):
        self.lists = lists

    def append(self, v):
        for hist in self.lists:
            hist.append(v)


def local_units(phase: Phase) -> dict:
    """Unit name -> index, in order of first use by ``phase``'s tasks: the units of a phase
    evaluated on its own (the closed forms of the analytical engine)."""
    units = {}
    for t in phase.tasks:
        units.setdefault(t.unit, len(units))
    return units


class PhaseProgram:
    """The compiled issue order of one phase.

    Parameters
    ----------
    phase : Phase
    unit_index : dict
        Unit name -> position in the engine's ``free`` list (cycles at which the unit is free).
    taps : bool
        Read far dependencies of rare tasks through taps (see the module docstring).

    Attributes
    ----------
    histories : list of list
        Ready cycles of each task's last instances, then of each tap's (newest last).
    depth : list of int
        Entries each history keeps.
    live_slots : list of int
        The histories of the tasks that run in the phase and of their taps: with the units'
        free cycles, the state of the phase (what fast-forward compares).
    guard_terms : list of tuple
        ``(offset, every, clip)`` per task, then ``(residue, every, 1)`` per tap: an iteration's
        program depends only on ``min((i - offset) % every, clip)`` over the terms.
    """

    def __init__(self, phase: Phase, unit_index: dict, taps: bool = False):
        self.phase = phase
        self.tasks = phase.tasks
        self.period = phase.period
        self.n = phase.iterations
        self.unit_index = unit_index
        self.task_index = {t.name: k for k, t in enumerate(self.tasks)}
        self.live_tasks = [k for k, t in enumerate(self.tasks) if t.count(self.n) > 0]
        self.units = sorted({unit_index[self.tasks[k].unit] for k in self.live_tasks})
        self._orders = {}   # live-set key -> order of task indices (checked for deadlock)
        self._raw = {}      # signature -> list of (task idx, ((dep slot, back), ...), tap slots)
        # taps: (consumer, dep position, producer, residue of the awaited iteration mod the
        # consumer's every); tap s is history slot len(tasks) + s
        self.taps = self._find_taps() if taps else []
        self._tap_of = {(k, q): len(self.tasks) + s for s, (k, q, _j, _r) in enumerate(self.taps)}
        self.histories = [[] for _ in range(len(self.tasks) + len(self.taps))]
        self.depth = [1] * len(self.histories)  # history entries each task (and tap) must keep
        self._programs = {}  # residue -> program
        self._bound = {}     # signature -> program
        # A residue's program depends on each task's position in its own guard cycle,
        # (r - offset) % every, only up to the longest distance anything waits on it.
        clip = [1] * len(self.tasks)
        for t in self.tasks:
            for d in t.deps:
                j = self.task_index[d.task]
                clip[j] = max(clip[j], d.distance)
        self.guard_terms = [(t.offset, t.every, clip[k]) for k, t in enumerate(self.tasks)]
        self.guard_terms += [(r, self.tasks[k].every, 1) for k, _q, _j, r in self.taps]
        live = set(self.live_tasks)
        #: History slots the state of the phase consists of: live tasks, then their taps.
        self.live_slots = self.live_tasks + [len(self.tasks) + s for s, t in enumerate(self.taps) if t[2] in live]
        if self.period <= EAGER_PERIOD:
            # Every residue compiled (and checked for deadlock) before anything is simulated.
            sigs = self._signatures(min(self.period, self.n))
            for r, sig in enumerate(sigs):
                if sig not in self._raw:
                    self._raw[sig] = self._compile(r)
            self._finish(enumerate(sigs))
        else:
            # Huge super-period: a safe history depth (ceil(distance / every) + 1 instances
            # back at most), programs and their deadlock check built when first issued.
            for k, t in enumerate(self.tasks):
                for q, d in enumerate(t.deps):
                    slot = self._tap_of.get((k, q))
                    j = self.task_index[d.task] if slot is None else slot
                    e = self.tasks[j].every if slot is None else t.every
                    self.depth[j] = max(self.depth[j], d.distance // e + 2)

    def _find_taps(self) -> list:
        """The dependencies read through a tap: the consumer's ``every`` a multiple of the
        producer's, and the awaited instance at least :data:`TAP_BACK` producer instances back."""
        out = []
        for k, t in enumerate(self.tasks):
            for q, d in enumerate(t.deps):
                p = self.tasks[self.task_index[d.task]]
                if t.every == p.every or t.every % p.every or d.distance // p.every < TAP_BACK:
                    continue
                # the awaited iteration of consumer instance i: i - d rounded down to an
                # iteration of the producer; the same residue modulo t.every for every i
                i = t.offset - d.distance
                out.append((k, q, self.task_index[d.task], (i - (i - p.offset) % p.every) % t.every))
        return out

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
            for q, d in enumerate(tasks[k].deps):
                j = self.task_index[d.task]
                p = tasks[j]
                before = p.count(i) + (1 if j in done_here else 0)  # instances already issued
                target = (i - d.distance - p.offset) // p.every     # index of the awaited one
                slot = self._tap_of.get((k, q))
                if slot is not None:  # the same instance, counted among the tap's entries
                    _k, _q, _j, tr = self.taps[slot - len(tasks)]
                    e = tasks[k].every
                    written = j in done_here and (i - tr) % e == 0
                    before = count_in(i, tr, e) + (1 if written else 0)
                    target = (p.offset + p.every * target - tr) // e
                    j = slot
                back = before - 1 - target
                if back < 0:
                    raise SimulationError(f"phase {self.phase.name!r}: task {tasks[k].name!r} would depend on a later instance of {p.name!r}")
                if back + 1 > self.depth[j]:
                    self.depth[j] = back + 1
                deps.append((j, back))
            done_here.add(k)
            tees = tuple(len(tasks) + s for s, (_k, _q, j, tr) in enumerate(self.taps)
                         if j == k and (i - tr) % tasks[_k].every == 0)
            out.append((k, tuple(deps), tees))
        return out

    def _signature(self, r: int) -> tuple:
        return tuple(min((r - o) % e, c) for o, e, c in self.guard_terms)

    def _signatures(self, m: int) -> list:
        """:meth:`_signature` of residues ``0 .. m-1``, evaluated on arrays (a super-period of
        tens of thousands of residues has only a few distinct signatures)."""
        if not self.guard_terms:
            return [()] * m
        radix = math.prod(c + 1 for _o, _e, c in self.guard_terms)
        if radix >= 1 << 62:   # no room for one integer code per residue
            return [self._signature(r) for r in range(m)]
        r = np.arange(m, dtype=np.int64)
        terms = [np.minimum((r - o) % e, c) for o, e, c in self.guard_terms]
        code = np.zeros(m, dtype=np.int64)
        for (_o, _e, c), t in zip(self.guard_terms, terms):  # mixed radix: one integer per signature
            code = code * (c + 1) + t
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        keys = [tuple(int(t[i]) for t in terms) for i in first.tolist()]
        return [keys[j] for j in inverse.ravel().tolist()]

    def _finish(self, sigs):
        """Bind every compiled signature and map the residues ``(r, sig)`` of ``sigs`` to them."""
        for sig, raw in self._raw.items():
            self._bound[sig] = self._bind(raw)
        for r, sig in sigs:
            self._programs[r] = self._bound[sig]

    def _bind(self, raw) -> tuple:
        tasks, h, ui = self.tasks, self.histories, self.unit_index
        ops = []
        for k, deps, tees in raw:
            t = tasks[k]
            hist = _Tee([h[k]] + [h[s] for s in tees]) if tees else h[k]
            ops.append((hist, ui[t.unit], t.cycles, t.latency,
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
