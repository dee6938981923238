"""Rooflines: each design point against the compute roof and the roof of each memory level.

In hardware terms, a run of ``ops`` operations in ``seconds`` that moves ``bytes`` through a
memory level of bandwidth ``BW`` (B/s) can go no faster than ``min(peak, BW * ops / bytes)``:
the compute roof ``peak`` (every PE busy every cycle) and, per level, a slanted roof through
the operational intensity ``ops / bytes`` (PE-op/B). A point under the slanted roof of its
level is limited by that memory; a point under the flat roof, by compute.

Operations are counted as busy PE-cycles (the ``utilization`` of each compute unit times its
PEs times the run's ``cycles``), so that the compute roof is PEs x clock and a point's height
over the roof is its utilization. The spec (peak, bandwidths) is the record's ``arch`` loaded
with the design point's parameters (``pe_dim``, ``glb_mb``, ``dram_gbps``, ...); the traffic is
what the record reports (``dram_bytes``). A level whose bandwidth the spec leaves unlimited has
no roof; a level with a roof but no traffic in the record gets its roof and no point. On a
memory hierarchy (``kind: hierarchy`` or a Timeloop architecture) operations are the record's
MACs (``computes``) and every level's traffic comes from its ``accesses``.
Design points that share every roof share a panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from arch.errors import AccelError
from studies.plots import layout
from studies.plots.labels import Swept, params_of, present, value_text

#: Design parameters that change a spatial spec (short override names of ``arch.spec``).
SPEC_KEYS = ("pe_dim", "rows", "cols", "dataflow", "glb_mb", "dram_gbps", "clock_mhz")
_PANEL_IN = (3.4, 2.8)  # width, height of one roofline panel (in)


@dataclass(frozen=True)
class Roofline:
    """One design point's roofs and its place under them.

    Attributes
    ----------
    peak_ops_per_s : float
        Compute roof: every PE of every unit busy every cycle (PE-op/s).
    roofs : tuple of (str, float)
        ``(level, bandwidth in B/s)`` of every memory level with a finite bandwidth, DRAM last.
    ops : float
        Busy PE-cycles of the run (PE-op).
    seconds : float
        Run time (s).
    traffic : Mapping
        Level -> bytes moved through it, for the levels the record reports.
    anchor : str
        The level whose operational intensity places the point (off-chip memory: ``dram``, or
        a hierarchy's outermost level).
    """

    peak_ops_per_s: float
    roofs: tuple
    ops: float
    seconds: float
    traffic: Mapping = field(default_factory=lambda: MappingProxyType({}))
    anchor: str = "dram"

    @property
    def attained_ops_per_s(self) -> float:
        """Throughput of the run (PE-op/s)."""
        return self.ops / self.seconds

    def intensity(self, level: str) -> float:
        """Operational intensity against ``level`` (PE-op/B)."""
        return self.ops / self.traffic[level]


def _busy_pe_cycles(spec, utilization: dict, cycles: int) -> float | None:
    """Sum over compute units of utilization x PEs x cycles; utilization keys are unit names,
    or ``2d`` / ``1d`` for the one unit of that many dimensions."""
    total, seen = 0.0, False
    for key, frac in (utilization or {}).items():
        unit = spec.compute.get(key)
        if unit is None and key in ("2d", "1d"):
            units = [u for u in spec.compute.values() if u.ndim == int(key[0])]
            unit = units[0] if len(units) == 1 else None
        if unit is not None:
            total += float(frac) * unit.pes * cycles
            seen = True
    return total if seen else None


def roofline_of(record: dict, params: dict | None = None) -> Roofline | None:
    """The roofline of one record, or None when its architecture is not a spatial spec or the
    record lacks what a roofline needs (cycles, seconds, utilization)."""
    from arch.registry import arch_kind, load_arch

    params = params_of(record) if params is None else params
    arch = record.get("arch", params.get("arch"))
    if arch is None or not record.get("seconds") or not record.get("cycles"):
        return None
    try:
        kind = arch_kind(arch)
        if kind in ("hierarchy", "timeloop"):
            return _hierarchy_roofline(record, load_arch(arch))
        if kind != "spatial":
            return None
        spec = load_arch(arch, {k: params[k] for k in SPEC_KEYS if k in params})
    except AccelError:
        return None
    ops = _busy_pe_cycles(spec, record.get("utilization"), int(record["cycles"]))
    if not ops:
        return None
    peak = sum(u.pes for u in spec.compute.values()) * spec.clock_hz
    roofs = [(lv.name, lv.bw_bytes_per_cycle * spec.clock_hz) for lv in spec.shared_levels()
             if lv.bw_bytes_per_cycle is not None]
    roofs.append(("dram", spec.dram.bw_bytes_per_s))
    traffic = {"dram": float(record["dram_bytes"])} if record.get("dram_bytes") else {}
    return Roofline(peak, tuple(roofs), ops, float(record["seconds"]), MappingProxyType(traffic))


def _hierarchy_roofline(record: dict, hierarchy) -> Roofline | None:
    """A memory hierarchy's roofline (:mod:`arch.hierarchy`): the compute roof is every MAC unit
    busy every cycle; each storage level with a finite bandwidth has a roof of its per-instance
    words per cycle (the shared, else the read bandwidth) times its word size, its instances and
    the clock; its traffic is the words the record's ``accesses`` say it read, was filled with
    and updated, totals over instances."""
    ops, accesses = record.get("computes"), record.get("accesses") or {}
    if not ops:
        return None
    clock_hz = hierarchy.clock_mhz * 1e6
    roofs, traffic = [], {}
    for i, lv in enumerate(hierarchy.levels):
        bytes_per_word = lv.word_bits / 8
        bw = lv.shared_bw if lv.shared_bw is not None else lv.read_bw
        if bw is not None:
            roofs.append((lv.name, bw * bytes_per_word * hierarchy.instances(i) * clock_hz))
        words = sum(sum(counts.values()) for counts in (accesses.get(lv.name) or {}).values())
        if words:
            traffic[lv.name] = words * bytes_per_word
    outer = hierarchy.levels[0].name
    if outer not in traffic:
        return None
    peak = hierarchy.instances(len(hierarchy.levels)) * clock_hz
    return Roofline(peak, tuple(roofs), float(ops), float(record["seconds"]), MappingProxyType(traffic), outer)


def rooflines(records, params=None) -> list:
    """:func:`roofline_of` of every record (None where there is none)."""
    plist = params if params is not None else [None] * len(records)
    return [roofline_of(r, p) for r, p in zip(records, plist)]


def roofline_figure(records, params=None, plot_by=None, roofs=None):
    """Every design point with a roofline, one panel per set of roofs; points coloured by
    ``plot_by`` (default: the first parameter that varies) and named beside their panel."""
    records, params = present(records, params)
    roofs = rooflines(records, params) if roofs is None else roofs
    swept = Swept.of(records, params)
    by = swept.by(plot_by)
    colors = layout.group_colors(swept.groups(by))
    color = {i: colors[g] for g, idx in swept.groups(by).items() for i in idx}
    panels = {}
    for i, rl in enumerate(roofs):
        if rl is not None and rl.traffic:
            panels.setdefault((rl.peak_ops_per_s, rl.roofs), []).append(i)
    if not panels:
        fig = layout.new_figure(4, 1.5)
        fig.text(0.5, 0.5, "no design point reports the traffic of a memory level with a roof", ha="center")
        return fig
    panel_titles, panel_labels = [], []
    for idx in panels.values():
        inner = Swept.of([], [swept.params[i] for i in idx])
        title_keys = [k for k in swept.varying if k in inner.constant]
        shared = " ".join(f"{k}={value_text(inner.constant[k])}" for k in title_keys)
        alone = len(idx) == 1  # the title names its one point
        panel_titles.append(shared or ("the design point" if alone else f"{len(idx)} points with the same roofs"))
        panel_labels.append([] if alone else [swept.label(i, skip=title_keys) for i in idx])
    col_w = layout.text_width_in([lab for labs in panel_labels for lab in labs]) if any(panel_labels) else 0.2
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    panel_h = max(_PANEL_IN[1], max(layout.column_height_in(labs) for labs in panel_labels)) + 1.2
    fig = layout.new_figure(ncols * (_PANEL_IN[0] + col_w) + 0.4, nrows * panel_h + 0.5)
    fig.suptitle(layout.fit_title(f"rooflines: {swept.title()}", fig.get_figwidth()), fontsize=9)
    subs = np.atleast_1d(fig.subfigures(nrows, ncols, squeeze=False)).ravel()
    for sub, idx, title, labels in zip(subs, panels.values(), panel_titles, panel_labels):
        ax, col = sub.subplots(1, 2, width_ratios=[_PANEL_IN[0], col_w])
        _panel(ax, [roofs[i] for i in idx], title)
        pts = [(roofs[i].intensity(roofs[i].anchor), roofs[i].attained_ops_per_s) for i in idx]
        for (x, y), i in zip(pts, idx):
            ax.scatter([x], [y], s=18, color=color[i], zorder=3)
        if labels:
            layout.label_column(ax, col, [p[0] for p in pts], [p[1] for p in pts], labels, [color[i] for i in idx])
        else:
            col.set_axis_off()
    for sub in subs[len(panels):]:
        sub.set_facecolor("none")
    return fig


def _panel(ax, rls, title):
    import matplotlib.ticker as mt

    first = rls[0]
    ridges = [first.peak_ops_per_s / bw for _, bw in first.roofs]
    xs = [rl.intensity(rl.anchor) for rl in rls] + ridges
    lo = min(xs) / 8
    hi = max(max(xs) * 8, lo * 1e3)  # at least three decades: two labelled ticks or more
    x = np.geomspace(lo, hi, 200)
    eng = mt.EngFormatter(places=1, sep=" ")
    ax.plot(x, np.full_like(x, first.peak_ops_per_s), color="0.2", lw=1.2,
            label=f"compute roof {eng(first.peak_ops_per_s)} PE-op/s")
    for k, ((level, bw), ridge) in enumerate(zip(first.roofs, ridges)):
        xr = x[x <= ridge]
        ax.plot(xr, bw * xr, ls="--", color=f"C{(k + 7) % 10}", lw=1.0,
                label=f"{level} roof {eng(bw)}B/s" + ("" if level in first.traffic else " (no traffic in record)"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis, n in ((ax.xaxis, _PANEL_IN[0]), (ax.yaxis, _PANEL_IN[1])):
        axis.set_major_locator(mt.LogLocator(base=10, numticks=max(2, int(n / 0.6))))
        axis.set_minor_locator(mt.NullLocator())
    ax.yaxis.set_major_formatter(mt.EngFormatter(sep=" "))
    ax.tick_params(labelsize=layout.SMALL_PT)
    floor = min([rl.attained_ops_per_s for rl in rls] + [bw * lo for _, bw in first.roofs])
    ax.set_ylim(min(floor / 2, first.peak_ops_per_s / 300), first.peak_ops_per_s * 2)
    ax.set_xlabel(f"operational intensity vs {'DRAM' if first.anchor == 'dram' else first.anchor} (PE-op/B)", fontsize=7)
    ax.set_ylabel("throughput (PE-op/s)", fontsize=7)
    ax.set_title(layout.wrap(title), fontsize=8)
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=layout.SMALL_PT - 0.5, frameon=False)


def plot_roofline(records, path, params=None, plot_by=None, roofs=None):
    """Write :func:`roofline_figure` to ``path`` (format by extension)."""
    return layout.save(roofline_figure(records, params, plot_by, roofs), path)
