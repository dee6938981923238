"""Closed-form lower bound on the cycles of SpGEMM task phases: the analytical engine.

In hardware terms: within a phase, every shared resource of the PIUMA-like machine (each
pipeline's issue slot, each core's scratchpad ports, atomic unit and mesh link, the DRAM
channels) must serve the whole demand the phase puts on it at its throughput, and every thread
must run its tasks one after the other, each for at least its uncontended duration. Neither can
be beaten by any schedule, so for each phase::

    bound = max( fill + demand(r) / throughput(r)   over every resource instance r,
                 chain(th)                            over every thread th )

and phases add up (each ends in a barrier). The terms, from the same per-task demands that
:func:`sim.spgemm.machine.run` books (:class:`~sim.spgemm.machine.TaskSet`):

- ``duration(i) = max(latency, instr, dram_bytes / dram_bw, net_bytes / link_bw,
  spad / ports + spad_all / (ports * cores), atom / atomics + atom_all / (atomics * cores))``:
  a task's own bookings start no earlier than the task and are served one after the other on
  its core, and the task ends no earlier than its latency.
- Static phases (each task has an owner thread): the demand of each instance is known
  (a pipeline's threads' instructions, a core's threads' scratchpad accesses plus its
  ``1/cores`` share of every ``spad_all``, ...), and ``chain(th)`` is the sum of the durations
  of the thread's tasks; ``fill = 0``.
- Dynamic phases (threads take tokens from a queue held by core 0): which thread runs which task
  is a scheduling outcome, so each resource kind is bounded by its total demand over all its
  instances (the busiest instance carries at least the mean); core 0's atomic unit also serves
  one fetch-and-add per token. Every task waits for its token, ``token = network + atomic
  latency``, so ``fill = token`` for every resource but the atomic units, and the threads
  together need ``max(sum(token + duration) / threads, token + max duration)``. The pipelines
  are bounded together: a single-threaded pipeline issues only while its one thread runs a
  task, so in ``H`` cycles it issues at most what the tasks with the most instructions per
  cycle of thread time can hold in ``H`` (a fractional knapsack), the multi-threaded ones
  ``H - token`` each (:func:`_issue_bound`).
- No drain: in the event model a task's latency overlaps its bookings, so the last booking on
  a resource may end together with its task.

The event model adds what the bound leaves out: queueing when threads of the same core or
pipeline want the same resource at the same time, the order of tokens, and tails (a phase waits
for its slowest thread). When one resource dominates and tasks do not wait on each other's
bookings, the two agree up to the token fetch of the first task (``tests/sim/spgemm``).

Action counts, bytes and energy do not depend on the schedule; :mod:`sim.spgemm.simulate` takes
them from the same task phases for both engines.
"""

from __future__ import annotations

import math

import numpy as np

from arch.piuma import PiumaSpec
from sim.spgemm.machine import MachineResult, TaskSet, thread_layout


def durations(spec: PiumaSpec, ph: TaskSet) -> np.ndarray:
    """Uncontended duration of every task of a phase (cycles, float)."""
    C = spec.cores
    sr, ar = float(spec.spad_ports), float(spec.atomics_per_cycle)
    return np.maximum.reduce([
        ph.latency, ph.instr, ph.dram_bytes / spec.dram_bw_bytes_per_cycle,
        ph.net_bytes / spec.net_link_bytes_per_cycle,
        ph.spad / sr + ph.spad_all / (sr * C), ph.atom / ar + ph.atom_all / (ar * C)])


def _static_terms(spec: PiumaSpec, ph: TaskSet, dur: np.ndarray, layout) -> dict:
    """Busiest instance of each resource kind, and the longest thread chain (cycles)."""
    core_of, pipe_of, _ = layout
    C, T = spec.cores, spec.threads
    th = ph.owner.astype(np.int64)
    core = core_of[th]
    sr, ar = float(spec.spad_ports), float(spec.atomics_per_cycle)
    per_core = lambda v: np.bincount(core, weights=v, minlength=C)  # noqa: E731
    return {
        "pipeline": np.bincount(pipe_of[th], weights=ph.instr).max(initial=0.0),
        "scratchpad": ((per_core(ph.spad) + ph.spad_all.sum() / C) / sr).max(),
        "atomic_unit": ((per_core(ph.atom) + ph.atom_all.sum() / C) / ar).max(),
        "network": (per_core(ph.net_bytes) / spec.net_link_bytes_per_cycle).max(),
        "dram": ph.dram_bytes.sum() / spec.dram_bw_bytes_per_cycle,
        "thread": np.bincount(th, weights=dur, minlength=T).max(),
    }


def _issue_bound(spec: PiumaSpec, instr: np.ndarray, dur: np.ndarray, token: float) -> float:
    """Cycles to issue a dynamic phase's instructions on the multi- and single-threaded pipelines.

    A multi-threaded pipeline issues at most one instruction per cycle once the first tokens
    have arrived: ``H - token`` in a phase of ``H`` cycles. A single-threaded pipeline issues
    only for its one thread, whose tasks (each ``token + duration`` long) fit in ``H``; the most
    it can issue is a fractional knapsack over the tasks taken by instructions per cycle of
    thread time, best first. The smallest ``H`` whose capacity covers every instruction is
    found by bisection (the returned value is at most the true root).
    """
    total = float(instr.sum())
    if total <= 0:
        return 0.0
    p_mt = spec.cores * spec.mtp_per_core
    p_st = spec.cores * spec.stp_per_core
    occupy = dur + token
    order = np.argsort(-(instr / np.maximum(occupy, 1e-300)), kind="stable")
    cum_t = np.concatenate([[0.0], np.cumsum(occupy[order])])
    cum_i = np.concatenate([[0.0], np.cumsum(instr[order])])

    def capacity(h):
        single = float(np.interp(p_st * h, cum_t, cum_i)) if p_st else 0.0
        return p_mt * max(0.0, h - token) + single

    hi = min(total / p_mt + token if p_mt else math.inf, cum_t[-1] / p_st if p_st else math.inf)
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


def _dynamic_terms(spec: PiumaSpec, ph: TaskSet, dur: np.ndarray, token: float) -> dict:
    """Resource and thread terms of a phase whose tasks are taken from a queue (cycles)."""
    C, T = spec.cores, spec.threads
    sr, ar = float(spec.spad_ports), float(spec.atomics_per_cycle)
    n = len(ph)
    atom, atom_all = ph.atom.sum(), ph.atom_all.sum()
    return {
        "pipeline": _issue_bound(spec, ph.instr, dur, token),
        "scratchpad": token + (ph.spad.sum() + ph.spad_all.sum()) / (sr * C),
        # core 0 serves every token fetch and its share of the fragmented tables' atomics; all
        # atomic units together serve everything (token fetches start with the phase)
        "atomic_unit": max((n + atom_all / C) / ar, (n + atom + atom_all) / (ar * C),
                           token + (atom + atom_all) / (ar * C)),
        "network": token + ph.net_bytes.sum() / (spec.net_link_bytes_per_cycle * C),
        "dram": token + ph.dram_bytes.sum() / spec.dram_bw_bytes_per_cycle,
        "thread": max((dur.sum() + n * token) / T, token + dur.max()),
    }


def bound(spec: PiumaSpec, phases: list) -> MachineResult:
    """Lower bound on the cycles of ``phases`` on ``spec`` (see the module docstring).

    Returns
    -------
    MachineResult
        ``cycles`` the bound; ``busy_cycles`` the same demand totals the event model books;
        ``phase_cycles`` the bound of each phase kind; ``limiter`` the term that sets each
        phase kind's bound (the last wave's, for smash-v3's waves); ``thread_busy`` the
        uncontended task time per thread (dynamic phases spread evenly); ``thread_flops`` per
        thread (static owners exactly, dynamic phases spread evenly).
    """
    C, T = spec.cores, spec.threads
    layout = thread_layout(spec)
    token = float(spec.net_latency_cycles + spec.atomic_latency_cycles)
    sr, ar = float(spec.spad_ports), float(spec.atomics_per_cycle)
    busy = {"pipeline": 0.0, "scratchpad": 0.0, "atomic_unit": 0.0, "dram": 0.0, "network": 0.0}
    thread_busy, thread_flops = np.zeros(T), np.zeros(T)
    total, ntasks, phase_cycles, limiter = 0.0, 0, {}, {}
    for ph in phases:
        n = len(ph)
        if n == 0:
            continue
        ntasks += n
        dur = durations(spec, ph)
        if ph.owner is None:
            terms = _dynamic_terms(spec, ph, dur, token)
            thread_busy += (dur.sum() + n * token) / T
            thread_flops += ph.flops.sum() / T
            busy["atomic_unit"] += n / ar
        else:
            terms = _static_terms(spec, ph, dur, layout)
            thread_busy += np.bincount(ph.owner, weights=dur, minlength=T)
            thread_flops += np.bincount(ph.owner, weights=ph.flops, minlength=T)
        busy["pipeline"] += ph.instr.sum()
        busy["scratchpad"] += (ph.spad.sum() + ph.spad_all.sum()) / sr
        busy["atomic_unit"] += (ph.atom.sum() + ph.atom_all.sum()) / ar
        busy["dram"] += ph.dram_bytes.sum() / spec.dram_bw_bytes_per_cycle
        busy["network"] += ph.net_bytes.sum() / spec.net_link_bytes_per_cycle
        worst = max(terms, key=terms.get)
        kind = ph.name.split(" wave ")[0]
        phase_cycles[kind] = phase_cycles.get(kind, 0.0) + terms[worst]
        limiter[kind] = worst
        total += terms[worst]
    caps = {"pipeline": C * spec.pipelines_per_core, "scratchpad": C, "atomic_unit": C, "dram": 1, "network": C}
    # the guard keeps float summation order from rounding the bound above the event model's
    cycles = int(math.ceil(total * (1.0 - 1e-12))) if total > 0 else 0
    return MachineResult(cycles=cycles, busy_cycles=busy, capacity=caps, thread_busy=thread_busy,
                         thread_flops=thread_flops, tasks=ntasks, phases=len(phases),
                         phase_cycles=phase_cycles, limiter=limiter)
