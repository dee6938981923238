"""Chrome-trace export of a SpGEMM run: one track per hardware thread, viewable in Perfetto.

Each task becomes a complete event (``"ph": "X"``) on the track of the thread that ran it;
process ``c + 1`` is core ``c`` and thread ids count the core's threads (multi-threaded pipelines
first, then the single-threaded ones). ``ts`` and ``dur`` are microseconds of simulated time
(cycles / clock_hz * 1e6); the exact cycles are in each event's ``args``.
"""

from __future__ import annotations

import json

from arch.errors import SimulationError


def trace_events(spec, timeline) -> list:
    """Chrome-trace events of ``timeline`` = ``(thread, phase, task, start, end)`` tuples."""
    us = 1e6 / spec.clock_hz
    tpc = spec.threads_per_core
    out = [{"name": "process_name", "ph": "M", "pid": c + 1, "tid": 0, "args": {"name": f"core {c}"}}
           for c in range(spec.cores)]
    for th, phase, task, s, e in timeline:
        out.append({"name": phase, "cat": phase, "ph": "X", "pid": th // tpc + 1, "tid": th % tpc + 1,
                    "ts": s * us, "dur": (e - s) * us,
                    "args": {"task": int(task), "start_cycle": float(s), "end_cycle": float(e)}})
    return out


def write_trace(path: str, spec, timeline, truncated: bool = False) -> None:
    """Write ``{"traceEvents": [...]}`` to ``path``; :class:`SimulationError` if it cannot."""
    doc = {"traceEvents": trace_events(spec, timeline), "displayTimeUnit": "ns",
           "otherData": {"time_unit": "microseconds of simulated time", "clock_hz": spec.clock_hz,
                         "truncated": bool(truncated)}}
    try:
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
    except OSError as exc:
        raise SimulationError(f"trace: cannot write {path!r}: {exc.strerror}") from None
