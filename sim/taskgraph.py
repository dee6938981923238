"""The lowered task graph: what both cost engines consume.

A mapped workload is lowered once into a :class:`TaskGraph`. Hardware terms: every
:class:`Task` is one tile-level step executed by one *unit* (a compute array, a DRAM channel,
a buffer port): it occupies that unit for ``cycles`` cycles, its result becomes visible
``latency`` cycles after the unit is released (pipeline depth, DRAM latency), and it performs
``actions`` (component, action) -> count, costing ``energy_pj`` (component, action) -> pJ.

Loops are kept folded so that a problem of 10^10 tile steps stays a few dozen objects: a
:class:`Phase` is a loop body of tasks repeated ``iterations`` times. A task may run only in
some iterations (``every``/``offset``: it runs in iteration ``i`` when ``i % every == offset``),
which expresses prologues and epilogues of an inner loop (load Q at the first m1 step, divide at
the last one) inside one flat periodic body. Phases run one after the other: a phase starts
when every task of the previous one has finished (a barrier).

Dependencies name a task of the same phase and an iteration *distance*: instance ``i`` of the
dependent waits for the latest instance of ``task`` whose iteration is ``<= i - distance``
(no such instance: the dependency is met). Distance 0 is a same-iteration data dependency,
distance 1 a loop-carried one (a running max), distance ``k`` a buffer of ``k`` slots (the
load of tile ``i`` waits until the compute of tile ``i - k`` has freed its slot: double
buffering is ``k = 2``).

Every unit executes its tasks in program order (iteration by iteration, and within an
iteration in the order of ``Phase.tasks``); this in-order issue makes the timing a max-plus
linear system, which is what lets the discrete-event engine fast-forward exactly once the
schedule of one super-period (the least common multiple of the ``every`` values) repeats.

A :class:`~sim.pool.PoolPhase` is the other kind of phase: tasks that hold several resources
at once (a thread's pipeline, its core's scratchpad ports and atomic unit, the DRAM channel),
taken by a pool of workers whose layout the graph declares once (``TaskGraph.pool``); see
:mod:`sim.pool`. It is separated from its neighbours by the same barriers.

Conventions: cycles are integers; ``offset_cycles`` is a constant added to the total by a
documented convention (SCALE-Sim's "Total Cycles" counts one cycle less than the sum of its
folds, for example).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Mapping, NamedTuple

from arch.errors import MappingError, SimulationError
from sim.pool import PoolLayout, PoolPhase

ActionKey = tuple  # (component, action), e.g. ("pe2d", "mac"), ("dram", "read")
_NO_HOLDS = MappingProxyType({})


class Dep(NamedTuple):
    """Instance ``i`` waits for the latest instance of ``task`` at iteration ``<= i - distance``
    (immutable; hashed as the pair, as the engines key phases on their tasks' dependencies)."""

    task: str
    distance: int = 0


#: Metadata of the :class:`Task` fields the timing of a phase depends on.
TIMING = MappingProxyType({"timing": True})


@dataclass(frozen=True)
class Task:
    """One tile-level step on one unit, per loop iteration in which it runs.

    Attributes
    ----------
    name : str
        Unique within its phase.
    unit : str
        The unit it occupies (a key of ``TaskGraph.units``).
    cycles : int
        Cycles the unit is occupied by one instance.
    latency : int
        Cycles after the unit is released until dependents may start (pipeline depth).
    deps : tuple of Dep
    actions : mapping (component, action) -> count, per instance
    energy_pj : mapping (component, action) -> pJ, per instance
    active_pe_cycles : float or None
        Useful PE-cycles of one instance (for utilization); None means the whole unit is busy
        for ``cycles`` (``unit PEs * cycles``).
    every, offset : int
        The task runs in iteration ``i`` when ``i % every == offset``.
    holds : mapping buffer -> bytes
        Bytes this task's tiles keep resident in an on-chip buffer (all of its slots, e.g. two
        tiles for a double-buffered load) while the phase runs; checked against
        ``TaskGraph.buffers``. Empty by default (no capacity accounting).
    """

    # Fields marked TIMING decide when instances start and end: they make Phase.timing_key().
    name: str = field(metadata=TIMING)
    unit: str = field(metadata=TIMING)
    cycles: int = field(metadata=TIMING)
    latency: int = field(default=0, metadata=TIMING)
    deps: tuple = field(default=(), metadata=TIMING)
    actions: Mapping = field(default_factory=dict)
    energy_pj: Mapping = field(default_factory=dict)
    active_pe_cycles: float | None = None
    every: int = field(default=1, metadata=TIMING)
    offset: int = field(default=0, metadata=TIMING)
    holds: Mapping = field(default_factory=dict)

    def __post_init__(self):
        d = self.__dict__  # frozen: fields are normalised in place, once
        c, lat = self.cycles, self.latency
        if type(c) is not int or c < 0:
            if int(c) != c or c < 0:
                raise SimulationError(f"task {self.name!r}: 'cycles' must be a non-negative integer, not {c!r}")
            d["cycles"] = int(c)
        if type(lat) is not int or lat < 0:
            if int(lat) != lat or lat < 0:
                raise SimulationError(f"task {self.name!r}: 'latency' must be a non-negative integer, not {lat!r}")
            d["latency"] = int(lat)
        if self.every < 1 or not 0 <= self.offset < self.every:
            raise SimulationError(f"task {self.name!r}: needs every >= 1 and 0 <= offset < every, not every={self.every}, offset={self.offset}")
        d["deps"] = tuple([x if isinstance(x, Dep) else Dep(*x) for x in self.deps])
        d["actions"] = MappingProxyType(dict(self.actions))
        d["energy_pj"] = MappingProxyType(dict(self.energy_pj))
        if self.holds:
            d["holds"] = MappingProxyType(dict(self.holds))
            for buf, size in self.holds.items():
                if not size >= 0:
                    raise SimulationError(f"task {self.name!r}: 'holds[{buf!r}]' must be a non-negative number of bytes, not {size!r}")
        else:
            d["holds"] = _NO_HOLDS

    @classmethod
    def trusted(cls, name: str, unit: str, cycles: int, latency: int, actions, energy_pj,
                active_pe_cycles=None, every: int = 1, offset: int = 0) -> "Task":
        """A task without dependencies, built without the constructor's checks and copies:
        ``cycles`` and ``latency`` must be non-negative ``int``, ``actions`` and ``energy_pj``
        read-only mappings the caller will not change (``MappingProxyType`` of a copy),
        ``every >= 1`` and ``0 <= offset < every``. For lowerings that make templates and
        :meth:`derive` the tasks from them."""
        t = object.__new__(cls)
        t.__dict__.update(name=name, unit=unit, cycles=cycles, latency=latency, deps=(),
                          actions=actions, energy_pj=energy_pj, active_pe_cycles=active_pe_cycles,
                          every=every, offset=offset, holds=_NO_HOLDS)
        return t

    def derive(self, deps: tuple, every: int = 1, offset: int = 0) -> "Task":
        """This task with other dependencies and guard, without validating again.

        For lowerings that build many tasks from one validated template (a software pipeline's
        prologue, steady state and epilogue copies of one step): ``deps`` must be a tuple of
        :class:`Dep` naming tasks of the phase it goes into, ``every >= 1`` and
        ``0 <= offset < every`` (the caller guarantees it); the action, energy and holds
        mappings are shared with ``self`` (they are read-only).
        """
        t = object.__new__(Task)
        d = t.__dict__
        d.update(self.__dict__)
        d["deps"] = deps
        d["every"] = every
        d["offset"] = offset
        return t

    def count(self, iterations: int) -> int:
        """How many instances run in a phase of ``iterations`` iterations."""
        if iterations <= self.offset:
            return 0
        return (iterations - 1 - self.offset) // self.every + 1


#: The :class:`Task` fields marked :data:`TIMING`, in declaration order.
TIMING_FIELDS = tuple(f.name for f in fields(Task) if f.metadata.get("timing"))


@dataclass(frozen=True)
class Phase:
    """A loop body of tasks repeated ``iterations`` times; phases are separated by barriers."""

    name: str
    tasks: tuple
    iterations: int

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(self.tasks))
        if int(self.iterations) != self.iterations or self.iterations < 0:
            raise SimulationError(f"phase {self.name!r}: 'iterations' must be a non-negative integer, not {self.iterations!r}")
        object.__setattr__(self, "iterations", int(self.iterations))
        names = [t.name for t in self.tasks]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SimulationError(f"phase {self.name!r}: task names repeat: {sorted(dup)}")
        known = set(names)
        for t in self.tasks:
            for d in t.deps:
                if d.task not in known:
                    raise SimulationError(f"phase {self.name!r}: task {t.name!r} depends on unknown task {d.task!r}")
                if d.distance < 0:
                    raise SimulationError(f"phase {self.name!r}: task {t.name!r} has a negative dependency distance")
        self._check_acyclic()

    @classmethod
    def trusted(cls, name: str, tasks: tuple, iterations: int, structure_key=None) -> "Phase":
        """A phase built without the checks of the constructor.

        For lowerings whose tasks are known to be consistent: ``tasks`` a tuple of tasks with
        distinct names, every dependency naming one of them at a non-negative distance, the
        same-iteration dependencies acyclic (e.g. a subset of a phase already checked, with
        only the same-iteration edges among the tasks kept), ``iterations`` a non-negative int.

        ``structure_key`` is accepted from lowerings that name their loop-body structures and
        ignored: the engines key what they keep on the tasks themselves
        (:meth:`timing_key`), so a key that forgot a field cannot make a result stale.
        """
        ph = object.__new__(cls)
        d = ph.__dict__
        d["name"] = name
        d["tasks"] = tasks
        d["iterations"] = iterations
        return ph

    @classmethod
    def lowered(cls, name: str, tasks: tuple, iterations: int) -> "Phase":
        """A phase built by a lowering whose tasks' dependencies name tasks of the phase at
        non-negative distances by construction, checked for what a mapping decides: task
        names that repeat (refused as by the constructor) and same-iteration dependencies that
        wait on each other (:meth:`_check_acyclic`). ``tasks`` a tuple, ``iterations`` a
        non-negative int."""
        names = {t.name for t in tasks}
        if len(names) < len(tasks):
            return cls(name, tasks, iterations)   # refused, naming the tasks
        ph = cls.trusted(name, tasks, iterations)
        ph._check_acyclic()
        return ph

    def _check_acyclic(self):
        """Same-iteration (distance 0) dependencies must form a DAG, or nothing can start."""
        index = {t.name: k for k, t in enumerate(self.tasks)}
        state = {}

        def visit(name, stack):
            state[name] = 1
            for d in self.tasks[index[name]].deps:
                if d.distance:
                    continue
                if state.get(d.task) == 1:
                    cycle = " -> ".join(stack + [name, d.task])
                    raise SimulationError(f"phase {self.name!r}: deadlock, tasks wait on each other: {cycle}")
                if d.task not in state:
                    visit(d.task, stack + [name])
            state[name] = 2

        for t in self.tasks:
            if t.name not in state:
                visit(t.name, [])

    @property
    def period(self) -> int:
        """Iterations after which the set of tasks that run repeats (lcm of ``every``)."""
        return math.lcm(*(t.every for t in self.tasks)) if self.tasks else 1

    def timing_key(self) -> tuple:
        """Everything the timing of the phase depends on (not its name, actions or energy):
        equal keys, equal cycles in both engines."""
        return (self.iterations, tuple([tuple([getattr(t, f) for f in TIMING_FIELDS]) for t in self.tasks]))

    def steps(self) -> int:
        """Task instances in the whole phase."""
        return sum(t.count(self.iterations) for t in self.tasks)


@dataclass(frozen=True)
class TaskGraph:
    """Phases run in sequence on a set of units.

    ``phases`` holds :class:`Phase` and :class:`~sim.pool.PoolPhase` objects; a graph with pool
    phases declares their workers in ``pool`` (a :class:`~sim.pool.PoolLayout`). ``units`` maps unit name -> number of PEs (or lanes) used for utilization; a DRAM channel or
    port counts 1. ``clock_hz`` converts cycles to seconds. ``buffers`` maps an on-chip buffer
    name -> capacity in bytes; the tiles the tasks of one phase keep resident (``Task.holds``)
    must fit, or the graph is refused with :class:`MappingError` (nothing could run it).
    """

    phases: tuple
    units: Mapping
    clock_hz: float
    offset_cycles: int = 0
    meta: Mapping = field(default_factory=dict)
    buffers: Mapping = field(default_factory=dict)
    pool: PoolLayout | None = None

    def __post_init__(self):
        object.__setattr__(self, "phases", tuple(self.phases))
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))
        pooled = [ph for ph in self.phases if isinstance(ph, PoolPhase)]
        if pooled or self.pool is not None:
            if self.pool is None:
                raise SimulationError(f"pool phase {pooled[0].name!r}: the graph declares no pool layout ('pool')")
            self.pool.check(self.units, pooled)
        for ph in self.phases:
            if isinstance(ph, PoolPhase):
                continue
            for t in ph.tasks:
                if t.unit not in self.units:
                    raise SimulationError(f"phase {ph.name!r}: task {t.name!r} runs on unknown unit {t.unit!r}")
        if not self.clock_hz > 0:
            raise SimulationError(f"'clock_hz' must be positive, not {self.clock_hz!r}")
        object.__setattr__(self, "buffers", MappingProxyType(dict(self.buffers)))
        self._check_buffers()

    @classmethod
    def lowered(cls, phases: tuple, units: dict, clock_hz: float, meta: dict) -> "TaskGraph":
        """A graph of ordinary phases built by a lowering, without the constructor's checks and
        copies: every task runs on a unit of ``units`` and holds no buffer bytes, ``units`` and
        ``meta`` are not changed afterwards (``units`` is kept as a read-only view). A clock
        that is not positive is refused as by the constructor."""
        if not clock_hz > 0:
            return cls(phases, units, clock_hz, meta=meta)
        g = object.__new__(cls)
        g.__dict__.update(phases=phases, units=MappingProxyType(units), clock_hz=clock_hz, offset_cycles=0,
                          meta=meta, buffers=_NO_HOLDS, pool=None)
        return g

    def _check_buffers(self):
        """Every phase's resident tiles fit their buffers (a tile larger than its buffer cannot run)."""
        for ph in self.phases:
            if isinstance(ph, PoolPhase):
                continue
            resident = {}
            for t in ph.tasks:
                for buf, size in t.holds.items():
                    if buf not in self.buffers:
                        raise SimulationError(f"phase {ph.name!r}: task {t.name!r} holds bytes in unknown buffer {buf!r}")
                    if size > self.buffers[buf]:
                        raise MappingError(f"phase {ph.name!r}: task {t.name!r} holds a {size}-byte tile in buffer {buf!r} of {self.buffers[buf]} bytes: the tile is larger than its buffer")
                    if t.count(ph.iterations):
                        resident[buf] = resident.get(buf, 0) + size
            for buf, size in resident.items():
                if size > self.buffers[buf]:
                    raise MappingError(f"phase {ph.name!r}: its tiles need {size} bytes resident in buffer {buf!r} of {self.buffers[buf]} bytes: they do not fit")

    def steps(self) -> int:
        return sum(ph.steps() for ph in self.phases)

    def totals(self):
        """Action counts, energy (pJ), busy cycles and active PE-cycles of the whole graph.

        These depend only on the graph, not on timing: both engines report them unchanged. A
        pool phase counts its phase totals and, as busy and active cycles of each role, every
        cycle its tasks and token fetches occupy (:meth:`~sim.pool.PoolPhase.busy`).
        """
        units = self.units
        actions, energy, busy, active = {}, {}, dict.fromkeys(units, 0), dict.fromkeys(units, 0.0)
        a_get, e_get = actions.get, energy.get
        for ph in self.phases:
            if isinstance(ph, PoolPhase):
                for k, v in ph.actions.items():
                    actions[k] = a_get(k, 0) + v
                for k, v in ph.energy_pj.items():
                    energy[k] = e_get(k, 0.0) + v
                for u, cycles in ph.busy().items():
                    busy[u] += cycles
                    active[u] += cycles
                continue
            iterations = ph.iterations
            for t in ph.tasks:
                # t.count(iterations), inlined
                offset = t.offset
                if iterations <= offset:
                    continue
                n = (iterations - 1 - offset) // t.every + 1
                for k, v in t.actions.items():
                    actions[k] = a_get(k, 0) + v * n
                for k, v in t.energy_pj.items():
                    energy[k] = e_get(k, 0.0) + v * n
                u, cycles = t.unit, t.cycles
                busy[u] += cycles * n
                pe = t.active_pe_cycles
                if pe is None:
                    pe = cycles * units[u]
                active[u] += pe * n
        return actions, energy, busy, active
