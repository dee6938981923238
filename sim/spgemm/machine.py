"""Discrete-event model of the PIUMA-like machine: threads running tasks against shared resources.

In hardware terms: every thread of every pipeline runs a sequence of tasks (a row of Z, a slice
of a row, a column of A, a compaction). A task needs

- ``instr`` issue slots of its pipeline (a multi-threaded pipeline issues one instruction per
  cycle from one of its threads; a single-threaded pipeline serves one thread),
- ``spad`` 8-byte accesses on its core's scratchpad ports and ``atom`` operations of its core's
  atomic unit, plus ``spad_all`` and ``atom_all`` shared equally by every core (a hash table
  fragmented over every core's scratchpad),
- ``dram_bytes`` through the DRAM channels (one resource of the aggregate bandwidth: addresses
  are interleaved across channels) and ``net_bytes`` through its core's link into the mesh,
- and at least ``latency`` cycles of its own dependence chain (the in-order thread waits for each
  blocking load, CAS and DMA).

Each shared resource is a first-come-first-served server with a throughput (per cycle). The event
loop takes the thread whose clock is earliest, starts its next task, and books the task's demand
on each resource after whatever is already booked there; the task ends when its latency has
elapsed and its last booking is served. Tasks therefore slow down exactly when the demand of the
threads running at the same time exceeds a resource's throughput (bandwidth-bound) and run at
their latency otherwise (latency-bound). Work distribution is either static (each thread owns a
list) or dynamic (threads take the next token of a shared queue with a remote fetch-and-add).
A phase ends at a barrier: the next starts when its last task has finished.

One event per task keeps the model fast: a row-level task stands for thousands of instructions.
:mod:`sim.spgemm.bound` bounds the same phases in closed form (the analytical engine);
:func:`trace_events` turns a run's timeline into Chrome-trace events for :mod:`sim.des.trace`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from arch.piuma import PiumaSpec
from sim.des.trace import complete_event, track_metadata

#: Per-task demand columns of a :class:`TaskSet`.
DEMANDS = ("instr", "spad", "atom", "spad_all", "atom_all", "dram_bytes", "net_bytes", "latency", "flops")


@dataclass
class TaskSet:
    """A phase's tasks as columns (numpy arrays of equal length).

    ``owner`` gives each task's thread for static distribution (None: dynamic, in array order).
    Columns not given are zero.
    """

    name: str
    instr: np.ndarray
    spad: np.ndarray = 0.0
    atom: np.ndarray = 0.0
    spad_all: np.ndarray = 0.0
    atom_all: np.ndarray = 0.0
    dram_bytes: np.ndarray = 0.0
    net_bytes: np.ndarray = 0.0
    latency: np.ndarray = 0.0
    flops: np.ndarray = 0.0
    owner: np.ndarray | None = None

    def __post_init__(self):
        n = len(np.atleast_1d(self.instr))
        for k in DEMANDS:
            v = np.asarray(getattr(self, k), dtype=np.float64)
            setattr(self, k, np.broadcast_to(v, (n,)).copy() if v.ndim == 0 else v)

    def __len__(self):
        return len(self.instr)

    def totals(self) -> dict:
        return {k: float(getattr(self, k).sum()) for k in DEMANDS if k != "latency"}


@dataclass
class MachineResult:
    """Timing of a run: cycles and how busy each resource and thread was."""

    cycles: int
    busy_cycles: dict = field(default_factory=dict)       # resource kind -> summed busy cycles
    capacity: dict = field(default_factory=dict)          # resource kind -> instances
    thread_busy: np.ndarray = None                        # cycles each thread spent in tasks
    thread_flops: np.ndarray = None                       # multiplies each thread did
    tasks: int = 0
    phases: int = 0
    phase_cycles: dict = field(default_factory=dict)      # phase name -> cycles from its start to its barrier
    limiter: dict = field(default_factory=dict)           # analytical only: phase name -> binding term

    def utilization(self) -> dict:
        """Busy fraction of each resource kind over the run (averaged over its instances)."""
        if self.cycles <= 0:
            return {k: 0.0 for k in self.busy_cycles}
        return {k: self.busy_cycles[k] / (self.capacity[k] * self.cycles) for k in self.busy_cycles}


def thread_layout(spec: PiumaSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each hardware thread runs: ``(core_of, pipe_of, rank)`` int arrays.

    Threads are numbered core by core; within a core the multi-threaded pipelines' threads come
    first, then one thread per single-threaded pipeline. ``pipe_of`` numbers pipelines globally
    (``core * pipelines_per_core + local``). ``rank`` is the order in which idle threads take
    work when they are ready at the same cycle: interleaved over cores and pipelines (the
    hardware has no preference; thread ids would pile the first tokens onto core 0).
    """
    T, tpc = spec.threads, spec.threads_per_core
    local = np.arange(T) % tpc
    core_of = np.arange(T) // tpc
    mt = spec.mtp_per_core * spec.threads_per_mtp
    pipe_local = np.where(local < mt, local // spec.threads_per_mtp, spec.mtp_per_core + (local - mt))
    pipe_of = core_of * spec.pipelines_per_core + pipe_local
    in_pipe = np.where(local < mt, local % spec.threads_per_mtp, 0)
    rank = np.lexsort((core_of, pipe_local, in_pipe))
    return core_of, pipe_of, rank


#: Indices of the resource kinds in the busy-cycle accumulator of :func:`_run_phase`.
KINDS = ("pipeline", "scratchpad", "atomic_unit", "dram", "network")


def _book(free, c, t, d, end):
    """Book ``d`` cycles on server ``c`` after ``t`` and what is already booked; the later end."""
    s = free[c] if free[c] > t else t
    free[c] = s + d
    return free[c] if free[c] > end else end


def _run_phase(now, instr, spad, atom, spad_all, atom_all, dram, net, lat, flops, first, order,
               dynamic, core_of, pipe_of, rank, rank_of, pipe_free, spad_free, atom_free, net_free,
               dram_free, rates, token_latency, busy, thread_busy, thread_flops, who, start, finish):
    """One phase of the event loop; returns the cycle of its barrier.

    Static phases: thread ``th`` runs tasks ``order[first[th]:first[th + 1]]`` in that order.
    Dynamic phases: idle threads take tasks ``0, 1, ...`` from the shared queue, each after a
    fetch-and-add on core 0's atomic unit. ``rates`` holds the scratchpad, atomic, DRAM and
    network throughputs per cycle; server state (``*_free``), ``busy`` (per :data:`KINDS`),
    ``thread_busy`` and ``thread_flops`` are updated in place; ``who``, ``start`` and
    ``finish`` receive each task's thread and cycles.
    """
    spad_rate, atom_rate, dram_rate, net_rate = rates[0], rates[1], rates[2], rates[3]
    T = rank.size
    C = spad_free.size
    heap = [(now, 0)]
    heap.pop()
    cursor = first.copy()
    for th in range(T):
        if dynamic or first[th + 1] > first[th]:
            heap.append((now, rank_of[th]))
    heapq.heapify(heap)
    n = instr.size
    nxt = 0
    end_phase = now
    while heap:
        t, rk = heapq.heappop(heap)
        th = rank[rk]
        if dynamic:
            if nxt >= n:
                continue
            i = nxt
            nxt += 1
            # take a token: remote fetch-and-add on the queue counter held by core 0
            s = atom_free[0] if atom_free[0] > t else t
            atom_free[0] = s + 1.0 / atom_rate
            busy[2] += 1.0 / atom_rate
            t = max(t + token_latency, atom_free[0])
        else:
            i = order[cursor[th]]
            cursor[th] += 1
        c = core_of[th]
        end = t + lat[i]
        if instr[i] != 0.0:
            busy[0] += instr[i]
            end = _book(pipe_free, pipe_of[th], t, instr[i], end)
        if dram[i] != 0.0:
            busy[3] += dram[i] / dram_rate
            end = _book(dram_free, 0, t, dram[i] / dram_rate, end)
        if net[i] != 0.0:
            busy[4] += net[i] / net_rate
            end = _book(net_free, c, t, net[i] / net_rate, end)
        if spad[i] != 0.0:
            busy[1] += spad[i] / spad_rate
            end = _book(spad_free, c, t, spad[i] / spad_rate, end)
        if spad_all[i] != 0.0:
            busy[1] += spad_all[i] / spad_rate
            for cc in range(C):
                end = _book(spad_free, cc, t, spad_all[i] / spad_rate / C, end)
        if atom[i] != 0.0:
            busy[2] += atom[i] / atom_rate
            end = _book(atom_free, c, t, atom[i] / atom_rate, end)
        if atom_all[i] != 0.0:
            busy[2] += atom_all[i] / atom_rate
            for cc in range(C):
                end = _book(atom_free, cc, t, atom_all[i] / atom_rate / C, end)
        thread_busy[th] += end - t
        thread_flops[th] += flops[i]
        who[i] = th
        start[i] = t
        finish[i] = end
        if end > end_phase:
            end_phase = end
        if dynamic or cursor[th] < first[th + 1]:
            heapq.heappush(heap, (end, rk))
    return end_phase


try:
    from numba import njit
except ImportError:          # the same loop runs as plain Python
    njit = None
if njit is not None:
    _book = njit(inline="always")(_book)
    _run_phase = njit(nogil=True, cache=True)(_run_phase)


def run(spec: PiumaSpec, phases: list, timeline: list | None = None, max_events: int = 200_000) -> MachineResult:
    """Simulate phases of tasks on the machine; returns cycles and occupancy.

    The loop of each phase is :func:`_run_phase`, compiled with numba when it is installed
    (the same code runs as plain Python otherwise).

    Parameters
    ----------
    spec : PiumaSpec
    phases : list of TaskSet
        Run in order, separated by barriers.
    timeline : list, optional
        If given, receives ``(thread, phase name, task index, start cycle, end cycle)`` for the
        first ``max_events`` tasks (for a Chrome trace).
    """
    C = spec.cores
    T = spec.threads
    core_of, pipe_of, rank = thread_layout(spec)
    rank_of = np.empty(T, dtype=np.int64)
    rank_of[rank] = np.arange(T)
    pipe_free = np.zeros(C * spec.pipelines_per_core)
    spad_free, atom_free, net_free, dram_free = np.zeros(C), np.zeros(C), np.zeros(C), np.zeros(1)
    rates = np.array([spec.spad_ports, spec.atomics_per_cycle, spec.dram_bw_bytes_per_cycle,
                      spec.net_link_bytes_per_cycle], dtype=np.float64)
    token_latency = float(spec.net_latency_cycles + spec.atomic_latency_cycles)
    busy = np.zeros(len(KINDS))
    thread_busy = np.zeros(T)
    thread_flops = np.zeros(T)
    now = 0.0
    ntasks = 0
    phase_cycles = {}
    for ph in phases:
        n = len(ph)
        if n == 0:
            continue
        ntasks += n
        dynamic = ph.owner is None
        if dynamic:
            first, order = np.zeros(T + 1, np.int64), np.zeros(0, np.int64)
        else:
            owner = np.asarray(ph.owner, dtype=np.int64)
            order = np.argsort(owner, kind="stable")
            first = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=T))]).astype(np.int64)
        who, start, finish = np.empty(n, np.int64), np.empty(n), np.empty(n)
        end_phase = _run_phase(now, ph.instr, ph.spad, ph.atom, ph.spad_all, ph.atom_all, ph.dram_bytes,
                               ph.net_bytes, ph.latency, ph.flops, first, order, dynamic, core_of, pipe_of,
                               rank, rank_of, pipe_free, spad_free, atom_free, net_free, dram_free, rates,
                               token_latency, busy, thread_busy, thread_flops, who, start, finish)
        if timeline is not None and len(timeline) < max_events:
            done = np.argsort(start, kind="stable")[: max_events - len(timeline)]
            timeline.extend((int(who[i]), ph.name, int(i), float(start[i]), float(finish[i])) for i in done)
        kind = ph.name.split(" wave ")[0]
        phase_cycles[kind] = phase_cycles.get(kind, 0.0) + end_phase - now
        now = end_phase
    caps = {"pipeline": C * spec.pipelines_per_core, "scratchpad": C, "atomic_unit": C, "dram": 1, "network": C}
    return MachineResult(cycles=int(np.ceil(now)), busy_cycles=dict(zip(KINDS, busy.tolist())), capacity=caps,
                         thread_busy=thread_busy, thread_flops=thread_flops,
                         tasks=ntasks, phases=len(phases), phase_cycles=phase_cycles)


def trace_events(spec: PiumaSpec, timeline: list) -> list:
    """Chrome-trace events of a :func:`run` timeline: one process per core, one track per thread.

    ``timeline`` holds ``(thread, phase, task, start, end)`` tuples; process ``c + 1`` is core
    ``c`` and thread id ``k + 1`` its ``k``-th hardware thread (multi-threaded pipelines' threads
    first, named ``mtp P thread J``, then ``stp S``). See :mod:`sim.des.trace`.
    """
    us = 1e6 / spec.clock_hz
    tpc, tpm = spec.threads_per_core, spec.threads_per_mtp
    mt = spec.mtp_per_core * tpm
    names = [(k + 1, f"mtp {k // tpm} thread {k % tpm}" if k < mt else f"stp {k - mt}") for k in range(tpc)]
    out = []
    for c in range(spec.cores):
        out += track_metadata(c + 1, f"core {c}", names)
    for th, phase, task, s, e in timeline:
        out.append(complete_event(phase, phase, th // tpc + 1, th % tpc + 1, float(s), float(e), us, task=int(task)))
    return out
