"""Chrome-trace export of a simulated timeline: one track per hardware unit, viewable in Perfetto.

Each simulated task instance becomes a complete event (``"ph": "X"``) on the track of its unit:
process id 1 is the accelerator, thread id ``k + 1`` is the ``k``-th unit of ``TaskGraph.units``
(compute arrays, DRAM channels and buffer ports alike), named by metadata events so that every
unit has its track even when idle. Times: ``ts`` and ``dur`` are **microseconds of simulated
time** (cycles / clock_hz * 1e6, fractional), the unit Chrome traces use; the exact integer
cycles are in each event's ``args`` (``start_cycle``, ``end_cycle``) with the phase and loop
iteration. Only the simulated part of a fast-forwarded run appears (the extrapolated part
repeats it shifted in time).
"""

from __future__ import annotations

import json

from arch.errors import SimulationError

#: Chrome-trace process id of the accelerator.
PID = 1


def trace_events(graph, events, unit_names) -> list:
    """Chrome-trace events for ``events`` = ``(phase, task, unit, iteration, start, end)`` tuples."""
    us_per_cycle = 1e6 / graph.clock_hz
    out = [{"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": "accelerator"}}]
    for k, name in enumerate(unit_names):
        out.append({"name": "thread_name", "ph": "M", "pid": PID, "tid": k + 1, "args": {"name": name}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": k + 1, "args": {"sort_index": k}})
    phases = graph.phases
    for p, k, u, i, s, e in events:
        ph = phases[p]
        out.append({"name": ph.tasks[k].name, "cat": ph.name, "ph": "X", "pid": PID, "tid": u + 1,
                    "ts": s * us_per_cycle, "dur": (e - s) * us_per_cycle,
                    "args": {"phase": ph.name, "iteration": i, "start_cycle": s, "end_cycle": e}})
    return out


def write_trace(path: str, graph, events, unit_names, truncated: bool = False) -> None:
    """Write a Chrome-trace JSON file (``{"traceEvents": [...]}``) to ``path``.

    ``truncated`` says that more instances were simulated than the file holds.
    """
    doc = {"traceEvents": trace_events(graph, events, unit_names), "displayTimeUnit": "ns",
           "otherData": {"time_unit": "microseconds of simulated time", "clock_hz": graph.clock_hz,
                         "truncated": bool(truncated)}}
    try:
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
    except OSError as exc:
        raise SimulationError(f"trace: cannot write {path!r}: {exc.strerror}") from None
