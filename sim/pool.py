"""Pool phases: tasks that hold several resources at once, taken by a pool of workers.

In hardware terms: a many-threaded machine (PIUMA's cores of multi- and single-threaded
pipelines) runs coarse tasks (a row of a sparse product, a token of a work queue), each of which
needs, at the same time, issue slots of its thread's pipeline, accesses of its core's scratchpad
ports, operations of its core's atomic unit, bytes over its core's network link and over the
DRAM channel. A :class:`PoolPhase` lists such tasks as read-only numpy columns, one entry per
task:

- ``occupancy[role]``: cycles the task occupies the instance of ``role`` its worker holds
  (demand over throughput: 600 instructions on a one-per-cycle pipeline are 600 cycles, 4096
  bytes on a 204.8-byte-per-cycle channel are 20 cycles);
- ``spread[role]``: cycles of demand spread equally over *every* instance of ``role`` (a hash
  table fragmented over all cores' scratchpads): ``spread / instances`` on each;
- ``latency``: cycles the task takes at least (the worker's own dependence chain);
- ``work``: useful work of the task (multiplies), for the balance statistic;

plus its (component, action) counts and energy (pJ) as phase totals. Work is distributed
either statically (``owner``: the worker of each task, run in array order) or dynamically
(a :class:`TokenQueue`: idle workers take the next task after a fetch-and-add whose cost and
booking place the queue states).

The :class:`PoolLayout`, declared once in the task graph (``TaskGraph.pool``), says which
instance of each role every worker holds (``instance_of``), the order in which idle workers
take work when they are ready at the same cycle (``rank``), and how workers are grouped and
named for traces. Roles are units of the graph (``TaskGraph.units`` gives their instance
counts, ``TaskGraph.meta["unit_kinds"]`` their kinds), so utilization and reports treat them
like any other unit.

Time in pool phases is fractional (bandwidth shares of a cycle); the engines round a run of
pool phases up to whole cycles once, where it ends. The discrete-event engine runs pool phases
in :mod:`sim.des.pool`, the analytical engine bounds them in :mod:`sim.pool_bound`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from arch.errors import SimulationError


def _columns(name: str, cols: dict, n: int) -> dict:
    """The columns ``key -> values`` (scalars broadcast to ``n`` entries) as rows of one
    read-only float64 matrix, each checked to hold ``n`` finite non-negative numbers."""
    rows = []
    for key, v in cols.items():
        v = np.asarray(v, dtype=np.float64)
        if v.ndim == 0:
            v = np.broadcast_to(v, (n,))
        if v.shape != (n,):
            raise SimulationError(f"pool phase {name!r}: '{key}' must be a column of {n} entries, not shape {v.shape}")
        rows.append(v)
    m = np.array(rows, dtype=np.float64).reshape(len(rows), n)
    if n and rows and not (m.min() >= 0 and m.max() < np.inf):   # NaN fails both
        bad = next(k for k, r in zip(cols, m) if not (r.min() >= 0 and r.max() < np.inf))
        raise SimulationError(f"pool phase {name!r}: '{bad}' must hold finite non-negative numbers")
    m.flags.writeable = False
    return dict(zip(cols, m))


@dataclass(frozen=True)
class TokenQueue:
    """The shared queue of a dynamic phase: what taking one task costs.

    Attributes
    ----------
    wait_cycles : float
        Cycles from the request until the token is back at the worker (network round trip
        plus the atomic operation's latency).
    role, instance : str, int
        Where the fetch-and-add is served (a unit of the graph and its instance).
    cycles : float
        Cycles one fetch-and-add occupies that instance (1 / operations per cycle).
    """

    wait_cycles: float
    role: str
    instance: int
    cycles: float

    def __post_init__(self):
        for k in ("wait_cycles", "cycles"):
            v = getattr(self, k)
            if not 0 <= v < np.inf:
                raise SimulationError(f"token queue: '{k}' must be a finite non-negative number of cycles, not {v!r}")


@dataclass(frozen=True, eq=False)
class PoolPhase:
    """Tasks holding several resources at once, run by the workers of ``TaskGraph.pool``.

    See the module docstring for the columns. ``owner`` (static) and ``queue`` (dynamic) are
    exclusive; ``group`` names the phase in per-group summaries (the waves of one kernel step
    share a group); ``actions`` and ``energy_pj`` are totals of the whole phase.
    """

    name: str
    latency: np.ndarray
    occupancy: Mapping = field(default_factory=dict)
    spread: Mapping = field(default_factory=dict)
    work: np.ndarray | float = 0.0
    owner: np.ndarray | None = None
    queue: TokenQueue | None = None
    actions: Mapping = field(default_factory=dict)
    energy_pj: Mapping = field(default_factory=dict)
    group: str = ""

    def __post_init__(self):
        d = self.__dict__  # frozen: fields are normalised in place, once
        lat = np.atleast_1d(np.asarray(self.latency, dtype=np.float64))   # a column: its length is n
        cols = {"latency": lat, "work": self.work,
                **{f"occupancy[{r}]": v for r, v in self.occupancy.items()},
                **{f"spread[{r}]": v for r, v in self.spread.items()}}
        n = lat.shape[0]
        got = _columns(self.name, cols, n)
        d["latency"], d["work"] = got["latency"], got["work"]
        d["occupancy"] = MappingProxyType({r: got[f"occupancy[{r}]"] for r in self.occupancy})
        d["spread"] = MappingProxyType({r: got[f"spread[{r}]"] for r in self.spread})
        if (self.owner is None) == (self.queue is None):
            raise SimulationError(f"pool phase {self.name!r}: give exactly one of 'owner' (static) and 'queue' (dynamic)")
        if self.owner is not None:
            o = np.array(self.owner, dtype=np.int64, ndmin=1)
            if o.shape != (n,) or (n and o.min() < 0):
                raise SimulationError(f"pool phase {self.name!r}: 'owner' must be {n} non-negative worker numbers")
            o.flags.writeable = False
            d["owner"] = o
        d["actions"] = MappingProxyType(dict(self.actions))
        d["energy_pj"] = MappingProxyType(dict(self.energy_pj))
        d["group"] = self.group or self.name

    def __len__(self) -> int:
        return self.latency.size

    def steps(self) -> int:
        """Task instances of the phase (one per task)."""
        return self.latency.size

    def busy(self) -> dict:
        """Cycles each role is occupied in total (own, spread and token bookings)."""
        out = {}
        for cols in (self.occupancy, self.spread):
            for r, v in cols.items():
                out[r] = out.get(r, 0.0) + float(v.sum())
        if self.queue is not None:
            q = self.queue
            out[q.role] = out.get(q.role, 0.0) + len(self) * q.cycles
        return out


@dataclass(frozen=True, eq=False)
class PoolLayout:
    """The workers of the pool phases and the resource instances each holds.

    Attributes
    ----------
    roles : tuple of str
        Units of the graph a pool task may occupy, in booking order.
    instance_of : int array, shape (roles, workers)
        Instance of each role that each worker holds (``< TaskGraph.units[role]``).
    rank : int array, shape (workers,)
        Order in which idle workers take work when ready at the same cycle: ``rank[k]`` is
        the ``k``-th worker to take.
    group_of : int array, shape (workers,)
        Trace group of each worker (its core); ``group_names`` names the groups.
    worker_names : tuple of str
        Track name of each worker within its group.
    """

    roles: tuple
    instance_of: np.ndarray
    rank: np.ndarray
    group_of: np.ndarray
    group_names: tuple
    worker_names: tuple

    def __post_init__(self):
        d = self.__dict__
        d["roles"] = tuple(self.roles)
        for k in ("instance_of", "rank", "group_of"):
            v = np.array(getattr(self, k), dtype=np.int64)
            v.flags.writeable = False
            d[k] = v
        W = self.workers
        if self.instance_of.shape != (len(self.roles), W) or self.group_of.shape != (W,):
            raise SimulationError(f"pool layout: 'instance_of' must have shape ({len(self.roles)}, {W}) and 'group_of' ({W},)")
        if not np.array_equal(np.sort(self.rank), np.arange(W)):
            raise SimulationError("pool layout: 'rank' must be a permutation of the workers")
        if len(self.worker_names) != W or (W and not 0 <= self.group_of.min() <= self.group_of.max() < len(self.group_names)):
            raise SimulationError("pool layout: every worker needs a name and a group of 'group_names'")

    @property
    def workers(self) -> int:
        return int(self.rank.size)

    def check(self, units: Mapping, phases) -> None:
        """:class:`SimulationError` unless roles are units, instances exist and phases fit."""
        for r, role in enumerate(self.roles):
            if role not in units:
                raise SimulationError(f"pool layout: role {role!r} is not a unit of the graph")
            if self.workers and not 0 <= self.instance_of[r].min() <= self.instance_of[r].max() < units[role]:
                raise SimulationError(f"pool layout: instances of {role!r} must lie in [0, {units[role]})")
        for ph in phases:
            for role in (*ph.occupancy, *ph.spread):
                if role not in self.roles:
                    raise SimulationError(f"pool phase {ph.name!r}: occupies {role!r}, not a role of the pool layout")
            if ph.owner is not None and len(ph) and ph.owner.max() >= self.workers:
                raise SimulationError(f"pool phase {ph.name!r}: 'owner' names worker {int(ph.owner.max())} of {self.workers}")
            q = ph.queue
            if q is not None and (q.role not in self.roles or not 0 <= q.instance < units[q.role]):
                raise SimulationError(f"pool phase {ph.name!r}: the queue is served by {q.role!r} instance {q.instance}, not an instance of a role")
