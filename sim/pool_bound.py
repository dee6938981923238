"""Closed-form lower bound on the cycles of pool phases: the analytical engine's road for them.

In hardware terms: within a pool phase (:mod:`sim.pool`), every resource instance (each
pipeline's issue slot, each core's scratchpad ports, atomic unit and mesh link, the DRAM
channel) must serve the whole occupancy the phase puts on it, and every worker must run its
tasks one after the other, each for at least its uncontended duration. Neither can be beaten
by any schedule, so for each phase::

    bound = max( fill + occupancy(r) over every resource instance r,
                 chain(w)            over every worker w )

and phases add up (each ends in a barrier). The terms, from the same per-task columns that
the event loop (:mod:`sim.des.pool`) books:

- ``duration(i) = max(latency, own(role) + spread(role) / instances(role) over every role)``: a
  task's own bookings start no earlier than the task and are served one after the other, and
  the task ends no earlier than its latency.
- Static phases (each task has an owner worker): the occupancy of each instance is known (the
  tasks of the workers holding it plus its ``1/instances`` share of every spread demand), and
  ``chain(w)`` is the sum of the durations of the worker's tasks; ``fill = 0``.
- Dynamic phases (workers take tokens from a queue): which worker runs which task is a
  scheduling outcome, so each role is bounded by its total occupancy over all its instances
  (the busiest instance carries at least the mean). Every task waits for its token,
  ``fill = token wait``; the instance that serves the queue also serves one fetch-and-add per
  token, before any token is out (no fill) and besides its share of the spread demand. The
  workers together need ``max(sum(token + duration) / workers, token + max duration)``. A role
  some of whose instances are held by one worker only (a single-threaded pipeline), and which
  has no spread demand, is bounded over all its instances together: an instance held by one
  worker is busy only while that worker runs a task, so in ``H`` cycles it serves at most what
  the tasks with the most occupancy per cycle of worker time can hold in ``H`` (a fractional
  knapsack), an instance shared by several ``H - token`` (:func:`_shared_bound`).
- No drain: in the event model a task's latency overlaps its bookings, so the last booking on
  a resource may end together with its task.

The event model adds what the bound leaves out: queueing when workers holding the same instance
want it at the same time, the order of tokens, and tails (a phase waits for its slowest
worker). When one resource dominates and tasks do not wait on each other's bookings, the two
agree up to the token fetch of the first task (``tests/sim/test_pool_bound.py``).

The bound of a run of pool phases is summed in floating point and rounded up to whole cycles
once, as the event loop rounds its end.
"""

from __future__ import annotations

import math

import numpy as np

from sim.pool import PoolPhase


def durations(ph: PoolPhase, ninst: dict) -> np.ndarray:
    """Uncontended duration of every task of a phase (cycles, float)."""
    out = ph.latency
    for role in {**ph.occupancy, **ph.spread}:
        c = ph.occupancy.get(role, 0.0)
        if role in ph.spread:
            c = c + ph.spread[role] / ninst[role]
        out = np.maximum(out, c)
    return out


def _static_terms(ph: PoolPhase, layout, ninst: dict, dur: np.ndarray) -> dict:
    """Busiest instance of each role, and the longest worker chain (cycles)."""
    out = {}
    for r, role in enumerate(layout.roles):
        own, spread = ph.occupancy.get(role), ph.spread.get(role)
        if own is None and spread is None:
            continue
        load = np.zeros(ninst[role])
        if own is not None:
            load += np.bincount(layout.instance_of[r][ph.owner], weights=own, minlength=ninst[role])
        if spread is not None:
            load += spread.sum() / ninst[role]
        out[role] = load.max(initial=0.0)
    out["worker"] = np.bincount(ph.owner, weights=dur, minlength=layout.workers).max()
    return out


def _shared_bound(own: np.ndarray, dur: np.ndarray, token: float, shared: int, single: int) -> float:
    """Cycles for ``shared`` multi-worker and ``single`` one-worker instances to serve ``own``.

    A multi-worker instance serves at most one cycle of occupancy per cycle once the first
    tokens have arrived: ``H - token`` in a phase of ``H`` cycles. A one-worker instance serves
    only its worker, whose tasks (each ``token + duration`` long) fit in ``H``; the most it can
    serve is a fractional knapsack over the tasks taken by occupancy per cycle of worker time,
    best first. The smallest ``H`` whose capacity covers every cycle of occupancy is found by
    bisection (the returned value is at most the true root).
    """
    total = float(own.sum())
    if total <= 0:
        return 0.0
    occupy = dur + token
    order = np.argsort(-(own / np.maximum(occupy, 1e-300)), kind="stable")
    cum_t = np.concatenate([[0.0], np.cumsum(occupy[order])])
    cum_i = np.concatenate([[0.0], np.cumsum(own[order])])

    def capacity(h):
        alone = float(np.interp(single * h, cum_t, cum_i)) if single else 0.0
        return shared * max(0.0, h - token) + alone

    hi = min(total / shared + token if shared else math.inf, cum_t[-1] / single if single else math.inf)
    lo = 0.0
    for _ in range(100):
        if hi - lo <= 1e-9 * hi:
            break
        mid = 0.5 * (lo + hi)
        if capacity(mid) >= total:
            hi = mid
        else:
            lo = mid
    return lo


def _dynamic_terms(ph: PoolPhase, layout, ninst: dict, held: dict, dur: np.ndarray) -> dict:
    """Role and worker terms of a phase whose tasks are taken from a queue (cycles); ``held``
    gives, per role, how many instances one worker holds and how many several workers share."""
    q, n, W = ph.queue, len(ph), layout.workers
    token = q.wait_cycles
    out = {}
    for role in layout.roles:
        own, spread = ph.occupancy.get(role), ph.spread.get(role)
        if own is None and spread is None and role != q.role:
            continue
        I = ninst[role]
        own_sum = float(own.sum()) if own is not None else 0.0
        spread_sum = float(spread.sum()) if spread is not None else 0.0
        single, shared = held[role]
        if single and spread is None and own is not None:
            out[role] = _shared_bound(own, dur, token, shared, single)
        else:
            out[role] = token + (own_sum + spread_sum) / I
        if role == q.role:   # the queue's instance serves every fetch-and-add and its spread share
            fetch = n * q.cycles
            out[role] = max(fetch + spread_sum / I, (fetch + own_sum + spread_sum) / I, out[role])
    out["worker"] = max((dur.sum() + n * token) / W, token + dur.max())
    return out


def bound(graph) -> tuple[int, dict]:
    """Lower bound on the cycles of the pool phases of ``graph`` (see the module docstring).

    Returns
    -------
    cycles : int
        The bound, rounded up once over all pool phases (0 without pool phases).
    summary : dict
        ``group_cycles`` (the bound of each phase group), ``limiter`` (the term that sets each
        group's bound: a role or ``"worker"``; the last phase's of a group), and per worker
        ``worker_busy_cycles`` (uncontended task time; dynamic phases spread evenly) and
        ``worker_work`` (static owners exactly, dynamic phases spread evenly).
    """
    layout = graph.pool
    if layout is None:
        return 0, {}
    ninst = {role: int(graph.units[role]) for role in layout.roles}
    counts = [np.bincount(layout.instance_of[r], minlength=ninst[role]) for r, role in enumerate(layout.roles)]
    held = {role: (int((c == 1).sum()), int((c > 1).sum())) for role, c in zip(layout.roles, counts)}
    W = layout.workers
    worker_busy, worker_work = np.zeros(W), np.zeros(W)
    total, group_cycles, limiter = 0.0, {}, {}
    for ph in graph.phases:
        if not isinstance(ph, PoolPhase) or len(ph) == 0:
            continue
        dur = durations(ph, ninst)
        if ph.queue is None:
            terms = _static_terms(ph, layout, ninst, dur)
            worker_busy += np.bincount(ph.owner, weights=dur, minlength=W)
            worker_work += np.bincount(ph.owner, weights=ph.work, minlength=W)
        else:
            terms = _dynamic_terms(ph, layout, ninst, held, dur)
            worker_busy += (dur.sum() + len(ph) * ph.queue.wait_cycles) / W
            worker_work += ph.work.sum() / W
        worst = max(terms, key=terms.get)
        group_cycles[ph.group] = group_cycles.get(ph.group, 0.0) + terms[worst]
        limiter[ph.group] = worst
        total += terms[worst]
    # the guard keeps float summation order from rounding the bound above the event model's
    cycles = int(math.ceil(total * (1.0 - 1e-12))) if total > 0 else 0
    return cycles, {"group_cycles": group_cycles, "limiter": limiter,
                    "worker_busy_cycles": worker_busy, "worker_work": worker_work}
