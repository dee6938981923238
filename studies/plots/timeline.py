"""Unit occupancy over the simulated window of one discrete-event run.

The discrete-event engine writes what it simulated as a Chrome trace (:mod:`sim.des.trace`):
one track per unit (compute arrays, DRAM channels, buffer ports; a thread of a many-threaded
machine), each task instance a complete event with its ``start_cycle`` and ``end_cycle``.
This view reads that file back (nothing is simulated again) and draws, per track, when it was
busy (top) and the fraction of each time bin it was busy (bottom). A fast-forwarded run
simulates only a start and an end and extrapolates the steady state between them: a stretch
with no simulated event longer than a quarter of the run is cut out, and each simulated stretch
gets its own column, its cycles counted from its start. With more than :data:`MAX_TRACKS`
tracks, the threads of each process are drawn together (occupancy = busy threads / threads).
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from arch.errors import WorkloadError
from studies.plots import layout

#: Most tracks drawn one by one; past this, threads are grouped by process.
MAX_TRACKS = 24
_BINS = 120
_GAP_FRACTION = 0.25


def read_trace(path) -> dict:
    """Track name -> (threads, [per thread: (k, 2) array of its task spans (start, end cycles)]),
    in track order."""
    try:
        with open(path) as fh:
            doc = json.load(fh)
        events = doc["traceEvents"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WorkloadError(f"trace {path}: not a Chrome trace this engine wrote ({err})") from None
    procs, threads, order, spans = {}, {}, {}, defaultdict(list)
    for ev in events:
        key = (ev.get("pid"), ev.get("tid"))
        if ev.get("ph") == "M" and ev.get("name") == "process_name":
            procs[ev["pid"]] = ev["args"]["name"]
        elif ev.get("ph") == "M" and ev.get("name") == "thread_name":
            threads[key] = ev["args"]["name"]
        elif ev.get("ph") == "M" and ev.get("name") == "thread_sort_index":
            order[key] = ev["args"]["sort_index"]
        elif ev.get("ph") == "X":
            spans[key].append((ev["args"]["start_cycle"], ev["args"]["end_cycle"]))
    keys = sorted(set(threads) | set(spans), key=lambda k: (k[0], order.get(k, 0), k[1]))
    group = len(keys) > MAX_TRACKS
    out = {}
    for key in keys:
        name = procs.get(key[0], f"process {key[0]}") if group else threads.get(key, f"track {key[1]}")
        n, prev = out.get(name, (0, []))
        out[name] = (n + 1, prev + [np.asarray(spans.get(key, []), dtype=float).reshape(-1, 2)])
    return {name: (n, parts) for name, (n, parts) in out.items()}


def _merge(spans) -> np.ndarray:
    """Union of ``(start, end)`` spans as a sorted (k, 2) array of disjoint intervals."""
    a = np.asarray(spans, dtype=float).reshape(-1, 2)
    if not len(a):
        return a
    a = a[np.argsort(a[:, 0], kind="stable")]
    reach = np.maximum.accumulate(a[:, 1])
    new = np.concatenate([[True], a[1:, 0] > reach[:-1]])
    first = np.flatnonzero(new)
    return np.column_stack([a[first, 0], np.maximum.reduceat(a[:, 1], first)])


def _busy_until(iv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Busy cycles of disjoint sorted intervals ``iv`` before each time in ``t``."""
    if not len(iv):
        return np.zeros_like(t)
    lengths = iv[:, 1] - iv[:, 0]
    before = np.concatenate([[0.0], np.cumsum(lengths)])
    j = np.searchsorted(iv[:, 0], t, side="right") - 1
    inside = np.clip(t - iv[np.maximum(j, 0), 0], 0, lengths[np.maximum(j, 0)])
    return np.where(j < 0, 0.0, before[np.maximum(j, 0)] + inside)


def windows(tracks: dict) -> list:
    """``(start, end)`` cycles of each simulated stretch: cut where nothing ran for more than
    a quarter of the whole run."""
    every = _merge(np.concatenate([iv for _, parts in tracks.values() for iv in parts] + [np.zeros((0, 2))]))
    if not len(every):
        return []
    span = every[-1, 1] - every[0, 0]
    cuts = [k for k in range(1, len(every)) if every[k, 0] - every[k - 1, 1] > _GAP_FRACTION * span]
    bounds = [0] + cuts + [len(every)]
    return [(every[a, 0], every[b - 1, 1]) for a, b in zip(bounds[:-1], bounds[1:])]


def timeline_figure(trace, record: dict | None = None):
    """The occupancy figure of the Chrome trace at ``trace``; ``record`` (the run's record) adds
    its name and how much of the run was simulated to the title.

    Top row: the busy fraction of each track in each of :data:`_BINS` time bins per simulated
    stretch. Bottom: the first task instances of the run one by one, where the pipeline fills.
    """
    tracks = read_trace(trace)
    wins = windows(tracks)
    names = list(tracks)
    rows_in = 0.6 + 0.25 * len(names)
    fig = layout.new_figure(max(7.5, 4.2 * max(len(wins), 1) + 2.0), 2 * rows_in + 2.4)
    fig.suptitle("\n".join(layout.fit_title(line, fig.get_figwidth()) for line in _title(record).split("\n")),
                 fontsize=9)
    if not wins:
        fig.text(0.5, 0.5, "the trace holds no simulated task", ha="center")
        return fig
    top, bottom = fig.subfigures(2, 1, height_ratios=[rows_in + 1.1, rows_in + 1.0])
    axes = np.atleast_1d(top.subplots(1, len(wins), sharey=True, squeeze=False)[0])
    merged = {name: [_merge(iv) for iv in parts] for name, (_, parts) in tracks.items()}
    for c, (ax, (t0, t1)) in enumerate(zip(axes, wins)):
        edges = np.linspace(t0, t1, _BINS + 1)
        frac = np.array([sum(_busy_until(iv, edges) for iv in merged[name]) for name in names])
        frac = np.diff(frac, axis=1) / np.diff(edges) / np.array([[tracks[n][0]] for n in names])
        img = ax.imshow(frac, aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest",
                        extent=(0, t1 - t0, len(names) - 0.5, -0.5))
        _cycles_axis(ax, names, f"cycles from {t0:,.0f}")
        ax.set_title(f"simulated stretch {c + 1} of {len(wins)}" if len(wins) > 1 else "simulated window",
                     fontsize=8)
    top.colorbar(img, ax=list(axes), label="busy fraction", shrink=0.9).ax.tick_params(labelsize=layout.SMALL_PT)
    _first_tasks(bottom.subplots(1, 1), tracks, names, wins[0][0])
    return fig


def _cycles_axis(ax, names, xlabel):
    import matplotlib.ticker as mt

    ax.set_yticks(range(len(names)), names, fontsize=layout.SMALL_PT)
    ax.xaxis.set_major_locator(mt.MaxNLocator(nbins=4))
    ax.xaxis.set_major_formatter(mt.EngFormatter(sep=" "))
    ax.tick_params(labelsize=layout.SMALL_PT)
    ax.set_xlabel(xlabel, fontsize=7)


def _first_tasks(ax, tracks, names, t0, count: int = 120):
    """The first ``count`` task instances after ``t0``, one bar each, on their tracks."""
    starts = np.sort(np.concatenate([iv[:, 0] for _, parts in tracks.values() for iv in parts]))
    starts = starts[starts >= t0]
    first = [iv[(iv[:, 0] >= t0) & (iv[:, 0] <= starts[min(count, len(starts)) - 1])]
             for _, parts in tracks.values() for iv in parts]
    t1 = max((iv[:, 1].max() for iv in first if len(iv)), default=t0 + 1)
    for row, name in enumerate(names):
        n, parts = tracks[name]
        for iv in parts:
            sel = iv[(iv[:, 0] >= t0) & (iv[:, 0] < t1)]
            ax.broken_barh([(s - t0, e - s) for s, e in sel], (row - 0.35, 0.7), facecolor=f"C{row % 10}",
                           edgecolor="white", linewidth=0.4, alpha=1.0 if n == 1 else max(0.1, 1.0 / n))
    ax.set_xlim(0, t1 - t0)
    ax.set_ylim(len(names) - 0.5, -0.5)
    _cycles_axis(ax, names, f"cycles from {t0:,.0f}")
    ax.set_title(f"the first {min(count, len(starts))} task instances, one bar each", fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def _title(record) -> str:
    if not record:
        return "unit occupancy over the simulated window"
    head = " ".join(str(record[k]) for k in ("arch", "workload", "model", "seq_len", "config") if k in record)
    sim, extra = record.get("simulated_steps", 0), record.get("extrapolated_steps", 0)
    told = f", {sim:,} task steps simulated and {extra:,} extrapolated" if extra else ""
    return f"unit occupancy over the simulated window\n{head}: {record.get('cycles', 0):,} cycles{told}"


def plot_timeline(trace, path, record: dict | None = None):
    """Write :func:`timeline_figure` to ``path`` (format by extension)."""
    return layout.save(timeline_figure(trace, record), path)
