"""SpGEMM kernels lowered onto the shared task graph: the PIUMA-like machine as a pool of threads.

In hardware terms: every hardware thread is a worker of the graph's pool (:mod:`sim.pool`).
A thread holds its pipeline's issue slot, its core's scratchpad ports, atomic unit and network
link, and shares the one DRAM channel (addresses are interleaved across the channels, so they
act as one of the aggregate bandwidth). A kernel task states its demand in the machine's own
terms (instructions, 8-byte scratchpad accesses, atomic operations, DRAM and network bytes,
each possibly spread over every core for a fragmented table, a latency and its multiplies);
:func:`pool_phase` turns the demand into occupancy cycles (demand over the spec's throughput)
and prices its actions with the spec's per-action energies, and :func:`task_graph` declares the
units, their kinds and the thread layout once.

Actions, per phase, in the vocabulary of :mod:`sim.cost`: ``("pipeline", "instruction")``,
``("fpu", "mac")`` (the multiply-adds, whole numbers), ``("scratchpad", "access")`` (8-byte
accesses, reads and writes not told apart), ``("atomic_unit", "atomic")`` (the tasks' atomics
plus one fetch-and-add per token of a dynamic phase), ``("dram", "access")`` and
``("network", "access")`` in bytes (the tasks' bytes; the network's plus 16 bytes of request
and reply per token). The spec prices 8-byte DRAM and network accesses: a byte costs an
eighth.
"""

from __future__ import annotations

import numpy as np

from arch.piuma import PiumaSpec
from sim.cost import priced_items
from sim.pool import PoolLayout, PoolPhase, TokenQueue
from sim.taskgraph import TaskGraph

#: Roles a task occupies, in the order the bound names its limiting term on ties.
ROLES = ("pipeline", "scratchpad", "atomic_unit", "network", "dram")
#: Resource kind of each unit (:mod:`sim.des.resources`).
UNIT_KINDS = {"pipeline": "compute", "scratchpad": "port", "atomic_unit": "compute", "dram": "dram",
              "network": "port"}
#: Demands a task states, and the role whose instance held by the thread each occupies.
OWN = {"instr": "pipeline", "spad": "scratchpad", "atom": "atomic_unit", "net_bytes": "network", "dram_bytes": "dram"}
#: Demands spread equally over every instance of a role.
SPREAD = {"spad_all": "scratchpad", "atom_all": "atomic_unit"}
DEMANDS = (*OWN, *SPREAD, "flops")
#: Bytes of one token fetch over the network (request and reply).
TOKEN_NET_BYTES = 16


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


def pool_layout(spec: PiumaSpec) -> PoolLayout:
    """The machine's threads as pool workers: instances held, take order, trace names by core."""
    core_of, pipe_of, rank = thread_layout(spec)
    held = {"pipeline": pipe_of, "scratchpad": core_of, "atomic_unit": core_of, "network": core_of,
            "dram": np.zeros_like(core_of)}
    tpc, tpm = spec.threads_per_core, spec.threads_per_mtp
    mt = spec.mtp_per_core * tpm
    names = [f"mtp {k // tpm} thread {k % tpm}" if k < mt else f"stp {k - mt}" for k in range(tpc)]
    return PoolLayout(roles=ROLES, instance_of=np.stack([held[r] for r in ROLES]), rank=rank, group_of=core_of,
                      group_names=tuple(f"core {c}" for c in range(spec.cores)),
                      worker_names=tuple(names[t % tpc] for t in range(spec.threads)))


def pool_phase(spec: PiumaSpec, name: str, *, instr, latency, spad=0.0, atom=0.0, spad_all=0.0, atom_all=0.0,
               dram_bytes=0.0, net_bytes=0.0, flops=0.0, owner=None, group: str = "") -> PoolPhase:
    """A phase of kernel tasks from their demands (one entry per task, scalars broadcast).

    Parameters
    ----------
    instr : array
        Instructions issued (one per cycle of the thread's pipeline).
    latency : array
        Cycles of the task's own dependence chain.
    spad, atom : array
        8-byte scratchpad accesses and atomic operations on the thread's core.
    spad_all, atom_all : array
        The same, spread equally over every core (a fragmented table).
    dram_bytes, net_bytes : array
        Bytes over the DRAM channel and over the core's network link.
    flops : array
        Multiplies.
    owner : int array, optional
        Thread of each task (static); None takes tasks from the token queue held by core 0.
    """
    n = np.atleast_1d(np.asarray(instr)).size
    given = {k: np.asarray(v, dtype=np.float64) if np.ndim(v) else np.full(n, float(v))
             for k, v in dict(instr=instr, spad=spad, atom=atom, spad_all=spad_all, atom_all=atom_all,
                              dram_bytes=dram_bytes, net_bytes=net_bytes, flops=flops).items()
             if np.ndim(v) or v != 0}                 # a scalar 0 is no demand: no column
    tot = {k: float(given[k].sum()) if k in given else 0.0 for k in DEMANDS}
    sr, ar = float(spec.spad_ports), float(spec.atomics_per_cycle)
    rate = {"instr": 1.0, "spad": sr, "atom": ar, "net_bytes": spec.net_link_bytes_per_cycle,
            "dram_bytes": spec.dram_bw_bytes_per_cycle, "spad_all": sr, "atom_all": ar}
    occupancy = {role: given[k] / rate[k] for k, role in OWN.items() if k in given}
    spread = {role: given[k] / rate[k] for k, role in SPREAD.items() if k in given}
    queue = None
    if owner is None:
        queue = TokenQueue(wait_cycles=float(spec.net_latency_cycles + spec.atomic_latency_cycles),
                           role="atomic_unit", instance=0, cycles=1.0 / ar)
    tokens = n if owner is None else 0
    counts = {
        ("pipeline", "instruction"): tot["instr"],
        ("fpu", "mac"): float(round(tot["flops"])),   # shares of a row's multiplies add up to whole ones
        ("scratchpad", "access"): tot["spad"] + tot["spad_all"],
        ("atomic_unit", "atomic"): tot["atom"] + tot["atom_all"] + tokens,
        ("dram", "access"): tot["dram_bytes"],
        ("network", "access"): tot["net_bytes"] + TOKEN_NET_BYTES * tokens,
    }
    pj = spec.energy_pj
    price = {"pipeline": pj["instruction"], "fpu": pj["flop"], "scratchpad": pj["spad_access"],
             "atomic_unit": pj["atomic"], "dram": pj["dram_access"] / 8, "network": pj["network_access"] / 8}
    actions, energy = priced_items((comp, act, n, price[comp]) for (comp, act), n in counts.items())
    return PoolPhase(name, latency=latency if np.ndim(latency) else np.full(n, float(latency)), occupancy=occupancy,
                     spread=spread, work=given.get("flops", 0.0), owner=owner, queue=queue, actions=actions,
                     energy_pj=energy, group=group)


def task_graph(phases: list, spec: PiumaSpec) -> TaskGraph:
    """The task graph of a kernel's pool phases on ``spec``: units with their instance counts
    and kinds, the thread layout, the clock."""
    C = spec.cores
    units = {"pipeline": C * spec.pipelines_per_core, "scratchpad": C, "atomic_unit": C, "dram": 1, "network": C}
    return TaskGraph(tuple(phases), units, clock_hz=spec.clock_hz, meta={"unit_kinds": dict(UNIT_KINDS)},
                     pool=pool_layout(spec))
