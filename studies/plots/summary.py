"""The summary of a sweep: latency against energy and area with their Pareto fronts, energy by
component and utilization by unit, one bar per design point.

Latency is ``seconds`` (s), energy ``energy_pj`` drawn in J, area ``area_mm2`` (mm^2) when every
record carries it. A point is on a Pareto front when no other point is at least as good in both
coordinates and strictly better in one (both minimised). Points are coloured by one parameter
(``plot_by``; default the first that varies); every Pareto point is named in a column beside its
panel; past :data:`~studies.plots.layout.MAX_BARS` points the bars are split into small
multiples, one per value of ``plot_by``.
"""

from __future__ import annotations

import numpy as np

from studies.plots import layout
from studies.plots.labels import Swept, present

_SCATTER_IN = (3.8, 3.0)  # width, height of one scatter panel (in)
_BAR_H_IN = 1.9           # height of one bar panel, without its labels (in)
_LEGEND_IN = 1.7          # room for a legend outside the panels (in)
_GRID_IN = 16.0           # small multiples of bars sit side by side up to this width (in)


def pareto_front(xs, ys) -> np.ndarray:
    """Indices of the points no other point dominates (both coordinates minimised), by x; equal
    points do not dominate each other, so a point given twice is on the front twice."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    order = np.lexsort((ys, xs))
    front, best, at = [], np.inf, None
    for i in order:
        if ys[i] < best or (at is not None and xs[i] == xs[at] and ys[i] == ys[at]):  # equal points tie
            front.append(i)
            best, at = ys[i], i
    return np.asarray(front, dtype=int)


class _Plan:
    """Who is drawn where: labels, colours, bar panels, and the figure's size (in)."""

    def __init__(self, records, params, plot_by):
        self.recs = list(records)
        self.swept = Swept.of(self.recs, params)
        self.by = self.swept.by(plot_by)
        self.groups = self.swept.groups(self.by)
        self.colors = layout.group_colors(self.groups)
        self.point_color = [None] * len(self.recs)
        for name, idx in self.groups.items():
            for i in idx:
                self.point_color[i] = self.colors[name]
        self.labels = self.swept.labels()
        self.seconds = np.array([r.get("seconds", np.nan) for r in self.recs], float)
        self.energy_j = np.array([r.get("energy_pj", np.nan) for r in self.recs], float) * 1e-12
        has_area = bool(self.recs) and all("area_mm2" in r for r in self.recs)
        self.area = np.array([r["area_mm2"] for r in self.recs], float) if has_area else None
        if len(self.recs) <= layout.MAX_BARS:
            order = [i for idx in self.groups.values() for i in idx]
            self.panels = [("", order, self.labels)]
        else:
            short = self.swept.labels(skip=(self.by,))
            self.panels = [(f"{self.by}={name}", idx, short) for name, idx in layout.chunks(self.groups)]
        bar_labels = [lab for _, idx, labs in self.panels for lab in (labs[i] for i in idx)]
        self.slot_in = layout.bar_slot_in(bar_labels)
        self.bar_label_in = layout.text_width_in(bar_labels)
        most = max((len(idx) for _, idx, _ in self.panels), default=1)
        self.bars = max(most, 1)
        panel_w = max(self.bars, 8) * self.slot_in + 1.0
        self.facet_cols = max(1, min(len(self.panels), int(_GRID_IN // panel_w)))
        self.facet_rows = -(-len(self.panels) // self.facet_cols)

    def fronts(self):
        """(x values, x unit, x name, front indices) per scatter panel."""
        out = [(self.energy_j, "J", "energy")]
        if self.area is not None:
            out.append((self.area, None, "area (mm²)"))
        return [(x, unit, name, pareto_front(x, self.seconds) if len(x) else np.array([], int)) for x, unit, name in out]

    def widths(self, fronts):
        """Widths (in) of the scatter row's panels: (scatter, label column) per front, then the legend."""
        out = []
        for *_, f in fronts:
            out += [_SCATTER_IN[0], layout.text_width_in([self.labels[i] for i in f])]
        legend = max(_LEGEND_IN, layout.text_width_in([str(self.by)] + [str(g) for g in self.groups]) + 0.5)
        bars_w = self.facet_cols * (max(self.bars, 8) * self.slot_in + 1.0) + _LEGEND_IN
        return out + [legend + max(0.0, bars_w - sum(out) - legend)]

    def heights(self, fronts):
        """Heights (in) of the scatter row and of one block of bar panels."""
        scatter_h = max(_SCATTER_IN[1], max(layout.column_height_in([self.labels[i] for i in f]) for *_, f in fronts))
        panel_h = _BAR_H_IN + self.bar_label_in + (0.3 if self.panels[0][0] else 0.0)
        return scatter_h + 0.9, self.facet_rows * panel_h + 0.4


def sweep_figure(records, params=None, plot_by=None):
    """The summary figure of a sweep.

    Parameters
    ----------
    records : list of dict
        One record per design point (``seconds``, ``energy_pj``, optional ``area_mm2``,
        ``energy_breakdown`` in pJ, ``utilization`` as fractions).
    params : list of dict, optional
        The parameters of each record's design point, in the same order (default: read from
        the records, :func:`studies.plots.labels.params_of`).
    plot_by : str, optional
        The parameter that colours points and groups bars (default: the first that varies).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plan = _Plan(*present(records, params), plot_by)
    fronts = plan.fronts()
    widths = plan.widths(fronts)
    top_h, bars_h = plan.heights(fronts)
    fig = layout.new_figure(sum(widths) + 0.4, top_h + 2 * bars_h + 0.3)
    fig.suptitle(layout.fit_title(plan.swept.title() or "sweep", fig.get_figwidth()), fontsize=9)
    top, mid, bottom = fig.subfigures(3, 1, height_ratios=[top_h, bars_h, bars_h])
    _scatters(top, plan, fronts, widths)
    _bars(mid, plan, "energy_breakdown", "energy by component", "J", 1e-12, stacked=True)
    _bars(bottom, plan, "utilization", "utilization by unit", "", 1.0, stacked=False)
    return fig


def plot_records(records, path, params=None, plot_by=None):
    """Write :func:`sweep_figure` to ``path`` (format by extension: .png, .svg, .pdf)."""
    return layout.save(sweep_figure(records, params, plot_by), path)


def _scatters(sub, plan, fronts, widths):
    from matplotlib.lines import Line2D

    axes = sub.subplots(1, len(widths), width_ratios=widths)
    for k, (xs, unit, name, front) in enumerate(fronts):
        ax, col = axes[2 * k], axes[2 * k + 1]
        if not len(xs):
            ax.text(0.5, 0.5, "no design points", ha="center", va="center", transform=ax.transAxes)
            col.set_axis_off()
            continue
        ax.scatter(xs, plan.seconds, s=16, c=plan.point_color, zorder=3)
        ax.plot(xs[front], plan.seconds[front], "-", color="0.3", lw=0.8, zorder=2)
        layout.style_axis(ax, "x", xs, unit, _SCATTER_IN[0])
        layout.style_axis(ax, "y", plan.seconds, "s", _SCATTER_IN[1])
        ax.set_xlabel(name, fontsize=8)
        ax.set_ylabel("latency", fontsize=8)
        ax.set_title(f"latency vs {name.split(' ')[0]}: {len(front)} Pareto point{'s' * (len(front) != 1)} named", fontsize=8)
        ax.grid(alpha=0.3)
        layout.label_column(ax, col, xs[front], plan.seconds[front], [plan.labels[i] for i in front],
                            [plan.point_color[i] for i in front])
    handles = [Line2D([], [], ls="", marker="o", color=c, label=name) for name, c in plan.colors.items() if name]
    handles.append(Line2D([], [], color="0.3", lw=0.8, label="Pareto front"))
    axes[-1].set_axis_off()
    axes[-1].legend(handles=handles, title=plan.by, loc="upper left", fontsize=layout.SMALL_PT,
                    title_fontsize=layout.SMALL_PT + 1)


def _bars(sub, plan, field, title, unit, factor, stacked):
    import matplotlib.ticker as mt

    keys = list(dict.fromkeys(k for r in plan.recs for k in (r.get(field) or {})))
    grid = sub.subplots(plan.facet_rows, plan.facet_cols, sharey=True, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(plan.panels):]:
        ax.set_visible(False)
    sub.suptitle(title, fontsize=9)
    for ax, (name, idx, labels) in zip(axes, plan.panels):
        x = np.arange(len(idx))
        bottom = np.zeros(len(idx))
        width = 0.8 if stacked else 0.8 / max(len(keys), 1)
        for k, key in enumerate(keys):
            vals = np.array([(plan.recs[i].get(field) or {}).get(key, 0.0) for i in idx], float) * factor
            if stacked:
                ax.bar(x, vals, 0.8, bottom=bottom, label=key, color=f"C{k % 10}")
                bottom += vals
            else:
                ax.bar(x - 0.4 + width * (k + 0.5), vals, width, label=key, color=f"C{k % 10}")
        ax.set_xlim(-0.5, max(plan.bars, 8) - 0.5)  # a lone bar keeps the width of one among eight
        ax.set_xticks(x, [layout.wrap(labels[i]) for i in idx], rotation=90, fontsize=layout.SMALL_PT)
        for tick, i in zip(ax.get_xticklabels(), idx):
            tick.set_color(plan.point_color[i])
        if stacked:
            ax.yaxis.set_major_formatter(mt.EngFormatter(unit=unit, sep=" "))
        else:
            ax.set_ylim(0, 1.05)
        ax.yaxis.set_major_locator(mt.MaxNLocator(nbins=4))
        ax.tick_params(axis="y", labelsize=layout.SMALL_PT)
        ax.grid(axis="y", alpha=0.3)
        if name:
            ax.set_title(name, fontsize=8)
    if keys:
        grid[0, -1].legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           fontsize=layout.SMALL_PT)
    else:
        axes[0].text(0.5, 0.5, f"no {field} in these records", ha="center", va="center", transform=axes[0].transAxes)
