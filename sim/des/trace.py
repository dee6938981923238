"""Chrome-trace export of a simulated timeline: one track per hardware unit, viewable in Perfetto.

Each simulated task instance becomes a complete event (``"ph": "X"``) on the track of the unit
that ran it. A track is a (process, thread) pair of the trace format: for a task graph
(:func:`write_trace`) process id 1 is the accelerator and thread id ``k + 1`` is the ``k``-th
unit of ``TaskGraph.units`` (compute arrays, DRAM channels and buffer ports alike). Pool
phases (:mod:`sim.des.pool`) add, from process id 2 (1 when the graph has nothing else), one
process per worker group (a core of the PIUMA-like machine) with one track per worker (a
hardware thread), whose events are its tasks, then one process per resource role (pipeline,
scratchpad, atomic unit, network, DRAM) with one track per instance, whose events are the
bookings tasks made on it. Metadata events name every track, so that each unit has its track
even when idle. Times: ``ts`` and ``dur`` are **microseconds of simulated time**
(cycles / clock_hz * 1e6, fractional), the unit Chrome traces use; the exact cycles are in each
event's ``args`` (``start_cycle``, ``end_cycle``) with whatever else identifies the instance
(phase and loop iteration, task index). Only the simulated part of a fast-forwarded run appears
(the extrapolated part repeats it shifted in time).

The generic pieces (:func:`track_metadata`, :func:`complete_event`, :func:`write_events`) serve
any timeline; :func:`trace_events` and :func:`write_trace` apply them to a task graph.
"""

from __future__ import annotations

import json

from arch.errors import SimulationError
from sim.pool import PoolPhase

#: Chrome-trace process id of the accelerator (task-graph traces).
PID = 1


def track_metadata(pid: int, process: str, threads=()) -> list:
    """Metadata events naming process ``pid`` and its threads.

    ``threads`` is a sequence of ``(tid, name)``; each gets a ``thread_name`` and a
    ``thread_sort_index`` (its position in the sequence) event.
    """
    out = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": process}}]
    for k, (tid, name) in enumerate(threads):
        out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": k}})
    return out


def complete_event(name: str, cat: str, pid: int, tid: int, start_cycle, end_cycle,
                   us_per_cycle: float, **args) -> dict:
    """One ``"ph": "X"`` event from ``start_cycle`` to ``end_cycle``; ``args`` gets the cycles."""
    return {"name": name, "cat": cat, "ph": "X", "pid": pid, "tid": tid,
            "ts": start_cycle * us_per_cycle, "dur": (end_cycle - start_cycle) * us_per_cycle,
            "args": {**args, "start_cycle": start_cycle, "end_cycle": end_cycle}}


def trace_events(graph, events, unit_names) -> list:
    """Chrome-trace events for ``events`` = ``(phase, task, unit, iteration, start, end)`` tuples."""
    us_per_cycle = 1e6 / graph.clock_hz
    out = track_metadata(PID, "accelerator", [(k + 1, name) for k, name in enumerate(unit_names)])
    phases = graph.phases
    for p, k, u, i, s, e in events:
        ph = phases[p]
        out.append(complete_event(ph.tasks[k].name, ph.name, PID, u + 1, s, e, us_per_cycle,
                                  phase=ph.name, iteration=i))
    return out


def write_events(path: str, events: list, clock_hz: float, truncated: bool = False) -> None:
    """Write ``{"traceEvents": events, ...}`` to ``path``; :class:`SimulationError` if it cannot.

    ``truncated`` says that more instances were simulated than the file holds.
    """
    doc = {"traceEvents": events, "displayTimeUnit": "ns",
           "otherData": {"time_unit": "microseconds of simulated time", "clock_hz": clock_hz,
                         "truncated": bool(truncated)}}
    try:
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
    except OSError as exc:
        raise SimulationError(f"trace: cannot write {path!r}: {exc.strerror}") from None


def write_trace(path: str, graph, events, unit_names, truncated: bool = False, pool=None) -> None:
    """Write a Chrome-trace JSON file (``{"traceEvents": [...]}``) of a task graph's run to ``path``.

    ``truncated`` says that more instances were simulated than the file holds. ``pool`` (a
    :class:`sim.des.pool.PoolRunner`) adds the worker and resource tracks of pool phases, from
    process id 2, or from 1 when only pool phases ran (the accelerator's unit tracks are then
    left out: the resource tracks show those units), and says whether it kept them all.
    """
    only_pool = graph.pool is not None and all(isinstance(ph, PoolPhase) for ph in graph.phases)
    out = [] if only_pool else trace_events(graph, events, unit_names)
    if pool is not None:
        out += pool.trace_events(1 if only_pool else PID + 1)
        truncated = truncated or pool.truncated
    write_events(path, out, graph.clock_hz, truncated)
