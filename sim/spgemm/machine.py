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


def run(spec: PiumaSpec, phases: list, timeline: list | None = None, max_events: int = 200_000) -> MachineResult:
    """Simulate phases of tasks on the machine; returns cycles and occupancy.

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
    core_of, pipe_of, rank_of, rank = core_of.tolist(), pipe_of.tolist(), rank_of.tolist(), rank.tolist()
    pipe_free = [0.0] * (C * spec.pipelines_per_core)
    spad_free = [0.0] * C
    atom_free = [0.0] * C
    net_free = [0.0] * C
    dram_free = 0.0
    spad_rate = float(spec.spad_ports)
    atom_rate = float(spec.atomics_per_cycle)
    dram_rate = float(spec.dram_bw_bytes_per_cycle)
    net_rate = float(spec.net_link_bytes_per_cycle)
    token_latency = float(spec.net_latency_cycles + spec.atomic_latency_cycles)
    busy = {"pipeline": 0.0, "scratchpad": 0.0, "atomic_unit": 0.0, "dram": 0.0, "network": 0.0}
    thread_busy = [0.0] * T
    thread_flops = [0.0] * T
    now = 0.0
    ntasks = 0
    phase_cycles = {}
    for ph in phases:
        n = len(ph)
        if n == 0:
            continue
        ntasks += n
        instr, spad, atom = ph.instr.tolist(), ph.spad.tolist(), ph.atom.tolist()
        dram, net, lat, fl = ph.dram_bytes.tolist(), ph.net_bytes.tolist(), ph.latency.tolist(), ph.flops.tolist()
        spad_all, atom_all = ph.spad_all.tolist(), ph.atom_all.tolist()
        dynamic = ph.owner is None
        if dynamic:
            queue = iter(range(n))
            heap = [(now, rank_of[th]) for th in range(T)]
        else:
            lists = [[] for _ in range(T)]
            for i, th in enumerate(ph.owner.tolist()):
                lists[th].append(i)
            cursor = [0] * T
            heap = [(now, rank_of[th]) for th in range(T) if lists[th]]
        heapq.heapify(heap)
        end_phase = now
        while heap:
            t, rk = heapq.heappop(heap)
            th = rank[rk]
            if dynamic:
                i = next(queue, None)
                if i is None:
                    continue
                # take a token: remote fetch-and-add on the queue counter held by core 0
                s = max(t, atom_free[0])
                atom_free[0] = s + 1.0 / atom_rate
                busy["atomic_unit"] += 1.0 / atom_rate
                t = max(t + token_latency, atom_free[0])
            else:
                k = cursor[th]
                i = lists[th][k]
                cursor[th] = k + 1
            c = core_of[th]
            end = t + lat[i]
            d = instr[i]
            if d:
                p = pipe_of[th]
                s = pipe_free[p] if pipe_free[p] > t else t
                pipe_free[p] = s + d
                busy["pipeline"] += d
                if pipe_free[p] > end:
                    end = pipe_free[p]
            d = dram[i]
            if d:
                s = dram_free if dram_free > t else t
                dram_free = s + d / dram_rate
                busy["dram"] += d / dram_rate
                if dram_free > end:
                    end = dram_free
            d = net[i]
            if d:
                s = net_free[c] if net_free[c] > t else t
                net_free[c] = s + d / net_rate
                busy["network"] += d / net_rate
                if net_free[c] > end:
                    end = net_free[c]
            for kind, free, rate, dem, dem_all in (("scratchpad", spad_free, spad_rate, spad[i], spad_all[i]),
                                                   ("atomic_unit", atom_free, atom_rate, atom[i], atom_all[i])):
                if dem:
                    busy[kind] += dem / rate
                    s = free[c] if free[c] > t else t
                    free[c] = s + dem / rate
                    if free[c] > end:
                        end = free[c]
                if dem_all:
                    busy[kind] += dem_all / rate
                    share = dem_all / rate / C
                    for cc in range(C):
                        s = free[cc] if free[cc] > t else t
                        free[cc] = s + share
                        if free[cc] > end:
                            end = free[cc]
            thread_busy[th] += end - t
            if timeline is not None and len(timeline) < max_events:
                timeline.append((th, ph.name, i, t, end))
            thread_flops[th] += fl[i]
            if end > end_phase:
                end_phase = end
            if dynamic or cursor[th] < len(lists[th]):
                heapq.heappush(heap, (end, rk))
        kind = ph.name.split(" wave ")[0]
        phase_cycles[kind] = phase_cycles.get(kind, 0.0) + end_phase - now
        now = end_phase
    caps = {"pipeline": C * spec.pipelines_per_core, "scratchpad": C, "atomic_unit": C, "dram": 1, "network": C}
    return MachineResult(cycles=int(np.ceil(now)), busy_cycles=busy, capacity=caps,
                         thread_busy=np.array(thread_busy), thread_flops=np.array(thread_flops),
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
