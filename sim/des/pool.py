"""The event loop of pool phases: workers running tasks that hold several resources at once.

In hardware terms: every worker (a hardware thread) runs a sequence of tasks (a row of Z, a
token of a work queue). Each resource instance (a pipeline's issue slot, a core's scratchpad
ports, atomic unit or network link, the DRAM channel) is a first-come-first-served server. The
loop takes the worker whose clock is earliest (ties: the layout's ``rank``), starts its next
task and books the task's occupancy (:mod:`sim.pool`) on each instance its worker holds, after
whatever is already booked there, and its spread occupancy in equal shares on every instance of
the role; the task ends when its latency has elapsed and its last booking is served. Tasks
therefore slow down exactly when the demand of the workers running at the same time exceeds
an instance's throughput (bandwidth-bound) and run at their latency otherwise (latency-bound).
Static phases give each worker its tasks in array order; in dynamic phases idle workers take
the next task of the queue, each after a fetch-and-add booked where the queue says and
``wait_cycles`` of round trip. A phase ends at a barrier: the next starts when its last task has
finished. Every booking ends no later than its task, so each phase starts on idle resources.

One event per task keeps the model fast: a row-level task stands for thousands of
instructions. The loop (:func:`_run_phase`) is compiled with numba when it is installed and
runs as plain Python otherwise (same code, same results). Time is fractional; the engine rounds
up once where a run of pool phases ends. :mod:`sim.pool_bound` bounds the same phases in closed
form; :meth:`PoolRunner.trace_events` gives the worker and resource tracks of a trace
(:mod:`sim.des.trace`).
"""

from __future__ import annotations

import heapq
from functools import lru_cache

import numpy as np

from sim.des.trace import complete_event, track_metadata

#: Most worker tasks and most resource bookings kept for a trace (each; the first ones started).
TRACE_TASKS = 200_000


def _record(rec, nrec, role, instance, task, s, e):
    """Append booking ``(role, instance, task, start, end)`` to row ``nrec[0]`` of ``rec``, or
    count it in ``nrec[1]`` when ``rec`` is full."""
    k = nrec[0]
    if k >= rec.shape[0]:
        nrec[1] += 1
        return
    rec[k, 0] = role
    rec[k, 1] = instance
    rec[k, 2] = task
    rec[k, 3] = s
    rec[k, 4] = e
    nrec[0] = k + 1


def _run_phase(now, own, own_role, spread, spread_role, lat, work, first, order, dynamic, inst, ninst, rank, rank_of, free,
               tok, tok_role, tok_inst, worker_busy, worker_work, who, start, finish, keep, rec, nrec):
    """One phase of the event loop; returns the time of its barrier (cycles, fractional).

    ``own`` and ``spread`` are (tasks, k) occupancy in cycles of the roles ``own_role`` and
    ``spread_role`` (the roles the phase occupies). Static phases: worker ``w`` runs tasks
    ``order[first[w]:first[w + 1]]``; dynamic phases take tasks ``0, 1, ...``, each after a
    fetch-and-add of ``tok[1]`` cycles on ``free[tok_role, tok_inst]`` and ``tok[0]`` cycles of
    round trip. Server state ``free`` (roles, instances), ``worker_busy`` and ``worker_work``
    are updated in place (the roles' busy cycles are the graph's: ``TaskGraph.totals``);
    ``who``, ``start`` and ``finish`` receive each task's worker and times; with ``keep``,
    bookings ``(role, instance, task, start, end)`` go to ``rec`` (``nrec[0]`` of them,
    ``nrec[1]`` more that did not fit).
    """
    W = rank.size
    heap = [(now, 0)]
    heap.pop()
    cursor = first.copy()
    for w in range(W):
        if dynamic or first[w + 1] > first[w]:
            heap.append((now, rank_of[w]))
    heapq.heapify(heap)
    n = lat.size
    nxt = 0
    end_phase = now
    while heap:
        t, rk = heapq.heappop(heap)
        w = rank[rk]
        if dynamic:
            if nxt >= n:
                continue
            i = nxt
            nxt += 1
            s = free[tok_role, tok_inst] if free[tok_role, tok_inst] > t else t
            free[tok_role, tok_inst] = s + tok[1]
            if keep:
                _record(rec, nrec, tok_role, tok_inst, i, s, s + tok[1])
            t = max(t + tok[0], free[tok_role, tok_inst])
        else:
            i = order[cursor[w]]
            cursor[w] += 1
        end = t + lat[i]
        for k in range(own_role.size):
            d = own[i, k]
            if d != 0.0:
                r = own_role[k]
                c = inst[r, w]
                s = free[r, c] if free[r, c] > t else t
                free[r, c] = s + d
                if free[r, c] > end:
                    end = free[r, c]
                if keep:
                    _record(rec, nrec, r, c, i, s, s + d)
        for k in range(spread_role.size):
            d = spread[i, k]
            if d != 0.0:
                r = spread_role[k]
                m = ninst[r]
                for c in range(m):
                    s = free[r, c] if free[r, c] > t else t
                    free[r, c] = s + d / m
                    if free[r, c] > end:
                        end = free[r, c]
                    if keep:
                        _record(rec, nrec, r, c, i, s, s + d / m)
        worker_busy[w] += end - t
        worker_work[w] += work[i]
        who[i] = w
        start[i] = t
        finish[i] = end
        if end > end_phase:
            end_phase = end
        if dynamic or cursor[w] < first[w + 1]:
            heapq.heappush(heap, (end, rk))
    return end_phase


@lru_cache(maxsize=1)
def _phase_loop():
    """:func:`_run_phase`, compiled with numba when it is installed (the plain Python loop
    otherwise); numba is imported on the first pool phase, not with the engine."""
    global _record
    try:
        from numba import njit
    except ImportError:          # the same loop runs as plain Python
        return _run_phase
    # inlined into the compiled loop, which reads it (compiled from the plain function, so that a
    # second call, after the cache is cleared, compiles the same)
    _record = njit(inline="always")(getattr(_record, "py_func", _record))
    return njit(nogil=True, cache=True)(_run_phase)


class PoolRunner:
    """Runs the pool phases of one graph in order, keeping the servers, statistics and trace.

    Parameters
    ----------
    graph : TaskGraph
        A graph with a pool layout (``graph.pool``).
    trace : bool
        Keep the first :data:`TRACE_TASKS` tasks and bookings for :meth:`trace_events`.
    """

    def __init__(self, graph, trace: bool = False):
        lay = self.layout = graph.pool
        self.graph = graph
        self.roles = lay.roles
        self.ninst = np.array([graph.units[r] for r in lay.roles], dtype=np.int64)
        self.free = np.zeros((len(lay.roles), max(1, int(self.ninst.max(initial=1)))))
        self.rank_of = np.empty(lay.workers, dtype=np.int64)
        self.rank_of[lay.rank] = np.arange(lay.workers)
        self.worker_busy = np.zeros(lay.workers)
        self.worker_work = np.zeros(lay.workers)
        self.limit = TRACE_TASKS if trace else 0
        self.tasks, self.bookings = [], []
        self.kept_tasks = 0
        self.truncated = False
        self.group_cycles = {}

    def _dense(self, cols, n) -> tuple:
        """The phase's columns of ``cols`` side by side (a task's roles in one row), and their roles."""
        roles = [r for r, role in enumerate(self.roles) if role in cols]
        out = np.empty((n, len(roles)))
        for k, r in enumerate(roles):
            out[:, k] = cols[self.roles[r]]
        return out, np.array(roles, dtype=np.int64)

    def run(self, ph, now: float) -> float:
        """Run pool phase ``ph`` from time ``now`` (cycles); returns the time of its barrier."""
        n, W = len(ph), self.layout.workers
        if n == 0:
            return now
        dynamic = ph.queue is not None
        if dynamic:
            q = ph.queue
            first, order = np.zeros(W + 1, np.int64), np.zeros(0, np.int64)
            tok, tok_role, tok_inst = np.array([q.wait_cycles, q.cycles]), self.roles.index(q.role), q.instance
        else:
            order = np.argsort(ph.owner, kind="stable")
            first = np.concatenate([[0], np.cumsum(np.bincount(ph.owner, minlength=W))]).astype(np.int64)
            tok, tok_role, tok_inst = np.zeros(2), 0, 0
        room = max(0, self.limit - len(self.bookings))
        rec = np.zeros((room, 5))
        nrec = np.zeros(2, np.int64)
        who, start, finish = np.empty(n, np.int64), np.empty(n), np.empty(n)
        end = _phase_loop()(float(now), *self._dense(ph.occupancy, n), *self._dense(ph.spread, n), ph.latency, ph.work,
                         first, order, dynamic, self.layout.instance_of, self.ninst, self.layout.rank, self.rank_of,
                         self.free, tok, tok_role, tok_inst, self.worker_busy, self.worker_work,
                         who, start, finish, self.limit > 0, rec, nrec)
        self._keep(ph, who, start, finish, rec[: nrec[0]], nrec[1] > 0)
        self.group_cycles[ph.group] = self.group_cycles.get(ph.group, 0.0) + end - now
        return end

    def _keep(self, ph, who, start, finish, rec, lost: bool):
        """Keep the phase's first tasks and bookings (by start) for the trace."""
        if not self.limit:
            return
        left = self.limit - self.kept_tasks
        first = np.argsort(start, kind="stable")[:left]
        self.tasks.append((ph.name, first, who[first], start[first], finish[first]))
        self.kept_tasks += first.size
        self.bookings += [(ph.name, (int(r), int(c), int(i), s, e)) for r, c, i, s, e in rec.tolist()]
        self.truncated |= first.size < len(ph) or lost

    def summary(self) -> dict:
        """Per-worker busy cycles and work, and the cycles of each phase group."""
        return {"worker_busy_cycles": self.worker_busy.copy(), "worker_work": self.worker_work.copy(),
                "group_cycles": dict(self.group_cycles), "truncated": self.truncated}

    def trace_events(self, first_pid: int) -> list:
        """Chrome-trace events: one process per worker group (a track per worker), then one per
        role (a track per instance, every booking an event); pids from ``first_pid``."""
        lay = self.layout
        us = 1e6 / self.graph.clock_hz
        G = len(lay.group_names)
        index = np.zeros(lay.workers, np.int64)           # a worker's position in its group
        out = []
        for g, gname in enumerate(lay.group_names):
            members = np.flatnonzero(lay.group_of == g)
            index[members] = np.arange(members.size)
            out += track_metadata(first_pid + g, gname, [(k + 1, lay.worker_names[w]) for k, w in enumerate(members)])
        for r, role in enumerate(self.roles):
            out += track_metadata(first_pid + G + r, role, [(c + 1, f"{role} {c}") for c in range(int(self.ninst[r]))])
        for name, tasks, who, start, finish in self.tasks:
            for i, w, s, e in zip(tasks.tolist(), who.tolist(), start.tolist(), finish.tolist()):
                out.append(complete_event(name, "task", first_pid + int(lay.group_of[w]), int(index[w]) + 1, s, e, us,
                                          task=i, worker=w))
        for name, (r, c, i, s, e) in self.bookings:
            out.append(complete_event(name, "booking", first_pid + G + r, c + 1, s, e, us, task=i))
        return out
