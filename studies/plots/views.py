"""Which views a sweep gets, and the checks made before it runs.

``explore --plot PATH`` writes the summary (:mod:`studies.plots.summary`) to ``PATH``; the
rooflines of the design points whose spec has a compute array and memory levels
(:mod:`studies.plots.roofline`) to ``STEM.roofline.EXT``; and, with ``--engine des`` and one
design point, the unit occupancy of its simulated window (:mod:`studies.plots.timeline`) to
``STEM.timeline.EXT``.
"""

from __future__ import annotations

from pathlib import Path

from arch.errors import WorkloadError
from studies.plots.labels import Swept, present


def point_params(points, first=()) -> list:
    """The parameters of each sweep point as labels show them: ``arch``, ``workload``, ``engine``, the keys in
    ``first`` (the ``--set`` keys, in their order), then the point's other keys."""
    out = []
    for p in points:
        given = dict(p.params)
        d = {"arch": p.arch, "workload": p.kind, "engine": p.engine}
        d.update((k, given[k]) for k in first if k in given)
        d.update((k, v) for k, v in given.items() if k not in d)
        out.append(d)
    return out


def check_plot_by(name, params) -> None:
    """Refuse a ``--plot-by`` parameter that does not vary across the sweep, before it runs."""
    if name is None:
        return
    varying = Swept.of([], params).varying
    if name not in varying:
        swept = ", ".join(varying) if varying else "none: the sweep has one design point"
        raise WorkloadError(f"--plot-by {name}: not a parameter that varies in this sweep (varying: {swept})")


def write_plots(records, path, params=None, plot_by=None, trace=None) -> list:
    """Write every view that applies to ``records``; returns the paths written.

    ``trace`` is the Chrome trace of a one-point discrete-event run (its timeline view).
    """
    from studies.plots.roofline import plot_roofline, rooflines
    from studies.plots.layout import sibling
    from studies.plots.summary import plot_records
    from studies.plots.timeline import plot_timeline

    recs, params = present(records, params)
    written = [plot_records(recs, path, params, plot_by)]
    roofs = rooflines(recs, params)
    if any(r is not None for r in roofs):
        written.append(plot_roofline(recs, sibling(path, "roofline"), params, plot_by, roofs=roofs))
    if trace is not None and Path(trace).is_file() and Path(trace).stat().st_size and len(recs) == 1:
        written.append(plot_timeline(trace, sibling(path, "timeline"), recs[0]))
    return written
