"""The issue loop: in-order units starting tile tasks as soon as their inputs are ready.

This is the inner loop of the discrete-event engine. For each op of a compiled program
(``sim/des/program.py``), in the fixed order in which in-order issue decides them::

    start = max(unit free time, ready time of every awaited instance)
    end   = start + cycles          (the unit is busy until then)
    ready = end + latency           (dependents may start from then on)

which is exactly what a SimPy process per unit computes by waiting on events and requesting
the unit, without an event heap: with in-order issue no decision depends on the order in which
simultaneous events would be popped. All times are integer cycles.
"""

from __future__ import annotations


def issue(progs, free: list) -> None:
    """Run the ops of ``progs`` (an iterable of programs), updating ``free`` and histories."""
    for prog in progs:
        for hist, u, cyc, lat, deps, _k in prog:
            t = free[u]
            for h, j in deps:
                v = h[j]
                if v > t:
                    t = v
            t += cyc
            free[u] = t
            hist.append(t + lat)


def issue_timeline(progs, free: list, first_iteration: int, out: list, phase_index: int) -> None:
    """As :func:`issue`, appending ``(phase, task index, unit index, iteration, start, end)``."""
    rec = out.append
    for i, prog in enumerate(progs, first_iteration):
        for hist, u, cyc, lat, deps, k in prog:
            t = free[u]
            for h, j in deps:
                v = h[j]
                if v > t:
                    t = v
            s = t
            t += cyc
            free[u] = t
            hist.append(t + lat)
            rec((phase_index, k, u, i, s, t))


def issue_recorded(progs, free: list, out: list) -> None:
    """As :func:`issue`, appending for every op ``(unit free time, awaited ready times..., end)``:
    the arguments and the result of its max-plus step (what fast-forward verifies)."""
    rec = out.append
    for prog in progs:
        for hist, u, cyc, lat, deps, _k in prog:
            t = free[u]
            args = [t]
            for h, j in deps:
                v = h[j]
                args.append(v)
                if v > t:
                    t = v
            t += cyc
            free[u] = t
            hist.append(t + lat)
            args.append(t)
            rec(args)
