"""Plots of a sweep: latency-area and latency-energy Pareto fronts, energy breakdown, utilization.

Latency is ``seconds`` (s), energy ``energy_pj`` shown in mJ, area ``area_mm2`` (mm^2) when
the records carry it. A point is on a Pareto front when no other point is at least as good in
both coordinates and strictly better in one.
"""

from __future__ import annotations

import numpy as np


def pareto_front(xs, ys) -> np.ndarray:
    """Indices of the points no other point dominates (both coordinates minimised), by x."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    order = np.lexsort((ys, xs))
    front, best = [], np.inf
    for i in order:
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return np.asarray(front, dtype=int)


def _label(rec: dict) -> str:
    keys = ("config", "model", "seq_len", "kernel", "matrix", "rows", "cols", "dataflow", "pe_dim", "lanes", "clock_mhz")
    parts = [f"{rec[k]}" for k in keys if k in rec]
    return " ".join(parts) or rec.get("workload", "")


def _scatter_front(ax, xs, ys, labels, xlabel, ylabel, title):
    ax.scatter(xs, ys, s=14, color="0.6", label="design points")
    if len(xs):
        f = pareto_front(xs, ys)
        ax.plot(np.asarray(xs)[f], np.asarray(ys)[f], "o-", color="C3", label="Pareto front")
        for i in f[:8]:
            ax.annotate(labels[i], (xs[i], ys[i]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)


def plot_records(records, path) -> None:
    """Write a 2 x 2 PNG summary of a sweep to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in records if r]
    labels = [_label(r) for r in recs]
    secs = [r.get("seconds", np.nan) for r in recs]
    energy_mj = [r.get("energy_pj", np.nan) * 1e-9 for r in recs]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))

    ax = axes[0, 0]
    if all("area_mm2" in r for r in recs) and recs:
        _scatter_front(ax, [r["area_mm2"] for r in recs], secs, labels, "area (mm$^2$)", "latency (s)", "latency vs area")
    else:
        ax.text(0.5, 0.5, "no area in these records", ha="center", va="center")
        ax.set_axis_off()

    _scatter_front(axes[0, 1], energy_mj, secs, labels, "energy (mJ)", "latency (s)", "latency vs energy")

    ax = axes[1, 0]
    comps = sorted({c for r in recs for c in (r.get("energy_breakdown") or {})})
    shown = list(range(min(len(recs), 24)))
    bottom = np.zeros(len(shown))
    for c in comps:
        vals = np.array([(recs[i].get("energy_breakdown") or {}).get(c, 0.0) * 1e-9 for i in shown])
        ax.bar(range(len(shown)), vals, bottom=bottom, label=c)
        bottom += vals
    ax.set_xticks(range(len(shown)), [labels[i] for i in shown], rotation=75, fontsize=6)
    ax.set_ylabel("energy (mJ)")
    ax.set_title("energy by component", fontsize=9)
    if comps:
        ax.legend(fontsize=6)

    ax = axes[1, 1]
    units = sorted({u for r in recs for u in (r.get("utilization") or {})})
    width = 0.8 / max(len(units), 1)
    for k, u in enumerate(units):
        vals = [(recs[i].get("utilization") or {}).get(u, 0.0) for i in shown]
        ax.bar(np.arange(len(shown)) + k * width, vals, width=width, label=u)
    ax.set_xticks(range(len(shown)), [labels[i] for i in shown], rotation=75, fontsize=6)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("utilization")
    ax.set_title("utilization by unit", fontsize=9)
    if units:
        ax.legend(fontsize=6)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ladder(records, path, scope: str = "attention") -> None:
    """The FuseMax ablation ladder: speedup over FLAT, 2D utilization and energy against FLAT,
    per sequence length, one line per configuration (means over the models present)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    recs = [r for r in records if r and r.get("scope", scope) == scope]
    configs = list(dict.fromkeys(r["config"] for r in recs))
    lens = list(dict.fromkeys(r["seq_len"] for r in recs))
    by = {(r["config"], r["model"], r["seq_len"]): r for r in recs}
    models = list(dict.fromkeys(r["model"] for r in recs))

    def mean_ratio(cfg, n, key):
        vals = []
        for m in models:
            a, b = by.get((cfg, m, n)), by.get(("flat", m, n))
            if a and b:
                vals.append(b[key] / a[key] if key == "seconds" else a[key] / b[key])
        return float(np.mean(vals)) if vals else np.nan

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    x = np.arange(len(lens))
    for cfg in configs:
        axes[0].plot(x, [mean_ratio(cfg, n, "seconds") for n in lens], "o-", label=cfg)
        util = [np.mean([by[(cfg, m, n)]["utilization"].get("2d", np.nan) for m in models if (cfg, m, n) in by]) for n in lens]
        axes[1].plot(x, util, "o-", label=cfg)
        axes[2].plot(x, [mean_ratio(cfg, n, "energy_pj") for n in lens], "o-", label=cfg)
    titles = ("speedup over FLAT", "2D array utilization", "energy relative to FLAT")
    for ax, title in zip(axes, titles):
        ax.set_xticks(x, lens)
        ax.set_xlabel("sequence length")
        ax.set_title(f"{title}\n({scope}, mean over {', '.join(models)})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    axes[0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0].set_yticks([0.5, 1, 2, 4, 8])
    axes[1].set_ylim(0, 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
